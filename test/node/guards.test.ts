/**
 * Regression guards for performance that time nothing: a repeated job hits
 * the compile cache, jobs cost no new streams (a client's share one session
 * with its node, nodes one link per pair), jobs one at a time skip the
 * master (a leased slot),
 * steady work causes no election traffic, and load reports stay small
 * (and fewer from idle nodes).
 */
import { afterAll, beforeAll, expect, test } from 'vitest'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { MeshClient } from '../../src/client/client.ts'
import { PROTOCOL_ELECTION, PROTOCOL_JOB, PROTOCOL_LINK, PROTOCOL_SESSION } from '../../src/node/protocols.ts'
import type { JobResult, Status } from '../../src/node/schemas.ts'
import type { JobSpec } from '../../src/exec/types.ts'
import { stopAll, type NodeProc } from '../helpers/procs.ts'
import { startCluster, statusOf, waitAgreed } from '../helpers/cluster.ts'

let nodes: NodeProc[]
let entry: NodeProc
let client: MeshClient

beforeAll(async () => {
  nodes = await startCluster(3, ['--max-jobs', '2'])
  const [s] = await waitAgreed(nodes)
  entry = nodes.find((n) => n.id !== s!.master)!
  client = await MeshClient.connect({ node: entry.hostPort })
})

afterAll(async () => {
  await client?.close()
  await stopAll()
})

function streams (all: Status[], protocol: string): number {
  return all.reduce((a, s) => a + (s.local.streams?.[protocol] ?? 0), 0)
}

test('a client\'s jobs share one session with the entry; nodes share one long-lived link per pair for all jobs; no election traffic', async () => {
  const jobs = 12
  // Warm the compile caches, then count.
  await client.run({ id: randomUUID(), language: 'c', files: [{ name: 'a.c', content: '#include <stdio.h>\nint main(void){ puts("x"); return 0; }\n' }], stdin: '', args: [] })
  const before = await Promise.all(nodes.map(statusOf))
  for (let i = 0; i < jobs; i++) {
    const r = await client.run({ id: randomUUID(), language: 'c', files: [{ name: 'a.c', content: '#include <stdio.h>\nint main(void){ puts("x"); return 0; }\n' }], stdin: '', args: [] })
    expect(r.status).toBe('ok')
  }
  const after = await Promise.all(nodes.map(statusOf))
  const delta = (p: string): number => streams(after, p) - streams(before, p)
  // The session was opened by the warm-up job: these open nothing.
  expect(delta(PROTOCOL_SESSION)).toBe(0)
  expect(streams(after, PROTOCOL_SESSION)).toBe(1)
  expect(delta(PROTOCOL_JOB)).toBe(0)
  // Only the entry has clients, so only it opens links: to the master (it is
  // not the master) and perhaps to the third node, once each, whatever the number of jobs.
  expect(streams(after, PROTOCOL_LINK)).toBeGreaterThanOrEqual(1)
  expect(streams(after, PROTOCOL_LINK)).toBeLessThanOrEqual(2)
  const burst = await Promise.all(Array.from({ length: jobs }, async () => await client.run({ id: randomUUID(), language: 'calc', files: [{ name: 'e.calc', content: '6 * 7' }], stdin: '', args: [] })))
  expect(burst.map((r) => r.run?.stdout.trim())).toEqual(burst.map(() => '42'))
  const afterBurst = await Promise.all(nodes.map(statusOf))
  expect(streams(afterBurst, PROTOCOL_LINK)).toBeLessThanOrEqual(2)
  expect(streams(afterBurst, PROTOCOL_SESSION)).toBe(1)
  expect(delta(PROTOCOL_ELECTION)).toBe(0)
  expect(after.every((s) => s.term === before[0]!.term)).toBe(true)
})

test('jobs that come one at a time run on their entry, on a slot the master leased to it: once it holds one, they do not ask the master', async () => {
  const cJob = (): JobSpec => ({ id: randomUUID(), language: 'c', files: [{ name: 'a.c', content: '#include <stdio.h>\nint main(void){ puts("x"); return 0; }\n' }], stdin: '', args: [] })
  // The master prefers the entry among equally busy nodes by up to 10 CPU
  // points only: while the nodes' CPU samples differ by more (just after
  // they started, one machine sampled at different moments), a job may go
  // elsewhere, and the next asks again.
  let warm = 0
  while (((await statusOf(entry)).local.placements!.leases ?? 0) === 0) {
    expect(++warm, 'a job through the entry landed on its own slot').toBeLessThan(40)
    expect((await client.run(cJob())).status).toBe('ok')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const before = (await statusOf(entry)).local.placements!
  const results: JobResult[] = []
  for (let i = 0; i < 10; i++) results.push(await client.run(cJob()))
  const after = (await statusOf(entry)).local.placements!
  console.log(`after ${warm} warm-up jobs, 10 jobs one at a time: ${after.asked - before.asked} asked the master, ${after.leased - before.leased} on a leased slot`)
  expect(results.every((r) => r.status === 'ok' && r.node === entry.id)).toBe(true)
  expect(after.asked - before.asked).toBe(0)
  expect(after.leased - before.leased).toBe(10)
  expect(after.local - before.local).toBe(0)
})

test('a node runs with V8\'s young generation capped (the launcher re-executes itself with the flag, keeping its pid)', () => {
  for (const n of nodes) {
    const argv = readFileSync(`/proc/${n.proc.pid}/cmdline`, 'utf8').split('\0')
    expect(argv).toContain('--max-semi-space-size=4')
    expect(argv).toContain('node')
  }
})

test('a repeated C and Java submission hits the compile cache', async () => {
  for (const [language, name, content] of [
    ['c', 'main.c', `#include <stdio.h>\n/* ${randomUUID()} */\nint main(void){ puts("c"); return 0; }\n`],
    ['java', 'Main.java', `// ${randomUUID()}\npublic class Main { public static void main(String[] a) { System.out.println("java"); } }\n`],
  ] as const) {
    const spec = { language, files: [{ name, content }], stdin: '', args: [] }
    // The cache is per node: repeat until a submission lands on the node that
    // compiled it (placement follows load reports: give them time to change).
    const first = await client.run({ ...spec, id: randomUUID() })
    expect(first.compile?.cached).not.toBe(true)
    let hit = false
    for (let i = 0; i < 40 && !hit; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 150))
      const again = await client.run({ ...spec, id: randomUUID() })
      if (again.node === first.node) {
        expect(again.compile?.cached).toBe(true)
        hit = true
      }
    }
    expect(hit).toBe(true)
  }
})

test('load reports stay small, and idle nodes send fewer: the master half as many, a follower a quarter; once the cluster is settled, most are light', async () => {
  // Settled: for 5 s after a join, reports also name their sender's peers
  // and go out at the full rate; the tests before ran jobs.
  await new Promise((r) => setTimeout(r, 5500))
  const before = await Promise.all(nodes.map(statusOf))
  await new Promise((r) => setTimeout(r, 4000))
  const after = await Promise.all(nodes.map(statusOf))
  let sent = 0
  let bytes = 0
  after.forEach((s, i) => {
    const g = s.local.gossip!
    const g0 = before[i]!.local.gossip!
    const seen = JSON.stringify({ master: s.master === nodes[i]!.id, before: g0, after: g })
    expect(g.largest).toBeLessThan(1024)
    // 4 s of 500 ms intervals: the master reports every other one
    // (IDLE_EVERY in gossip.ts), 4 times, an idle follower every fourth
    // (QUIET_EVERY), twice; at the busy rate either would send 8. A late
    // timer only lowers the count.
    const n = g.published - g0.published
    if (s.master === nodes[i]!.id) {
      expect(n, seen).toBeGreaterThanOrEqual(2)
      expect(n, seen).toBeLessThanOrEqual(6)
    } else {
      expect(n, seen).toBeGreaterThanOrEqual(1)
      expect(n, seen).toBeLessThanOrEqual(3)
    }
    sent += n
    bytes += g.bytes - g0.bytes
  })
  // Light reports (no languages, limits or addresses, nothing at its idle
  // value, no sender id: ~50 bytes) and one full (~450) in ten: see gossip.ts.
  expect(bytes / sent, `${bytes} bytes in ${sent} reports`).toBeLessThan(250)
})
