/** The failover demo (see failover-demo.sh). */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MeshClient } from '../src/client/client.ts'
import { readStartup } from '../src/client/startup.ts'
import type { JobResult, Status } from '../src/node/schemas.ts'

const JOBS = 60
const root = join(import.meta.dirname, '..')
const work = await mkdtemp(join(tmpdir(), 'meshrun-demo-'))
const procs: ChildProcess[] = []
const cleanup = async (): Promise<void> => {
  for (const p of procs) p.kill('SIGKILL')
  await rm(work, { recursive: true, force: true })
}
process.on('SIGINT', () => { void cleanup().then(() => process.exit(130)) })

async function start (name: string, peer?: string): Promise<{ id: string, addr: string, proc: ChildProcess }> {
  const args = [join(root, 'bin/meshrun.js'), 'node', '--port', '0', '--no-mdns', '--max-jobs', '4', '--data', join(work, name)]
  if (peer !== undefined) args.push('--peer', peer)
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, MESHRUN_LOG: 'error' } })
  procs.push(proc)
  return { ...await readStartup(proc.stdout!), proc }
}

const watchers = new Map<string, MeshClient>()
async function status (addr: string): Promise<Status | undefined> {
  let c = watchers.get(addr)
  if (c === undefined) {
    c = await MeshClient.connect({ node: addr, failoverMs: 0, dialTimeoutMs: 500 })
    watchers.set(addr, c)
  }
  try { return await c.status() } catch { return undefined }
}

const sleep = async (ms: number): Promise<void> => { await new Promise((r) => setTimeout(r, ms)) }

try {
  const a = await start('a')
  const nodes = [a, ...await Promise.all([start('b', a.addr), start('c', a.addr)])]
  let master: string | null = null
  while (master === null) {
    const all = await Promise.all(nodes.map(async (n) => await status(n.addr)))
    if (all.every((s) => s !== undefined && s.master !== null && s.master === all[0]!.master && s.nodes.length === 3)) master = all[0]!.master
    else await sleep(100)
  }
  const old = nodes.find((n) => n.id === master)!
  const survivors = nodes.filter((n) => n !== old)
  console.log(`3 nodes up; master is ${old.id.slice(-8)} (${old.addr})`)

  const clients = await Promise.all(survivors.map(async (n) => await MeshClient.connect({ node: n.addr })))
  const started = Date.now()
  const jobs = Array.from({ length: JOBS }, (_, i) => ({
    id: `demo-${i}-${started}`, language: 'python', stdin: '', args: [],
    files: [{ name: 'main.py', content: `import time\ntime.sleep(0.3)\nprint(${i} * ${i})\n` }],
  }))
  let finished = 0
  const pending: Promise<JobResult>[] = jobs.map(async (job, i) => await clients[i % clients.length]!.run(job).finally(() => { finished++ }))
  console.log(`submitted ${JOBS} jobs of ~300 ms through the two other nodes`)

  await sleep(1000)
  const done = finished
  old.proc.kill('SIGKILL')
  const killedAt = Date.now()
  console.log(`SIGKILL master ${old.id.slice(-8)} at t=${killedAt - started} ms (${done} jobs done by then)`)

  let agreed: Status | undefined
  while (agreed === undefined) {
    const all = await Promise.all(survivors.map(async (n) => await status(n.addr)))
    const m = all[0]?.master
    if (m !== null && m !== undefined && m !== old.id && all.every((s) => s?.master === m && s.term === all[0]!.term)) agreed = all[0]
    else await sleep(10)
  }
  const electedMs = Date.now() - killedAt
  console.log(`new master ${agreed.master!.slice(-8)} (term ${agreed.term}) agreed by both survivors ${electedMs} ms after the kill`)

  const results = await Promise.all(pending)
  const lastMs = Date.now() - killedAt
  const ids = new Set(results.map((r) => r.id))
  const wrong = results.filter((r, i) => r.status !== 'ok' || r.run?.stdout !== `${i * i}\n`)
  const replaced = results.filter((r) => r.attempts > 1).length
  console.log(`all results in ${lastMs} ms after the kill; ${replaced} jobs were placed again`)
  console.log(`check: ${results.length}/${JOBS} results, ${ids.size} unique ids, ${wrong.length} wrong`)
  await Promise.all([...clients, ...watchers.values()].map(async (c) => { await c.close() }))
  const ok = results.length === JOBS && ids.size === JOBS && wrong.length === 0
  console.log(ok ? 'PASS: every job delivered exactly one correct result' : 'FAIL')
  process.exitCode = ok ? 0 : 1
} finally {
  await cleanup()
}
