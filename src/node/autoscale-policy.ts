/**
 * When to start one more worker: a pure function of what the master sees and
 * the time, with no timers, processes or sockets inside (the Autoscaler in
 * autoscaler.ts calls it every tick and acts on the answer).
 *
 * Rules, in order:
 * 1. Only the master scales; any other node forgets what it was waiting for.
 * 2. A spawn in flight is waited for: it has joined when a new worker started
 *    by this master appears in membership (by peer id when the spawner knows
 *    it); it is abandoned when nothing joined within `joinTimeoutMs`.
 * 3. There is a backlog when jobs wait in the master's queue while every live
 *    node that takes jobs is full. It must last `sustainMs` before a spawn.
 * 4. At most `max` spawned workers live at once: every live member whose
 *    report names a `spawnedBy` counts, whoever started it (a new master
 *    adopts its predecessor's), and so does the spawn in flight.
 * 5. After a join, wait `settleMs` (the new worker takes jobs); after a
 *    failure, wait `backoffMs`.
 */
import { overCap } from './scheduler.ts'

export interface PolicyConfig {
  /** Most spawned workers alive at once. */
  max: number
  /** How long the backlog must last (every node full) before a spawn. */
  sustainMs: number
  /** After a join, how long to let the new worker take jobs before judging again. */
  settleMs: number
  /** A spawn that has not joined by then is given up. */
  joinTimeoutMs: number
  /** After a failed or abandoned spawn, how long before trying again. */
  backoffMs: number
}

export const DEFAULT_POLICY: Omit<PolicyConfig, 'max'> = {
  sustainMs: 3000,
  settleMs: 1000,
  joinTimeoutMs: 60_000,
  backoffMs: 10_000,
}

/** A live worker that autoscaling started, and the master that started it. */
export interface SpawnedMember { id: string, by: string }

export interface Observation {
  now: number
  isMaster: boolean
  /** Jobs waiting in this master's queue. */
  queue: number
  /** Every live node that takes jobs has all its slots busy. */
  full: boolean
  /** Live members whose reports name a `spawnedBy` (any master's). */
  spawned: readonly SpawnedMember[]
}

export interface Pending {
  since: number
  /** The new worker's peer id, when the spawner knows it in advance. */
  id: string | null
  /** Spawned workers that were live when this spawn started. */
  before: readonly string[]
}

export interface PolicyState {
  /** Since when the backlog has lasted (null: no backlog now). */
  backlogSince: number | null
  /** The spawn in flight, if any. */
  pending: Pending | null
  /** No new spawn before this time. */
  quietUntil: number
}

export type WaitCode = 'not-master' | 'no-backlog' | 'backlog' | 'joining' | 'at-max' | 'quiet'

export type Decision =
  | { action: 'spawn', reason: string }
  | { action: 'joined', id: string, reason: string }
  | { action: 'abandon', reason: string }
  | { action: 'wait', code: WaitCode, reason: string }

export function initPolicy (): PolicyState {
  return { backlogSince: null, pending: null, quietUntil: 0 }
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`

/** One step: what to do now, and the state to keep. */
export function decide (self: string, cfg: PolicyConfig, state: PolicyState, obs: Observation): { state: PolicyState, decision: Decision } {
  const { now } = obs
  if (!obs.isMaster) {
    return { state: { ...initPolicy(), quietUntil: state.quietUntil }, decision: { action: 'wait', code: 'not-master', reason: 'not master' } }
  }
  let s = state
  if (s.pending !== null) {
    const p = s.pending
    const joined = p.id !== null
      ? obs.spawned.find((m) => m.id === p.id)
      : obs.spawned.find((m) => m.by === self && !p.before.includes(m.id))
    if (joined !== undefined) {
      return {
        state: { ...s, pending: null, quietUntil: now + cfg.settleMs },
        decision: { action: 'joined', id: joined.id, reason: `worker ${joined.id} joined ${secs(now - p.since)} after its start` },
      }
    }
    if (now - p.since >= cfg.joinTimeoutMs) {
      return {
        state: { ...s, pending: null, quietUntil: now + cfg.backoffMs },
        decision: { action: 'abandon', reason: `no worker joined within ${secs(cfg.joinTimeoutMs)} of the spawn; retrying after ${secs(cfg.backoffMs)} if still needed` },
      }
    }
  }
  const backlog = obs.queue > 0 && obs.full
  if (!backlog) {
    s = { ...s, backlogSince: null }
    return s.pending !== null
      ? { state: s, decision: { action: 'wait', code: 'joining', reason: `waiting for the worker started ${secs(now - s.pending.since)} ago to join` } }
      : { state: s, decision: { action: 'wait', code: 'no-backlog', reason: obs.queue === 0 ? 'no jobs waiting' : `${obs.queue} waiting but some node has room` } }
  }
  const since = s.backlogSince ?? now
  s = { ...s, backlogSince: since }
  const waited = `${obs.queue} jobs waiting for ${secs(now - since)} with every node full`
  if (s.pending !== null) {
    return { state: s, decision: { action: 'wait', code: 'joining', reason: `${waited}; waiting for the worker started ${secs(now - s.pending.since)} ago to join` } }
  }
  const count = obs.spawned.length
  if (count >= cfg.max) {
    return { state: s, decision: { action: 'wait', code: 'at-max', reason: `${waited}, but ${count} of at most ${cfg.max} spawned workers run already` } }
  }
  if (now < s.quietUntil) {
    return { state: s, decision: { action: 'wait', code: 'quiet', reason: `${waited}; quiet for ${secs(s.quietUntil - now)} more` } }
  }
  if (now - since < cfg.sustainMs) {
    return { state: s, decision: { action: 'wait', code: 'backlog', reason: `${waited} (spawning after ${secs(cfg.sustainMs)})` } }
  }
  return {
    state: { ...s, pending: { since: now, id: null, before: obs.spawned.map((m) => m.id) } },
    decision: { action: 'spawn', reason: `${waited}: starting spawned worker ${count + 1} of at most ${cfg.max}` },
  }
}

/** The spawner started the worker and knows its peer id (the default spawner does). */
export function spawnStarted (state: PolicyState, since: number, id: string | null): PolicyState {
  return state.pending?.since !== since ? state : { ...state, pending: { ...state.pending, id } }
}

/**
 * The spawn that started at `since` failed before joining (the command exited
 * non-zero, the process died): back off. A later spawn in flight is kept.
 */
export function spawnFailed (cfg: PolicyConfig, state: PolicyState, now: number, since: number): PolicyState {
  if (state.pending !== null && state.pending.since !== since) return state
  return { ...state, pending: null, quietUntil: now + cfg.backoffMs }
}

/** A node's capacity as the master sees it. */
export interface NodeLoad {
  accepting: boolean
  /** Busy slots: the master's grants on it plus jobs it reports that were not granted. */
  busy: number
  maxJobs: number
  cpu: number
  mem: number
  maxCpu: number
  maxMem: number
}

/** Every node that takes jobs is full (as the scheduler's admission sees it). */
export function everyNodeFull (nodes: Iterable<NodeLoad>): boolean {
  for (const n of nodes) {
    if (!n.accepting) continue
    if (n.busy < n.maxJobs && !(n.busy > 0 && overCap(n))) return false
  }
  return true
}
