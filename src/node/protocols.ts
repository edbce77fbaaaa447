import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
export const VERSION: string = (require('../../package.json') as { version: string }).version

/** Client ↔ entry, a stream per job: submit or attach, then progress events and one result. */
export const PROTOCOL_JOB = '/meshrun/job/1.0.0'
/** Client ↔ entry, one stream for all of a client's jobs: numbered submits and attaches, their events (schemas.ts). */
export const PROTOCOL_SESSION = '/meshrun/session/1.0.0'
/** Client ↔ any node: the node's (and later the cluster's) status. */
export const PROTOCOL_STATUS = '/meshrun/status/1.0.0'
/** Entry → master (placement) and entry → worker (dispatch): one long-lived stream per pair of nodes, many jobs on it. */
export const PROTOCOL_LINK = '/meshrun/link/1.0.0'
/** Node ↔ node: bully election messages. */
export const PROTOCOL_ELECTION = '/meshrun/election/1.0.0'

/**
 * Concurrent streams of one protocol on one connection. libp2p's default (64
 * outbound) is far too low: a client may have hundreds of jobs open on one
 * connection, a stream each.
 */
export const MAX_STREAMS = 10_000
