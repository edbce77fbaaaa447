/** Shared parts of the benchmarks: node processes, statistics, the table. */
import { spawn, type ChildProcess } from 'node:child_process'
import { openSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MeshClient } from '../src/client/client.ts'
import { readStartup } from '../src/client/startup.ts'
import type { Status } from '../src/node/schemas.ts'

export const ROOT = join(import.meta.dirname, '..')
const BIN = join(ROOT, 'bin', 'meshrun.js')

export interface BenchNode { id: string, addr: string, proc: ChildProcess, dataDir: string }

const procs = new Set<ChildProcess>()
const dirs = new Set<string>()

export async function workDir (): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'meshrun-bench-'))
  dirs.add(d)
  return d
}

/** BENCH_NODE_LOG=FILE: every node appends its log (info and up) to FILE, to trace a run. */
const nodeLog = process.env.BENCH_NODE_LOG === undefined ? undefined : openSync(process.env.BENCH_NODE_LOG, 'a')

export async function startNode (args: string[] = []): Promise<BenchNode> {
  const dataDir = await workDir()
  const proc = spawn(process.execPath, [BIN, 'node', '--port', '0', '--no-mdns', '--data', dataDir, ...args], {
    stdio: ['ignore', 'pipe', nodeLog ?? 'ignore'],
    env: { ...process.env, MESHRUN_LOG: nodeLog === undefined ? 'error' : 'info' },
  })
  procs.add(proc)
  proc.on('exit', () => procs.delete(proc))
  const { id, addr } = await readStartup(proc.stdout!)
  return { id, addr, proc, dataDir }
}

/** `n` nodes bootstrapped from the first; `firstArgs` go to the first only. */
export async function startCluster (n: number, args: string[] = [], firstArgs: string[] = []): Promise<BenchNode[]> {
  const first = await startNode([...args, ...firstArgs])
  const rest = await Promise.all(Array.from({ length: n - 1 }, async () => await startNode(['--peer', first.addr, ...args])))
  return [first, ...rest]
}

const watchers = new Map<string, MeshClient>()
export async function status (addr: string): Promise<Status | undefined> {
  let c = watchers.get(addr)
  if (c === undefined) {
    c = await MeshClient.connect({ node: addr, failoverMs: 0, dialTimeoutMs: 1000 })
    watchers.set(addr, c)
  }
  try { return await c.status() } catch { return undefined }
}

/**
 * Polls until every node names the same master and term and sees them all.
 * Polls gently (every node's status is a full cluster view: 30 nodes polled
 * every 20 ms were most of the load, and every 300 ms still slowed the
 * forming down); the moment of agreement comes from the nodes' own clocks
 * (`masterSince`: the last change of master or term), not from the polling.
 */
export async function waitAgreed (nodes: BenchNode[], timeoutMs = 60_000, everyMs = Math.max(50, nodes.length * 33), allUp = true): Promise<Status[]> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const all = await Promise.all(nodes.map(async (n) => await status(n.addr)))
    if (all.every((s) => s !== undefined && s.master !== null && s.master === all[0]!.master && s.term === all[0]!.term && (!allUp || s.nodes.filter((x) => x.up).length === nodes.length))) return all as Status[]
    if (Date.now() > until) {
      const masters = new Map<string, number>()
      for (const s of all) { const k = s === undefined ? 'no answer' : `${s.master?.slice(-6) ?? 'none'}/t${s.term}/up${s.nodes.filter((x) => x.up).length}`; masters.set(k, (masters.get(k) ?? 0) + 1) }
      throw new Error(`the cluster did not agree on a master: ${[...masters].map(([k, n]) => `${n}× ${k}`).join(', ')}`)
    }
    await sleep(everyMs)
  }
}

/** When the last node of an agreed cluster learnt of its master (its own clock, ms since the epoch). */
export function agreedAt (all: Status[]): number {
  return Math.max(...all.map((s) => s.masterSince ?? Date.now()))
}

export async function stopNodes (nodes: BenchNode[]): Promise<void> {
  for (const n of nodes) {
    const w = watchers.get(n.addr)
    watchers.delete(n.addr)
    await w?.close()
  }
  // SIGTERM first: a node stopped that way unmounts its job dirs and removes
  // its cgroups (a SIGKILLed one leaves them for the next node that claims
  // its uids: a bench run left ~100 mounts behind).
  await Promise.all(nodes.map(async (n) => {
    if (n.proc.exitCode !== null || n.proc.signalCode !== null) return
    const done = new Promise((r) => n.proc.once('exit', r))
    n.proc.kill('SIGCONT')
    n.proc.kill('SIGTERM')
    const killer = setTimeout(() => { n.proc.kill('SIGKILL') }, STOP_GRACE_MS)
    await done
    clearTimeout(killer)
  }))
}

const STOP_GRACE_MS = 5000

// Whatever ends this process (a crash included), no node it started outlives it.
process.on('exit', () => { for (const p of procs) { p.kill('SIGCONT'); p.kill('SIGKILL') } })

export async function cleanup (): Promise<void> {
  for (const w of watchers.values()) await w.close().catch(() => {})
  watchers.clear()
  for (const p of procs) { p.kill('SIGCONT'); p.kill('SIGKILL') }
  for (const d of dirs) await rm(d, { recursive: true, force: true }).catch(() => {})
}

export async function sleep (ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms))
}

export interface Summary { n: number, p50: number, p99: number, min: number, max: number, mean: number }

export function summarize (xs: number[]): Summary {
  const s = [...xs].sort((a, b) => a - b)
  const at = (q: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!
  return { n: s.length, p50: at(0.5), p99: at(0.99), min: s[0]!, max: s[s.length - 1]!, mean: s.reduce((a, b) => a + b, 0) / s.length }
}

/** Resident memory (KiB) and CPU time (ms) of a process, from /proc. */
export async function procUsage (pid: number): Promise<{ rssKb: number, cpuMs: number, wchar: number }> {
  const [st, stat, io] = await Promise.all([
    readFile(`/proc/${pid}/status`, 'utf8'),
    readFile(`/proc/${pid}/stat`, 'utf8'),
    readFile(`/proc/${pid}/io`, 'utf8'),
  ])
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(st)?.[1] ?? 0)
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[11]) + Number(fields[12])
  const wchar = Number(/wchar:\s+(\d+)/.exec(io)?.[1] ?? 0)
  return { rssKb, cpuMs: ticks * 10, wchar }
}

export interface Row { section: string, metric: string, value: string, baseline: string, ratio: string, note?: string }

export function fmt (ms: number): string {
  return ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`
}

export function printTable (rows: Row[]): void {
  const head: Row = { section: 'section', metric: 'metric', value: 'meshrun', baseline: 'baseline', ratio: 'ratio', note: 'note' }
  const all = [head, ...rows]
  const w = (k: keyof Row): number => Math.max(...all.map((r) => String(r[k] ?? '').length))
  const keys: Array<keyof Row> = ['section', 'metric', 'value', 'baseline', 'ratio', 'note']
  const widths = keys.map(w)
  const line = (r: Row): string => keys.map((k, i) => String(r[k] ?? '').padEnd(widths[i]!)).join(' | ').trimEnd()
  console.log(line(head))
  console.log(widths.map((x) => '-'.repeat(x)).join('-|-'))
  for (const r of rows) console.log(line(r))
}
