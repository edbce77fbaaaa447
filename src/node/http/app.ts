/**
 * The gateway's routes, as a Hono app that needs no socket: tests can call
 * `app.request('/api/nodes')` directly.
 *
 *   GET  /                      the web page (assets under /ui/, uPlot under /vendor/)
 *   GET  /api/v2/runtimes       Piston: languages of the cluster
 *   POST /api/v2/execute        Piston: run a program and wait for its result
 *   POST /api/jobs              submit a job (?wait=1 to wait for its result)
 *   GET  /api/jobs              jobs submitted to this node, newest first
 *   GET  /api/jobs/:id          one job: state, output so far, result
 *   GET  /api/jobs/:id/events   one job's events (SSE)
 *   GET  /api/nodes             nodes with their load, master and term
 *   GET  /api/status            this node's full view (as `meshrun status --json`)
 *   GET  /api/languages         the language table and what the cluster offers
 *   GET  /api/events            cluster events and a status each second (SSE)
 *   GET  /metrics               Prometheus metrics
 */
import { Hono } from 'hono'
import type { Logger } from '../log.ts'
import { apiRoutes } from './api.ts'
import { assetRoutes } from './assets.ts'
import { auth } from './auth.ts'
import { limitBody } from './body.ts'
import type { LoadHistory } from './history.ts'
import type { Metrics } from './metrics.ts'
import { pistonRoutes } from './piston-routes.ts'
import { sseRoutes } from './sse.ts'
import { HttpError, type GatewayNode } from './types.ts'

export interface AppDeps {
  node: GatewayNode
  history: LoadHistory
  metrics: Metrics
  token?: string
  bodyLimit: number
  /** Aborted when the gateway stops: open event streams end. */
  shutdown: AbortSignal
  log: Logger
}

export function createApp (deps: AppDeps): Hono {
  const app = new Hono()
  app.onError((err, c) => {
    if (err instanceof HttpError) return c.json({ message: err.message }, err.status)
    deps.log.error(`http ${c.req.method} ${c.req.path}: ${err instanceof Error ? err.stack ?? err.message : String(err)}`)
    return c.json({ message: `internal error: ${err instanceof Error ? err.message : String(err)}` }, 500)
  })
  app.notFound((c) => c.json({ message: `no route ${c.req.method} ${c.req.path}` }, 404))
  app.use('*', async (c, next) => {
    await next()
    c.header('X-Content-Type-Options', 'nosniff')
    c.header('X-Frame-Options', 'DENY')
  })
  app.use('*', auth(deps.token))
  app.use('/api/*', limitBody(deps.bodyLimit))

  app.route('/api/v2', pistonRoutes(deps.node))
  app.route('/api', sseRoutes(deps.node, deps.history, deps.shutdown))
  app.route('/api', apiRoutes(deps.node))
  app.get('/metrics', async (c) => {
    const text = await deps.metrics.registry.metrics()
    return c.body(text, 200, { 'content-type': deps.metrics.registry.contentType })
  })
  app.route('/', assetRoutes())
  return app
}
