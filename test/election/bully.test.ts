import { describe, expect, test } from 'vitest'
import {
  compareRank,
  DEFAULT_ELECTION_CONFIG,
  electionConfig,
  getMaster,
  getRole,
  getTerm,
  initElection,
  InvalidElectionConfigError,
  isMaster,
  step,
} from '../../src/election/index.ts'
import { answer, coordinator, election, Probe } from './helpers.ts'

describe('rank', () => {
  test('priority beats peer id; then the id decides', () => {
    expect(compareRank({ priority: 1, id: 'a' }, { priority: 0, id: 'z' })).toBeGreaterThan(0)
    expect(compareRank({ priority: 0, id: 'z' }, { priority: 1, id: 'a' })).toBeLessThan(0)
    expect(compareRank({ priority: 0, id: 'b' }, { priority: 0, id: 'a' })).toBeGreaterThan(0)
    expect(compareRank({ priority: 0, id: 'a' }, { priority: 0, id: 'a' })).toBe(0)
    // code-unit order, not locale order: 'Z' < 'a'
    expect(compareRank({ priority: 0, id: 'Z' }, { priority: 0, id: 'a' })).toBeLessThan(0)
  })
})

describe('config', () => {
  test('defaults are small and consistent', () => {
    const c = electionConfig()
    expect(c).toEqual(DEFAULT_ELECTION_CONFIG)
    expect(c.coordinatorTimeoutMs).toBeGreaterThan(c.answerTimeoutMs * (c.answerRetries + 1))
  })
  test('bad values are refused with a named error', () => {
    expect(() => electionConfig({ answerTimeoutMs: 0 })).toThrow(InvalidElectionConfigError)
    try {
      electionConfig({ answerRetries: 1.5 })
    } catch (e) {
      expect((e as Error).name).toBe('InvalidElectionConfigError')
    }
  })
})

describe('boot', () => {
  test('start arms the startup timer; alone, the node crowns itself at term 1', () => {
    const p = new Probe('a')
    expect(p.feed({ type: 'start' })).toEqual([{ type: 'setTimer', name: 'startup', ms: 500 }])
    expect(getRole(p.state)).toBe('starting')
    expect(p.timer('startup')).toEqual([
      { type: 'broadcast', msg: coordinator(1) },
      { type: 'becameMaster', term: 1 },
    ])
    expect([getRole(p.state), getMaster(p.state), getTerm(p.state), isMaster(p.state)]).toEqual(['master', 'a', 1, true])
  })

  test('a zero startup delay elects at once', () => {
    const p = new Probe('a', 0, { startupDelayMs: 0 })
    expect(p.feed({ type: 'start' })).toContainEqual({ type: 'becameMaster', term: 1 })
  })

  test('a settled start (the adapter already heard its peers) elects at once, without the startup delay', () => {
    const p = new Probe('a')
    const out = p.feed({ type: 'start', settled: true })
    expect(out).toContainEqual({ type: 'becameMaster', term: 1 })
    expect(out).not.toContainEqual(expect.objectContaining({ type: 'setTimer', name: 'startup' }))
  })

  test('a higher-ranked master heard while starting is followed without an election', () => {
    const p = new Probe('a')
    p.feed({ type: 'start' })
    p.up('b')
    expect(p.report('b', 7, true)).toEqual([
      { type: 'cancelTimer', name: 'startup' },
      { type: 'becameFollower', master: 'b', term: 7 },
    ])
    expect(p.timer('startup')).toEqual([]) // a late timer is harmless
  })

  test('a lower-ranked master heard while starting only teaches the term', () => {
    const p = new Probe('b')
    p.feed({ type: 'start' })
    p.up('a')
    expect(p.msg('a', coordinator(4))).toEqual([])
    expect([getRole(p.state), getTerm(p.state)]).toEqual(['starting', 4])
    expect(p.timer('startup')).toContainEqual({ type: 'becameMaster', term: 5 })
  })
})

describe('candidate', () => {
  const candidate = (): Probe => {
    const p = new Probe('b')
    p.feed({ type: 'start' })
    p.up('a')
    p.up('c')
    p.up('d')
    p.timer('startup')
    return p
  }

  test('sends ELECTION to higher peers only, highest first', () => {
    const p = candidate()
    expect(p.actions).toEqual([
      { type: 'send', to: 'd', msg: election(0) },
      { type: 'send', to: 'c', msg: election(0) },
      { type: 'setTimer', name: 'answer', ms: 25 },
    ])
    expect([getRole(p.state), getMaster(p.state)]).toEqual(['candidate', null])
  })

  test('retries ELECTION, then crowns itself when nobody answers', () => {
    const p = candidate()
    expect(p.timer('answer')).toHaveLength(3)
    expect(p.timer('answer')).toHaveLength(3)
    expect(p.timer('answer')).toEqual([
      { type: 'broadcast', msg: coordinator(1) },
      { type: 'becameMaster', term: 1 },
    ])
  })

  test('an ANSWER makes it wait for the COORDINATOR; silence restarts the election', () => {
    const p = candidate()
    expect(p.msg('c', answer(0))).toEqual([
      { type: 'cancelTimer', name: 'answer' },
      { type: 'setTimer', name: 'coordinator', ms: 100 },
    ])
    expect(p.timer('coordinator')[0]).toEqual({ type: 'send', to: 'd', msg: election(0) })
    p.msg('d', answer(0))
    expect(p.msg('d', coordinator(1))).toEqual([
      { type: 'cancelTimer', name: 'coordinator' },
      { type: 'becameFollower', master: 'd', term: 1 },
    ])
  })

  test('when the last higher peer goes down it crowns itself at once', () => {
    const p = candidate()
    p.feed({ type: 'peerDown', peer: 'c' })
    expect(getRole(p.state)).toBe('candidate')
    expect(p.feed({ type: 'peerDown', peer: 'd' })).toEqual([
      { type: 'cancelTimer', name: 'answer' },
      { type: 'broadcast', msg: coordinator(1) },
      { type: 'becameMaster', term: 1 },
    ])
  })

  test('an ANSWER carries the term to a restarted node', () => {
    const p = candidate()
    p.msg('c', answer(9))
    expect(getTerm(p.state)).toBe(9)
    p.timer('coordinator')
    expect(p.actions[0]).toEqual({ type: 'send', to: 'd', msg: election(9) })
  })
})

/** `b` follows `c` at term 3; `a` is below, `d` does not exist yet. */
const follower = (): Probe => {
  const p = new Probe('b')
  p.feed({ type: 'start' })
  p.up('a')
  p.up('c')
  p.msg('c', coordinator(3))
  return p
}

/** `c` is master at term 3 over `a` and `b`. */
const master = (): Probe => {
  const p = new Probe('c')
  p.feed({ type: 'start' })
  p.up('a')
  p.up('b')
  p.report('b', 2, false)
  p.timer('startup')
  expect(getTerm(p.state)).toBe(3)
  return p
}

describe('follower', () => {
  test('stale COORDINATOR (old term) is ignored', () => {
    const p = follower()
    const before = p.state
    p.up('d')
    const withD = p.state
    expect(p.msg('d', coordinator(2))).toEqual([])
    expect(p.state).toEqual(withD)
    expect([getMaster(before), getTerm(before)]).toEqual(['c', 3])
  })

  test('losing its master starts an election', () => {
    const p = follower()
    expect(p.feed({ type: 'peerDown', peer: 'c' })).toEqual([
      { type: 'broadcast', msg: coordinator(4) },
      { type: 'becameMaster', term: 4 },
    ])
  })

  test('answers a lower candidate and probes its own betters, but stays a follower', () => {
    const p = follower()
    expect(p.msg('a', election(3))).toEqual([
      { type: 'send', to: 'a', msg: answer(3) },
      { type: 'send', to: 'c', msg: election(3) },
      { type: 'setTimer', name: 'answer', ms: 25 },
    ])
    expect([getRole(p.state), getMaster(p.state)]).toEqual(['follower', 'c'])
    expect(p.msg('c', answer(3))).toEqual([{ type: 'cancelTimer', name: 'answer' }])
  })

  test('it probes its master only, and not for a candidate that is merely behind', () => {
    const p = follower()
    p.up('d') // ranks above b, but b follows c: the probe asks c alone
    expect(p.msg('a', election(3))).toEqual([
      { type: 'send', to: 'a', msg: answer(3) },
      { type: 'send', to: 'c', msg: election(3) },
      { type: 'setTimer', name: 'answer', ms: 25 },
    ])
    const q = follower()
    expect(q.msg('a', election(1))).toEqual([{ type: 'send', to: 'a', msg: answer(3) }])
  })

  test('a probe its master never answers turns into an election', () => {
    const p = follower()
    p.msg('a', election(3))
    p.timer('answer')
    p.timer('answer')
    expect(p.timer('answer')).toEqual([
      { type: 'send', to: 'c', msg: election(3) },
      { type: 'setTimer', name: 'answer', ms: 25 },
    ])
    expect([getRole(p.state), getMaster(p.state)]).toEqual(['candidate', null])
    p.timer('answer')
    p.timer('answer')
    expect(p.timer('answer')).toContainEqual({ type: 'becameMaster', term: 4 })
  })

  test('its master\'s COORDINATOR also ends a probe', () => {
    const p = follower()
    p.msg('a', election(3))
    expect(p.msg('c', coordinator(3))).toEqual([{ type: 'cancelTimer', name: 'answer' }])
    expect(p.timer('answer')).toEqual([])
  })

  test('a newer term from anyone but a master claim sends it to an election', () => {
    const p = follower()
    expect(p.report('a', 5, false)).toEqual([
      { type: 'send', to: 'c', msg: election(5) },
      { type: 'setTimer', name: 'answer', ms: 25 },
    ])
    expect(getRole(p.state)).toBe('candidate')
  })

  test('at an equal term it switches only to a claimant ranked above its master', () => {
    const p = follower()
    p.up('d')
    p.msg('d', coordinator(3))
    expect(getMaster(p.state)).toBe('d')
    p.msg('c', coordinator(3))
    expect(getMaster(p.state)).toBe('d')
  })

  test('messages from peers not known to be up are ignored', () => {
    const p = follower()
    expect(p.msg('zz', coordinator(10))).toEqual([])
    expect(p.msg('zz', election(10))).toEqual([])
    expect(getTerm(p.state)).toBe(3)
  })
})

describe('master', () => {
  test('answers ELECTION from below and repeats its COORDINATOR', () => {
    const p = master()
    expect(p.msg('a', election(0))).toEqual([
      { type: 'send', to: 'a', msg: answer(3) },
      { type: 'send', to: 'a', msg: coordinator(3) },
    ])
  })

  test('tells a new peer, and a peer reporting an old term, its term', () => {
    const p = master()
    expect(p.up('x')).toEqual([{ type: 'send', to: 'x', msg: coordinator(3) }])
    expect(p.report('x', 0, false)).toEqual([{ type: 'send', to: 'x', msg: coordinator(3) }])
    expect(p.report('b', 3, false)).toEqual([])
  })

  test('answers a stale COORDINATOR with its own', () => {
    const p = master()
    expect(p.msg('b', coordinator(2))).toEqual([{ type: 'send', to: 'b', msg: coordinator(3) }])
    expect(getRole(p.state)).toBe('master')
  })

  test('bullies back a lower-ranked claim with a newer or equal term', () => {
    let p = master()
    expect(p.msg('b', coordinator(5))).toEqual([
      { type: 'broadcast', msg: coordinator(6) },
      { type: 'becameMaster', term: 6 },
    ])
    p = master()
    expect(p.report('a', 3, true)).toContainEqual({ type: 'becameMaster', term: 4 })
  })

  test('steps down for a higher-ranked claim with a newer or equal term', () => {
    let p = master()
    p.up('d')
    expect(p.msg('d', coordinator(4))).toEqual([{ type: 'becameFollower', master: 'd', term: 4 }])
    p = master()
    p.up('d')
    expect(p.report('d', 3, true)).toEqual([{ type: 'becameFollower', master: 'd', term: 3 }])
  })

  test('a higher term seen elsewhere: steps down, and crowns itself again if it is the highest', () => {
    let p = master()
    expect(p.report('b', 7, false)).toEqual([
      { type: 'broadcast', msg: coordinator(8) },
      { type: 'becameMaster', term: 8 },
    ])
    p = master()
    p.up('d')
    expect(p.msg('a', election(9))).toEqual([
      { type: 'send', to: 'd', msg: election(9) },
      { type: 'setTimer', name: 'answer', ms: 25 },
      { type: 'send', to: 'a', msg: answer(9) },
      { type: 'steppedDown', term: 3 },
    ])
    expect([getRole(p.state), getMaster(p.state), getTerm(p.state)]).toEqual(['candidate', null, 9])
  })
})

describe('purity', () => {
  test('step never mutates its input and is deterministic', () => {
    const s0 = initElection({ id: 'b', priority: 0 })
    const events = [
      { type: 'start' },
      { type: 'peerUp', peer: 'c', rank: { id: 'c', priority: 0 } },
      { type: 'timer', name: 'startup' },
      { type: 'message', from: 'c', msg: answer(2) },
      { type: 'timer', name: 'coordinator' },
    ] as const
    const runAll = () => {
      let s = s0
      const out: unknown[] = []
      for (const e of events) {
        const r = step(s, e)
        expect(Object.isFrozen(r.state)).toBe(true)
        out.push(r.actions)
        s = r.state
      }
      return { s, out }
    }
    const snapshot = JSON.stringify({ ...s0, peers: [...s0.peers] })
    const x = runAll()
    const y = runAll()
    expect(x).toEqual(y)
    expect(JSON.stringify({ ...s0, peers: [...s0.peers] })).toBe(snapshot)
  })
})

describe('hearsay: reports name their sender\'s master', () => {
  const seek = (peer: string) => ({ type: 'seek', peer })
  /** 'm', alone at first: master of term 1, then hearing from follower 'a'. */
  const aloneThenA = (config: { rumourMs?: number } = {}): Probe => {
    const p = new Probe('m', 0, config)
    p.feed({ type: 'start' })
    p.timer('startup')
    p.up('a')
    return p
  }

  test('a master above us that we have not heard from holds back our crowning while we seek it', () => {
    const p = new Probe('m')
    p.feed({ type: 'start' })
    p.up('a') // a follower of z, which m has not heard from
    expect(p.hearsay('a', 3, 'z')).toEqual([{ type: 'setTimer', name: 'rumour', ms: 3000 }, seek('z')])
    expect(getTerm(p.state)).toBe(3) // no master of its own: the rumour's term is the highest known
    // The startup timer fires: no one above m answers ELECTION (there is no one to ask), yet m does not crown itself.
    expect(p.timer('startup')).toEqual([seek('z')])
    expect([getRole(p.state), p.state.waiting]).toEqual(['candidate', null])
    // Connected: z is asked directly, and its claim is followed.
    expect(p.up('z')).toEqual([{ type: 'cancelTimer', name: 'rumour' }, { type: 'send', to: 'z', msg: election(3) }, { type: 'setTimer', name: 'answer', ms: 25 }])
    expect(p.msg('z', coordinator(3))).toContainEqual({ type: 'becameFollower', master: 'z', term: 3 })
  })

  test('a rumour not reached in time is contested as before, once', () => {
    const p = new Probe('m')
    p.feed({ type: 'start' })
    p.up('a')
    p.hearsay('a', 3, 'z')
    p.timer('startup')
    expect(p.timer('rumour')).toEqual([{ type: 'broadcast', msg: coordinator(4) }, { type: 'becameMaster', term: 4 }])
    // The same rumour again: no more holding back (m is master of a newer term anyway).
    expect(p.hearsay('a', 3, 'z')).toEqual([{ type: 'send', to: 'a', msg: coordinator(4) }])
  })

  test('a master that crowned itself keeps its term while it seeks a rumoured master above it', () => {
    const p = aloneThenA()
    expect(p.hearsay('a', 5, 'z')).toEqual([{ type: 'setTimer', name: 'rumour', ms: 3000 }, seek('z')])
    expect([getRole(p.state), getTerm(p.state)]).toEqual(['master', 1])
    // Without rumours (rumourMs 0), the newer term is contested at once: m re-crowns above it.
    const q = aloneThenA({ rumourMs: 0 })
    expect(q.hearsay('a', 5, 'z')).toContainEqual({ type: 'becameMaster', term: 6 })
  })

  test('a master below us named at a newer term is contested', () => {
    const p = aloneThenA()
    expect(p.hearsay('a', 5, 'b')).toContainEqual({ type: 'becameMaster', term: 6 })
  })

  test('a live peer above us named master of a newer term is followed at once', () => {
    const p = new Probe('m')
    p.feed({ type: 'start' })
    p.up('y')
    p.msg('y', coordinator(1))
    p.up('z')
    p.up('a')
    expect(p.hearsay('a', 2, 'z')).toContainEqual({ type: 'becameFollower', master: 'z', term: 2 })
    // At our own term hearsay proves nothing (we may be electing because it went quiet).
    const q = new Probe('m')
    q.feed({ type: 'start' })
    q.up('z')
    q.up('a')
    q.timer('startup')
    expect(q.hearsay('a', 0, 'z')).toEqual([])
  })

  test('a master we saw go down is not a rumour while its followers catch up (failover stays fast)', () => {
    const p = new Probe('y')
    p.feed({ type: 'start' })
    p.up('z')
    p.up('a')
    p.msg('z', coordinator(4))
    expect(p.feed({ type: 'peerDown', peer: 'z' })).toContainEqual({ type: 'becameMaster', term: 5 })
    // a has not noticed: its report still names z at term 4, which y has outgrown anyway…
    expect(p.hearsay('a', 4, 'z')).toEqual([{ type: 'send', to: 'a', msg: coordinator(5) }])
    // …and a candidate that saw z go at term 4 does not wait for it either.
    const q = new Probe('y')
    q.feed({ type: 'start' })
    q.up('z')
    q.up('yz')
    q.up('a')
    q.msg('z', coordinator(4))
    q.feed({ type: 'peerDown', peer: 'z' }) // yz is above y: y asks it
    expect(q.hearsay('a', 4, 'z')).toEqual([])
    expect(q.timer('answer')).toEqual([{ type: 'send', to: 'yz', msg: election(4) }, { type: 'setTimer', name: 'answer', ms: 25 }])
  })

  test('a newer term from anyone ends a rumour', () => {
    const p = new Probe('m')
    p.feed({ type: 'start' })
    p.up('a')
    p.hearsay('a', 3, 'z')
    p.timer('startup') // held back
    expect(p.report('a', 4, false)).toEqual([{ type: 'cancelTimer', name: 'rumour' }, { type: 'broadcast', msg: coordinator(5) }, { type: 'becameMaster', term: 5 }])
  })
})
