import type { PeerId, Rank } from './rank.ts'

export type Role = 'starting' | 'candidate' | 'follower' | 'master'

export type TimerName = 'startup' | 'answer' | 'coordinator' | 'rumour'

/**
 * Election messages between peers. Every one carries the sender's term: the
 * highest term it knows of (for COORDINATOR: the term it is master of).
 * - ELECTION goes to higher-ranked peers: "I am electing; are you alive?"
 * - ANSWER replies to a lower-ranked candidate: "I am alive and outrank you."
 * - COORDINATOR announces "I am master of `term`".
 */
export type ElectionMessage =
  | { readonly type: 'ELECTION'; readonly term: number }
  | { readonly type: 'ANSWER'; readonly term: number }
  | { readonly type: 'COORDINATOR'; readonly term: number }

/**
 * Inputs. `rank.id` is ignored in favour of `peer`/`from` (they should be
 * equal); only `rank.priority` is read.
 */
export type ElectionEvent =
  /**
   * Boot: arms the startup (discovery) timer. Feed it once, first.
   * `settled`: the adapter already waited until it heard its peers and the
   * masters they follow: elect at once, without the startup delay.
   */
  | { readonly type: 'start'; readonly settled?: boolean }
  /** The adapter believes `peer` is alive (a connection opened, or its reports resumed). Idempotent. */
  | { readonly type: 'peerUp'; readonly peer: PeerId; readonly rank: Rank }
  /** The adapter believes `peer` is gone (connection closed, or its reports stopped). Idempotent. */
  | { readonly type: 'peerDown'; readonly peer: PeerId }
  /** An election message from a peer. Ignored unless the sender is up (peerUp or report first). */
  | { readonly type: 'message'; readonly from: PeerId; readonly msg: ElectionMessage }
  /**
   * A peer's periodic load report: its rank, the term it believes in and
   * whether it claims to be master. Counts as proof of life (an implicit
   * peerUp), so feed only reports you accept as such. `master`: the master
   * the sender follows (with that master's rank) when it is a follower,
   * if the report says so reliably (of the same term).
   */
  | {
      readonly type: 'report'
      readonly from: PeerId
      readonly rank: Rank
      readonly term: number
      readonly isMaster: boolean
      readonly master?: Rank | null
    }
  /** A timer set by `setTimer` fired (and was not cancelled or replaced since). */
  | { readonly type: 'timer'; readonly name: TimerName }

/**
 * Outputs of one step. The adapter must execute them IN ORDER, all of them,
 * before it feeds the next event (like etcd's Ready):
 * - `send`/`broadcast` are fire-and-forget; loss, delay and reordering are
 *   tolerated (timeouts and reports repair them). `broadcast` goes to every
 *   peer the adapter considers live. Never block the step on delivery.
 * - `setTimer` (re)arms the named timer, replacing one of the same name;
 *   `cancelTimer` disarms it (a no-op if it is not armed). A timer that was
 *   cancelled or replaced must never be delivered.
 * - Notifications come last in a step, after the messages that announce the
 *   change: `becameMaster {term}` (a new term of mastership, also when an
 *   existing master bumps its term), `becameFollower {master, term}` (also
 *   means "no longer master"), `steppedDown {term}` (this node stopped being
 *   master of `term` and no new master is known yet: stop dispatching now).
 *   A node that was a follower and lost its master gets no notification; it
 *   is a candidate until the next becameMaster/becameFollower (getMaster()
 *   returns null meanwhile).
 * - `seek {peer}`: a master this node has not heard from directly ranks
 *   above it (other peers' reports name it): connect to it, if not already
 *   connecting. Comes with every such report: rate-limit it.
 */
export type ElectionAction =
  | { readonly type: 'send'; readonly to: PeerId; readonly msg: ElectionMessage }
  | { readonly type: 'broadcast'; readonly msg: ElectionMessage }
  | { readonly type: 'setTimer'; readonly name: TimerName; readonly ms: number }
  | { readonly type: 'cancelTimer'; readonly name: TimerName }
  | { readonly type: 'becameMaster'; readonly term: number }
  | { readonly type: 'becameFollower'; readonly master: PeerId; readonly term: number }
  | { readonly type: 'steppedDown'; readonly term: number }
  | { readonly type: 'seek'; readonly peer: PeerId }
