/**
 * What the sandbox is made of: its configuration, the per-stage limits, the
 * script that starts one stage, and how a stage's end is read. The process
 * that runs the script is a zygote (zygote.ts).
 *
 * The chain for one stage, forked by the identity's zygote (root, already in
 * the uid's cgroups, so nothing migrates between cgroups per job: a cgroup
 * move costs an RCU grace period, measured at ~15 ms on a busy machine):
 *
 *   subshell (root): oom_score_adj 0, rlimits, stdin from a file, then
 *   setpriv: uid/gid of the slot, no groups, no capabilities (inheritable,
 *            bounding), no-new-privs
 *   bwrap:   user/pid/net/ipc/uts/cgroup namespaces, --disable-userns,
 *            --die-with-parent, --new-session, read-only /usr (+ toolchain
 *            dirs), /box and /tmp from the uid's workspace, size-limited
 *            /dev/shm, read-only /dev and /, --clearenv, and the seccomp
 *            filter (seccomp.ts) read from fd 5, which the script opens on
 *            the node's copy of the program (bwrap reads and closes it)
 *   /bin/sh as pid 1 (--as-pid-1): says "started" on fd 3, runs the program,
 *            reaps orphans, exits with its status
 *
 * A shell as pid 1 instead of bwrap's own init: bwrap's monitor exits before
 * its init is reaped, which leaves a zombie (re-parented to the host's init)
 * counting against the uid for up to seconds; this way every process of the
 * job is reaped before bwrap returns.
 */
import { constants } from 'node:os'
import type { CgroupSupport } from './cgroups.ts'
import { SECCOMP_SUMMARY } from './seccomp.ts'
import type { SandboxInfo } from './types.ts'

export interface SandboxConfig {
  /** Absolute path of bwrap, or null to run without it (allowUnsandboxed). */
  bwrap: string | null
  /** Absolute path of setpriv when running as root (switch to the slot's uid), else null. */
  setpriv: string | null
  cgroups: CgroupSupport
  /** Workspaces are size-limited tmpfs mounts. */
  tmpfsWorkspaces: boolean
  /** Extra read-only binds (toolchains outside /usr, their config dirs). */
  roBinds: readonly string[]
  /** File holding the seccomp filter (seccomp.ts) that bwrap installs; null or absent: none. */
  seccomp?: string | null
}

/** Everything the sandbox enforces for one stage (already adjusted for the language). */
export interface SandboxLimits {
  cpuMs: number
  wallMs: number
  outputBytes: number
  /** RLIMIT_NPROC of the slot uid (includes the sandbox's own two processes). */
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

/** A little grace on the wall clock, so that a CPU-bound program meets its CPU limit (the more precise cause) first. */
export function wallDeadline (wallMs: number): number {
  return wallMs + Math.max(200, wallMs / 10)
}

/** What a sandbox with this config enforces, for `meshrun status`. */
export function describeSandbox (c: SandboxConfig): SandboxInfo {
  const enforced: string[] = []
  const warnings: string[] = []
  if (c.bwrap !== null) {
    enforced.push('bubblewrap', 'user/pid/net/ipc/uts/cgroup namespaces', 'no nested user namespaces', 'read-only system dirs', 'cleared environment', 'no-new-privs')
  } else {
    warnings.push('UNSANDBOXED: bubblewrap is missing and --allow-unsandboxed is set; jobs see the node\'s file system and network')
  }
  if (c.setpriv !== null) enforced.push('uid per job slot', 'no capabilities')
  else warnings.push('not running as root: jobs run under the node\'s own uid, without a process limit or cgroups')
  enforced.push('rlimit cpu', 'rlimit fsize', 'rlimit nofile', 'rlimit core=0')
  if (c.setpriv !== null) enforced.push('rlimit nproc')
  if (c.cgroups.memory !== null) enforced.push('cgroup memory')
  else warnings.push('no memory cgroup: memory bounded by rlimit as (C, C++, Python) and heap flags (Java, JavaScript) only')
  if (c.cgroups.pids !== null) enforced.push('cgroup pids')
  if (c.cgroups.cpuacct !== null) enforced.push('cgroup cpuacct (CPU of all processes together)')
  else warnings.push('no cpuacct cgroup: CPU time is limited per process (rlimit cpu) and by the wall clock only')
  if (c.cgroups.cpu !== null) enforced.push('cgroup cpu (the jobs together weigh a program per slot, at most two per core)')
  else warnings.push('no cpu cgroup: each busy job weighs as much as the node, which many jobs at once can slow down')
  if (c.tmpfsWorkspaces) enforced.push('size-limited tmpfs job dir and /tmp')
  else warnings.push('job dirs are plain directories: disk use is limited per file (rlimit fsize), not in total')
  enforced.push('wall-clock kill', 'output cap')
  if (c.bwrap !== null && (c.seccomp ?? null) !== null) enforced.push(SECCOMP_SUMMARY)
  else if (c.bwrap !== null) warnings.push('no seccomp filter: AF_VSOCK sockets, io_uring, keyctl, bpf and perf_event_open are open to jobs')
  return { kind: c.bwrap !== null ? 'bubblewrap' : 'none', enforced, warnings }
}

/** Shell quoting. */
export function q (s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`
}

/** The fd on which bwrap reads the seccomp program. */
const SECCOMP_FD = 5

/**
 * pid 1 of the sandbox: announce the start, run the program (stdin passed
 * explicitly: a background job would get /dev/null), reap, exit with its
 * status (128+N for signal N).
 */
const INIT = 'printf . >&3; exec 3>&- 4<&0; "$@" <&4 4<&- & exec 4<&- 0</dev/null; wait $!'

export interface StageScript {
  /** -1: stay who we are. */
  uid: number
  box: string
  tmp: string
  /** File holding the stdin, or null for /dev/null. */
  stdinFile: string | null
  limits: SandboxLimits
  argv: readonly string[]
}

function bwrapArgs (c: SandboxConfig, s: StageScript): string[] {
  const a = [
    c.bwrap!,
    '--unshare-all', '--unshare-user', '--disable-userns', '--die-with-parent', '--new-session', '--as-pid-1',
    '--hostname', 'meshrun',
    '--ro-bind', '/usr', '/usr',
    '--symlink', 'usr/bin', '/bin', '--symlink', 'usr/sbin', '/sbin', '--symlink', 'usr/lib', '/lib', '--symlink', 'usr/lib64', '/lib64',
    '--ro-bind-try', '/etc/ld.so.cache', '/etc/ld.so.cache',
    '--ro-bind-try', '/etc/alternatives', '/etc/alternatives',
  ]
  for (const p of c.roBinds) a.push('--ro-bind', p, p)
  if ((c.seccomp ?? null) !== null) a.push('--seccomp', String(SECCOMP_FD))
  a.push(
    '--proc', '/proc',
    '--dev', '/dev', '--size', String(s.limits.shmBytes), '--tmpfs', '/dev/shm', '--remount-ro', '/dev',
    '--bind', s.box, '/box', '--bind', s.tmp, '/tmp',
    '--chdir', '/box',
    '--remount-ro', '/',
    '--clearenv', '--setenv', 'PATH', '/usr/bin:/bin', '--setenv', 'HOME', '/box', '--setenv', 'TMPDIR', '/tmp', '--setenv', 'LANG', 'C.UTF-8',
    '--', '/bin/sh', '-c', INIT, 'init',
  )
  return a
}

/** Processes RLIMIT_NPROC allows beyond the pids cgroup's limit (see stageScript). */
const NPROC_HEADROOM = 4

/** The script a zygote sources (in a subshell) to start one stage; it ends in `exec`. */
export function stageScript (c: SandboxConfig, s: StageScript): string {
  const l = s.limits
  const cpuSoft = Math.ceil(l.cpuMs / 1000) + (c.cgroups.cpuacct !== null ? 1 : 0)
  const steps = [`ulimit -St ${cpuSoft}`, `ulimit -Ht ${cpuSoft + 1}`]
  // With a pids cgroup (it holds the zygote too, and its pids.events says
  // that the limit was hit), RLIMIT_NPROC is a backstop a little above it:
  // at the same value it counts a slightly different set (the uid's
  // processes, released on their own schedule) and tripped first in about
  // one Python fork bomb in ten, which then ended as a plain runtime error
  // instead of naming the process limit.
  if (c.setpriv !== null) steps.push(`ulimit -p ${l.processes + (c.cgroups.pids !== null ? NPROC_HEADROOM : 0)}`)
  steps.push(`ulimit -n ${l.openFiles}`, `ulimit -f ${Math.ceil(l.fileBytes / 512)}`, 'ulimit -c 0')
  if (l.addressSpaceBytes !== null) steps.push(`ulimit -v ${Math.ceil(l.addressSpaceBytes / 1024)}`)
  const lines: string[] = []
  // The zygote is shielded from the OOM killer; the job must not be.
  if (c.setpriv !== null) lines.push('echo 0 >/proc/self/oom_score_adj')
  lines.push(`${steps.join(' && ')} || { echo "meshrun: sandbox launch failed" >&2; exit 125; }`)
  lines.push(s.stdinFile === null ? 'exec </dev/null' : `exec <${q(s.stdinFile)}`)
  const drop = c.setpriv === null || s.uid < 0
    ? []
    : [c.setpriv, '--reuid', String(s.uid), '--regid', String(s.uid), '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--']
  if (c.bwrap !== null) {
    const seccomp = c.seccomp ?? null
    const filter = seccomp === null ? '' : ` ${SECCOMP_FD}<${q(seccomp)}`
    lines.push(`exec ${[...drop, ...bwrapArgs(c, s), ...s.argv].map(q).join(' ')}${filter}`)
  } else {
    // No bwrap: the script is the only wrapper; announce the start here.
    lines.push(`cd ${q(s.box)} || exit 125`)
    lines.push(`export HOME=${q(s.box)} TMPDIR=${q(s.tmp)} LANG=C.UTF-8`)
    lines.push('printf . >&3; exec 3>&-')
    lines.push(`exec ${[...drop, ...s.argv].map(q).join(' ')}`)
  }
  return lines.join('\n') + '\n'
}

/** Signal number → name; the first name wins (SIGABRT, not its alias SIGIOT). */
const SIGNAL_NAMES = new Map<number, string>()
for (const [name, n] of Object.entries(constants.signals)) if (!SIGNAL_NAMES.has(n)) SIGNAL_NAMES.set(n, name)

/** A shell's exit status: 128+N is "killed by signal N" (bwrap and the pid-1 shell report it so). */
export function decodeStatus (status: number, started: boolean): { code: number | null; signal: string | null } {
  if (started && status > 128 && status < 128 + 65) return { code: null, signal: SIGNAL_NAMES.get(status - 128) ?? `SIG${status - 128}` }
  return { code: status, signal: null }
}
