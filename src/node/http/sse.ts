/**
 * Server-sent-event streams.
 *
 * `GET /api/events`: the cluster, live. First `hello` ({ status, history,
 * events }: the current status, the last minutes of CPU/memory samples and
 * the recent events), then `status` once a second and `mesh` for every
 * election, peer and job event as it happens.
 *
 * `GET /api/jobs/:id/events`: one job. `job` (its summary), then its events
 * (`queued` with the queue position, `started`, `output`, ...) named by their
 * `t`, replayed from the start; the stream ends after `result`.
 */
import { Hono } from 'hono'
import { streamSSE, type SSEStreamingApi } from 'hono/streaming'
import type { JobEvent } from '../schemas.ts'
import type { MeshEvent } from '../events.ts'
import type { LoadHistory } from './history.ts'
import { jobSummary } from './jobs.ts'
import { HttpError, type GatewayNode } from './types.ts'

/** Writes in order; a client that went away only ends its own stream. */
function writer (stream: SSEStreamingApi): { send: (event: string, data: unknown) => void, flushed: () => Promise<void> } {
  let chain = Promise.resolve()
  return {
    send: (event, data) => {
      chain = chain.then(async () => { if (!stream.aborted && !stream.closed) await stream.writeSSE({ event, data: JSON.stringify(data) }) }).catch(() => {})
    },
    flushed: async () => { await chain },
  }
}

function until (stream: SSEStreamingApi, shutdown: AbortSignal, done?: Promise<unknown>): Promise<void> {
  return new Promise<void>((resolve) => {
    stream.onAbort(() => { resolve() })
    if (shutdown.aborted) resolve()
    shutdown.addEventListener('abort', () => { resolve() }, { once: true })
    void done?.then(() => { resolve() })
  })
}

export function sseRoutes (node: GatewayNode, history: LoadHistory, shutdown: AbortSignal): Hono {
  const app = new Hono()

  app.get('/events', (c) => streamSSE(c, async (stream) => {
    const { send } = writer(stream)
    send('hello', { status: node.status(), history: history.recent, events: node.events.recent })
    const offMesh = node.events.on((e: MeshEvent) => { send('mesh', e) })
    const offTick = history.on((s) => { send('status', s) })
    try {
      await until(stream, shutdown)
    } finally {
      offMesh()
      offTick()
    }
  }))

  app.get('/jobs/:id/events', (c) => {
    const job = node.entry.get(c.req.param('id'))
    if (job === undefined) throw new HttpError(404, `no job ${c.req.param('id')} on this node`)
    return streamSSE(c, async (stream) => {
      const { send, flushed } = writer(stream)
      send('job', jobSummary(job))
      let finished!: () => void
      const ended = new Promise<void>((resolve) => { finished = resolve })
      const off = node.entry.subscribe(job, (e: JobEvent) => {
        send(e.t, e)
        if (e.t === 'result') finished()
      })
      try {
        await until(stream, shutdown, ended)
        await flushed()
      } finally {
        off()
      }
    })
  })

  return app
}
