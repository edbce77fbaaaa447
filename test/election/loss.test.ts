import { describe, expect, test } from 'vitest'
import { agreed, cluster, expectStable, ids, settle } from './cluster.ts'

describe('message loss', () => {
  const cases = [0.2, 0.3].flatMap((drop) => [1, 2, 3, 4, 5, 6].map((seed) => ({ drop, seed })))

  test.each(cases)('drop $drop, seed $seed: boot, failover, partition and heal all converge', ({ drop, seed }) => {
    const names = ids(10)
    const sim = cluster(names, { seed, drop })
    sim.start(...names)
    expect(settle(sim, 1500)).toBeLessThan(1500)
    expect(agreed(sim, 'n00')).toEqual({ master: 'n09', term: 1 })
    sim.run(300)

    sim.crash('n09')
    expect(settle(sim, 1000)).toBeLessThan(1000)
    expect(agreed(sim, 'n00')).toEqual({ master: 'n08', term: 2 })
    sim.run(300)

    sim.partition(names.slice(0, 4), names.slice(4, 9))
    settle(sim, 1000)
    expect(agreed(sim, 'n00')).toEqual({ master: 'n03', term: 3 })
    expect(agreed(sim, 'n04')).toEqual({ master: 'n08', term: 2 })
    sim.run(300)

    sim.heal()
    settle(sim, 1000)
    sim.run(300)
    const a = agreed(sim, 'n00')
    expect(a.master).toBe('n08')
    expect(a.term).toBeGreaterThan(3)
    expectStable(sim, 3000) // no flapping, no term creep once agreed
  })

  test('50 nodes at 20% loss: start, then the master dies', () => {
    const names = ids(50)
    const sim = cluster(names, { seed: 42, drop: 0.2 })
    sim.start(...names)
    settle(sim, 2000)
    expect(agreed(sim, 'n00')).toEqual({ master: 'n49', term: 1 })
    sim.run(300)
    sim.crash('n49')
    expect(settle(sim, 1000)).toBeLessThan(1000)
    expect(agreed(sim, 'n00')).toEqual({ master: 'n48', term: 2 })
    expectStable(sim, 1000)
  })
})
