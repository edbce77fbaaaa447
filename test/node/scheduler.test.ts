/** The master's placement (src/node/scheduler.ts): pure logic, fed node views and requests. */
import { expect, test } from 'vitest'
import { LOCAL_SKIPS, LOCAL_WINDOW_MS, overCap, POSITION_EVERY_MS, positionEvery, Scheduler, type NodeView, type PlaceRequest } from '../../src/node/scheduler.ts'

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

test('the entry\'s own node is preferred over equally busy nodes, by up to 10 CPU points, never over a node with fewer busy slots', () => {
  const views = [node('x', { cpu: 5 }), node('e', { cpu: 14 }), node('y', { cpu: 30 })]
  const s = new Scheduler(() => views)
  const r = requests()
  s.enqueue(r.req('j1'))
  expect(r.grants.get('j1')).toBe('e') // 14 − 10 < 5
  s.enqueue(r.req('j2'))
  expect(r.grants.get('j2')).toBe('x') // e has a job, x none
  views[1] = node('e', { cpu: 16 })
  s.release('j1')
  s.release('j2')
  s.enqueue(r.req('j3'))
  expect(r.grants.get('j3')).toBe('x') // 16 − 10 > 5
})

test('a leased slot that runs another job stays taken under that job\'s id; a job granted elsewhere keeps its own grant', () => {
  const views = [node('e', { maxJobs: 1 }), node('x', { maxJobs: 1 })]
  const s = new Scheduler(() => views)
  const r = requests()
  s.enqueue(r.req('j1'))
  expect(r.grants.get('j1')).toBe('e')
  expect(s.rekey('j1', 'j2')).toBe(true) // e runs j2 on the slot j1 had
  expect(s.grants.get('j2')).toBe('e')
  expect(s.grants.has('j1')).toBe(false)
  s.enqueue(r.req('j3'))
  expect(r.grants.get('j3')).toBe('x')
  s.enqueue(r.req('j4'))
  expect(r.grants.has('j4')).toBe(false) // both slots taken
  // The same job through another entry is already granted on x: e's slot keeps its key.
  expect(s.rekey('j2', 'j3')).toBe(false)
  expect(s.grants.get('j2')).toBe('e')
  s.release('j2') // e gives the lease back
  expect(r.grants.get('j4')).toBe('e')
})

test('a freed slot goes to a job that came in on that node if it was queued about as early as the first; no job is passed over more than LOCAL_SKIPS times', () => {
  let now = 1000
  const views = [node('a', { maxJobs: 1 }), node('b', { maxJobs: 1 })]
  const s = new Scheduler(() => views, () => now)
  const grants: string[] = []
  const req = (id: string, entry: string): PlaceRequest => ({
    id, language: 'python', entry, onGrant: (w) => { grants.push(`${id}@${w}`) }, onPosition: () => {}, onReject: (m) => { throw new Error(m) }, onLost: () => {},
  })
  s.enqueue(req('a0', 'a'))
  s.enqueue(req('b0', 'b'))
  expect(grants).toEqual(['a0@a', 'b0@b'])
  // An entry's requests arrive in a burst: a's block, then b's.
  for (let i = 1; i <= LOCAL_SKIPS + 2; i++) s.enqueue(req(`a${i}`, 'a'))
  for (let i = 1; i <= LOCAL_SKIPS + 2; i++) s.enqueue(req(`b${i}`, 'b'))
  grants.length = 0
  let last = 'b0'
  for (let k = 0; k < LOCAL_SKIPS + 1; k++) {
    s.release(last)
    last = grants.at(-1)!.split('@')[0]!
  }
  // b's slot went to b's own jobs while a1, first in the queue, was passed over LOCAL_SKIPS times; then a1.
  expect(grants).toEqual([...Array.from({ length: LOCAL_SKIPS }, (_, i) => `b${i + 1}@b`), 'a1@b'])
  // A job queued more than LOCAL_WINDOW_MS after the first does not go first.
  const s2 = new Scheduler(() => views, () => now)
  grants.length = 0
  s2.enqueue(req('x0', 'a'))
  s2.enqueue(req('y0', 'b'))
  s2.enqueue(req('x1', 'a'))
  now += LOCAL_WINDOW_MS + 1
  s2.enqueue(req('y1', 'b'))
  s2.release('y0')
  expect(grants).toEqual(['x0@a', 'y0@b', 'x1@b'])
})

test('a queue of 400 draining at 80 jobs/s sends each job about three position updates, the first at once (every change near the front and every second behind it were ~6)', () => {
  let now = 0
  const views = [node('a', { maxJobs: 1 })]
  const s = new Scheduler(() => views, () => now)
  const updates = new Map<string, number[]>()
  const granted: string[] = []
  for (let i = 0; i <= 400; i++) {
    const id = `j${i}`
    s.enqueue({
      id, language: 'python', entry: 'e',
      onGrant: () => { granted.push(id) }, onPosition: (p) => { updates.set(id, [...(updates.get(id) ?? []), p]) }, onReject: (m) => { throw new Error(m) }, onLost: () => {},
    })
  }
  expect(updates.get('j400')).toEqual([400])
  while (granted.length <= 400) {
    now += 12.5
    s.release(granted.at(-1)!)
  }
  const counts = [...updates.values()].map((u) => u.length)
  const total = counts.reduce((a, b) => a + b, 0)
  console.log(`position updates: ${total} for 400 queued jobs (most for one job: ${Math.max(...counts)})`)
  expect(counts.every((c) => c >= 1)).toBe(true)
  expect(total / 400).toBeLessThanOrEqual(3.5)
  // The front still hears of every change a quarter of a second apart at most.
  expect(positionEvery(1)).toBe(POSITION_EVERY_MS / 4)
  expect(positionEvery(400)).toBe(8 * POSITION_EVERY_MS)
})
