/** The pure parts of the sandbox: the stage script and status decoding. */
import { describe, expect, test } from 'vitest'
import { execFileSync } from 'node:child_process'
import { decodeStatus, q, stageScript, wallDeadline, type SandboxConfig } from '../../src/exec/sandbox.ts'

const MiB = 1024 * 1024
const limits = { cpuMs: 1500, wallMs: 2000, outputBytes: MiB, processes: 66, openFiles: 256, fileBytes: 64 * MiB, memoryBytes: 256 * MiB, addressSpaceBytes: null, shmBytes: MiB }
const config: SandboxConfig = {
  bwrap: '/usr/bin/bwrap',
  setpriv: '/usr/bin/setpriv',
  cgroups: { memory: '/sys/fs/cgroup/memory', pids: '/sys/fs/cgroup/pids', cpuacct: '/sys/fs/cgroup/cpuacct', cpu: '/sys/fs/cgroup/cpu', memsw: true },
  tmpfsWorkspaces: true,
  roBinds: ['/etc/java-17-openjdk'],
  seccomp: '/var/lib/meshrun/seccomp.bpf',
}

describe('stageScript', () => {
  const script = stageScript(config, { uid: 64001, box: '/ws/box', tmp: '/ws/tmp', stdinFile: '/ws/stdin', limits, argv: ['./a.out', "it's", 'two\nlines'] })

  test('drops to the slot uid with nothing left, then starts bwrap with every namespace', () => {
    expect(script).toContain("'/usr/bin/setpriv' '--reuid' '64001' '--regid' '64001' '--clear-groups' '--inh-caps=-all' '--bounding-set=-all' '--no-new-privs'")
    for (const flag of ['--unshare-all', '--unshare-user', '--disable-userns', '--die-with-parent', '--new-session', '--as-pid-1', '--clearenv']) {
      expect(script).toContain(`'${flag}'`)
    }
    expect(script).toContain("'--ro-bind' '/etc/java-17-openjdk' '/etc/java-17-openjdk'")
    expect(script).toContain("'--bind' '/ws/box' '/box'")
    expect(script).toContain("exec <'/ws/stdin'")
  })

  test('hands bwrap the seccomp filter on fd 5, and none without a filter', () => {
    expect(script).toContain("'--seccomp' '5'")
    expect(script).toMatch(/ 5<'\/var\/lib\/meshrun\/seccomp\.bpf'\n$/)
    const without = stageScript({ ...config, seccomp: null }, { uid: 64001, box: '/ws/box', tmp: '/ws/tmp', stdinFile: null, limits, argv: ['x'] })
    expect(without).not.toContain('--seccomp')
    expect(without).not.toContain('5<')
  })

  test('sets the rlimits, CPU with a second of slack when cgroups count CPU, processes with a little above the pids cgroup\'s limit', () => {
    expect(script).toContain('ulimit -St 3 && ulimit -Ht 4 && ulimit -p 70 && ulimit -n 256 && ulimit -f 131072 && ulimit -c 0')
    expect(script).not.toContain('ulimit -v')
    const fallback = stageScript({ ...config, cgroups: { memory: null, pids: null, cpuacct: null, cpu: null, memsw: false } }, {
      uid: 64001, box: '/ws/box', tmp: '/ws/tmp', stdinFile: null, limits: { ...limits, addressSpaceBytes: 320 * MiB }, argv: ['x'],
    })
    expect(fallback).toContain('ulimit -St 2 && ulimit -Ht 3 && ulimit -p 66 &&')
    expect(fallback).toContain(`ulimit -v ${320 * 1024}`)
    expect(fallback).toContain('exec </dev/null')
  })

  test('quotes every argument for the shell', () => {
    for (const s of ["it's", 'two\nlines', '$(reboot)', '`x`', '"', '\\', '', '*']) {
      expect(execFileSync('/bin/sh', ['-c', `printf '%s' ${q(s)}`]).toString()).toBe(s)
    }
    expect(script).toContain(`${q("it's")} ${q('two\nlines')}`)
  })
})

describe('decodeStatus', () => {
  test('128+N is signal N once the program started', () => {
    expect(decodeStatus(134, true)).toEqual({ code: null, signal: 'SIGABRT' })
    expect(decodeStatus(137, true)).toEqual({ code: null, signal: 'SIGKILL' })
    expect(decodeStatus(139, true)).toEqual({ code: null, signal: 'SIGSEGV' })
    expect(decodeStatus(3, true)).toEqual({ code: 3, signal: null })
    expect(decodeStatus(137, false)).toEqual({ code: 137, signal: null })
  })

  test('the wall clock has a little grace', () => {
    expect(wallDeadline(500)).toBe(700)
    expect(wallDeadline(10_000)).toBe(11_000)
  })
})
