/**
 * What the gateway needs of a node: a narrow, read-mostly view of MeshNode
 * (which satisfies it structurally), so the gateway never reaches further in.
 */
import type { Entry } from '../entry.ts'
import type { EventBus } from '../events.ts'
import type { NodeStatus, Status } from '../schemas.ts'
import type { Logger } from '../log.ts'

export interface GatewayNode {
  readonly id: string
  readonly addrs: string[]
  status: () => Status
  localStatus: () => NodeStatus
  readonly entry: Pick<Entry, 'submit' | 'subscribe' | 'get' | 'all'>
  readonly events: Pick<EventBus, 'on' | 'recent'>
  readonly election: { readonly role: string, readonly master: string | null, readonly term: number, readonly elections: number }
  readonly scheduler: { readonly queueLength: number }
}

export interface GatewayInit {
  /** TCP port; 0 picks a free one. */
  port: number
  /** Address to bind (default 127.0.0.1). Anything but loopback needs `token`. */
  host?: string
  /** Bearer token every request must carry (header, or the cookie the page gets from `/?token=`). */
  token?: string
  /** Largest request body in bytes (default 8 MiB). */
  bodyLimit?: number
  log: Logger
}

/** Answered as `{ message }` with this HTTP status. */
export class HttpError extends Error {
  override name = 'HttpError'
  readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 500 | 503

  constructor (status: HttpError['status'], message: string) {
    super(message)
    this.status = status
  }
}

export class GatewayConfigError extends Error {
  override name = 'GatewayConfigError'
}

export const DEFAULT_BODY_LIMIT = 8 * 1024 * 1024
