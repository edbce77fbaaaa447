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
import { stopAll, waitFor } from '../helpers/procs.ts'
import { expectAllCorrect, sleeper, startCluster, statusOf, waitAgreed } from '../helpers/cluster.ts'

afterAll(async () => { await stopAll() })

/** LEASE_IDLE_MS in src/node/node.ts: an unused lease goes back after this long. */
const LEASE_IDLE_MS = 2000

test('a slot leased to an idle entry goes back as soon as another entry\'s job waits for it', async () => {
  const nodes = await startCluster(3, ['--max-jobs', '1'])
  const [s] = await waitAgreed(nodes)
  const [a, b] = nodes.filter((n) => n.id !== s!.master)
  const ca = await MeshClient.connect({ node: a!.hostPort })
  const cb = await MeshClient.connect({ node: b!.hostPort })
  try {
    // A runs quick jobs until one lands on its own slot and the next reuses it:
    // A then holds a lease, idle.
    let leased = 0
    for (let i = 0; i < 8 && leased === 0; i++) {
      const before = (await statusOf(a!)).local.placements!.leased
      const r = await ca.run(sleeper(i, 0))
      expect(r.status).toBe('ok')
      if (r.node === a!.id) {
        expect((await ca.run(sleeper(100 + i, 0))).node).toBe(a!.id)
        leased = (await statusOf(a!)).local.placements!.leased - before
      }
    }
    expect(leased, 'A kept the slot the master granted on it').toBe(1)
    // Three slots, three jobs from B: one of them needs A's slot, which the
    // master has leased to A. It gets it when A gives it back on `revoke`,
    // not after A's lease sat idle for LEASE_IDLE_MS.
    const jobs = [0, 1, 2].map((i) => sleeper(i, 1500))
    const results: JobResult[] = await Promise.all(jobs.map(async (j) => await cb.run(j)))
    expectAllCorrect(jobs, results)
    console.log(`B's jobs: ${results.map((r) => `${r.node.slice(-6)} queued ${r.queuedMs} ms`).join(', ')}`)
    expect(new Set(results.map((r) => r.node)).size).toBe(3)
    expect(Math.max(...results.map((r) => r.queuedMs))).toBeLessThan(LEASE_IDLE_MS * 0.75)
  } finally {
    await ca.close()
    await cb.close()
    await Promise.all(nodes.map(async (n) => { await n.stop() }))
  }
})

test('an unused lease goes back to the master after LEASE_IDLE_MS, and the next job asks the master again', async () => {
  const nodes = await startCluster(2)
  const [s] = await waitAgreed(nodes)
  const a = nodes.find((n) => n.id !== s!.master)!
  const client = await MeshClient.connect({ node: a.hostPort })
  try {
    let held = 0
    for (let i = 0; i < 8 && held === 0; i++) {
      expect((await client.run(sleeper(i, 0))).status).toBe('ok')
      held = (await statusOf(a)).local.placements!.leases ?? 0
    }
    expect(held, 'a job landed on A\'s own slot, leased').toBe(1)
    const heldAt = Date.now()
    await new Promise((resolve) => setTimeout(resolve, LEASE_IDLE_MS / 2))
    expect((await statusOf(a)).local.placements!.leases, 'still held half-way').toBe(1)
    const back = await waitFor(async () => ((await statusOf(a)).local.placements!.leases === 0 ? Date.now() : undefined), LEASE_IDLE_MS * 5, 'the lease to go back')
    console.log(`lease given back ${back - heldAt} ms after the last job`)
    const before = (await statusOf(a)).local.placements!
    expect((await client.run(sleeper(99, 0))).status).toBe('ok')
    const after = (await statusOf(a)).local.placements!
    expect(after.asked - before.asked).toBe(1)
    expect(after.leased - before.leased).toBe(0)
  } finally {
    await client.close()
    await Promise.all(nodes.map(async (n) => { await n.stop() }))
  }
})
