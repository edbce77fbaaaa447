/**
 * A zygote: one small root shell per sandbox identity, started once, living
 * in the identity's cgroups, that starts each stage on request. So the node
 * never forks per job (forking costs in proportion to the forking process's
 * memory, measured here at 0.9 ms from 50 MB and 17 ms from 350 MB, all on
 * the event loop), and no process changes cgroups per job (each move costs
 * an RCU grace period: ~15 ms measured on a busy machine).
 *
 * Protocol, one stage at a time (an identity runs one job at a time):
 *  - the node writes the stage script (sandbox.ts) and the stdin file into
 *    the workspace root, then a random token line to the zygote's stdin;
 *  - the zygote sources the script in a subshell (it ends in `exec`), waits,
 *    kills whatever is left in its cgroup but itself, then writes the token
 *    (between RS characters) to the stdout and stderr FIFOs, and "token
 *    status" to fd 3. The stage's pid 1 writes "." to fd 3 when the program
 *    starts.
 * A stage's stdout and stderr are two FIFOs in the workspace root, which the
 * node reads for the zygote's whole life. Each stage opens them afresh (its
 * own open file descriptions: a job that makes its output non-blocking, or
 * is killed while Node.js has made it so, changes nothing for the next job
 * or for the zygote); the zygote writes its tokens through its own
 * descriptions (fds 7 and 8), which no stage inherits. The token marks where
 * a stage's output ends: nothing of the stage runs when it is written, and
 * the stage never sees it, so it cannot forge it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { constants as fsConstants, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Socket } from 'node:net'
import type { Readable } from 'node:stream'
import type { JobCgroup } from './cgroups.ts'
import { OutputCapture } from './output.ts'
import { decodeStatus, wallDeadline, type KillReason, type SandboxLimits, type SandboxOutcome } from './sandbox.ts'
import type { OutputStream } from './types.ts'

/**
 * A stage's stdout and stderr: FIFOs in the workspace root that every stage
 * opens afresh, so that what a job does to its own file descriptions (e.g.
 * leave them non-blocking, as a Node.js program killed by a limit does)
 * reaches neither the next job nor the zygote.
 */
const STAGE_FIFOS = { stdout: 'stdout.fifo', stderr: 'stderr.fifo' } as const
/** The zygote's own ends of those FIFOs, for its end-of-stage tokens: no stage inherits them. */
const TOKEN_FDS = { stdout: 7, stderr: 8 } as const

const LOOP = [
  `exec ${TOKEN_FDS.stdout}>${STAGE_FIFOS.stdout} ${TOKEN_FDS.stderr}>${STAGE_FIFOS.stderr}`,
  'while read -r token; do',
  `  ( exec >${STAGE_FIFOS.stdout} 2>${STAGE_FIFOS.stderr} ${TOKEN_FDS.stdout}>&- ${TOKEN_FDS.stderr}>&-; . ./stage.sh )`,
  '  st=$?',
  '  if [ -n "$1" ]; then while read -r p; do [ "$p" = "$$" ] || kill -9 "$p" 2>/dev/null; done <"$1"; fi',
  `  printf '\\036%s\\036' "$token" >&${TOKEN_FDS.stdout}; printf '\\036%s\\036' "$token" >&${TOKEN_FDS.stderr}; printf '%s %s\\n' "$token" "$st" >&3`,
  'done',
].join('\n')

/**
 * Run once before the loop: closes every fd above 3 that the node inherited
 * without close-on-exec from whatever started it (a shell, a supervisor, a
 * test runner's IPC channel), which would otherwise pass through setpriv
 * and bwrap into every job. dash cannot name fds above 9, so bash does it
 * and then becomes the zygote's /bin/sh.
 */
const CLOSE_INHERITED_FDS = 'for f in /proc/$$/fd/*; do n=${f##*/}; [ "$n" -gt 3 ] && exec {n}>&-; done; exec /bin/sh -c "$@"'
const BASH = ['/bin/bash', '/usr/bin/bash'].find((p) => existsSync(p)) ?? null

/** How long a stage may take to report back after its wall deadline before the zygote is declared stuck. */
const STUCK_MS = 5000

export interface StageRequest {
  /** From `stageScript` (sandbox.ts). */
  script: string
  stdin: string | null
  limits: SandboxLimits
  /** True when the script starts bwrap (the sandbox has its own pid 1). */
  bwrap: boolean
  signal?: AbortSignal
  onOutput?: (stream: OutputStream, text: string) => void
}

/** Direct children of a process. */
function childrenOf (pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').split(' ').filter((s) => s !== '').map(Number)
  } catch {
    return []
  }
}

function kill (pid: number): void {
  try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
}

/** Cuts a stream at a token, holding back only what could be the token's beginning. */
class TokenCut {
  private held: Buffer = Buffer.alloc(0)
  private readonly token: Buffer
  done = false

  constructor (token: Buffer) {
    this.token = token
  }

  /** The bytes of the stage in `chunk` (nothing after the token). */
  push (chunk: Buffer): Buffer {
    if (this.done) return Buffer.alloc(0)
    const buf = this.held.length === 0 ? chunk : Buffer.concat([this.held, chunk])
    const at = buf.indexOf(this.token)
    if (at >= 0) {
      this.done = true
      this.held = Buffer.alloc(0)
      return buf.subarray(0, at)
    }
    let keep = Math.min(this.token.length - 1, buf.length)
    while (keep > 0 && !buf.subarray(buf.length - keep).equals(this.token.subarray(0, keep))) keep--
    this.held = Buffer.from(buf.subarray(buf.length - keep))
    return buf.subarray(0, buf.length - keep)
  }
}

interface Active {
  token: string
  cut: { stdout: TokenCut; stderr: TokenCut }
  status: string
  onData: (stream: OutputStream, chunk: Buffer) => void
  onStatus: () => void
  fail: (why: string) => void
}

/** Makes the stage FIFOs afresh (a previous zygote's may still be open somewhere) and opens their read ends. */
function openStageFifos (root: string): Record<OutputStream, Socket> {
  const paths = { stdout: join(root, STAGE_FIFOS.stdout), stderr: join(root, STAGE_FIFOS.stderr) }
  for (const p of Object.values(paths)) rmSync(p, { force: true })
  execFileSync('mkfifo', ['-m', '600', paths.stdout, paths.stderr], { env: { PATH: '/usr/bin:/bin' }, stdio: 'ignore' })
  // Non-blocking, so that opening needs no writer yet; the zygote's write ends keep them from ever ending.
  const open = (p: string): Socket => new Socket({ fd: openSync(p, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK), readable: true, writable: false })
  return { stdout: open(paths.stdout), stderr: open(paths.stderr) }
}

export class Zygote {
  readonly root: string
  private readonly cgroup: JobCgroup | null
  private readonly child: ChildProcess
  private readonly fifos: Record<OutputStream, Socket>
  private active: Active | null = null
  private exitReason: string | null = null

  /**
   * Starts a zygote with `root` (the workspace root) as working directory and
   * moves it into `cgroup` (once; its stages are born there). With `setpriv`,
   * the zygote dies with the node (PR_SET_PDEATHSIG), and its stages with it
   * (bwrap --die-with-parent).
   */
  constructor (root: string, cgroup: JobCgroup | null, setpriv: string | null) {
    this.root = root
    this.cgroup = cgroup
    this.fifos = openStageFifos(root)
    const pidsProcs = cgroup?.procsFiles().find((f) => f.includes('/pids/')) ?? ''
    const loop = [LOOP, 'meshrun-zygote', pidsProcs]
    // Without bash, fds 4 to 9 at least (dash can name those).
    const argv = BASH === null
      ? ['/bin/sh', '-c', `exec 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-\n${LOOP}`, ...loop.slice(1)]
      : [BASH, '-c', CLOSE_INHERITED_FDS, 'meshrun-zygote', ...loop]
    const [file, ...args] = setpriv === null ? argv : [setpriv, '--pdeathsig', 'SIGKILL', '--', ...argv]
    this.child = spawn(file!, args, {
      cwd: root,
      env: { PATH: '/usr/bin:/bin' },
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    })
    const pid = this.child.pid
    if (pid !== undefined && cgroup !== null) {
      try {
        cgroup.join(pid)
      } catch (err) {
        this.exitReason = `could not join its cgroups: ${(err as Error).message}`
        kill(pid)
      }
      // Never the OOM killer's choice (the stage script sets itself back to 0).
      try { writeFileSync(`/proc/${pid}/oom_score_adj`, '-1000') } catch { /* not permitted */ }
    }
    for (const stream of ['stdout', 'stderr'] as const) {
      this.fifos[stream].on('data', (d: Buffer) => { this.active?.onData(stream, d) })
      this.fifos[stream].on('error', () => {})
      this.fifos[stream].unref()
    }
    // The zygote's own stdout and stderr carry nothing of a stage (only a broken shell would write there).
    this.child.stdout!.resume()
    this.child.stderr!.resume()
    const status = this.child.stdio[3] as Readable
    status.setEncoding('latin1')
    status.on('data', (d: string) => {
      if (this.active === null) return
      this.active.status += d
      this.active.onStatus()
    })
    this.child.stdin!.on('error', () => {})
    // An idle zygote does not keep the node alive (a running stage's timers do).
    this.child.unref()
    for (const s of this.child.stdio) (s as Socket | null)?.unref?.()
    const onGone = (why: string): void => {
      this.exitReason ??= why
      this.active?.fail(`the sandbox zygote ${why}`)
    }
    this.child.on('error', (err) => { onGone(`failed: ${err.message}`) })
    this.child.on('exit', (code, signal) => { onGone(`exited (${signal ?? `exit code ${String(code)}`})`) })
  }

  get alive (): boolean {
    return this.exitReason === null && this.child.pid !== undefined
  }

  get pid (): number | undefined {
    return this.child.pid
  }

  /** Runs one stage; never rejects (a node fault shows as `setupFailed`). */
  async run (req: StageRequest): Promise<SandboxOutcome> {
    if (!this.alive) return failed(`the sandbox zygote ${this.exitReason ?? 'is not running'}`)
    if (this.active !== null) return failed('the sandbox zygote is busy')
    try {
      // pids.max = the process limit (RLIMIT_NPROC is a little above it, see
      // stageScript): the group also holds the zygote, so it trips first,
      // and counts it (pids.events) where the rlimit would not.
      this.cgroup?.prepare(req.limits.memoryBytes, req.limits.processes)
      // Synchronous: two small files on the workspace's tmpfs; the
      // asynchronous calls cost ~0.4 ms of CPU per job in thread-pool round
      // trips (open, write, close each), measured under load.
      writeFileSync(join(this.root, 'stage.sh'), req.script, { mode: 0o600 })
      if (req.stdin !== null) writeFileSync(join(this.root, 'stdin'), req.stdin, { mode: 0o600 })
    } catch (err) {
      return failed(`cannot prepare the stage: ${(err as Error).message}`)
    }
    return await new Promise<SandboxOutcome>((resolve) => { this.start(req, resolve) })
  }

  private start (req: StageRequest, resolve: (o: SandboxOutcome) => void): void {
    if (req.signal?.aborted === true) {
      resolve({ ...failed(''), setupFailed: null, killedFor: 'abort' })
      return
    }
    const t0 = performance.now()
    const token = randomBytes(16).toString('hex')
    const mark = Buffer.from(`\x1e${token}\x1e`, 'latin1')
    const zpid = this.child.pid!
    const cg = this.cgroup
    const timers: NodeJS.Timeout[] = []
    let killedFor: KillReason | null = null
    let fallback: NodeJS.Timeout | null = null
    let retry: NodeJS.Timeout | null = null
    let settled = false

    // With bwrap, kill what runs inside (the sandbox's pid 1 takes the whole
    // pid namespace along), not bwrap's monitor: the monitor then reaps pid 1
    // and exits, and nothing of the stage can write after the token. Killing
    // the monitor first would orphan pid 1 as a zombie of the host's init.
    const killTree = (): void => {
      const monitors = childrenOf(zpid)
      const inner = req.bwrap ? monitors.flatMap(childrenOf) : []
      for (const pid of inner) kill(pid)
      cg?.killAll([zpid, ...(req.bwrap ? monitors : [])])
      if (!req.bwrap || inner.length === 0) for (const pid of monitors) kill(pid)
      else fallback ??= setTimeout(() => { for (const pid of childrenOf(zpid)) kill(pid) }, 1000)
    }
    const stop = (reason: KillReason): void => {
      if (settled) return
      killedFor ??= reason
      killTree()
      // The subshell may not have forked yet (a kill right after the start): try again until the stage ends.
      retry ??= setInterval(killTree, 50)
    }

    const capture = new OutputCapture(req.limits.outputBytes, () => { stop('output') }, req.onOutput)
    const active: Active = {
      token,
      cut: { stdout: new TokenCut(mark), stderr: new TokenCut(mark) },
      status: '',
      onData: (stream, chunk) => {
        const data = active.cut[stream].push(chunk)
        if (data.length > 0) capture.push(stream, data)
        if (active.cut[stream].done) finishIfDone()
      },
      onStatus: () => { finishIfDone() },
      fail: (why) => { finish(why) },
    }
    const statusRe = new RegExp(`${token} (\\d+)\\n`)
    const finishIfDone = (): void => {
      if (active.cut.stdout.done && active.cut.stderr.done && statusRe.test(active.status)) finish(null)
    }
    const onAbort = (): void => { stop('abort') }

    const finish = (zygoteFailure: string | null): void => {
      if (settled) return
      settled = true
      this.active = null
      for (const t of timers) clearTimeout(t)
      if (fallback !== null) clearTimeout(fallback)
      if (retry !== null) clearInterval(retry)
      req.signal?.removeEventListener('abort', onAbort)
      if (zygoteFailure !== null) killTree()
      let stats = { cpuMs: null as number | null, memoryKb: null as number | null, oomKilled: false, pidsLimitHit: false }
      try { if (cg !== null) stats = cg.finish() } catch { /* group gone */ }
      const out = capture.finish()
      const started = active.status.includes('.')
      const st = Number(statusRe.exec(active.status)?.[1] ?? -1)
      const { code, signal } = st >= 0 ? decodeStatus(st, started) : { code: null, signal: null }
      let setupFailed: string | null = null
      if (zygoteFailure !== null) setupFailed = zygoteFailure
      else if (!started && killedFor === null) setupFailed = out.stderr.trim() || `the sandbox did not start (exit ${st})`
      resolve({
        stdout: out.stdout,
        stderr: out.stderr,
        truncated: out.truncated,
        code,
        signal,
        wallMs: Math.round((performance.now() - t0) * 10) / 10,
        cpuMs: stats.cpuMs === null ? null : Math.round(stats.cpuMs * 10) / 10,
        memoryKb: stats.memoryKb,
        killedFor,
        oomKilled: stats.oomKilled,
        pidsLimitHit: stats.pidsLimitHit,
        setupFailed,
      })
    }

    this.active = active
    timers.push(setTimeout(() => { stop('wall') }, wallDeadline(req.limits.wallMs)))
    timers.push(setTimeout(() => {
      // The zygote did not report back: it is stuck; replace it.
      this.exitReason ??= 'stopped answering'
      kill(zpid)
      finish('the sandbox zygote stopped answering')
    }, wallDeadline(req.limits.wallMs) + STUCK_MS))
    if (cg?.has('cpuacct') === true) {
      const every = Math.min(100, Math.max(10, Math.floor(req.limits.cpuMs / 20)))
      timers.push(setInterval(() => {
        try {
          if ((cg.cpuMs() ?? 0) >= req.limits.cpuMs) stop('cpu')
        } catch { /* group gone */ }
      }, every))
    }
    if (req.signal !== undefined) {
      if (req.signal.aborted) onAbort()
      else req.signal.addEventListener('abort', onAbort, { once: true })
    }
    this.child.stdin!.write(`${token}\n`)
  }

  /** Ends the zygote (after killing a running stage). */
  async stop (): Promise<void> {
    try {
      await this.end()
    } finally {
      for (const f of Object.values(this.fifos)) f.destroy()
    }
  }

  private async end (): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null || this.child.pid === undefined) return
    const exited = new Promise<void>((res) => { this.child.once('exit', () => { res() }) })
    // A stage's pid 1 first, then its bwrap monitor (see killTree).
    const monitors = childrenOf(this.child.pid)
    for (const pid of monitors.flatMap(childrenOf)) kill(pid)
    for (const pid of monitors) kill(pid)
    this.child.stdin!.end()
    const t = setTimeout(() => { kill(this.child.pid!) }, 1000)
    await exited
    clearTimeout(t)
  }
}

/** The outcome of a stage that never started. */
export function failed (message: string): SandboxOutcome {
  return {
    stdout: '', stderr: '', truncated: false, code: null, signal: null, wallMs: 0, cpuMs: null, memoryKb: null,
    killedFor: null, oomKilled: false, pidsLimitHit: false, setupFailed: message,
  }
}
