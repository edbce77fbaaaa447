/**
 * meshrun's own JSON API (under /api): submit a job, follow it, list jobs,
 * nodes and languages. Errors are `{ message }` with a 4xx/5xx status.
 */
import { randomUUID } from 'node:crypto'
import { Hono } from 'hono'
import { LANGUAGES, resolveLanguage } from '../../exec/languages.ts'
import { validateJob } from '../../exec/limits.ts'
import type { JobSpec } from '../../exec/types.ts'
import { ConflictError } from '../entry.ts'
import { jobSpecSchema } from '../schemas.ts'
import { readJson } from './body.ts'
import { jobSummary, jobView } from './jobs.ts'
import { clusterLanguages } from './piston-routes.ts'
import { HttpError, type GatewayNode } from './types.ts'

/** A submission: a JobSpec whose id, stdin and args may be left out. */
export function toJobSpec (body: unknown): JobSpec {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'the request body must be a JSON object')
  const b = body as Record<string, unknown>
  const candidate = { ...b, id: b.id ?? randomUUID(), stdin: b.stdin ?? '', args: b.args ?? [] }
  const parsed = jobSpecSchema.safeParse(candidate)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''
    throw new HttpError(400, `${where}${issue.message}`)
  }
  const spec = parsed.data as JobSpec
  if (resolveLanguage(spec.language) === undefined) throw new HttpError(400, `unknown language '${spec.language}' (see GET /api/languages)`)
  const problem = validateJob(spec)
  if (problem !== undefined) throw new HttpError(400, problem)
  return spec
}

export function apiRoutes (node: GatewayNode): Hono {
  const app = new Hono()

  app.post('/jobs', async (c) => {
    const spec = toJobSpec(await readJson(c))
    let submitted
    try {
      submitted = node.entry.submit(spec)
    } catch (err) {
      if (err instanceof ConflictError) throw new HttpError(409, err.message)
      throw err
    }
    const { job, attached } = submitted
    const wait = c.req.query('wait')
    if (wait !== undefined && wait !== '0' && wait !== 'false') {
      await job.done
      return c.json(jobView(job), 200)
    }
    return c.json({ id: job.spec.id, attached, state: job.state, entry: node.id, url: `/api/jobs/${encodeURIComponent(job.spec.id)}` }, 202)
  })

  app.get('/jobs', (c) => {
    const limit = Math.min(1000, Math.max(1, Number(c.req.query('limit') ?? 100) || 100))
    const now = Date.now()
    const jobs = node.entry.all.sort((a, b) => b.acceptedAt - a.acceptedAt).slice(0, limit).map((j) => jobSummary(j, now))
    return c.json({ entry: node.id, jobs })
  })

  app.get('/jobs/:id', async (c) => {
    const job = node.entry.get(c.req.param('id'))
    if (job === undefined) throw new HttpError(404, `no job ${c.req.param('id')} on this node (jobs are kept by the node they were submitted to)`)
    const wait = c.req.query('wait')
    if (wait !== undefined && wait !== '0' && wait !== 'false') await job.done
    return c.json(jobView(job))
  })

  app.get('/nodes', (c) => {
    const s = node.status()
    return c.json({ cluster: s.cluster, self: s.self, master: s.master, term: s.term, nodes: s.nodes })
  })

  app.get('/status', (c) => c.json(node.status()))

  app.get('/languages', (c) => {
    const available = clusterLanguages(node)
    const versions = new Map(node.localStatus().languages.map((l) => [l.name, l.version]))
    return c.json(LANGUAGES.map((l) => ({
      name: l.name,
      aliases: l.aliases,
      extensions: l.extensions,
      version: versions.get(l.name) ?? null,
      available: available.has(l.name),
    })))
  })

  return app
}
