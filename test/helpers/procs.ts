/**
 * Real meshrun processes for integration tests. Every process started here
 * is remembered and stopped by `stopAll` (call it in afterAll/afterEach).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'

export const ROOT = resolve(import.meta.dirname, '..', '..')
export const BIN = join(ROOT, 'bin', 'meshrun.js')
/**
 * Node 24: the one running the tests, or the bundled one when the tests run
 * on an older Node. Never the launcher's re-exec: a signal sent to a
 * launcher would not reach the node it started.
 */
export const NODE = Number(process.versions.node.split('.')[0]) >= 22 ? process.execPath : join(ROOT, 'node_modules', 'node', 'bin', 'node')

const live = new Set<ChildProcess>()
const dirs = new Set<string>()
// Whatever ends the test process (a crash included), no node it started outlives it.
process.on('exit', () => { for (const p of live) { p.kill('SIGCONT'); p.kill('SIGKILL') } })

export interface NodeProc {
  proc: ChildProcess
  id: string
  addr: string
  /** HOST:PORT form of the loopback address. */
  hostPort: string
  dataDir: string
  output: string[]
  stop: (signal?: NodeJS.Signals) => Promise<void>
}

export async function tempDir (prefix = 'meshrun-test-'): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix))
  dirs.add(d)
  return d
}

/** Start `meshrun node` with the given flags and wait for its "ready" line. */
export async function startNode (args: string[] = [], opts: { dataDir?: string, timeoutMs?: number, env?: NodeJS.ProcessEnv, mdns?: boolean, wrap?: string[] } = {}): Promise<NodeProc> {
  const dataDir = opts.dataDir ?? await tempDir('meshrun-node-')
  const hasPort = args.includes('--port') || args.includes('--listen')
  // mDNS multicasts on every interface: only tests inside their own network
  // namespace turn it on (opts.mdns); the others bootstrap with --peer.
  const full = [BIN, 'node', ...(hasPort ? [] : ['--port', '0']), '--data', dataDir, ...(opts.mdns === true ? [] : ['--no-mdns']), ...args]
  const [cmd, ...cmdArgs] = opts.wrap === undefined ? [NODE, ...full] : [...opts.wrap, NODE, ...full]
  const proc = spawn(cmd!, cmdArgs, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MESHRUN_LOG: process.env.MESHRUN_LOG ?? 'warn', ...opts.env },
  })
  live.add(proc)
  proc.on('exit', () => { live.delete(proc) })
  const output: string[] = []
  proc.stderr!.on('data', (d: Buffer) => {
    output.push(d.toString())
    if (process.env.MESHRUN_TEST_VERBOSE !== undefined) process.stderr.write(d)
  })
  proc.on('exit', (code, sig) => {
    if (process.env.MESHRUN_TEST_VERBOSE !== undefined) process.stderr.write(`node ${dataDir} exited (${code ?? sig})\n`)
  })
  let id = ''
  let addr = ''
  await new Promise<void>((resolvePromise, reject) => {
    const timer = setTimeout(() => { reject(new Error(`node did not start in time:\n${output.join('')}`)) }, opts.timeoutMs ?? 20_000)
    const rl = createInterface({ input: proc.stdout! })
    rl.on('line', (line) => {
      output.push(line + '\n')
      if (line.startsWith('peer ')) id = line.slice(5).trim()
      if (line.startsWith('listening ') && addr === '') addr = line.slice(10).trim()
      if (line === 'ready') { clearTimeout(timer); resolvePromise() }
    })
    proc.on('exit', (code, sig) => { clearTimeout(timer); reject(new Error(`node exited (${code ?? sig}) before ready:\n${output.join('')}`)) })
  })
  const m = /\/ip4\/([^/]+)\/tcp\/(\d+)/.exec(addr)
  const hostPort = m === null ? addr : `${m[1]}:${m[2]}`
  return {
    proc, id, addr, hostPort, dataDir, output,
    stop: async (signal = 'SIGTERM') => { await stopProc(proc, signal) },
  }
}

export async function stopProc (proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const exited = new Promise<void>((r) => proc.once('exit', () => { r() }))
  proc.kill(signal)
  const timer = setTimeout(() => { proc.kill('SIGKILL') }, 5000)
  await exited
  clearTimeout(timer)
}

export interface CliResult { code: number | null, stdout: string, stderr: string }

/** Run the `meshrun` CLI to completion. */
export async function cli (args: string[], opts: { stdin?: string, timeoutMs?: number, env?: NodeJS.ProcessEnv, wrap?: string[] } = {}): Promise<CliResult> {
  const [cmd, ...cmdArgs] = [...(opts.wrap ?? []), NODE, BIN, ...args]
  const proc = spawn(cmd!, cmdArgs, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } })
  live.add(proc)
  let stdout = ''
  let stderr = ''
  proc.stdout!.on('data', (d: Buffer) => { stdout += d.toString() })
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
  proc.stdin!.end(opts.stdin ?? '')
  const timer = setTimeout(() => { proc.kill('SIGKILL') }, opts.timeoutMs ?? 60_000)
  const code = await new Promise<number | null>((r) => proc.on('exit', (c) => { r(c) }))
  clearTimeout(timer)
  live.delete(proc)
  return { code, stdout, stderr }
}

export async function stopAll (): Promise<void> {
  await Promise.all([...live].map(async (p) => { await stopProc(p, 'SIGKILL') }))
  await Promise.all([...dirs].map(async (d) => { await rm(d, { recursive: true, force: true }) }))
  dirs.clear()
}

/** Poll until `check` returns a value (not undefined) or the time is up. */
export async function waitFor<T> (check: () => Promise<T | undefined>, timeoutMs: number, what: string, everyMs = 100): Promise<T> {
  const until = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await check()
      if (v !== undefined) return v
    } catch (err) { last = err }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

/**
 * A TCP port (or `count` consecutive ones) free a moment ago, for a node that
 * must come back on the same port or for `up`, which takes PORT..PORT+n-1.
 * Chosen below the kernel's ephemeral range (32768 and up here), where the
 * suite's other nodes (`--port 0`) listen: a port next to a free ephemeral
 * one may be taken by then.
 */
export async function freePort (count = 1): Promise<number> {
  const { createServer } = await import('node:net')
  const bindable = async (port: number): Promise<boolean> => await new Promise((resolve) => {
    const srv = createServer()
    srv.once('error', () => { resolve(false) })
    srv.listen(port, '127.0.0.1', () => { srv.close(() => { resolve(true) }) })
  })
  for (let tries = 0; tries < 200; tries++) {
    const base = 20_000 + Math.floor(Math.random() * (12_000 - count))
    let ok = true
    for (let p = base; p < base + count && ok; p++) ok = await bindable(p)
    if (ok) return base
  }
  throw new Error(`no ${count} consecutive free ports found`)
}

/** The HTTP gateway's URL of a node started with --http (from its "http URL" line). */
export function httpUrl (node: NodeProc): string {
  const line = node.output.join('').split('\n').find((l) => l.startsWith('http '))
  if (line === undefined) throw new Error('the node printed no "http" line: was it started with --http?')
  return line.slice(5).trim()
}
