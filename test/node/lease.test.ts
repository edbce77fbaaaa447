/**
 * Slots leased to an entry (see src/node/schemas.ts, /meshrun/link): a node
 * that is not master keeps the slot on itself that the master granted it and
 * runs its next job there without asking; when jobs wait at the master, the
 * lease goes back at once instead of after its idle time, and an unused one
 * after that idle time.
 */
import { afterAll, expect, test } from 'vitest'
import { MeshClient } from '../../src/client/client.ts'
import type { JobResult } from '../../src/node/schemas.ts'
import { stopAll, waitFor, type NodeProc } from '../helpers/procs.ts'
import { expectAllCorrect, sleeper, startCluster, statusOf, waitAgreed } from '../helpers/cluster.ts'

afterAll(async () => { await stopAll() })

/** --lease-idle for the revoke test: a lease would sit this long unused without `revoke`. */
const LONG_IDLE_MS = 60_000
/** --lease-idle for the idle test. */
const IDLE_MS = 3000

/**
 * Runs quick jobs through a follower until one lands on its own slot, leased:
 * that follower, the master and the other node, if any. Roles are read afresh each
 * time (a loaded machine can move the master), and the master prefers the
 * entry among equally busy nodes by up to 10 CPU points only (one machine's
 * CPU, sampled by each node at a different moment, can differ by more for a
 * second or two): it may take a few jobs.
 */
async function holdLease (nodes: NodeProc[], clients: Map<string, MeshClient>): Promise<{ a: NodeProc, m: NodeProc, b: NodeProc | undefined }> {
  const ran: string[] = []
  for (let i = 0; i < 40; i++) {
    const { master } = await statusOf(nodes[0]!)
    const m = nodes.find((n) => n.id === master)
    const [a, b] = nodes.filter((n) => n !== m)
    if (m === undefined) { await new Promise((resolve) => setTimeout(resolve, 200)); continue }
    const r = await clients.get(a!.id)!.run(sleeper(i, 0))
    expect(r.status).toBe('ok')
    ran.push(r.node === a!.id ? 'A' : r.node === m.id ? 'M' : 'B')
    if (((await statusOf(a!)).local.placements!.leases ?? 0) === 1) return { a: a!, m, b }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`no job through a follower landed on its own slot (they ran on ${ran.join(' ')})`)
}

test('a slot leased to an idle entry goes back as soon as another entry\'s job waits for it (a follower\'s job, then the master\'s own)', async () => {
  const nodes = await startCluster(3, ['--max-jobs', '1', '--lease-idle', String(LONG_IDLE_MS)])
  await waitAgreed(nodes)
  const clients = new Map<string, MeshClient>()
  for (const n of nodes) clients.set(n.id, await MeshClient.connect({ node: n.hostPort }))
  try {
    for (const who of ['follower', 'master'] as const) {
      // A holds a lease on its own slot, idle. Three slots, three jobs from
      // another node: one of them needs A's slot. It gets it when A gives it
      // back on `revoke`, not after A's lease sat idle for a minute.
      const { a, m, b } = await holdLease(nodes, clients)
      const jobs = [0, 1, 2].map((i) => sleeper(i, 1500))
      const results: JobResult[] = await Promise.all(jobs.map(async (j) => await clients.get(who === 'master' ? m.id : b!.id)!.run(j)))
      expectAllCorrect(jobs, results)
      console.log(`the ${who}'s jobs: ${results.map((r) => `${r.node === a.id ? 'A' : r.node === m.id ? 'M' : 'B'} queued ${r.queuedMs} ms`).join(', ')}`)
      expect(new Set(results.map((r) => r.node)).size).toBe(3)
      expect(Math.max(...results.map((r) => r.queuedMs))).toBeLessThan(5000)
    }
  } finally {
    for (const c of clients.values()) await c.close()
    await Promise.all(nodes.map(async (n) => { await n.stop() }))
  }
})

test('an unused lease goes back to the master after --lease-idle, and the next job asks the master again', async () => {
  const nodes = await startCluster(2, ['--lease-idle', String(IDLE_MS)])
  await waitAgreed(nodes)
  const clients = new Map<string, MeshClient>()
  for (const n of nodes) clients.set(n.id, await MeshClient.connect({ node: n.hostPort }))
  try {
    const { a } = await holdLease(nodes, clients)
    const client = clients.get(a.id)!
    const heldAt = Date.now()
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS / 3))
    expect((await statusOf(a)).local.placements!.leases, 'still held a third of the way').toBe(1)
    const back = await waitFor(async () => ((await statusOf(a)).local.placements!.leases === 0 ? Date.now() : undefined), IDLE_MS * 5, 'the lease to go back')
    console.log(`lease given back ${back - heldAt} ms after the last job`)
    const before = (await statusOf(a)).local.placements!
    expect((await client.run(sleeper(99, 0))).status).toBe('ok')
    const after = (await statusOf(a)).local.placements!
    expect(after.asked - before.asked).toBe(1)
    expect(after.leased - before.leased).toBe(0)
  } finally {
    for (const c of clients.values()) await c.close()
    await Promise.all(nodes.map(async (n) => { await n.stop() }))
  }
})
