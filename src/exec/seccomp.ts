/**
 * The sandbox's seccomp filter: a classic-BPF program, built here as raw
 * bytes (no libseccomp, no native code) and handed to bubblewrap
 * (`--seccomp FD`), which installs it just before it executes the sandbox's
 * pid 1. Every process of the job inherits it and cannot remove it.
 *
 * The policy is a denylist on top of what the namespaces, the unprivileged
 * uid and the missing capabilities already forbid. It closes what those
 * leave open (AF_VSOCK sockets reach the host through any network
 * namespace; io_uring, keyrings, bpf, perf and userfaultfd are large kernel
 * attack surfaces) and turns the rest into a clean EPERM, so that a runtime
 * that probes a feature degrades instead of dying:
 *
 *  - another syscall ABI (i386 via `int 0x80`, x32; arm32 on arm64): the
 *    process is killed (SIGSYS); no runtime we start uses one;
 *  - `socket`/`socketpair` for any family but AF_UNIX, AF_INET, AF_INET6
 *    and AF_NETLINK (NETLINK_ROUTE only, for getifaddrs): EAFNOSUPPORT, as
 *    if the family were not built into the kernel;
 *  - `clone` with a namespace flag: EPERM; `clone3` (flags out of reach in
 *    memory): ENOSYS, on which glibc falls back to `clone`;
 *  - the syscalls in DENIED: EPERM.
 *
 * Program layout: check the ABI, load the syscall number, one comparison
 * per special or denied syscall, allow; then the argument checks and the
 * shared return instructions (jumps are relative and forward only, at most
 * 255 instructions: `assemble` checks).
 */

export type SeccompArch = 'x64' | 'arm64'

/** Denied with EPERM. Each is either privileged anyway, an escape tool, or kernel surface no job needs. */
export const DENIED = [
  // file systems and namespaces
  'mount', 'umount2', 'pivot_root', 'chroot', 'unshare', 'setns',
  'open_tree', 'move_mount', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'mount_setattr',
  'name_to_handle_at', 'open_by_handle_at', 'quotactl', 'quotactl_fd', 'swapon', 'swapoff', 'acct',
  // kernel surfaces
  'io_uring_setup', 'io_uring_enter', 'io_uring_register',
  'keyctl', 'add_key', 'request_key',
  'bpf', 'perf_event_open', 'userfaultfd', 'fanotify_init', 'lookup_dcookie', 'syslog',
  // other processes
  'ptrace', 'process_vm_readv', 'process_vm_writev', 'kcmp', 'pidfd_getfd',
  // the machine
  'init_module', 'finit_module', 'delete_module', 'kexec_load', 'kexec_file_load', 'reboot',
  'settimeofday', 'clock_settime', 'clock_adjtime', 'sethostname', 'setdomainname', 'vhangup',
  // x86 only (legacy or hardware access)
  'iopl', 'ioperm', 'uselib', 'ustat', 'sysfs', '_sysctl', 'create_module', 'get_kernel_syms', 'query_module', 'nfsservctl',
] as const
export type DeniedSyscall = (typeof DENIED)[number]
type Special = 'socket' | 'socketpair' | 'clone' | 'clone3'

/** Syscall numbers (asm/unistd_64.h; asm-generic/unistd.h for arm64). A missing entry: no such syscall there. */
const NUMBERS: Record<SeccompArch, Partial<Record<DeniedSyscall | Special, number>>> = {
  x64: {
    socket: 41, socketpair: 53, clone: 56, clone3: 435,
    mount: 165, umount2: 166, pivot_root: 155, chroot: 161, unshare: 272, setns: 308,
    open_tree: 428, move_mount: 429, fsopen: 430, fsconfig: 431, fsmount: 432, fspick: 433, mount_setattr: 442,
    name_to_handle_at: 303, open_by_handle_at: 304, quotactl: 179, quotactl_fd: 443, swapon: 167, swapoff: 168, acct: 163,
    io_uring_setup: 425, io_uring_enter: 426, io_uring_register: 427,
    keyctl: 250, add_key: 248, request_key: 249,
    bpf: 321, perf_event_open: 298, userfaultfd: 323, fanotify_init: 300, lookup_dcookie: 212, syslog: 103,
    ptrace: 101, process_vm_readv: 310, process_vm_writev: 311, kcmp: 312, pidfd_getfd: 438,
    init_module: 175, finit_module: 313, delete_module: 176, kexec_load: 246, kexec_file_load: 320, reboot: 169,
    settimeofday: 164, clock_settime: 227, clock_adjtime: 305, sethostname: 170, setdomainname: 171, vhangup: 153,
    iopl: 172, ioperm: 173, uselib: 134, ustat: 136, sysfs: 139, _sysctl: 156, create_module: 174, get_kernel_syms: 177, query_module: 178, nfsservctl: 180,
  },
  arm64: {
    socket: 198, socketpair: 199, clone: 220, clone3: 435,
    mount: 40, umount2: 39, pivot_root: 41, chroot: 51, unshare: 97, setns: 268,
    open_tree: 428, move_mount: 429, fsopen: 430, fsconfig: 431, fsmount: 432, fspick: 433, mount_setattr: 442,
    name_to_handle_at: 264, open_by_handle_at: 265, quotactl: 60, quotactl_fd: 443, swapon: 224, swapoff: 225, acct: 89,
    io_uring_setup: 425, io_uring_enter: 426, io_uring_register: 427,
    keyctl: 219, add_key: 217, request_key: 218,
    bpf: 280, perf_event_open: 241, userfaultfd: 282, fanotify_init: 262, lookup_dcookie: 18, syslog: 116,
    ptrace: 117, process_vm_readv: 270, process_vm_writev: 271, kcmp: 272, pidfd_getfd: 438,
    init_module: 105, finit_module: 273, delete_module: 106, kexec_load: 104, kexec_file_load: 294, reboot: 142,
    settimeofday: 170, clock_settime: 112, clock_adjtime: 266, sethostname: 161, setdomainname: 162, vhangup: 58,
    nfsservctl: 42,
  },
}

/** AUDIT_ARCH_* values (linux/audit.h): what `seccomp_data.arch` holds for the native ABI. */
const AUDIT_ARCH: Record<SeccompArch, number> = { x64: 0xc000003e, arm64: 0xc00000b7 }
/** x32 syscalls are x86_64 ones with this bit set in the number. */
const X32_SYSCALL_BIT = 0x40000000

export const AF = { UNIX: 1, INET: 2, INET6: 10, NETLINK: 16, PACKET: 17, VSOCK: 40, ALG: 38 } as const
const NETLINK_ROUTE = 0
/** CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWTIME. */
export const CLONE_NS_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00000080

export const ERRNO = { EPERM: 1, ENOSYS: 38, EAFNOSUPPORT: 97 } as const
export const SECCOMP_RET = { KILL_PROCESS: 0x80000000, ERRNO: 0x00050000, ALLOW: 0x7fff0000 } as const

/** Offsets in struct seccomp_data (little-endian: an argument's low 32 bits come first). */
const OFF = { nr: 0, arch: 4, arg: (i: number) => 16 + 8 * i }

/** Classic BPF opcodes used here (linux/filter.h). */
const OP = { LD_W_ABS: 0x20, JEQ_K: 0x15, JGE_K: 0x35, JSET_K: 0x45, RET_K: 0x06 } as const

type Label = string
/** An instruction; jump targets are labels (or 0: the next instruction). */
type Insn =
  | { op: 'ld', off: number }
  | { op: 'jeq' | 'jge' | 'jset', k: number, jt: Label | 0, jf: Label | 0 }
  | { op: 'ret', k: number }
  | { op: 'label', name: Label }

/** Turns instructions with labels into sock_filter structs (8 bytes each: u16 code, u8 jt, u8 jf, u32 k). */
function assemble (prog: Insn[]): Buffer {
  const real = prog.filter((i) => i.op !== 'label')
  const at = new Map<Label, number>()
  let n = 0
  for (const i of prog) {
    if (i.op === 'label') at.set(i.name, n)
    else n++
  }
  const buf = Buffer.alloc(real.length * 8)
  real.forEach((i, pc) => {
    const rel = (target: Label | 0): number => {
      if (target === 0) return 0
      const to = at.get(target)
      if (to === undefined) throw new Error(`seccomp: unknown label ${target}`)
      const d = to - pc - 1
      if (d < 0 || d > 255) throw new Error(`seccomp: jump to ${target} out of range (${d})`)
      return d
    }
    let code: number, jt = 0, jf = 0, k: number
    switch (i.op) {
      case 'ld': code = OP.LD_W_ABS; k = i.off; break
      case 'ret': code = OP.RET_K; k = i.k; break
      default:
        code = i.op === 'jeq' ? OP.JEQ_K : i.op === 'jge' ? OP.JGE_K : OP.JSET_K
        k = i.k; jt = rel(i.jt); jf = rel(i.jf)
    }
    buf.writeUInt16LE(code, pc * 8)
    buf.writeUInt8(jt, pc * 8 + 2)
    buf.writeUInt8(jf, pc * 8 + 3)
    buf.writeUInt32LE(k >>> 0, pc * 8 + 4)
  })
  return buf
}

/** The architecture of this process as the filter knows it, or null when there is no table for it. */
export function seccompArch (arch: string = process.arch): SeccompArch | null {
  return arch === 'x64' || arch === 'arm64' ? arch : null
}

/** The filter program for `arch` (raw sock_filter array, as bwrap --seccomp reads it). */
export function seccompProgram (arch: SeccompArch): Buffer {
  const nr = NUMBERS[arch]
  const p: Insn[] = [
    { op: 'ld', off: OFF.arch },
    { op: 'jeq', k: AUDIT_ARCH[arch], jt: 0, jf: 'kill' },
    { op: 'ld', off: OFF.nr },
  ]
  if (arch === 'x64') p.push({ op: 'jge', k: X32_SYSCALL_BIT, jt: 'kill', jf: 0 })
  p.push(
    { op: 'jeq', k: nr.socket!, jt: 'socket', jf: 0 },
    { op: 'jeq', k: nr.socketpair!, jt: 'socket', jf: 0 },
    { op: 'jeq', k: nr.clone!, jt: 'clone', jf: 0 },
    { op: 'jeq', k: nr.clone3!, jt: 'enosys', jf: 0 },
  )
  for (const name of DENIED) {
    const n = nr[name]
    if (n !== undefined) p.push({ op: 'jeq', k: n, jt: 'eperm', jf: 0 })
  }
  p.push(
    { op: 'ret', k: SECCOMP_RET.ALLOW },
    { op: 'label', name: 'socket' },
    { op: 'ld', off: OFF.arg(0) },
    { op: 'jeq', k: AF.UNIX, jt: 'allow', jf: 0 },
    { op: 'jeq', k: AF.INET, jt: 'allow', jf: 0 },
    { op: 'jeq', k: AF.INET6, jt: 'allow', jf: 0 },
    { op: 'jeq', k: AF.NETLINK, jt: 0, jf: 'eafnosupport' },
    { op: 'ld', off: OFF.arg(2) },
    { op: 'jeq', k: NETLINK_ROUTE, jt: 'allow', jf: 'eafnosupport' },
    { op: 'label', name: 'clone' },
    { op: 'ld', off: OFF.arg(0) },
    { op: 'jset', k: CLONE_NS_FLAGS, jt: 'eperm', jf: 'allow' },
    { op: 'label', name: 'allow' },
    { op: 'ret', k: SECCOMP_RET.ALLOW },
    { op: 'label', name: 'kill' },
    { op: 'ret', k: SECCOMP_RET.KILL_PROCESS },
    { op: 'label', name: 'eperm' },
    { op: 'ret', k: SECCOMP_RET.ERRNO | ERRNO.EPERM },
    { op: 'label', name: 'enosys' },
    { op: 'ret', k: SECCOMP_RET.ERRNO | ERRNO.ENOSYS },
    { op: 'label', name: 'eafnosupport' },
    { op: 'ret', k: SECCOMP_RET.ERRNO | ERRNO.EAFNOSUPPORT },
  )
  return assemble(p)
}

/** The syscall numbers the filter knows for `arch` (for tests that check them against the kernel headers). */
export function syscallNumbers (arch: SeccompArch): Readonly<Partial<Record<DeniedSyscall | Special, number>>> {
  return NUMBERS[arch]
}

/** One line for SandboxInfo.enforced. */
export const SECCOMP_SUMMARY = 'seccomp filter (native syscall ABI only; sockets: unix, inet, inet6, netlink-route; no namespaces, mount, io_uring, keyrings, bpf, perf, ptrace, userfaultfd, modules, kexec)'
