/**
 * The hostile corpus (test/security/corpus/), submitted through a real
 * `meshrun node` process by a real client: one program per attack of
 * SANDBOX-NOTES.md, in C, Python, Java and JavaScript where the attack makes
 * sense there. Each must end with its precise status (and the limit that
 * ended it); afterwards nothing of it runs under the node's sandbox uids or
 * in their cgroups, no file of those uids exists outside the job dirs, the
 * secrets stay unread, the loopback listener sees no connection, and the
 * node runs a normal job correctly.
 *
 * Jobs run in waves of --max-jobs at once: a wave ends before its leftovers
 * are looked for (a job still running would be one).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { execFile } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { MeshClient } from '../../src/client/client.ts'
import type { JobLimits, JobStatus, LimitKind } from '../../src/exec/types.ts'
import type { JobResult } from '../../src/node/schemas.ts'
import { startNode, stopAll, tempDir, waitFor, type NodeProc } from '../helpers/procs.ts'

const CORPUS = join(import.meta.dirname, 'corpus')
const MAX_JOBS = 3
const LANG: Record<string, string> = { c: 'c', cpp: 'cpp', py: 'python', java: 'java', js: 'js' }
const x64 = process.arch === 'x64'
const root = process.getuid?.() === 0
if (!root) console.log('hostile corpus skipped: not root (the sandbox needs root for per-slot uids and cgroups)')

interface Case {
  attack: string
  file: string
  args?: () => string[]
  stdin?: string
  limits?: JobLimits
  status: JobStatus
  /** The limit that ended the stage that failed (run, or compile for compile_error). */
  limit?: LimitKind | null
  signal?: string
  check?: (r: JobResult) => void
}

let node: NodeProc
let client: MeshClient
let listener: Server
let port = 0
let connections = 0
/** Tokens that must never appear in a job's output. */
const fileSecret = `file-secret-${randomBytes(12).toString('hex')}`
const envSecret = `env-secret-${randomBytes(12).toString('hex')}`
const marker = `meshrun-x-${randomBytes(6).toString('hex')}`
let rootSecret: string
let stamp: string
let uids: number[] = []
const table: Array<{ attack: string, file: string, status: string, limit: string, ms: number }> = []

const secretPaths = (): string[] => [join(node.dataDir, 'secret.txt'), node.dataDir, join(node.dataDir, 'peer.key'), rootSecret, '/root', '/etc/shadow', '/proc/1/environ', '/run/meshrun/uids']
const outsidePaths = (): string[] => [`/usr/${marker}`, `/etc/${marker}`, `/${marker}`, `/dev/${marker}`, `/proc/${marker}`, `/root/${marker}`, join(node.dataDir, marker), `/run/meshrun/${marker}`, `/tmp/../${marker}`, `/box/../${marker}`]
/** Where a host file written by a job would land (the sandbox's /tmp and /box are its own). */
const hostPaths = (): string[] => ['/usr', '/etc', '', '/dev', '/root', node.dataDir, '/run/meshrun', '/tmp', '/var/tmp', '/dev/shm'].map((d) => `${d}/${marker}`)

function noSecretIn (r: JobResult): void {
  const all = JSON.stringify(r)
  expect(all).not.toContain(fileSecret)
  expect(all).not.toContain(envSecret)
}

function lines (r: JobResult): string[] {
  return r.run!.stdout.trim().split('\n')
}

/** The data-dir secret, /etc/shadow and /root are unreadable; pid 1's environment is the sandbox's, not the node's. */
function secretsUnread (r: JobResult): void {
  noSecretIn(r)
  const out = lines(r)
  const [secret, dataDir, peerKey, rootFile, rootDir, shadow, environ, uidDir] = secretPaths()
  for (const p of [secret, dataDir, peerKey, rootFile, rootDir, shadow, uidDir]) {
    expect(out.find((l) => l.startsWith(`${p!}: `)), p).toMatch(/: denied/)
  }
  const env = out.find((l) => l.startsWith(`${environ!}: `))!
  expect(env).toMatch(/: read .*PATH=\/usr\/bin:\/bin/)
  expect(env).not.toMatch(/MESHRUN|NODE_|npm_|VITEST/)
}

function nothingWrittenOutside (r: JobResult): void {
  const out = lines(r)
  for (const p of outsidePaths()) expect(out.find((l) => l.startsWith(`${p}: `)), p).toMatch(/: denied/)
  for (const p of hostPaths()) expect(existsSync(p), p).toBe(false)
}

const c = (attack: string, file: string, rest: Omit<Case, 'attack' | 'file'>): Case => ({ attack, file, ...rest })
const ALL = ['c', 'py', 'java', 'js']
const each = (attack: string, base: string, exts: string[], rest: Omit<Case, 'attack' | 'file'> | ((ext: string) => Omit<Case, 'attack' | 'file'>)): Case[] =>
  exts.map((ext) => c(attack, `${base}.${ext}`, typeof rest === 'function' ? rest(ext) : rest))

const CASES: Case[] = [
  // CPU burners: each runs alone, with a short limit (see the waves below).
  ...each('CPU loop, one process', 'cpu_loop', ALL, (ext) => ({ limits: { timeMs: ext === 'java' ? 500 : 250 }, status: 'time_limit', limit: 'cpu' })),
  ...each('CPU loop, many processes/threads', 'cpu_many', ALL, { limits: { timeMs: 500 }, status: 'time_limit', limit: 'cpu' }),
  // Every process spins on a failing fork: CPU runs out, not processes.
  ...each('fork bomb', 'fork_bomb', ['c', 'py'], { limits: { timeMs: 500 }, status: 'time_limit', limit: 'cpu' }),
  ...each('sleeping forever', 'sleep_forever', ALL, { limits: { timeMs: 500 }, status: 'time_limit', limit: 'wall' }),
  ...each('thread bomb', 'thread_bomb', ['c', 'py', 'java'], { status: 'runtime_error', limit: 'processes' }),
  c('thread bomb', 'thread_bomb.js', { limits: { memoryMb: 64 }, status: 'memory_limit', limit: 'memory' }),
  ...each('memory hog', 'memory_hog', ALL, { limits: { memoryMb: 64 }, status: 'memory_limit', limit: 'memory' }),
  ...each('disk: one big file', 'disk_big', ALL, { status: 'runtime_error', limit: 'disk' }),
  ...each('disk: many small files', 'disk_small', ALL, { status: 'runtime_error', limit: 'disk' }),
  ...each('stdout flood', 'stdout_flood', ALL, {
    status: 'output_limit', limit: 'output',
    check: (r) => { expect(r.run!.truncated).toBe(true); expect(r.run!.stdout).toContain('output truncated') },
  }),
  ...each('stderr flood', 'stderr_flood', ALL, {
    status: 'output_limit', limit: 'output',
    check: (r) => { expect(r.run!.truncated).toBe(true); expect(r.run!.stderr).not.toContain('\ufffd') },
  }),
  ...each('connect to a host loopback port', 'connect', ALL, {
    args: () => ['127.0.0.1', String(port)], status: 'ok', limit: null,
    check: (r) => { expect(r.run!.stdout).toMatch(/^connect 127\.0\.0\.1:\d+ failed: .*(refused|ECONNREFUSED)/i) },
  }),
  ...each('connect to an outside address', 'connect', ALL, {
    args: () => ['10.255.255.1', '9'], status: 'ok', limit: null,
    check: (r) => { expect(r.run!.stdout).toMatch(/^connect 10\.255\.255\.1:9 failed: .*(unreachable|ENETUNREACH)/i) },
  }),
  ...each('read host secrets', 'read_secrets', ALL, { args: secretPaths, status: 'ok', limit: null, check: secretsUnread }),
  ...each('write outside the job dir', 'write_outside', ALL, { args: outsidePaths, status: 'ok', limit: null, check: nothingWrittenOutside }),
  ...each('kill the parent and every process', 'kill_all', ALL, { status: 'ok', limit: null, check: (r) => { expect(r.run!.stdout).toMatch(/^survived/) } }),
  ...each('daemon that outlives the job', 'daemon', ALL, { status: 'ok', limit: null, check: (r) => { expect(r.run!.stdout).toBe('parent done\n') } }),
  ...each('fd exhaustion', 'fd_exhaust', ALL, {
    status: 'ok', limit: null,
    check: (r) => {
      const m = /^(\d+) fds, then (.*)$/.exec(r.run!.stdout.trim())
      expect(m, r.run!.stdout).not.toBeNull()
      expect(Number(m![1])).toBeLessThan(256) // the node's default open-files limit
      expect(m![2]).toMatch(/Too many open files|EMFILE/)
    },
  }),
  ...each('reading stdin forever', 'stdin_forever', ALL, { stdin: 'x'.repeat(100_000), status: 'ok', limit: null, check: (r) => { expect(r.run!.stdout).toBe('eof after 100000 bytes\n') } }),
  ...each('AF_VSOCK socket to the host', 'vsock', ['c', 'py'], { status: 'ok', limit: null, check: (r) => { expect(r.run!.stdout).toBe('vsock socket: Address family not supported by protocol\n') } }),
  ...(x64
    ? [
        ...each('kernel surfaces (io_uring, keyctl, bpf, perf, ptrace, unshare, mount)', 'syscalls', ['c', 'py'], {
          status: 'ok', limit: null,
          check: (r) => { for (const l of lines(r)) expect(l).toMatch(/: Operation not permitted$/) },
        }),
        c('i386 syscall ABI', 'i386.c', { status: 'runtime_error', limit: null, signal: 'SIGSYS' }),
      ]
    : []),
  c('compile bomb: error flood', 'error_flood.c', {
    status: 'compile_error', limit: null,
    check: (r) => { expect(r.compile!.stderr.match(/error:/g)?.length ?? 0).toBeLessThanOrEqual(21) },
  }),
  c('compile bomb: template explosion', 'template_bomb.cpp', { status: 'compile_error', limit: 'memory' }),
  c('compile bomb: #include "/dev/zero"', 'include_zero.c', { status: 'compile_error', limit: 'memory' }),
  c('compile bomb: #include "/dev/urandom"', 'include_urandom.c', { status: 'compile_error', limit: 'memory' }),
]

/** The uids the node claimed for its sandbox (its lock files in /run/meshrun/uids). */
async function poolUids (pid: number): Promise<number[]> {
  const dir = '/run/meshrun/uids'
  const out: number[] = []
  for (const f of await readdir(dir)) {
    if (!/^\d+$/.test(f)) continue
    try {
      if ((await readFile(join(dir, f), 'utf8')).split(' ')[0] === String(pid)) out.push(Number(f))
    } catch { /* released meanwhile */ }
  }
  return out.sort()
}

/** Processes running under one of `uids` (any of real, effective, saved, fs), zombies included. */
async function processesOf (set: Set<number>): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue
    try {
      const status = await readFile(`/proc/${e}/status`, 'utf8')
      const ids = /\nUid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/.exec(status)!.slice(1).map(Number)
      if (ids.some((u) => set.has(u))) out.push(`${e} ${/^Name:\s+(.*)$/m.exec(status)?.[1] ?? '?'}`)
    } catch { /* gone */ }
  }
  return out
}

/** Tasks in the uids' pids cgroups besides the zygote (one per uid). */
async function cgroupExtras (): Promise<number> {
  let extra = 0
  for (const u of uids) {
    try {
      extra += Math.max(0, Number((await readFile(`/sys/fs/cgroup/pids/meshrun/${u}/pids.current`, 'utf8')).trim()) - 1)
    } catch { /* no pids cgroup here */ }
  }
  return extra
}

/** Nothing of a finished job may be left: no process of a pool uid, no task but the zygotes in their cgroups. */
async function nothingLeft (): Promise<void> {
  const set = new Set(uids)
  // The sandbox kills its stage's processes before the result goes out; give the kernel a moment to reap them.
  await waitFor(async () => ((await processesOf(set)).length === 0 && (await cgroupExtras()) === 0 ? true : undefined), 2000, 'no processes of the pool').catch(() => {})
  expect(await processesOf(set)).toEqual([])
  expect(await cgroupExtras()).toBe(0)
}

/** CPU burners and memory bombs stopped by the wall clock because their CPUs were slowed (see verify). */
const slowed: string[] = []
let normalRuns = 0
async function normalJobWorks (): Promise<void> {
  const n = ++normalRuns
  const r = await client.run({ id: `normal-${randomUUID()}`, language: 'python', files: [{ name: 'normal.py', content: await readFile(join(CORPUS, 'normal.py'), 'utf8') }], stdin: '', args: [String(n), '1'] })
  expect(r.status, r.message).toBe('ok')
  expect(r.run!.stdout).toBe(`normal ${n + 1}\n`)
}

async function submit (k: Case): Promise<JobResult> {
  const ext = k.file.slice(k.file.lastIndexOf('.') + 1)
  const content = await readFile(join(CORPUS, k.file), 'utf8')
  const t0 = Date.now()
  const r = await client.run({
    id: `hostile-${k.file}-${randomUUID()}`,
    language: LANG[ext]!,
    files: [{ name: ext === 'java' ? 'Main.java' : k.file, content }],
    stdin: k.stdin ?? '',
    args: k.args?.() ?? [],
    ...(k.limits === undefined ? {} : { limits: k.limits }),
  })
  const stage = r.status === 'compile_error' ? r.compile : r.run
  table.push({ attack: k.attack, file: k.file, status: r.status === 'error' ? `error: ${r.message ?? ''}` : r.status, limit: stage?.limit ?? (stage?.signal ?? '-'), ms: Date.now() - t0 })
  return r
}

function verify (k: Case, r: JobResult): void {
  const stage = r.status === 'compile_error' ? r.compile : r.run
  const seen = `${k.file}: ${JSON.stringify({ status: r.status, message: r.message, stage: stage === null ? null : { ...stage, stdout: stage.stdout.slice(0, 300), stderr: stage.stderr.slice(0, 300) } })}`
  expect.soft(r.status, seen).toBe(k.status)
  if (k.limit === 'cpu' && stage?.limit === 'wall') {
    // The wall clock (equal to the CPU limit, plus 200 ms of grace) fired
    // first: right only if the job had not used its CPU time by then, which
    // happens when other work takes the CPUs (or this VM loses half its CPU
    // to its host for a second, as measured here). The cgroup's CPU counter
    // is polled every 10-25 ms for limits this small.
    expect.soft(stage.cpuMs ?? 0, seen).toBeLessThan(k.limits!.timeMs! + 50)
    slowed.push(k.file)
  } else if (k.limit === 'memory' && stage?.limit === 'wall' && (stage.cpuMs ?? 0) < stage.wallMs / 2) {
    // Starved: a memory bomb that got less than half of a CPU (a loaded
    // runner) grows too slowly to reach its cap before the wall clock.
    // Contained all the same; the wall limit is what ended it.
    slowed.push(k.file)
  } else if (k.limit !== undefined) {
    expect.soft(stage?.limit ?? null, seen).toBe(k.limit)
  }
  if (stage?.limit === 'cpu') expect.soft(stage.cpuMs ?? 0, seen).toBeGreaterThanOrEqual(k.limits?.timeMs ?? 3000)
  if (k.signal !== undefined) expect.soft(stage?.signal, seen).toBe(k.signal)
  try {
    noSecretIn(r)
    k.check?.(r)
  } catch (err) {
    expect.soft(`${k.file}: ${(err as Error).message}`).toBe(`${k.file}: its checks pass`)
  }
}

beforeAll(async () => {
  listener = createServer((s) => { connections++; s.destroy() })
  await new Promise<void>((res) => listener.listen(0, '127.0.0.1', res))
  port = (listener.address() as { port: number }).port
  rootSecret = `/root/meshrun-secret-${randomBytes(6).toString('hex')}`
  await writeFile(rootSecret, fileSecret, { mode: 0o600 })
  stamp = join(await tempDir('meshrun-hostile-'), 'stamp')
  await writeFile(stamp, '')
  // Memory stays at the default (256 MiB): tmpfs pages count against it, and
  // many small files must fill the job dir's inodes before they fill memory.
  node = await startNode(['--max-jobs', String(MAX_JOBS), '--time-limit', '3000', '--output-limit', '65536', '--disk-limit', '8', '--process-limit', '32'], {
    env: { MESHRUN_TEST_SECRET: envSecret },
  })
  await writeFile(join(node.dataDir, 'secret.txt'), fileSecret, { mode: 0o600 })
  // With failover (the default): should the node drop this busy process's
  // connection, the client submits the same id again and attaches to the job.
  client = await MeshClient.connect({ node: node.hostPort })
  if (root) uids = await poolUids(node.proc.pid!)
})

afterAll(async () => {
  await client?.close()
  await new Promise((res) => listener?.close(res))
  await rm(rootSecret, { force: true })
  if (table.length > 0) {
    if (slowed.length > 0) console.log(`stopped by the wall clock before their CPU or memory limit (CPUs busy or slowed): ${slowed.join(', ')}`)
    console.log(table.map((t) => `${t.attack.padEnd(44)} ${t.file.padEnd(22)} ${t.status.padEnd(14)} ${t.limit.padEnd(10)} ${t.ms} ms`).join('\n'))
  }
  await stopAll()
})

describe.skipIf(!root)('hostile programs through a real node', () => {
  test('the node runs its sandbox with the seccomp filter, under its own uids', async () => {
    expect(uids.length).toBeGreaterThanOrEqual(MAX_JOBS)
    expect(node.output.join('')).toMatch(/^sandbox bubblewrap: .*seccomp filter/m)
    await normalJobWorks()
  })

  // CPU burners run alone, and last: their limit is the CPU one only if
  // they get most of a core until they reach it (the wall clock, equal to
  // it, has 200 ms of grace), and the first minute of `vitest run
  // test/security` is shared with the fuzz test. A compile bomb (seconds of
  // one core) gets light company; the rest run --max-jobs at a time.
  const burners = CASES.filter((k) => k.limit === 'cpu')
  const bombs = CASES.filter((k) => k.status === 'compile_error' && k.limit === 'memory')
  const waves: Case[][] = bombs.map((k) => [k])
  for (const k of CASES.filter((k) => !burners.includes(k) && !bombs.includes(k))) {
    const open = waves.find((w) => w.length < MAX_JOBS)
    if (open === undefined) waves.push([k])
    else open.push(k)
  }
  waves.push(...burners.map((k) => [k]))

  test.each(waves.map((w, i) => [i + 1, w.map((k) => k.file).join(', '), w] as const))('wave %i: %s', async (_, __, wave) => {
    const results = await Promise.all(wave.map(submit))
    await nothingLeft()
    wave.forEach((k, i) => { verify(k, results[i]!) })
    await normalJobWorks()
  }, 90_000)

  test('the loopback listener saw no connection, and no file of a sandbox uid exists outside the job dirs', async () => {
    expect(connections).toBe(0)
    const dirs = ['/tmp', '/var/tmp', '/dev/shm', '/root', '/etc', '/usr/local', '/opt', '/home', '/srv', node.dataDir].filter((d) => existsSync(d))
    const uidTests = uids.flatMap((u, i) => (i === 0 ? ['-uid', String(u)] : ['-o', '-uid', String(u)]))
    // Files changed since the node started (the uids are reused by later nodes; older files are not this node's).
    const { stdout } = await promisify(execFile)('find', [...dirs, '-xdev', '-cnewer', stamp, '(', ...uidTests, ')', '-print'], { maxBuffer: 1 << 20 }).catch((e: { stdout: string }) => e)
    expect(stdout.trim()).toBe('')
    await normalJobWorks()
  })
})
