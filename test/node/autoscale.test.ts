/**
 * Autoscaling with real processes: a one-slot master with a backlog starts
 * workers (local children, or through --spawn-cmd), they run part of the
 * backlog, retire when idle and leave no process behind; a spawned worker
 * killed mid-job loses nothing; the master's stop stops its children.
 */
import { afterEach, expect, test } from 'vitest'
import { chmod, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { MeshClient } from '../../src/client/client.ts'
import { writeClusterKey, loadClusterKey } from '../../src/node/cluster-key.ts'
import type { JobResult, Status } from '../../src/node/schemas.ts'
import { BIN, NODE, cli, startNode, stopAll, tempDir, waitFor, type NodeProc } from '../helpers/procs.ts'
import { expectAllCorrect, sleeper } from '../helpers/cluster.ts'

/** Masters started by a test: any worker they spawned that is still alive is killed after it. */
const masters: string[] = []
afterEach(async () => {
  await stopAll()
  for (const id of masters.splice(0)) for (const pid of await spawnedPids(id)) { try { process.kill(pid, 'SIGKILL') } catch {} }
})

/** Pids of live processes started with `--spawned-by <master>` (ours or a script's). */
async function spawnedPids (master: string): Promise<number[]> {
  const pids: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0')
      const i = argv.indexOf('--spawned-by')
      if (i >= 0 && argv[i + 1] === master) pids.push(Number(entry))
    } catch {}
  }
  return pids
}

async function statusWith (n: NodeProc, psk?: Uint8Array): Promise<Status> {
  const c = await MeshClient.connect({ node: n.hostPort, failoverMs: 0, ...(psk === undefined ? {} : { psk }) })
  try { return await c.status() } finally { await c.close() }
}

/** Submit all jobs at once through one client. */
async function runAll (master: NodeProc, count: number, ms: number, psk?: Uint8Array): Promise<{ jobs: ReturnType<typeof sleeper>[], results: Promise<JobResult[]>, client: MeshClient }> {
  const client = await MeshClient.connect({ node: master.hostPort, ...(psk === undefined ? {} : { psk }) })
  const jobs = Array.from({ length: count }, (_, i) => sleeper(i, ms))
  return { jobs, results: Promise.all(jobs.map(async (j) => await client.run(j))), client }
}

function perNode (results: JobResult[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const r of results) out[r.node.slice(-6)] = (out[r.node.slice(-6)] ?? 0) + 1
  return out
}

const SCALE = ['--max-jobs', '1', '--langs', 'python', '--autoscale-after', '0.5']

async function startMaster (args: string[], opts: Parameters<typeof startNode>[1] = {}): Promise<NodeProc> {
  const n = await startNode(args, opts)
  masters.push(n.id)
  return n
}

test('a backlog on a one-slot master starts two workers that run part of it, then retire and leave nothing running', async () => {
  const master = await startMaster([...SCALE, '--autoscale', '2', '--idle-retire', '3'])
  // Joins are one at a time and take 2-4 s each on a loaded two-core machine
  // (start, dial, first report), so the backlog must outlast two of them.
  const { jobs, results: pending, client } = await runAll(master, 12, 1500)
  let seen: Status | undefined
  try {
    // Both workers up at once, and the master shows them.
    seen = await waitFor(async () => {
      const s = await statusWith(master)
      return s.nodes.filter((n) => n.up && n.spawnedBy === master.id).length === 2 ? s : undefined
    }, 30_000, 'two spawned workers', 100)
    const results = await pending
    expectAllCorrect(jobs, results)
    const spawnedIds = new Set(seen.nodes.filter((n) => n.spawnedBy === master.id).map((n) => n.id))
    const ranOn = new Set(results.map((r) => r.node).filter((id) => spawnedIds.has(id)))
    console.log(`jobs per node: ${JSON.stringify(perNode(results))}; autoscale: ${JSON.stringify(seen.autoscale?.lastDecision)}`)
    expect(ranOn.size).toBe(2)
    expect(seen.autoscale?.max).toBe(2)
    expect(seen.autoscale?.spawned.every((w) => !w.adopted && w.pid !== null)).toBe(true)
  } finally {
    await client.close()
  }
  // Idle for 3 s: each drains and exits; the master sees them go and no process is left.
  const pids = seen.autoscale!.spawned.map((w) => w.pid!)
  // Gone means reaped too: an exited worker stays a zombie until the master's
  // event loop gets to its exit (signal 0 still reaches a zombie).
  const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true } catch { return false } }
  const after = await waitFor(async () => {
    const s = await statusWith(master)
    const left = await spawnedPids(master.id)
    return s.nodes.filter((n) => n.up).length === 1 && left.length === 0 && !pids.some(alive) ? s : undefined
  }, 20_000, 'the spawned workers to retire', 250)
  for (const pid of pids) expect(alive(pid)).toBe(false)
  expect(after.autoscale?.counts).toEqual({ spawned: 2, joined: 2, failed: 0 })
  expect(after.autoscale?.spawned).toEqual([])
  // `meshrun status` (text) says what happened.
  const text = await cli(['status', '--node', master.hostPort])
  expect(text.stdout).toMatch(/autoscale 0\/2 spawned workers up .* 2 started, 2 joined, 0 failed/)
})

test('--spawn-cmd runs the operator\'s command with the cluster in its environment; its worker joins, works and retires', async () => {
  const dir = await tempDir('meshrun-spawn-cmd-')
  const keyFile = join(dir, 'cluster.key')
  await writeClusterKey(keyFile)
  const psk = await loadClusterKey(keyFile)
  const script = join(dir, 'spawn.sh')
  // Records its call and environment, then starts a node from those variables only.
  await writeFile(script, [
    '#!/bin/sh',
    'env | grep "^MESHRUN_" > "$SPAWN_TEST_DIR/called.$$"',
    'exec "$SPAWN_TEST_NODE" "$SPAWN_TEST_BIN" node --listen /ip4/127.0.0.1/tcp/0 --no-mdns --data "$MESHRUN_DATA" \\',
    '  --peer "$MESHRUN_PEER" --cluster "$MESHRUN_CLUSTER" --key "$MESHRUN_KEY_FILE" --max-jobs 1 --langs python \\',
    '  --spawned-by "$MESHRUN_SPAWNED_BY" --retire-idle "$MESHRUN_RETIRE_IDLE"',
    '',
  ].join('\n'))
  await chmod(script, 0o755)
  const master = await startMaster(
    ['--listen', '/ip4/127.0.0.1/tcp/0', '--key', keyFile, '--cluster', 'scaled', ...SCALE, '--autoscale', '1', '--idle-retire', '2', '--spawn-cmd', script],
    { env: { SPAWN_TEST_DIR: dir, SPAWN_TEST_NODE: NODE, SPAWN_TEST_BIN: BIN } },
  )
  const { jobs, results, client } = await runAll(master, 10, 500, psk)
  try {
    const done = await results
    expectAllCorrect(jobs, done)
    console.log(`jobs per node: ${JSON.stringify(perNode(done))}`)
    expect(done.some((r) => r.node !== master.id)).toBe(true)
  } finally {
    await client.close()
  }
  const calls = (await readdir(dir)).filter((f) => f.startsWith('called.'))
  expect(calls).toHaveLength(1)
  const env = Object.fromEntries((await readFile(join(dir, calls[0]!), 'utf8')).trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
  expect(env.MESHRUN_CLUSTER).toBe('scaled')
  expect(env.MESHRUN_KEY_FILE).toBe(keyFile)
  expect(env.MESHRUN_SPAWNED_BY).toBe(master.id)
  expect(env.MESHRUN_RETIRE_IDLE).toBe('2')
  expect(env.MESHRUN_PEER).toBe(master.addr)
  const s = await statusWith(master, psk)
  expect(s.autoscale?.spawner).toBe('command')
  await waitFor(async () => ((await spawnedPids(master.id)).length === 0 ? true : undefined), 20_000, 'the worker to retire', 250)
})

test('SIGKILL of a spawned worker mid-job loses nothing; stopping the master stops its children', async () => {
  const master = await startMaster([...SCALE, '--autoscale', '1', '--idle-retire', '30'])
  const { jobs, results, client } = await runAll(master, 10, 800)
  try {
    const victim = await waitFor(async () => {
      const s = await statusWith(master)
      const busy = s.nodes.find((n) => n.spawnedBy === master.id && n.running > 0)
      return busy === undefined ? undefined : s.autoscale!.spawned.find((w) => w.id === busy.id)
    }, 30_000, 'a spawned worker running a job', 50)
    process.kill(victim.pid!, 'SIGKILL')
    const done = await results
    expectAllCorrect(jobs, done)
    console.log(`jobs per node: ${JSON.stringify(perNode(done))}`)
    expect(done.some((r) => r.attempts > 1)).toBe(true)
  } finally {
    await client.close()
  }
  // The killed one was replaced (the backlog was still there) or not; either way the master's stop takes its children along.
  await master.stop('SIGTERM')
  await waitFor(async () => ((await spawnedPids(master.id)).length === 0 ? true : undefined), 10_000, 'the children to stop', 100)
})

test('the master dies: the next one adopts its spawned worker (counted toward its maximum), which retires by itself when idle', async () => {
  const a = await startMaster([...SCALE, '--autoscale', '1', '--idle-retire', '3', '--priority', '10'])
  const b = await startMaster([...SCALE, '--autoscale', '1', '--peer', a.hostPort])
  await waitFor(async () => ((await statusWith(b)).master === a.id ? true : undefined), 5000, 'b to follow a')
  const { jobs, results, client } = await runAll(b, 12, 1000)
  try {
    const worker = await waitFor(async () => (await statusWith(a)).autoscale?.spawned[0], 30_000, 'a spawned worker', 100)
    // The worker has joined the cluster: b hears it and it hears b (reports
    // are not relayed, so each hears the other once they are connected).
    const addr = await waitFor(async () => (await statusWith(b)).nodes.find((n) => n.id === worker.id && n.up)?.addrs[0], 10_000, 'b to hear the spawned worker', 50)
    await waitFor(async () => {
      const c = await MeshClient.connect({ node: addr, failoverMs: 0 })
      try { return (await c.status()).nodes.some((n) => n.id === b.id && n.up) ? true : undefined } finally { await c.close() }
    }, 10_000, 'the spawned worker to hear b', 50)
    a.proc.kill('SIGKILL')
    const adopted = await waitFor(async () => {
      const s = await statusWith(b)
      return s.master === b.id && s.autoscale?.spawned.length === 1 ? s.autoscale : undefined
    }, 10_000, 'b to be master with the adopted worker', 100)
    expect(adopted.spawned[0]).toMatchObject({ id: worker.id, by: a.id, adopted: true, pid: null })
    const done = await results
    expectAllCorrect(jobs, done)
    console.log(`jobs per node: ${JSON.stringify(perNode(done))}`)
    expect(done.some((r) => r.node === worker.id)).toBe(true)
    // b never started one of its own: the adopted worker filled its maximum of 1.
    expect((await statusWith(b)).autoscale?.counts.spawned).toBe(0)
  } finally {
    await client.close()
  }
  // Its parent is gone; idle for 3 s, it drains and exits on its own.
  await waitFor(async () => ((await spawnedPids(a.id)).length === 0 ? true : undefined), 20_000, 'the orphan to retire', 250)
  expect((await statusWith(b)).nodes.filter((n) => n.up).map((n) => n.id)).toEqual([b.id])
})
