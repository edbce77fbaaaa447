/** The master's placement (src/node/scheduler.ts): pure logic, fed node views and requests. */
import { expect, test } from 'vitest'
import { overCap, Scheduler, type NodeView, type PlaceRequest } from '../../src/node/scheduler.ts'

function node (id: string, over: Partial<NodeView> = {}): NodeView {
  return { id, up: true, languages: ['python'], maxJobs: 2, running: 0, cpu: 10, mem: 10, maxCpu: 100, maxMem: 95, accepting: true, jobs: [], ...over }
}

/** Requests that record where they went. */
function requests (): { req: (id: string) => PlaceRequest, grants: Map<string, string>, positions: Map<string, number> } {
  const grants = new Map<string, string>()
  const positions = new Map<string, number>()
  return {
    grants,
    positions,
    req: (id) => ({
      id, language: 'python', entry: 'e',
      onGrant: (w) => { grants.set(id, w) },
      onPosition: (p) => { positions.set(id, p) },
      onReject: (m) => { throw new Error(m) },
      onLost: () => {},
    }),
  }
}

test('a busy machine still takes jobs up to --max-jobs: a CPU cap of 100 % (the default) is no cap', () => {
  const views = [node('a', { cpu: 100 })]
  const s = new Scheduler(() => views)
  const r = requests()
  for (const id of ['j1', 'j2', 'j3']) s.enqueue(r.req(id))
  expect([...r.grants]).toEqual([['j1', 'a'], ['j2', 'a']])
  expect(r.positions.get('j3')).toBe(1) // --max-jobs 2: the third waits
  expect(overCap({ cpu: 100, mem: 10, maxCpu: 100, maxMem: 95 })).toBe(false)
})

test('a node over an explicit CPU or memory cap takes no second job, but always a first', () => {
  const views = [node('hot', { cpu: 90, maxCpu: 80 }), node('full', { mem: 96 })]
  const s = new Scheduler(() => views)
  const r = requests()
  for (const id of ['j1', 'j2', 'j3']) s.enqueue(r.req(id))
  // One each (load from outside meshrun must not lock a node out), then the caps hold.
  expect(new Set(r.grants.values())).toEqual(new Set(['hot', 'full']))
  expect(r.grants.has('j3')).toBe(false)
  views[0] = node('hot', { cpu: 50, maxCpu: 80 })
  s.pump()
  expect(r.grants.get('j3')).toBe('hot')
})
