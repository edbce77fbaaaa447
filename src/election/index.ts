/**
 * Master election for meshrun: the bully algorithm with terms, as a pure
 * state machine. The live node with the highest rank (priority, then peer
 * id) becomes master; every mastership has a term that only grows, so stale
 * masters can be fenced off (stamp dispatches with getTerm()).
 *
 * An adapter owns the network and the clock. It feeds every input to `step`,
 * one at a time, and carries out the returned actions in order before the
 * next input (see ElectionAction for the contract):
 *
 * @example
 * ```ts
 * let state = initElection({ priority, id: myPeerId })
 * const feed = (event: ElectionEvent): void => {
 *   const r = step(state, event)
 *   state = r.state
 *   for (const a of r.actions) execute(a) // send, broadcast, setTimer, cancelTimer, notify
 * }
 * feed({ type: 'start' })
 * ```
 *
 * What to feed, and when:
 * - `start` once, when the node is listening and discovery has begun.
 * - `peerUp {peer, rank}` when a connection to a meshrun peer opens (rank
 *   from its first report or the identify exchange), and when a report
 *   arrives from a peer you had given up on. Feed it before any message
 *   from that peer: messages from peers not up are dropped.
 * - `peerDown {peer}` when the last connection closes, the keepalive fails,
 *   or its reports stop for a few intervals. Fast and accurate peerDown is
 *   what makes failover fast: the highest survivor crowns itself at once.
 * - `message {from, msg}` for each election message received (validated).
 * - `report {from, rank, term, isMaster, master?}` for each load report
 *   received. Publish your own with getTerm(), isMaster() and, as a
 *   follower, getMaster() with its rank. Reports repair what lost messages
 *   leave behind (a node that missed a COORDINATOR, two masters after a
 *   partition heals), and the master they name lets a node wait for a
 *   higher master it is not connected to yet instead of outbidding it.
 * - Carry out `seek {peer}` by connecting to that peer (rate-limited).
 * - `timer {name}` when a timer set by `setTimer` fires (and was not
 *   cancelled or replaced since).
 */
export { compareRank, type PeerId, type Rank } from './rank.ts'
export {
  DEFAULT_ELECTION_CONFIG,
  electionConfig,
  InvalidElectionConfigError,
  type ElectionConfig,
} from './config.ts'
export type { ElectionAction, ElectionEvent, ElectionMessage, Role, TimerName } from './types.ts'
export {
  getMaster,
  getRole,
  getTerm,
  initElection,
  isMaster,
  step,
  type ElectionState,
  type StepResult,
  type Wait,
} from './bully.ts'
