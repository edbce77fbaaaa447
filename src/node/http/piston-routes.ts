/** Piston's `GET /api/v2/runtimes` and `POST /api/v2/execute`, answered by the cluster. */
import { randomUUID } from 'node:crypto'
import { Hono } from 'hono'
import { validateJob } from '../../exec/limits.ts'
import { jobSpecSchema, type JobEvent } from '../schemas.ts'
import { collectOutput, interleaved } from './jobs.ts'
import { PistonRequestError, pistonResponse, pistonRuntimes, pistonToJob } from './piston.ts'
import { readJson } from './body.ts'
import type { GatewayNode } from './types.ts'

/** Canonical names of the languages some live node offers. */
export function clusterLanguages (node: GatewayNode): Set<string> {
  return new Set(node.status().nodes.filter((n) => n.up).flatMap((n) => n.languages))
}

function localVersions (node: GatewayNode): Map<string, string> {
  return new Map(node.localStatus().languages.map((l) => [l.name, l.version]))
}

export function pistonRoutes (node: GatewayNode): Hono {
  const app = new Hono()

  app.get('/runtimes', (c) => c.json(pistonRuntimes(clusterLanguages(node), localVersions(node))))

  app.post('/execute', async (c) => {
    const body = await readJson(c)
    let spec
    try {
      ({ spec } = pistonToJob(body, `piston-${randomUUID()}`, clusterLanguages(node)))
    } catch (err) {
      if (err instanceof PistonRequestError) return c.json({ message: err.message }, 400)
      throw err
    }
    const problem = validateJob(spec) ?? jobSpecSchema.safeParse(spec).error?.issues[0]?.message
    if (problem !== undefined) return c.json({ message: problem }, 400)

    const { job } = node.entry.submit(spec)
    const events: JobEvent[] = []
    const unsubscribe = node.entry.subscribe(job, (e) => { if (e.t === 'output' || e.t === 'started') events.push(e) })
    const result = await job.done
    unsubscribe()
    if (result.status === 'rejected') return c.json({ message: result.message ?? 'the job was rejected' }, 400)
    if (result.status === 'error' && result.compile === null && result.run === null) {
      return c.json({ message: result.message ?? 'internal error' }, 500)
    }
    const live = collectOutput(events)
    const output: { compile?: string, run?: string } = {}
    const compileOut = result.compile === null ? undefined : interleaved(live.compile, result.compile.stdout, result.compile.stderr)
    const runOut = result.run === null ? undefined : interleaved(live.run, result.run.stdout, result.run.stderr)
    if (compileOut !== undefined) output.compile = compileOut
    if (runOut !== undefined) output.run = runOut
    const version = localVersions(node).get(result.language) ?? pistonRuntimes([result.language], new Map())[0]?.version ?? '0.0.0'
    return c.json(pistonResponse(result, version, output))
  })

  return app
}
