/**
 * The autoscaler's decision function alone, with a fake clock: the backlog
 * must last, one spawn at a time (each waits for its join), the maximum
 * counts adopted workers, failures back off.
 */
import { describe, expect, test } from 'vitest'
import {
  decide, everyNodeFull, initPolicy, spawnFailed, spawnStarted,
  type Decision, type NodeLoad, type Observation, type PolicyConfig, type PolicyState, type SpawnedMember,
} from '../../src/node/autoscale-policy.ts'

const SELF = 'master-a'
const CFG: PolicyConfig = { max: 2, sustainMs: 3000, settleMs: 1000, joinTimeoutMs: 20_000, backoffMs: 5000 }

/** A master under test: feed observations at given times, keep the state. */
class Driver {
  state: PolicyState = initPolicy()
  spawned: SpawnedMember[] = []
  cfg: PolicyConfig

  constructor (cfg: Partial<PolicyConfig> = {}) {
    this.cfg = { ...CFG, ...cfg }
  }

  at (now: number, obs: Partial<Omit<Observation, 'now'>> = {}): Decision {
    const r = decide(SELF, this.cfg, this.state, { now, isMaster: true, queue: 5, full: true, spawned: this.spawned, ...obs })
    this.state = r.state
    return r.decision
  }

  /** The code of a wait, or the action. */
  code (now: number, obs: Partial<Omit<Observation, 'now'>> = {}): string {
    const d = this.at(now, obs)
    return d.action === 'wait' ? d.code : d.action
  }
}

describe('decide', () => {
  test('spawns only after the backlog has lasted sustainMs with every node full', () => {
    const d = new Driver()
    expect(d.code(0)).toBe('backlog')
    expect(d.code(1000)).toBe('backlog')
    expect(d.code(2999)).toBe('backlog')
    const spawn = d.at(3000)
    expect(spawn.action).toBe('spawn')
    expect(spawn.reason).toMatch(/5 jobs waiting for 3.0 s with every node full/)
    expect(d.state.pending).toMatchObject({ since: 3000, id: null, before: [] })
  })

  test('the backlog timer restarts when the queue empties or a node has room', () => {
    const d = new Driver()
    d.at(0)
    expect(d.code(2000, { queue: 0 })).toBe('no-backlog')
    expect(d.code(2500)).toBe('backlog')
    expect(d.code(4000, { full: false })).toBe('no-backlog')
    expect(d.code(4500)).toBe('backlog')
    expect(d.code(7400)).toBe('backlog')
    expect(d.code(7500)).toBe('spawn')
  })

  test('nothing happens on a node that is not master, and it forgets its backlog', () => {
    const d = new Driver()
    d.at(0)
    expect(d.code(5000, { isMaster: false })).toBe('not-master')
    expect(d.state.backlogSince).toBeNull()
    expect(d.code(5001)).toBe('backlog')
    expect(d.code(8001)).toBe('spawn')
  })

  test('one spawn at a time: the next waits until the first has joined (by id), then a settle time', () => {
    const d = new Driver()
    d.at(0)
    expect(d.code(3000)).toBe('spawn')
    d.state = spawnStarted(d.state, 3000, 'w1')
    expect(d.code(3250)).toBe('joining')
    expect(d.code(9000)).toBe('joining')
    // A worker of another master appearing is not ours.
    d.spawned = [{ id: 'other', by: 'master-b' }]
    expect(d.code(9250)).toBe('joining')
    d.spawned.push({ id: 'w1', by: SELF })
    const joined = d.at(9500)
    expect(joined).toMatchObject({ action: 'joined', id: 'w1' })
    expect(joined.reason).toMatch(/6.5 s after its start/)
    expect(d.code(9750)).toBe('at-max') // other + w1 = 2 = max
    d.spawned = [{ id: 'w1', by: SELF }]
    expect(d.code(10_000)).toBe('quiet')
    expect(d.code(10_500)).toBe('spawn')
    expect(d.state.pending?.before).toEqual(['w1'])
  })

  test('without a known id, the join is a new worker that names this master', () => {
    const d = new Driver()
    d.spawned = [{ id: 'old', by: SELF }]
    d.at(0)
    expect(d.code(3000)).toBe('spawn')
    d.state = spawnStarted(d.state, 3000, null)
    expect(d.code(4000)).toBe('joining')
    d.spawned = [{ id: 'old', by: SELF }, { id: 'stranger', by: 'master-b' }]
    expect(d.code(4500)).toBe('joining')
    d.spawned.push({ id: 'new', by: SELF })
    expect(d.at(5000)).toMatchObject({ action: 'joined', id: 'new' })
  })

  test('waits for a join even when the backlog is gone', () => {
    const d = new Driver()
    d.at(0)
    d.at(3000)
    expect(d.code(4000, { queue: 0 })).toBe('joining')
    expect(d.state.pending).not.toBeNull()
  })

  test('a spawn that never joins is abandoned after joinTimeoutMs, then backs off', () => {
    const d = new Driver()
    d.at(0)
    d.at(3000)
    expect(d.code(22_999)).toBe('joining')
    const gaveUp = d.at(23_000)
    expect(gaveUp.action).toBe('abandon')
    expect(d.state.pending).toBeNull()
    expect(d.code(27_999)).toBe('quiet')
    expect(d.code(28_000)).toBe('spawn')
  })

  test('a spawn that fails backs off; a failure report for an older spawn is ignored', () => {
    const d = new Driver()
    d.at(0)
    d.at(3000)
    const stale = spawnFailed(d.cfg, d.state, 3100, 1234)
    expect(stale).toBe(d.state)
    d.state = spawnFailed(d.cfg, d.state, 3500, 3000)
    expect(d.state.pending).toBeNull()
    expect(d.code(8499)).toBe('quiet')
    expect(d.code(8500)).toBe('spawn')
  })

  test('MAX counts every live spawned worker, adopted ones included; a new master adopts them', () => {
    // This node just became master; its predecessor had started two workers.
    const d = new Driver({ max: 2 })
    d.spawned = [{ id: 'w1', by: 'dead-master' }, { id: 'w2', by: 'dead-master' }]
    d.at(0)
    expect(d.code(5000)).toBe('at-max')
    const atMax = d.at(5000)
    expect(atMax.reason).toMatch(/2 of at most 2 spawned workers/)
    // One retires: there is room for one more, and the backlog has lasted.
    d.spawned = [{ id: 'w2', by: 'dead-master' }]
    expect(d.code(5250)).toBe('spawn')
    expect(d.state.pending?.before).toEqual(['w2'])
  })

  test('max 1: a second spawn never starts while the first lives', () => {
    const d = new Driver({ max: 1 })
    d.at(0)
    d.at(3000)
    d.state = spawnStarted(d.state, 3000, 'w1')
    d.spawned = [{ id: 'w1', by: SELF }]
    expect(d.at(4000).action).toBe('joined')
    for (let t = 4250; t < 60_000; t += 250) expect(d.code(t)).toBe('at-max')
  })
})

describe('everyNodeFull', () => {
  const node = (busy: number, extra: Partial<NodeLoad> = {}): NodeLoad => ({ accepting: true, busy, maxJobs: 2, cpu: 10, mem: 10, maxCpu: 100, maxMem: 95, ...extra })

  test('full when every accepting node has all its slots busy', () => {
    expect(everyNodeFull([node(2), node(2)])).toBe(true)
    expect(everyNodeFull([node(2), node(1)])).toBe(false)
  })

  test('draining nodes do not count; none accepting at all is full', () => {
    expect(everyNodeFull([node(2), node(0, { accepting: false })])).toBe(true)
    expect(everyNodeFull([node(0, { accepting: false })])).toBe(true)
  })

  test('a busy node over its CPU or memory cap takes nothing more, as in admission', () => {
    expect(everyNodeFull([node(1, { cpu: 100, maxCpu: 80 })])).toBe(true)
    expect(everyNodeFull([node(1, { mem: 99 })])).toBe(true)
    expect(everyNodeFull([node(0, { cpu: 100, maxCpu: 80 })])).toBe(false)
  })
})
