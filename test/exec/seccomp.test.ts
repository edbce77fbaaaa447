/**
 * The seccomp filter: the program's decisions (run by a small classic-BPF
 * interpreter on made-up syscalls), its syscall numbers (checked against the
 * kernel headers), and the real thing: inside the sandbox every denied call
 * fails with its errno, a foreign ABI is killed, and the runtimes still work.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { existsSync, readFileSync } from 'node:fs'
import { AF, CLONE_NS_FLAGS, DENIED, ERRNO, SECCOMP_RET, seccompProgram, syscallNumbers, type SeccompArch } from '../../src/exec/seccomp.ts'
import type { Executor } from '../../src/exec/types.ts'
import { cleanup, job, newExecutor } from './helpers.ts'

/** Runs a classic-BPF seccomp program on one seccomp_data; returns the action. */
function runFilter (prog: Buffer, data: { nr: number, arch: number, args?: number[] }): number {
  const mem = Buffer.alloc(64)
  mem.writeInt32LE(data.nr, 0)
  mem.writeUInt32LE(data.arch, 4)
  ;(data.args ?? []).forEach((a, i) => { mem.writeBigUInt64LE(BigInt(a), 16 + 8 * i) })
  let A = 0
  for (let pc = 0, steps = 0; steps < 1000; steps++) {
    const at = pc * 8
    if (at + 8 > prog.length) throw new Error(`fell off the program at ${pc}`)
    const code = prog.readUInt16LE(at)
    const jt = prog.readUInt8(at + 2)
    const jf = prog.readUInt8(at + 3)
    const k = prog.readUInt32LE(at + 4)
    switch (code) {
      case 0x20: A = mem.readUInt32LE(k); pc++; break
      case 0x06: return k
      case 0x15: pc += 1 + (A === k ? jt : jf); break
      case 0x35: pc += 1 + (A >= k ? jt : jf); break
      case 0x45: pc += 1 + ((A & k) !== 0 ? jt : jf); break
      default: throw new Error(`unexpected opcode ${code.toString(16)}`)
    }
  }
  throw new Error('no return')
}

const ARCH = { x64: 0xc000003e, arm64: 0xc00000b7, i386: 0x40000003, arm: 0x40000028 }
const EPERM = SECCOMP_RET.ERRNO | ERRNO.EPERM
const ENOSYS = SECCOMP_RET.ERRNO | ERRNO.ENOSYS
const EAFNOSUPPORT = SECCOMP_RET.ERRNO | ERRNO.EAFNOSUPPORT

describe.each(['x64', 'arm64'] as SeccompArch[])('the %s program', (arch) => {
  const prog = seccompProgram(arch)
  const nr = syscallNumbers(arch)
  const native = ARCH[arch]
  const call = (n: number, args: number[] = []): number => runFilter(prog, { nr: n, arch: native, args })

  test('is a whole number of instructions, within the kernel\'s limit', () => {
    expect(prog.length % 8).toBe(0)
    expect(prog.length / 8).toBeLessThan(4096)
  })

  test('allows ordinary syscalls', () => {
    const ordinary = arch === 'x64' ? [0, 1, 2, 3, 9, 12, 39, 57, 59, 60, 202, 231, 257, 334] : [56, 57, 63, 64, 93, 94, 98, 172, 214, 221, 222, 260, 293]
    for (const n of ordinary) expect(call(n), `syscall ${n}`).toBe(SECCOMP_RET.ALLOW)
  })

  test('kills other ABIs', () => {
    expect(runFilter(prog, { nr: 20, arch: arch === 'x64' ? ARCH.i386 : ARCH.arm })).toBe(SECCOMP_RET.KILL_PROCESS)
    if (arch === 'x64') expect(call(0x40000000 | 39)).toBe(SECCOMP_RET.KILL_PROCESS)
  })

  test('denies every listed syscall with EPERM', () => {
    let known = 0
    for (const name of DENIED) {
      const n = nr[name]
      if (n === undefined) continue
      known++
      expect(call(n), name).toBe(EPERM)
    }
    expect(known).toBeGreaterThan(40)
  })

  test('sockets: unix, inet, inet6 and netlink-route only', () => {
    for (const sys of [nr.socket!, nr.socketpair!]) {
      for (const fam of [AF.UNIX, AF.INET, AF.INET6]) expect(call(sys, [fam, 1, 0])).toBe(SECCOMP_RET.ALLOW)
      expect(call(sys, [AF.NETLINK, 3, 0])).toBe(SECCOMP_RET.ALLOW)
      for (const fam of [AF.VSOCK, AF.PACKET, AF.ALG, 0, 3, 4, 5, 31, 44, 45, 46]) expect(call(sys, [fam, 1, 0]), `family ${fam}`).toBe(EAFNOSUPPORT)
      for (const proto of [4, 9, 12, 15]) expect(call(sys, [AF.NETLINK, 3, proto])).toBe(EAFNOSUPPORT)
    }
    // The kernel reads the family as an int: high bits do not smuggle one through.
    expect(call(nr.socket!, [0x1_0000_0000 + AF.VSOCK, 1, 0])).toBe(EAFNOSUPPORT)
  })

  test('clone: threads and processes yes, namespaces no; clone3 falls back', () => {
    const thread = 0x3d0f00 // CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID
    expect(call(nr.clone!, [thread])).toBe(SECCOMP_RET.ALLOW)
    expect(call(nr.clone!, [17])).toBe(SECCOMP_RET.ALLOW) // fork: SIGCHLD
    for (const flag of [0x10000000, 0x20000000, 0x40000000, 0x00020000, 0x00000080, 0x02000000, 0x04000000, 0x08000000]) {
      expect(flag & CLONE_NS_FLAGS).toBe(flag)
      expect(call(nr.clone!, [17 | flag])).toBe(EPERM)
    }
    expect(call(nr.clone3!, [0, 88])).toBe(ENOSYS)
  })
})

/** `#define __NR_name N` lines of a header. */
function headerNumbers (file: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const m of readFileSync(file, 'utf8').matchAll(/^#define __NR3?2?_(\w+)\s+(\d+)\s*$/gm)) out.set(m[1]!, Number(m[2]))
  return out
}

const HEADERS: Record<SeccompArch, string> = { x64: '/usr/include/x86_64-linux-gnu/asm/unistd_64.h', arm64: '/usr/include/asm-generic/unistd.h' }
test.each(['x64', 'arm64'] as SeccompArch[])('the %s syscall numbers match the kernel headers', (arch) => {
  if (!existsSync(HEADERS[arch])) { console.log(`${HEADERS[arch]} missing: not checked`); return }
  const h = headerNumbers(HEADERS[arch])
  for (const [name, n] of Object.entries(syscallNumbers(arch))) expect(h.get(name), name).toBe(n)
  // A listed syscall the header knows must be in the table too.
  const missing = DENIED.filter((name) => h.has(name) && syscallNumbers(arch)[name] === undefined)
  expect(missing).toEqual([])
})

const native = process.arch === 'x64' || process.arch === 'arm64'
if (!native) console.log(`seccomp sandbox tests skipped: no filter for ${process.arch} (x64 and arm64 only)`)
if (process.arch !== 'x64') console.log(`i386/x32 ABI test skipped: ${process.arch} is not x64`)
describe.skipIf(!native)('in the sandbox', () => {
  let ex: Executor
  beforeAll(async () => { ex = await newExecutor({ uidBase: 64600 }) })
  afterAll(cleanup)

  test('the filter is listed as enforced, and no warning says otherwise', () => {
    expect(ex.sandbox.enforced.some((e) => e.startsWith('seccomp filter'))).toBe(true)
    expect(ex.sandbox.warnings.join('\n')).not.toMatch(/seccomp/)
  })

  test('denied calls fail with their errno and the program goes on', async () => {
    const src = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <unistd.h>
static void t (const char *what, long r) { printf("%s %ld %d\n", what, r, r < 0 ? errno : 0); }
int main (void) {
  char buf[64] = {0};
  t("io_uring_setup", syscall(SYS_io_uring_setup, 8, buf));
  t("keyctl", syscall(SYS_keyctl, 0, 0, 0, 0, 0));
  t("add_key", syscall(SYS_add_key, "user", "x", "y", 1, -2));
  t("bpf", syscall(SYS_bpf, 0, buf, 48));
  t("perf_event_open", syscall(SYS_perf_event_open, buf, 0, -1, -1, 0));
  t("userfaultfd", syscall(SYS_userfaultfd, 0));
  t("ptrace", syscall(SYS_ptrace, 0, 0, 0, 0));
  t("mount", syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, 0));
  t("umount2", syscall(SYS_umount2, "/tmp", 0));
  t("unshare", syscall(SYS_unshare, CLONE_NEWUSER));
  t("setns", syscall(SYS_setns, 0, 0));
  t("clone_newns", syscall(SYS_clone, CLONE_NEWNS | 17, 0, 0, 0, 0));
  t("clone3", syscall(SYS_clone3, buf, 88));
  t("vsock", socket(40, SOCK_STREAM, 0));
  t("packet", socket(17, SOCK_RAW, 0));
  t("alg", socket(38, SOCK_SEQPACKET, 0));
  t("netlink_audit", socket(16, SOCK_RAW, 9));
  long u = socket(AF_UNIX, SOCK_STREAM, 0); t("unix", u < 0 ? u : 0);
  long i = socket(AF_INET, SOCK_STREAM, 0); t("inet", i < 0 ? i : 0);
  long n = socket(16, SOCK_RAW, 0); t("netlink_route", n < 0 ? n : 0);
  return 0;
}`
    const r = await ex.run(job('c', src))
    expect(r.status, r.message).toBe('ok')
    const got = Object.fromEntries(r.run!.stdout.trim().split('\n').map((l) => { const [k, ret, err] = l.split(' '); return [k, `${ret} ${err}`] }))
    const eperm = ['io_uring_setup', 'keyctl', 'add_key', 'bpf', 'perf_event_open', 'userfaultfd', 'ptrace', 'mount', 'umount2', 'unshare', 'setns', 'clone_newns']
    for (const k of eperm) expect(got[k], k).toBe('-1 1')
    expect(got.clone3).toBe('-1 38')
    for (const k of ['vsock', 'packet', 'alg', 'netlink_audit']) expect(got[k], k).toBe('-1 97')
    for (const k of ['unix', 'inet', 'netlink_route']) expect(got[k], k).toBe('0 0')
  })

  test.skipIf(process.arch !== 'x64')('the i386 and x32 syscall ABIs kill the process', async () => {
    const i386 = 'int main (void) { int r; __asm__ volatile ("int $0x80" : "=a"(r) : "a"(20)); return r > 0 ? 0 : 1; }'
    const x32 = '#include <unistd.h>\n#include <sys/syscall.h>\nint main (void) { return syscall(0x40000000 | 39) > 0 ? 0 : 1; }'
    for (const src of [i386, x32]) {
      const r = await ex.run(job('c', src))
      expect(r.status).toBe('runtime_error')
      expect(r.run!.signal).toBe('SIGSYS')
      expect(r.message).toBe('killed by signal SIGSYS')
    }
  })

  test.each([
    ['python', 'import socket, subprocess, threading, os, errno\n'
      + 't = threading.Thread(target=lambda: None); t.start(); t.join()\n'
      + 'print(subprocess.run(["/bin/echo", "child"], capture_output=True, text=True).stdout.strip())\n'
      + 'try:\n    socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)\nexcept OSError as e:\n    print("vsock", errno.errorcode[e.errno])\n'
      + 'import multiprocessing\nwith multiprocessing.Pool(2) as p:\n    print(sum(p.map(abs, [-1, -2, 3])))\n',
    'child\nvsock EAFNOSUPPORT\n6\n'],
    ['js', 'const { execFileSync } = require("child_process")\nconst { Worker } = require("worker_threads")\n'
      + 'console.log(execFileSync("/bin/echo", ["child"]).toString().trim())\n'
      // The worker starts once the read is done: the two lines come in that order.
      + 'require("fs").promises.readFile("/proc/self/status", "utf8").then((s) => {\n'
      + '  console.log(/Seccomp:\\s+2/.test(s))\n'
      + '  new Worker("require(\'worker_threads\').parentPort.postMessage(6)", { eval: true }).on("message", (m) => console.log(m))\n'
      + '})\n',
    'child\ntrue\n6\n'],
    ['java', 'import java.util.concurrent.*;\npublic class Main { public static void main(String[] a) throws Exception {\n'
      + '  Process p = new ProcessBuilder("/bin/echo", "child").start(); System.out.println(new String(p.getInputStream().readAllBytes()).trim());\n'
      + '  ExecutorService ex = Executors.newFixedThreadPool(4); System.out.println(ex.submit(() -> 6).get()); ex.shutdown();\n'
      + '  java.nio.channels.ServerSocketChannel.open(); System.out.println("nio");\n} }',
    'child\n6\nnio\n'],
    ['cpp', '#include <iostream>\n#include <thread>\n#include <future>\nint main () { auto f = std::async(std::launch::async, [] { return 6; }); std::thread t([] {}); t.join(); std::cout << f.get() << std::endl; }', '6\n'],
  ])('%s still runs: threads, child processes, sockets', async (lang, src, out) => {
    const r = await ex.run(job(lang, src, { limits: { timeMs: 5000 } }))
    expect(r.status, `${r.message ?? ''} ${r.compile?.stderr ?? ''} ${r.run?.stderr ?? ''}`).toBe('ok')
    expect(r.run!.stdout).toBe(out)
  })

  test('no fd of the node reaches the job', async () => {
    const r = await ex.run(job('python', 'import os\nprint(sorted(int(f) for f in os.listdir("/proc/self/fd")))'))
    // 0-2 and the directory being listed.
    expect(r.run!.stdout).toBe('[0, 1, 2, 3]\n')
  })
})
