/**
 * The bully election as a pure state machine: `step(state, event)` returns
 * the next state and the actions the adapter must carry out (see
 * ElectionAction for the order contract). No clocks, timers, randomness or
 * I/O in here, so the same inputs always give the same outputs.
 *
 * Rules, in short:
 * - A candidate sends ELECTION to every live higher-ranked peer. An ANSWER
 *   means someone higher will take over: wait for its COORDINATOR (or elect
 *   again on timeout). No ANSWER after the retries, or no higher peer at
 *   all: crown yourself with term = highest term seen + 1 and broadcast it.
 * - A node that gets ELECTION from a lower-ranked peer answers. A master
 *   also re-sends its COORDINATOR to it. A follower, if the candidate knows
 *   the current term (so it doubts our master rather than being behind),
 *   probes its master with an ELECTION of its own and elects if the master
 *   stays silent: it may be a survivor that has not yet noticed the death.
 * - Terms: every message and report raises the known term. A master or
 *   follower that sees a higher term than its own master's starts an
 *   election (so a stale master steps down, and the highest live node ends
 *   up crowning itself with a term above all others). A master claim
 *   (COORDINATOR, or a report with isMaster) with a stale term is ignored
 *   (a master answers it with its own COORDINATOR); a claim with a newer or
 *   equal term is followed if the claimant outranks us (and, at an equal
 *   term, our current master), else we bully back: a master bumps its term,
 *   others elect. Only higher ranks win, so conflicts end with the highest
 *   live node as the sole master, at a term no one has exceeded.
 * - Hearsay: a follower's report names its master. A master named at a
 *   newer term that we hear directly and that outranks us is followed at
 *   once. One that outranks us but that we have not heard from (not yet
 *   connected: 30 nodes starting together) is a rumour: we ask the adapter
 *   to connect to it and, for up to `rumourMs`, do not crown ourselves or
 *   contest its term; a node that crowned itself meanwhile stays master of
 *   its own term until the rumoured master's claim reaches it. Without
 *   this, two masters not yet connected to each other each saw the other's
 *   term in their followers' reports and re-crowned above it, term after
 *   term, and every follower in between switched each time. A master named
 *   below us is contested as any higher term is.
 */
import { type ElectionConfig, electionConfig } from './config.ts'
import { compareRank, type PeerId, type Rank } from './rank.ts'
import type { ElectionAction, ElectionEvent, ElectionMessage, Role } from './types.ts'

/** ELECTIONs are out and an ANSWER is awaited, or an ANSWER came and a COORDINATOR is awaited. */
export type Wait = 'answer' | 'coordinator' | null

export interface ElectionState {
  readonly self: Rank
  readonly config: ElectionConfig
  readonly role: Role
  /** The highest term seen; while master or follower, the current master's term. */
  readonly term: number
  /** The master followed (or self when master); null while starting or a candidate. */
  readonly master: PeerId | null
  /** Live peers (not self) and their priorities. */
  readonly peers: ReadonlyMap<PeerId, number>
  /**
   * Which timer is armed besides 'startup': a candidate's, or a follower's
   * while it probes its master on behalf of a lower-ranked candidate.
   */
  readonly waiting: Wait
  /** ANSWER timeouts so far in the current round of ELECTIONs. */
  readonly attempts: number
  /** `start` was fed; while role is 'starting' the startup timer is armed. */
  readonly booted: boolean
  /** A master above us that reports name and we have not heard from yet (the 'rumour' timer is armed). */
  readonly rumour: Rumour | null
  /** The last rumour whose time ran out ("id term"): it holds nothing back again. */
  readonly spent: string | null
  /** Peers we saw go down, with our term then: reports still naming them as master at that term are late, not news. */
  readonly gone: ReadonlyMap<PeerId, number>
}

export interface Rumour extends Rank {
  readonly term: number
}

export interface StepResult {
  readonly state: ElectionState
  readonly actions: readonly ElectionAction[]
}

/** A node before `start`: role 'starting', term 0, no peers. */
export function initElection(self: Rank, config?: Partial<ElectionConfig>): ElectionState {
  return Object.freeze({
    self: Object.freeze({ priority: self.priority, id: self.id }),
    config: electionConfig(config),
    role: 'starting',
    term: 0,
    master: null,
    peers: new Map<PeerId, number>(),
    waiting: null,
    attempts: 0,
    booted: false,
    rumour: null,
    spent: null,
    gone: new Map<PeerId, number>(),
  })
}

export function getRole(s: ElectionState): Role {
  return s.role
}
export function getMaster(s: ElectionState): PeerId | null {
  return s.master
}
export function getTerm(s: ElectionState): number {
  return s.term
}
export function isMaster(s: ElectionState): boolean {
  return s.role === 'master'
}

type Draft = { -readonly [K in keyof ElectionState]: ElectionState[K] }
interface Ctx {
  readonly s: Draft
  readonly out: ElectionAction[]
}

export function step(state: ElectionState, event: ElectionEvent): StepResult {
  const c: Ctx = { s: { ...state }, out: [] }
  switch (event.type) {
    case 'start':
      onStart(c, event.settled === true)
      break
    case 'peerUp':
      onPeerUp(c, event.peer, event.rank.priority)
      break
    case 'peerDown':
      onPeerDown(c, event.peer)
      break
    case 'message':
      onMessage(c, event.from, event.msg)
      break
    case 'report':
      if (event.from === c.s.self.id) break
      onPeerUp(c, event.from, event.rank.priority)
      if (event.isMaster) onClaim(c, event.from, event.term)
      else if (event.master != null && event.master.id !== c.s.self.id) onHearsay(c, event.from, event.master, event.term)
      else if (event.term > c.s.term) raiseTerm(c, event.term)
      else if (event.term < c.s.term && c.s.role === 'master') tellTerm(c, event.from)
      break
    case 'timer':
      if (event.name === 'startup') onStartupTimeout(c)
      else if (event.name === 'answer') onAnswerTimeout(c)
      else if (event.name === 'rumour') onRumourTimeout(c)
      else onCoordinatorTimeout(c)
      break
  }
  // A newer term than the rumour's: the cluster moved on without that master.
  if (c.s.rumour !== null && c.s.term > c.s.rumour.term) {
    dropRumour(c)
    if (heldBack(c.s)) startElection(c)
  }
  notify(state, c)
  return { state: Object.freeze(c.s), actions: c.out }
}

// --- ranks and peers ---------------------------------------------------------

function rankOf(s: Draft, id: PeerId): Rank | null {
  if (id === s.self.id) return s.self
  const priority = s.peers.get(id)
  return priority === undefined ? null : { priority, id }
}

/** `a` is known and outranks `b` (b unknown counts as lowest). */
function outranks(s: Draft, a: PeerId, b: PeerId): boolean {
  const ra = rankOf(s, a)
  const rb = rankOf(s, b)
  return ra !== null && (rb === null || compareRank(ra, rb) > 0)
}

function aboveMe(s: Draft, id: PeerId): boolean {
  return outranks(s, id, s.self.id)
}

/** Live peers that outrank this node, highest first. */
function higherPeers(s: Draft): PeerId[] {
  const ranks: Rank[] = []
  for (const [id, priority] of s.peers) {
    const r = { priority, id }
    if (compareRank(r, s.self) > 0) ranks.push(r)
  }
  return ranks.sort((a, b) => compareRank(b, a)).map((r) => r.id)
}

// --- transitions -------------------------------------------------------------

function send(c: Ctx, to: PeerId, msg: ElectionMessage): void {
  c.out.push({ type: 'send', to, msg })
}

/** A master tells a peer its term (once per step). */
function tellTerm(c: Ctx, to: PeerId): void {
  const term = c.s.term
  const dup = c.out.some((a) => a.type === 'send' && a.to === to && a.msg.type === 'COORDINATOR' && a.msg.term === term)
  if (!dup) send(c, to, { type: 'COORDINATOR', term })
}

/** Switches the armed wait timer; re-arms it when `w` is the current one. */
function setWait(c: Ctx, w: Wait): void {
  const s = c.s
  if (s.waiting !== null && s.waiting !== w) c.out.push({ type: 'cancelTimer', name: s.waiting })
  if (w === 'answer') c.out.push({ type: 'setTimer', name: 'answer', ms: s.config.answerTimeoutMs })
  if (w === 'coordinator') c.out.push({ type: 'setTimer', name: 'coordinator', ms: s.config.coordinatorTimeoutMs })
  s.waiting = w
}

function leaveStarting(c: Ctx): void {
  if (c.s.role === 'starting' && c.s.booted) c.out.push({ type: 'cancelTimer', name: 'startup' })
}

/** Whom ELECTIONs go to: a prober asks its master only, a candidate every higher peer. */
function electionTargets(s: Draft): PeerId[] {
  return s.role === 'follower' && s.master !== null ? [s.master] : higherPeers(s)
}

/**
 * Sends ELECTION to the targets and awaits an ANSWER; a candidate with no
 * one above crowns itself. A candidate that a rumour holds back sends
 * nothing: the peers above it that would answer follow the rumoured master
 * (their reports name it), and asking them again at every COORDINATOR
 * timeout was most of the messages while 30 nodes joined.
 */
function campaign(c: Ctx): void {
  if (c.s.role === 'candidate' && c.s.rumour !== null) return holdBack(c)
  const targets = electionTargets(c.s)
  if (targets.length === 0) return crown(c)
  c.s.attempts = 0
  for (const p of targets) send(c, p, { type: 'ELECTION', term: c.s.term })
  setWait(c, 'answer')
}

function startElection(c: Ctx): void {
  leaveStarting(c)
  c.s.role = 'candidate'
  c.s.master = null
  campaign(c)
}

/** No one above answered: crown ourselves, unless a rumour holds us back. */
function crown(c: Ctx): void {
  if (c.s.rumour === null) becomeMaster(c)
  else holdBack(c)
}

/**
 * A rumoured master above us is still to be reached: wait as a candidate,
 * with no wait of our own armed, while the adapter connects to it. Its
 * claim makes us follow it, hearing from it ends the rumour (we ask it
 * then), and so does a newer term or the rumour's time running out (we
 * elect again).
 */
function holdBack(c: Ctx): void {
  leaveStarting(c)
  c.s.role = 'candidate'
  c.s.master = null
  c.out.push({ type: 'seek', peer: c.s.rumour!.id })
  setWait(c, null)
}

/** A candidate that `holdBack` left waiting (and the rumour is over: elect again). */
function heldBack(s: Draft): boolean {
  return s.role === 'candidate' && s.waiting === null && s.booted
}

function becomeMaster(c: Ctx): void {
  const s = c.s
  leaveStarting(c)
  setWait(c, null)
  s.role = 'master'
  s.master = s.self.id
  s.term += 1
  s.attempts = 0
  c.out.push({ type: 'broadcast', msg: { type: 'COORDINATOR', term: s.term } })
}

function follow(c: Ctx, leader: PeerId, term: number): void {
  leaveStarting(c)
  setWait(c, null)
  c.s.role = 'follower'
  c.s.master = leader
  c.s.term = term
}

/** A higher term from a non-claim: whatever master we knew is from an older term. */
function raiseTerm(c: Ctx, term: number): void {
  if (term <= c.s.term) return
  c.s.term = term
  if (c.s.role === 'master' || c.s.role === 'follower') startElection(c)
}

// --- event handlers ----------------------------------------------------------

function onStart(c: Ctx, settled: boolean): void {
  const s = c.s
  if (s.booted) return
  if (s.role === 'starting' && (settled || s.config.startupDelayMs === 0)) startElection(c)
  else if (s.role === 'starting') c.out.push({ type: 'setTimer', name: 'startup', ms: s.config.startupDelayMs })
  s.booted = true
}

function onPeerUp(c: Ctx, peer: PeerId, priority: number): void {
  const s = c.s
  if (peer === s.self.id) return
  const known = s.peers.get(peer)
  if (known === priority) return
  s.peers = new Map(s.peers).set(peer, priority)
  if (s.gone.has(peer)) {
    const gone = new Map(s.gone)
    gone.delete(peer)
    s.gone = gone
  }
  if (s.rumour?.id === peer) {
    // Heard it: its claims and ours settle it now.
    dropRumour(c)
    if (heldBack(s)) return campaign(c)
  }
  if (known !== undefined) {
    // A priority change may leave us following a peer that no longer outranks us.
    if (s.role === 'follower' && s.master === peer && !aboveMe(s, peer)) startElection(c)
    return
  }
  if (s.role === 'master') tellTerm(c, peer)
  else if (s.role === 'candidate' && s.waiting === 'answer' && aboveMe(s, peer)) send(c, peer, { type: 'ELECTION', term: s.term })
}

function onPeerDown(c: Ctx, peer: PeerId): void {
  const s = c.s
  if (!s.peers.has(peer)) return
  const peers = new Map(s.peers)
  peers.delete(peer)
  s.peers = peers
  // Only entries of the current term can matter (older hearsay is ignored anyway).
  s.gone = new Map([...s.gone].filter(([, t]) => t >= s.term)).set(peer, s.term)
  if (s.role === 'follower' && s.master === peer) startElection(c)
  else if (s.role === 'candidate' && higherPeers(s).length === 0) crown(c)
}

function onMessage(c: Ctx, from: PeerId, msg: ElectionMessage): void {
  const s = c.s
  if (from === s.self.id || !s.peers.has(from)) return
  if (msg.type === 'COORDINATOR') return onClaim(c, from, msg.term)
  const knowsTerm = msg.term >= s.term
  raiseTerm(c, msg.term)
  if (msg.type === 'ANSWER') {
    if (s.waiting === 'answer' && aboveMe(s, from)) setWait(c, s.role === 'candidate' ? 'coordinator' : null)
    return
  }
  // ELECTION: only peers ranked below us should send it.
  if (aboveMe(s, from)) return
  send(c, from, { type: 'ANSWER', term: s.term })
  if (s.role === 'master') tellTerm(c, from)
  else if (s.role === 'follower' && s.waiting === null && knowsTerm) campaign(c) // probe our master
}

/** `from` claims to be master of `term` (COORDINATOR, or a report with isMaster). */
function onClaim(c: Ctx, from: PeerId, term: number): void {
  const s = c.s
  if (term < s.term) {
    if (s.role === 'master') tellTerm(c, from)
    return
  }
  const above = aboveMe(s, from)
  if (term > s.term) {
    s.term = term
    if (above) follow(c, from, term)
    else if (s.role !== 'starting') startElection(c)
    return
  }
  if (s.role === 'follower' && s.master === from) {
    if (s.waiting !== null) setWait(c, null) // our master is alive: stop probing
    return
  }
  if (above) {
    const current = s.role === 'master' ? s.self.id : s.role === 'follower' ? s.master : null
    if (current === null || outranks(s, from, current)) follow(c, from, term)
  } else if (s.role === 'master') {
    becomeMaster(c) // a lower-ranked node claims our term: supersede it
  }
}

/**
 * `from`, a follower, names `m` as its master of `term` (see the top of
 * this file): follow a master above us we hear directly, hold back for one
 * we do not, contest one below us.
 */
function onHearsay(c: Ctx, from: PeerId, m: Rank, term: number): void {
  const s = c.s
  if (term < s.term) {
    if (s.role === 'master') tellTerm(c, from)
    return
  }
  const rank = rankOf(s, m.id) ?? m
  if (compareRank(rank, s.self) < 0) {
    if (term > s.term) raiseTerm(c, term)
    return
  }
  if (s.peers.has(m.id)) {
    // A live peer above us, master of a newer term: its own reports confirm
    // it or not. (At our term, hearsay is no proof of life: a candidate may
    // be electing because that master stopped answering; its own claims
    // settle who leads at an equal term.)
    if (term > s.term) follow(c, m.id, term)
    return
  }
  const gone = s.gone.get(m.id)
  if (gone !== undefined && term <= gone) return // we saw it go; `from` has not noticed yet
  if (s.config.rumourMs === 0 || s.spent === `${m.id} ${term}`) {
    if (term > s.term) raiseTerm(c, term) // this rumour had its time: contest it as before
    return
  }
  const r = s.rumour
  if (r === null || term > r.term || (term === r.term && compareRank(rank, r) > 0)) {
    s.rumour = { id: m.id, priority: rank.priority, term }
    c.out.push({ type: 'setTimer', name: 'rumour', ms: s.config.rumourMs })
  }
  // Without a master of our own, the rumour's term is the highest we know of.
  if ((s.role === 'candidate' || s.role === 'starting') && term > s.term) s.term = term
  c.out.push({ type: 'seek', peer: m.id })
}

function dropRumour(c: Ctx): void {
  c.s.rumour = null
  c.out.push({ type: 'cancelTimer', name: 'rumour' })
}

/** A rumoured master was not reached in time: it holds nothing back any more (a waiting candidate crowns itself at its next try). */
function onRumourTimeout(c: Ctx): void {
  const r = c.s.rumour
  if (r === null) return
  c.s.spent = `${r.id} ${r.term}`
  c.s.rumour = null
  if (heldBack(c.s)) startElection(c)
}

function onStartupTimeout(c: Ctx): void {
  if (c.s.role !== 'starting' || !c.s.booted) return
  c.s.role = 'candidate' // the startup timer has fired: nothing to cancel
  startElection(c)
}

function onAnswerTimeout(c: Ctx): void {
  const s = c.s
  if (s.waiting !== 'answer') return
  s.waiting = null // fired: nothing to cancel
  const targets = electionTargets(s)
  if (s.attempts < s.config.answerRetries && targets.length > 0) {
    s.attempts += 1
    for (const p of targets) send(c, p, { type: 'ELECTION', term: s.term })
    return setWait(c, 'answer')
  }
  // Nobody above answered: a candidate takes over; a prober's master is gone, so it elects.
  if (s.role === 'follower') startElection(c)
  else crown(c)
}

function onCoordinatorTimeout(c: Ctx): void {
  if (c.s.waiting !== 'coordinator') return
  c.s.waiting = null
  startElection(c)
}

/** Appends the role notifications implied by the change from `old` to the new state. */
function notify(old: ElectionState, c: Ctx): void {
  const s = c.s
  if (s.role === 'master') {
    if (old.role !== 'master' || old.term !== s.term) c.out.push({ type: 'becameMaster', term: s.term })
  } else if (s.role === 'follower' && s.master !== null) {
    if (old.role !== 'follower' || old.master !== s.master || old.term !== s.term) {
      c.out.push({ type: 'becameFollower', master: s.master, term: s.term })
    }
  } else if (old.role === 'master') {
    c.out.push({ type: 'steppedDown', term: old.term })
  }
}
