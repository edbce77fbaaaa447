import { expect } from 'vitest'
import { Sim, type Agreement, type SimOptions } from './sim.ts'

/** Ids n00, n01, … (equal priorities: the id decides, so the last one ranks highest). */
export function ids(n: number, prefix = 'n'): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(2, '0')}`)
}

export function cluster(names: string[], opts: SimOptions = {}): Sim {
  const sim = new Sim(opts)
  for (const id of names) sim.add(id)
  return sim
}

/** Runs until every component has its highest-ranked node as sole master, all agreeing; returns the ms taken. */
export function settle(sim: Sim, maxMs: number): number {
  const ms = sim.runUntil(() => sim.convergedOnTop(), maxMs)
  if (ms === null) throw new Error(`no convergence within ${maxMs} ms\n${sim.describe()}\n${sim.trace.slice(-40).join('\n')}`)
  return ms
}

/** The agreement of the component holding `id`, asserting there is one. */
export function agreed(sim: Sim, id: string): Agreement {
  const group = sim.components().find((g) => g.includes(id))
  const a = group === undefined ? null : sim.agreement(group)
  if (a === null) throw new Error(`no agreement around ${id}\n${sim.describe()}`)
  return a
}

/** Runs `ms` more and checks that nothing changed: no notification anywhere, same agreement. */
export function expectStable(sim: Sim, ms: number): void {
  const from = sim.now
  const before = sim.components().map((g) => sim.agreement(g))
  sim.run(ms)
  const after = sim.components().map((g) => sim.agreement(g))
  expect(after).toEqual(before)
  for (const n of sim.nodes.values()) expect(n.history.filter((h) => h.at > from)).toEqual([])
}

/** Number of becameMaster notifications in the whole run, per node that had any. */
export function crownings(sim: Sim): Record<string, number> {
  const out: Record<string, number> = {}
  for (const n of sim.nodes.values()) {
    const k = n.history.filter((h) => h.action.type === 'becameMaster').length
    if (k > 0) out[n.id] = k
  }
  return out
}
