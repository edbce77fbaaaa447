/**
 * Failover with real node processes: SIGKILL of the master, of a worker and
 * of the entry, SIGSTOP of a worker, and a higher-ranked node joining, each in
 * the middle of 30+ running and queued jobs. Every job's result must arrive
 * exactly once and be correct.
 */
import { afterEach, expect, test } from 'vitest'
import { MeshClient } from '../../src/client/client.ts'
import { startNode, stopAll, waitFor, type NodeProc } from '../helpers/procs.ts'
import { expectAllCorrect, sleeper, startCluster, statusOf, submitAll, waitAgreed } from '../helpers/cluster.ts'

afterEach(async () => { await stopAll() })

const JOBS = 36
const JOB_MS = 300

async function clientsFor (nodes: NodeProc[]): Promise<MeshClient[]> {
  return await Promise.all(nodes.map(async (n) => await MeshClient.connect({ node: n.hostPort })))
}

async function closeAll (clients: MeshClient[]): Promise<void> {
  await Promise.all(clients.map(async (c) => { await c.close() }))
}

/** Wait until some job has started (so the kill lands mid-work). */
async function whenBusy (nodes: NodeProc[]): Promise<void> {
  await waitFor(async () => {
    const s = await Promise.all(nodes.map(statusOf))
    return s.some((x) => x.local.running > 0) ? true : undefined
  }, 10_000, 'jobs to start', 50)
}

test('SIGKILL of the master: a new master within 2 s, and every result exactly once', async () => {
  const nodes = await startCluster(3, ['--max-jobs', '2'])
  const [status] = await waitAgreed(nodes)
  const master = nodes.find((n) => n.id === status!.master)!
  const survivors = nodes.filter((n) => n !== master)
  const clients = await clientsFor(survivors)
  try {
    const jobs = Array.from({ length: JOBS }, (_, i) => sleeper(i, JOB_MS))
    const pending = submitAll(clients, jobs)
    await whenBusy(nodes)
    await new Promise((r) => setTimeout(r, 300))
    const killedAt = Date.now()
    master.proc.kill('SIGKILL')
    const after = await waitFor(async () => {
      const all = await Promise.all(survivors.map(statusOf))
      const m = all[0]!.master
      return m !== null && m !== master.id && all.every((s) => s.master === m && s.term === all[0]!.term) ? all : undefined
    }, 5000, 'a new master', 20)
    const tookMs = Date.now() - killedAt
    console.log(`new master ${after[0]!.master} (term ${after[0]!.term}) agreed ${tookMs} ms after SIGKILL`)
    expect(tookMs).toBeLessThan(2000)
    expect(after[0]!.term).toBeGreaterThan(status!.term)
    expectAllCorrect(jobs, await pending)
  } finally {
    await closeAll(clients)
  }
})

test('SIGKILL of a worker: its jobs are placed again and every result arrives exactly once', async () => {
  const nodes = await startCluster(3, ['--max-jobs', '2'])
  const [status] = await waitAgreed(nodes)
  const victim = nodes.find((n) => n.id !== status!.master)!
  const clients = await clientsFor(nodes.filter((n) => n !== victim))
  try {
    const jobs = Array.from({ length: JOBS }, (_, i) => sleeper(i, JOB_MS))
    const pending = submitAll(clients, jobs)
    await waitFor(async () => ((await statusOf(victim)).local.running > 0 ? true : undefined), 10_000, 'the worker to run jobs', 30)
    victim.proc.kill('SIGKILL')
    const results = await pending
    expectAllCorrect(jobs, results)
    expect(results.some((r) => r.attempts > 1)).toBe(true)
  } finally {
    await closeAll(clients)
  }
})

test('SIGKILL of the entry node: clients go to another node and get every result exactly once', async () => {
  const nodes = await startCluster(3, ['--max-jobs', '2'])
  const [status] = await waitAgreed(nodes)
  const entry = nodes.find((n) => n.id !== status!.master)!
  const client = await MeshClient.connect({ node: entry.hostPort })
  const failovers: string[] = []
  try {
    const jobs = Array.from({ length: JOBS }, (_, i) => sleeper(i, JOB_MS))
    const pending = submitAll([client], jobs, { onFailover: ({ to }) => { failovers.push(to) } })
    await whenBusy(nodes)
    await new Promise((r) => setTimeout(r, 300))
    entry.proc.kill('SIGKILL')
    const results = await pending
    expectAllCorrect(jobs, results)
    expect(failovers.length).toBeGreaterThan(0)
    // Jobs in flight at the kill were delivered by the nodes the client moved to.
    expect(results.some((r) => r.entry !== entry.id)).toBe(true)
  } finally {
    await client.close()
  }
})

test('SIGSTOP of a worker: its jobs are placed again within ~3 s; after SIGCONT it rejoins, no duplicate result', async () => {
  const nodes = await startCluster(3, ['--max-jobs', '2'])
  const [status] = await waitAgreed(nodes)
  const victim = nodes.find((n) => n.id !== status!.master)!
  const others = nodes.filter((n) => n !== victim)
  const clients = await clientsFor(others)
  try {
    const jobs = Array.from({ length: 12 }, (_, i) => sleeper(i, 1000))
    const pending = submitAll(clients, jobs)
    await waitFor(async () => ((await statusOf(victim)).local.running > 0 ? true : undefined), 10_000, 'the worker to run jobs', 30)
    const stoppedAt = Date.now()
    victim.proc.kill('SIGSTOP')
    const results = await pending
    const doneMs = Date.now() - stoppedAt
    console.log(`all ${jobs.length} jobs done ${doneMs} ms after SIGSTOP`)
    expectAllCorrect(jobs, results)
    // The jobs the stopped worker held were placed again on a live node.
    expect(results.some((r) => r.attempts > 1)).toBe(true)
    expect(results.every((r) => r.node !== victim.id)).toBe(true)
    // Re-placed work: detection (~1.5 s) plus two rounds of 1 s jobs on an
    // idle machine (the printed figure); the bound only catches a hang, since
    // this suite shares two cores with others. Benchmarks time it properly.
    expect(doneMs).toBeLessThan(20_000)
    victim.proc.kill('SIGCONT')
    await waitAgreed(nodes, 10_000)
    // The resumed worker finished its stale runs into the void: no client saw a second result.
    expect(results).toHaveLength(jobs.length)
  } finally {
    await closeAll(clients)
  }
})

test('a higher-ranked node joining takes over as master without losing or duplicating a job', async () => {
  const nodes = await startCluster(2, ['--max-jobs', '2'])
  const [before] = await waitAgreed(nodes)
  const clients = await clientsFor(nodes)
  try {
    const jobs = Array.from({ length: JOBS }, (_, i) => sleeper(i, JOB_MS))
    const pending = submitAll(clients, jobs)
    await whenBusy(nodes)
    const boss = await startNode(['--peer', nodes[0]!.hostPort, '--priority', '10', '--max-jobs', '2'])
    const after = await waitAgreed([...nodes, boss], 10_000)
    expect(after[0]!.master).toBe(boss.id)
    expect(after[0]!.term).toBeGreaterThan(before!.term)
    expectAllCorrect(jobs, await pending)
  } finally {
    await closeAll(clients)
  }
})
