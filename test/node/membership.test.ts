/** Membership from reports: up, down, and no revival by stale gossip. */
import { expect, test } from 'vitest'
import { Membership } from '../../src/node/membership.ts'
import type { LoadReport } from '../../src/node/schemas.ts'

/** A busy follower's report (one job running), unless `over` says otherwise. */
function report (id: string, seq: number, every?: number, over: Partial<LoadReport> = {}): LoadReport {
  return {
    ...(every === undefined ? {} : { every }),
    v: 1, cluster: 'default', id, seq, priority: 0, term: 1, isMaster: false, master: null, cpu: 1, mem: 1, running: 1, maxJobs: 2,
    maxCpu: 100, maxMem: 95, accepting: true, queue: 0, languages: ['python'], jobs: ['j1'], addrs: [], version: '0.1.0',
    ...over,
  }
}

test('a peer is up with its reports, down when they stop or it disconnects, and a late older report does not revive it', () => {
  const m = new Membership(625) // 4 missed reports: down after 2.5 s
  const events: string[] = []
  m.on('up', (x) => events.push(`up ${x.id}`))
  m.on('down', (x) => events.push(`down ${x.id}`))
  m.onReport(report('a', 10), 0)
  m.onReport(report('a', 11), 500)
  m.sweep(2000)
  expect(events).toEqual(['up a'])
  m.sweep(3100)
  expect(events).toEqual(['up a', 'down a'])
  m.onReport(report('a', 11), 3200) // a copy of the last report, relayed late
  m.onReport(report('a', 9), 3300)
  expect(m.up).toEqual([])
  m.onReport(report('a', 12), 3400) // it really is back
  expect(events).toEqual(['up a', 'down a', 'up a'])
  m.onDisconnect('a')
  m.onReport(report('a', 12), 3500)
  expect(events).toEqual(['up a', 'down a', 'up a', 'down a'])
})

test('a sweep after this node\'s own event loop stalled marks nobody down: the reports waiting in the sockets come first', () => {
  const m = new Membership(500) // down after 2 s
  const events: string[] = []
  m.on('down', (x) => events.push(`down ${x.id}`))
  m.onReport(report('a', 1), 0)
  m.onReport(report('b', 1), 0)
  m.sweep(250)
  m.sweep(5000) // the timer ran 4.75 s late
  expect(events).toEqual([])
  m.onReport(report('a', 2), 5010) // a's report was waiting; b is really gone
  for (let t = 5250; t <= 6500; t += 250) m.sweep(t)
  expect(events).toEqual(['down b'])
  expect(m.up.map((x) => x.id)).toEqual(['a'])
})

test('a peer that says it reports less often (a larger cluster) is given that much longer', () => {
  const m = new Membership(500)
  const events: string[] = []
  m.on('down', (x) => events.push(`down ${x.id}`))
  m.onReport(report('a', 1), 0)
  m.onReport(report('b', 1, 1500), 0)
  for (let t = 250; t <= 5750; t += 250) m.sweep(t)
  expect(events).toEqual(['down a'])
  for (let t = 6000; t <= 6250; t += 250) m.sweep(t)
  expect(events).toEqual(['down a', 'down b'])
})

test('an idle follower (its last report says so) is given twice the silence; an idle master and a busy follower are not', () => {
  const m = new Membership(500) // 4 intervals: 2 s
  const events: string[] = []
  m.on('down', (x) => events.push(`down ${x.id}`))
  const idle = { running: 0, jobs: [] }
  m.onReport(report('follower', 1, undefined, idle), 0)
  m.onReport(report('master', 1, undefined, { ...idle, isMaster: true }), 0)
  m.onReport(report('busy', 1), 0)
  for (let t = 250; t <= 2250; t += 250) m.sweep(t)
  expect(events.sort()).toEqual(['down busy', 'down master'])
  for (let t = 2500; t <= 3750; t += 250) m.sweep(t)
  expect(events).toHaveLength(2)
  for (let t = 4000; t <= 4250; t += 250) m.sweep(t)
  expect(events).toContain('down follower')
})

test('a master passed over by an election is down at once if its reports are late, and stays up if they are on time', () => {
  const m = new Membership(500) // down after 2 s of silence; on time within 1.5 s
  const events: string[] = []
  m.on('down', (x) => events.push(`down ${x.id}`))
  m.onReport(report('stopped', 1, 500, { isMaster: true }), 0)
  m.onReport(report('deposed', 1, 500, { isMaster: true }), 1000)
  // The others elected a new master 1.6 s after the last report of 'stopped' (SIGSTOP): it is down now, not at the next sweep.
  m.passedOver('stopped', 1600)
  // 'deposed' reported 0.6 s ago: a higher node took over, and it is still a worker.
  m.passedOver('deposed', 1600)
  expect(events).toEqual(['down stopped'])
  expect(m.up.map((x) => x.id)).toEqual(['deposed'])
})
