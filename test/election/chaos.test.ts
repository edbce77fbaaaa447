import { expect, test } from 'vitest'
import { expectStable, ids, settle } from './cluster.ts'
import { prng } from '../helpers/prng.ts'
import { Sim } from './sim.ts'

/**
 * Random crashes, restarts, cuts, partitions and loss; then the network is
 * repaired and every node restarted that was down. Whatever happened before,
 * the cluster must end with one master, the highest node, and stay there.
 * Throughout, no node's term ever goes down. CHAOS_SEEDS=1000 runs more seeds.
 */
const SEEDS = Number(process.env.CHAOS_SEEDS ?? 40)

test.each(Array.from({ length: SEEDS }, (_, i) => i + 1))('chaos seed %i', (seed) => {
  const rand = prng(seed * 7919)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!
  const names = ids(3 + Math.floor(rand() * 8))
  const sim = new Sim({ seed, drop: rand() * 0.3, minDelayMs: 1, maxDelayMs: 1 + Math.floor(rand() * 10) })
  // some nodes get a priority, so ids do not always decide
  for (const id of names) sim.add(id, rand() < 0.2 ? 1 + Math.floor(rand() * 3) : 0)
  const terms = new Map<string, number>()
  const checkTerms = (): void => {
    for (const n of sim.live()) {
      const k = `${n.id}#${n.inc}`
      expect(n.state.term).toBeGreaterThanOrEqual(terms.get(k) ?? 0)
      terms.set(k, n.state.term)
    }
  }
  sim.start(...names.filter(() => rand() < 0.8))
  for (let i = 0; i < 25; i++) {
    const r = rand()
    const id = pick(names)
    if (r < 0.2) sim.crash(id)
    else if (r < 0.4) sim.node(id).alive ? sim.restart(id) : sim.start(id)
    else if (r < 0.55) sim.cut(id, pick(names))
    else if (r < 0.65) sim.isolate(id)
    else if (r < 0.75) sim.partition(...[names.filter(() => rand() < 0.5), names].map((g, j, all) => (j === 0 ? g : g.filter((x) => !all[0]!.includes(x)))))
    else if (r < 0.85) sim.heal()
    else sim.setDrop(rand() * 0.3)
    const steps = Math.floor(rand() * 60)
    for (let t = 0; t < steps; t++) {
      sim.run(10)
      checkTerms()
    }
  }
  sim.heal()
  sim.setDrop(0)
  for (const id of names) if (!sim.node(id).alive) sim.start(id)
  settle(sim, 3000)
  sim.run(500)
  expect(sim.convergedOnTop()).toBe(true)
  expectStable(sim, 2000)
})
