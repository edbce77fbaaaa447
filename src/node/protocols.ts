import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
export const VERSION: string = (require('../../package.json') as { version: string }).version

/** Client ↔ entry: submit or attach, then progress events and one result. */
export const PROTOCOL_JOB = '/meshrun/job/1.0.0'
/** Client ↔ any node: the node's (and later the cluster's) status. */
export const PROTOCOL_STATUS = '/meshrun/status/1.0.0'
/** Entry ↔ master: placement of one job (the stream lives until the job is done). */
export const PROTOCOL_PLACE = '/meshrun/place/1.0.0'
/** Entry ↔ worker: run one job and stream its output back. */
export const PROTOCOL_DISPATCH = '/meshrun/dispatch/1.0.0'
/** Node ↔ node: bully election messages. */
export const PROTOCOL_ELECTION = '/meshrun/election/1.0.0'

/**
 * Concurrent streams of one protocol on one connection. libp2p's default (64
 * outbound) is far too low: an entry holds a placement stream to the master
 * for every job it has in flight, and a client may have hundreds of jobs open.
 */
export const MAX_STREAMS = 10_000
