/**
 * Runs one command in the sandbox and reports how it ended.
 *
 * The process chain for one stage:
 *
 *   node ──spawn(uid=slot uid, gid=slot uid, groups cleared, env cleared)──▶
 *   /bin/sh launcher: joins the uid's cgroups, sets rlimits, `exec bwrap`
 *   bwrap: user/pid/net/ipc/uts/cgroup namespaces, --disable-userns,
 *          --die-with-parent, --new-session, no-new-privs, no capabilities,
 *          read-only /usr (+ toolchain dirs), /box and /tmp from the uid's
 *          workspace, size-limited /dev/shm, read-only /dev and /, --clearenv
 *   /bin/sh as pid 1 (--as-pid-1): says "started" on fd 3, runs the program
 *          with the job's stdin, reaps orphans, exits with its status
 *
 * A shell as pid 1 instead of bwrap's own init: bwrap's monitor exits before
 * its init is reaped, which leaves a zombie (re-parented to the host's init)
 * counting against the uid for up to seconds; this way every process is
 * reaped before bwrap returns. Switching uid in node's spawn (setgroups(0),
 * setgid, setuid: capabilities are gone) instead of setpriv saves a process;
 * bwrap itself sets no-new-privs and drops the bounding set in the sandbox.
 *
 * Killing: SIGKILL to the launcher's process group (bwrap's monitor; the
 * sandbox's pid 1 dies with it by PR_SET_PDEATHSIG and takes the whole pid
 * namespace along), plus SIGKILL to every pid in the uid's cgroups.
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { constants } from 'node:os'
import { performance } from 'node:perf_hooks'
import type { Readable } from 'node:stream'
import type { CgroupSupport, JobCgroup } from './cgroups.ts'
import { OutputCapture } from './output.ts'
import type { OutputStream, SandboxInfo } from './types.ts'

export interface SandboxConfig {
  /** Absolute path of bwrap, or null to run without it (allowUnsandboxed). */
  bwrap: string | null
  /** Running as root: switch to the slot's uid. */
  switchUid: boolean
  cgroups: CgroupSupport
  /** Workspaces are size-limited tmpfs mounts. */
  tmpfsWorkspaces: boolean
  /** Extra read-only binds (toolchains outside /usr, their config dirs). */
  roBinds: readonly string[]
}

/** Everything the sandbox enforces for one stage (already adjusted for the language). */
export interface SandboxLimits {
  cpuMs: number
  wallMs: number
  outputBytes: number
  /** RLIMIT_NPROC and pids.max (includes the sandbox's own two processes). */
  processes: number
  openFiles: number
  /** RLIMIT_FSIZE. */
  fileBytes: number
  /** The memory cgroup's limit. */
  memoryBytes: number
  /** RLIMIT_AS, or null. */
  addressSpaceBytes: number | null
  /** Size of the tmpfs at /dev/shm. */
  shmBytes: number
}

export interface SandboxIdentity {
  /** The uid to run as, or -1 to stay who we are. */
  uid: number
  cgroup: JobCgroup | null
  /** The job dir (bound at /box) and its /tmp. */
  workspace: { box: string; tmp: string }
}

export interface SandboxRequest {
  argv: readonly string[]
  /** Its cgroup, if any, must already be `prepare`d for these limits. */
  identity: SandboxIdentity
  limits: SandboxLimits
  /** Fed to the program, then EOF; null: no stdin at all (/dev/null). */
  stdin: string | null
  signal?: AbortSignal
  onOutput?: (stream: OutputStream, text: string) => void
}

export type KillReason = 'cpu' | 'wall' | 'output' | 'abort'

export interface SandboxOutcome {
  stdout: string
  stderr: string
  truncated: boolean
  code: number | null
  signal: string | null
  wallMs: number
  cpuMs: number | null
  memoryKb: number | null
  /** Why we killed it, if we did. */
  killedFor: KillReason | null
  oomKilled: boolean
  pidsLimitHit: boolean
  /** The sandbox never started the program: why (a node fault, not the job's). */
  setupFailed: string | null
}

const WALL_GRACE_MS = 200

/** Direct children of a process (its pid 1, for bwrap's monitor). */
function childrenOf (pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').split(' ').filter((s) => s !== '').map(Number)
  } catch {
    return []
  }
}

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]))

/** Shell quoting for values embedded in the launcher script. */
function q (s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`
}

/** pid 1 of the sandbox: announce the start, run the program with stdin, exit with its status. */
const INIT = 'printf . >&3; exec 3>&- 4<&0; "$@" <&4 4<&- & exec 4<&- 0</dev/null; wait $!'

/** What a sandbox with this config enforces, for `meshrun status`. */
export function describeSandbox (c: SandboxConfig): SandboxInfo {
  const enforced: string[] = []
  const warnings: string[] = []
  if (c.bwrap !== null) {
    enforced.push('bubblewrap', 'user/pid/net/ipc/uts/cgroup namespaces', 'no nested user namespaces', 'read-only system dirs', 'cleared environment', 'no-new-privs')
  } else {
    warnings.push('UNSANDBOXED: bubblewrap is missing and --allow-unsandboxed is set; jobs run with the node\'s view of the file system and network')
  }
  if (c.switchUid) enforced.push('uid per job slot')
  else warnings.push('not running as root: jobs run under the node\'s own uid, without a process limit or cgroups')
  enforced.push('rlimit cpu', 'rlimit fsize', 'rlimit nofile', 'rlimit core=0')
  if (c.switchUid) enforced.push('rlimit nproc')
  if (c.cgroups.memory !== null) enforced.push('cgroup memory')
  else warnings.push('no memory cgroup: memory bounded by rlimit as (C, C++, Python) and heap flags (Java, JavaScript) only')
  if (c.cgroups.pids !== null) enforced.push('cgroup pids')
  if (c.cgroups.cpuacct !== null) enforced.push('cgroup cpuacct (CPU of all processes together)')
  else warnings.push('no cpuacct cgroup: CPU time is limited per process (rlimit cpu) and by the wall clock only')
  if (c.tmpfsWorkspaces) enforced.push('size-limited tmpfs job dir and /tmp')
  else warnings.push('job dirs are plain directories: disk use is limited per file (rlimit fsize), not in total')
  enforced.push('wall-clock kill', 'output cap')
  warnings.push('no seccomp filter yet (AF_VSOCK sockets, io_uring and keyctl are not blocked)')
  return { kind: c.bwrap !== null ? 'bubblewrap' : 'none', enforced, warnings }
}

export class Sandbox {
  readonly config: SandboxConfig
  private readonly running = new Set<() => void>()

  constructor (config: SandboxConfig) {
    this.config = config
  }

  /** What this sandbox enforces, for `meshrun status`. */
  describe (): SandboxInfo {
    return describeSandbox(this.config)
  }

  private launcher (limits: SandboxLimits, cgroupFiles: number): string {
    const cpuSoft = Math.ceil(limits.cpuMs / 1000) + (this.config.cgroups.cpuacct !== null ? 1 : 0)
    const steps: string[] = []
    for (let i = 1; i <= cgroupFiles; i++) steps.push(`echo $$ >"$${i}"`)
    steps.push(`ulimit -St ${cpuSoft}`, `ulimit -Ht ${cpuSoft + 1}`)
    if (this.config.switchUid) steps.push(`ulimit -p ${limits.processes}`)
    steps.push(`ulimit -n ${limits.openFiles}`, `ulimit -f ${Math.ceil(limits.fileBytes / 512)}`, 'ulimit -c 0')
    if (limits.addressSpaceBytes !== null) steps.push(`ulimit -v ${Math.ceil(limits.addressSpaceBytes / 1024)}`)
    const fail = '{ echo "meshrun: sandbox launch failed" >&2; exit 125; }'
    const shift = cgroupFiles > 0 ? `shift ${cgroupFiles}; ` : ''
    if (this.config.bwrap !== null) return `${steps.join(' && ')} || ${fail}\n${shift}exec "$@"`
    // No bwrap: the launcher is the only wrapper; announce the start here.
    return `${steps.join(' && ')} || ${fail}\n${shift}printf . >&3; exec 3>&- "$@"`
  }

  private bwrapArgs (identity: SandboxIdentity, limits: SandboxLimits): string[] {
    const ws = identity.workspace
    const a = [
      '--unshare-all', '--unshare-user', '--disable-userns', '--die-with-parent', '--new-session', '--as-pid-1',
      '--hostname', 'meshrun',
      '--ro-bind', '/usr', '/usr',
      '--symlink', 'usr/bin', '/bin', '--symlink', 'usr/sbin', '/sbin', '--symlink', 'usr/lib', '/lib', '--symlink', 'usr/lib64', '/lib64',
      '--ro-bind-try', '/etc/ld.so.cache', '/etc/ld.so.cache',
      '--ro-bind-try', '/etc/alternatives', '/etc/alternatives',
    ]
    for (const p of this.config.roBinds) a.push('--ro-bind', p, p)
    a.push(
      '--proc', '/proc',
      '--dev', '/dev', '--size', String(limits.shmBytes), '--tmpfs', '/dev/shm', '--remount-ro', '/dev',
      '--bind', ws.box, '/box', '--bind', ws.tmp, '/tmp',
      '--chdir', '/box',
      '--remount-ro', '/',
      '--clearenv', '--setenv', 'PATH', '/usr/bin:/bin', '--setenv', 'HOME', '/box', '--setenv', 'TMPDIR', '/tmp', '--setenv', 'LANG', 'C.UTF-8',
      '--', '/bin/sh', '-c', INIT, 'init',
    )
    return a
  }

  /** Kills every stage still running (for Executor.stop). */
  killAll (): void {
    for (const kill of this.running) kill()
  }

  run (req: SandboxRequest): Promise<SandboxOutcome> {
    const { identity, limits } = req
    const cg = identity.cgroup
    const procsFiles = cg?.procsFiles() ?? []
    const bw = this.config.bwrap
    const script = this.launcher(limits, procsFiles.length)
    const args = ['-c', script, 'meshrun-launch', ...procsFiles]
    if (bw !== null) args.push(bw, ...this.bwrapArgs(identity, limits))
    args.push(...req.argv)
    const env: Record<string, string> = bw !== null
      ? { PATH: '/usr/bin:/bin' }
      : { PATH: '/usr/bin:/bin', HOME: identity.workspace.box, TMPDIR: identity.workspace.tmp, LANG: 'C.UTF-8' }
    const uidOpts = identity.uid >= 0 ? { uid: identity.uid, gid: identity.uid } : {}

    return new Promise<SandboxOutcome>((resolve) => {
      const t0 = performance.now()
      let killedFor: KillReason | null = null
      let started = false
      let exitCode: number | null = null
      let exitSignal: string | null = null
      let spawnError: string | null = null
      let settled = false
      const timers: NodeJS.Timeout[] = []

      const child = spawn('/bin/sh', args, {
        cwd: identity.workspace.box,
        env,
        ...uidOpts,
        detached: true,
        stdio: [req.stdin === null ? 'ignore' : 'pipe', 'pipe', 'pipe', 'pipe'],
      })

      // With bwrap, kill what runs inside (its pid 1 takes the whole pid
      // namespace along) rather than bwrap's monitor: the monitor then reaps
      // pid 1 and exits, where killing it first would orphan pid 1 as a
      // zombie for the host's init to reap, counting against the uid meanwhile.
      let exited = false
      let fallback: NodeJS.Timeout | null = null
      const killGroup = (): void => {
        if (child.pid === undefined) return
        try { process.kill(-child.pid, 'SIGKILL') } catch { /* gone */ }
      }
      const killTree = (): void => {
        if (bw === null) {
          // No pid namespace: the launcher's group, then whatever left it.
          killGroup()
          cg?.killAll()
          return
        }
        if (exited || child.pid === undefined) { cg?.killAll(); return }
        const inner = childrenOf(child.pid)
        for (const pid of inner) {
          try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
        }
        cg?.killAll(child.pid)
        if (inner.length === 0) killGroup()
        else fallback ??= setTimeout(() => { if (!exited) killGroup() }, 1000)
      }
      const kill = (reason: KillReason): void => {
        if (settled) return
        killedFor ??= reason
        killTree()
      }
      const abortKill = (): void => { kill('abort') }
      this.running.add(abortKill)

      const output = new OutputCapture(limits.outputBytes, () => { kill('output') }, req.onOutput)
      child.stdout!.on('data', (d: Buffer) => { output.push('stdout', d) })
      child.stderr!.on('data', (d: Buffer) => { output.push('stderr', d) })
      const status = child.stdio[3] as Readable
      status.on('data', () => { started = true })
      status.on('error', () => {})
      if (child.stdin !== null) {
        child.stdin.on('error', () => { /* EPIPE: the program did not read it all */ })
        child.stdin.end(req.stdin ?? '')
      }

      // A little grace on the wall clock, so that a CPU-bound program meets
      // its CPU limit (the more precise cause) before the wall limit.
      timers.push(setTimeout(() => { kill('wall') }, limits.wallMs + Math.max(WALL_GRACE_MS, limits.wallMs / 10)))
      if (cg?.has('cpuacct') === true) {
        const every = Math.min(100, Math.max(10, Math.floor(limits.cpuMs / 20)))
        timers.push(setInterval(() => {
          try {
            if ((cg.cpuMs() ?? 0) >= limits.cpuMs) kill('cpu')
          } catch { /* group gone */ }
        }, every))
      }
      const onAbort = (): void => { kill('abort') }
      if (req.signal !== undefined) {
        if (req.signal.aborted) onAbort()
        else req.signal.addEventListener('abort', onAbort, { once: true })
      }

      const finish = (): void => {
        if (settled) return
        settled = true
        const wallMs = performance.now() - t0
        for (const t of timers) clearTimeout(t)
        if (fallback !== null) clearTimeout(fallback)
        req.signal?.removeEventListener('abort', onAbort)
        this.running.delete(abortKill)
        // Nothing of the job may outlive it: the pid namespace is gone with
        // its pid 1; without bwrap, the group and the cgroup are swept.
        killTree()
        let stats = { cpuMs: null as number | null, memoryKb: null as number | null, oomKilled: false, pidsLimitHit: false }
        try { if (cg !== null) stats = cg.finish() } catch { /* group gone */ }
        const out = output.finish()
        let code = exitCode
        let signal = exitSignal
        // bwrap and the pid-1 shell report a program killed by signal N as 128+N.
        if (bw !== null && signal === null && code !== null && code > 128 && code < 128 + 65 && started) {
          signal = SIGNAL_NAMES.get(code - 128) ?? `SIG${code - 128}`
          code = null
        }
        let setupFailed: string | null = null
        if (spawnError !== null) setupFailed = spawnError
        else if (!started && killedFor === null) setupFailed = out.stderr.trim() || `the sandbox did not start (exit ${String(exitCode ?? exitSignal)})`
        resolve({
          stdout: out.stdout,
          stderr: out.stderr,
          truncated: out.truncated,
          code,
          signal,
          wallMs: Math.round(wallMs * 10) / 10,
          cpuMs: stats.cpuMs === null ? null : Math.round(stats.cpuMs * 10) / 10,
          memoryKb: stats.memoryKb,
          killedFor,
          oomKilled: stats.oomKilled,
          pidsLimitHit: stats.pidsLimitHit,
          setupFailed,
        })
      }

      child.on('error', (err) => {
        spawnError = `cannot start the sandbox: ${err.message}`
        finish()
      })
      child.on('exit', (code, signal) => {
        exited = true
        exitCode = code
        exitSignal = signal
        killTree()
        // Normally every pipe closes with the sandbox; never wait long for one that does not.
        timers.push(setTimeout(() => {
          for (const s of [child.stdout, child.stderr, status]) s?.destroy()
          finish()
        }, 500))
      })
      child.on('close', finish)
    })
  }
}
