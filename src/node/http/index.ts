/**
 * The HTTP gateway of a node: a Piston-compatible API, meshrun's own JSON
 * API with event streams, Prometheus metrics and the web page. Every node can
 * run one; each shows the whole cluster. See app.ts for the routes.
 *
 * It binds to loopback unless told otherwise, and any other address needs a
 * token (checked as a bearer token on every request).
 *
 * @example
 * ```ts
 * const gateway = await startGateway(node, { port: 8080, log })
 * console.log(gateway.url) // http://127.0.0.1:8080/
 * await gateway.stop()
 * ```
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { createApp } from './app.ts'
import { isLoopback } from './auth.ts'
import { LoadHistory } from './history.ts'
import { createMetrics } from './metrics.ts'
import { DEFAULT_BODY_LIMIT, GatewayConfigError, type GatewayInit, type GatewayNode } from './types.ts'

export { createApp } from './app.ts'
export { DEFAULT_BODY_LIMIT, GatewayConfigError, HttpError, type GatewayInit, type GatewayNode } from './types.ts'

export interface Gateway {
  /** e.g. http://127.0.0.1:8080/ */
  readonly url: string
  readonly port: number
  stop: () => Promise<void>
}

export async function startGateway (node: GatewayNode, init: GatewayInit): Promise<Gateway> {
  const host = init.host ?? '127.0.0.1'
  const token = init.token === '' ? undefined : init.token
  if (!isLoopback(host) && token === undefined) {
    throw new GatewayConfigError(`the HTTP gateway may listen on ${host} only with a token (--http-token or MESHRUN_HTTP_TOKEN)`)
  }
  const history = new LoadHistory(() => node.status())
  const metrics = createMetrics(node)
  const shutdown = new AbortController()
  const app = createApp({
    node, history, metrics, bodyLimit: init.bodyLimit ?? DEFAULT_BODY_LIMIT, shutdown: shutdown.signal, log: init.log,
    ...(token === undefined ? {} : { token }),
  })
  const server = serve({ fetch: app.fetch, port: init.port, hostname: host }) as Server
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('listening', () => { resolve() })
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(new GatewayConfigError(`cannot listen for HTTP on ${host}:${init.port}: ${err.code === 'EADDRINUSE' ? 'the port is in use' : err.message}`))
      })
    })
  } catch (err) {
    metrics.stop()
    throw err
  }
  history.start()
  const port = (server.address() as AddressInfo).port
  const shown = host.includes(':') ? `[${host}]` : host
  return {
    url: `http://${shown}:${port}/`,
    port,
    stop: async () => {
      shutdown.abort()
      history.stop()
      metrics.stop()
      await new Promise<void>((resolve) => {
        server.close(() => { resolve() })
        server.closeAllConnections()
      })
    },
  }
}
