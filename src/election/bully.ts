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
      onStart(c)
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
      else if (event.term > c.s.term) raiseTerm(c, event.term)
      else if (event.term < c.s.term && c.s.role === 'master') tellTerm(c, event.from)
      break
    case 'timer':
      if (event.name === 'startup') onStartupTimeout(c)
      else if (event.name === 'answer') onAnswerTimeout(c)
      else onCoordinatorTimeout(c)
      break
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

/** Sends ELECTION to the targets and awaits an ANSWER; a candidate with no one above crowns itself. */
function campaign(c: Ctx): void {
  const targets = electionTargets(c.s)
  if (targets.length === 0) return becomeMaster(c)
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

function onStart(c: Ctx): void {
  const s = c.s
  if (s.booted) return
  if (s.role === 'starting' && s.config.startupDelayMs === 0) startElection(c)
  else if (s.role === 'starting') c.out.push({ type: 'setTimer', name: 'startup', ms: s.config.startupDelayMs })
  s.booted = true
}

function onPeerUp(c: Ctx, peer: PeerId, priority: number): void {
  const s = c.s
  if (peer === s.self.id) return
  const known = s.peers.get(peer)
  if (known === priority) return
  s.peers = new Map(s.peers).set(peer, priority)
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
  if (s.role === 'follower' && s.master === peer) startElection(c)
  else if (s.role === 'candidate' && higherPeers(s).length === 0) becomeMaster(c)
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
  else becomeMaster(c)
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
