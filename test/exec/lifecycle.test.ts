/**
 * The executor's lifecycle: rejection before anything runs, abort, the
 * missing-sandbox policy, and stop.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { execFile, spawn } from 'node:child_process'
import { chmod, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { SandboxUnavailableError, UnknownLanguageError, createExecutor } from '../../src/exec/index.ts'
import { jobsCpuShares, nodeCpuGroup, probeCgroups } from '../../src/exec/cgroups.ts'
import type { Executor } from '../../src/exec/types.ts'
import { cleanup, files, job, newExecutor, processesWith, tempDir } from './helpers.ts'

let ex: Executor
beforeAll(async () => { ex = await newExecutor({ slots: 1, limits: { job: { maxSourceBytes: 1000 } } }) })
afterAll(cleanup)

describe('rejected before anything runs', () => {
  test.each([
    ['a bad file name', job('python', files(['../evil.py', 'print(1)']))],
    ['an absolute file name', job('python', files(['/tmp/x.py', 'print(1)']))],
    ['duplicate file names', job('python', files(['a.py', ''], ['a.py', '']))],
    ['an oversized source', job('python', files(['a.py', '#'.repeat(1001)]))],
    ['an unknown language', job('cobol', files(['a.cob', 'x']))],
    ['a C job without a .c file', job('c', files(['util.h', 'int x;']))],
  ])('%s', async (_what, spec) => {
    const r = await ex.run(spec)
    expect(r.status).toBe('rejected')
    expect(r.message).toBeTruthy()
    expect(r.compile).toBeNull()
    expect(r.run).toBeNull()
  })

  test('a language excluded by langs is rejected, others run', async () => {
    const only = await newExecutor({ langs: ['py', 'calc'] })
    expect(only.languages.map((l) => l.name)).toEqual(['python', 'calc'])
    const r = await only.run(job('c', 'int main(void) { return 0; }'))
    expect(r.status).toBe('rejected')
    expect(r.message).toMatch(/not available/)
    expect((await only.run(job('python', 'print(2)'))).run!.stdout).toBe('2\n')
  })

  test('an unknown language in langs fails start-up', async () => {
    const err = await createExecutor({ dataDir: await tempDir(), slots: 1, langs: ['python', 'klingon'] }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UnknownLanguageError)
    expect((err as Error).name).toBe('UnknownLanguageError')
  })
})

describe('compile limits', () => {
  test('a compile stopped by a limit is a compile_error naming the limit, and is not cached', async () => {
    const tight = await newExecutor({ slots: 1, langs: ['cpp'], limits: { compile: { cpuMs: 100, wallMs: 10_000 } } })
    const src = '#include <iostream>\n#include <map>\n#include <regex>\nint main() { std::cout << "hi\\n"; }'
    const r = await tight.run(job('cpp', src))
    expect(r.status).toBe('compile_error')
    expect(r.compile!.limit).toBe('cpu')
    expect(r.message).toBe('compilation failed: CPU time limit of 100 ms exceeded')
    expect(r.run).toBeNull()
    expect((await tight.run(job('cpp', src))).compile!.cached).toBe(false)
  })
})

describe('abort', () => {
  test('aborting a running job kills it at once', async () => {
    const ac = new AbortController()
    const t0 = Date.now()
    const running = ex.run(job('python', 'import time\ntime.sleep(30)', { limits: { timeMs: 3000 } }), {
      signal: ac.signal,
      onStage: (s) => { if (s === 'run') setTimeout(() => { ac.abort() }, 200) },
    })
    const r = await running
    expect(r.status).toBe('error')
    expect(r.message).toBe('cancelled')
    expect(Date.now() - t0).toBeLessThan(2500)
    expect((await ex.run(job('python', 'print("next")'))).run!.stdout).toBe('next\n')
  })

  test('an abort at the very start of a stage still kills it', async () => {
    const ac = new AbortController()
    const t0 = Date.now()
    const r = await ex.run(job('python', 'import time\ntime.sleep(30)', { limits: { timeMs: 3000 } }), {
      signal: ac.signal,
      onStage: (s) => { if (s === 'run') ac.abort() },
    })
    expect(r.status).toBe('error')
    expect(r.message).toBe('cancelled')
    expect(Date.now() - t0).toBeLessThan(2500)
  })

  test('a job aborted while waiting for a slot never starts', async () => {
    const busy = ex.run(job('python', 'import time\ntime.sleep(0.5)'))
    const ac = new AbortController()
    const stages: string[] = []
    const waiting = ex.run(job('python', 'print(1)'), { signal: ac.signal, onStage: (s) => stages.push(s) })
    ac.abort()
    expect((await waiting).status).toBe('error')
    expect(stages).toEqual([])
    expect((await busy).status).toBe('ok')
  })
})

describe('no sandbox', () => {
  test('without bubblewrap, start-up refuses unless allowed', async () => {
    const err = await createExecutor({ dataDir: await tempDir(), slots: 1, bwrapPath: '/nonexistent/bwrap' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SandboxUnavailableError)
    expect((err as Error).name).toBe('SandboxUnavailableError')
    expect((err as Error).message).toMatch(/bubblewrap/)
  })

  test('allowed without bubblewrap, it runs and says so loudly', async () => {
    const bare = await newExecutor({ slots: 1, bwrapPath: '/nonexistent/bwrap', allowUnsandboxed: true, langs: ['python'] })
    expect(bare.sandbox.kind).toBe('none')
    expect(bare.sandbox.warnings.join(' ')).toMatch(/UNSANDBOXED/)
    const r = await bare.run(job('python', 'import os\nprint(os.getcwd() != "/box", os.getuid() != 0)'))
    expect(r.status).toBe('ok')
    expect(r.run!.stdout).toBe('True True\n')
    const slow = await bare.run(job('python', 'import time\ntime.sleep(10)', { limits: { timeMs: 300 } }))
    expect(slow.status).toBe('time_limit')
  })
})

describe('not root', () => {
  if (process.getuid?.() !== 0) console.log('non-root fallback test skipped: it drops from root to a plain uid, so it needs root')
  test.skipIf(process.getuid?.() !== 0)('without root it runs jobs as the node\'s uid and says what it cannot enforce', async () => {
    const dir = await tempDir()
    await chmod(dir, 0o777)
    const script = join(dir, 'nonroot.ts')
    await writeFile(script, [
      `import { createExecutor } from ${JSON.stringify(join(import.meta.dirname, '..', '..', 'src', 'exec', 'index.ts'))}`,
      `const ex = await createExecutor({ dataDir: ${JSON.stringify(join(dir, 'data'))}, slots: 1, langs: ['python'] })`,
      `const r = await ex.run({ id: 'x', language: 'python', files: [{ name: 'a.py', content: 'import os\\nprint(os.getuid())' }], stdin: '', args: [] })`,
      'await ex.stop()',
      'console.log(JSON.stringify({ sandbox: ex.sandbox, status: r.status, stdout: r.run?.stdout }))',
    ].join('\n'))
    const out = await new Promise<string>((resolve, reject) => {
      execFile('setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', process.execPath, script], { cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir } }, (err, stdout, stderr) => {
        if (err !== null) reject(new Error(`${err.message}\n${stderr}`))
        else resolve(stdout)
      })
    })
    const r = JSON.parse(out.trim().split('\n').pop()!) as { sandbox: { kind: string; warnings: string[] }; status: string; stdout: string }
    expect(r.status).toBe('ok')
    expect(r.stdout).toBe('65534\n')
    expect(r.sandbox.kind).toBe('bubblewrap')
    expect(r.sandbox.warnings.join(' ')).toMatch(/not running as root/)
  })
})

describe('the node dies', () => {
  test('its jobs die with it', async () => {
    const dir = await tempDir()
    const marker = `sleeper-${Date.now()}`
    const script = join(dir, 'dies.ts')
    await writeFile(script, [
      `import { createExecutor } from ${JSON.stringify(join(import.meta.dirname, '..', '..', 'src', 'exec', 'index.ts'))}`,
      `const ex = await createExecutor({ dataDir: ${JSON.stringify(join(dir, 'data'))}, slots: 1, langs: ['python'] })`,
      `void ex.run({ id: 'x', language: 'python', files: [{ name: 'a.py', content: 'import time\\ntime.sleep(60)' }], stdin: '', args: [${JSON.stringify(marker)}] }, { onStage: (s) => { if (s === 'run') setTimeout(() => { console.log('running') }, 300) } })`,
    ].join('\n'))
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] })
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('running')) resolve() })
      child.on('exit', () => { reject(new Error('the node exited early')) })
    })
    expect((await processesWith(marker)).length).toBeGreaterThan(0)
    child.kill('SIGKILL')
    const deadline = Date.now() + 3000
    while ((await processesWith(marker)).length > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50))
    expect(await processesWith(marker)).toEqual([])
  })
})

describe('stop', () => {
  test('stop kills running jobs and later jobs get an error', async () => {
    const own = await newExecutor({ slots: 1, langs: ['python'] })
    const running = own.run(job('python', 'import time\ntime.sleep(30)'))
    await new Promise((res) => setTimeout(res, 300))
    await own.stop()
    const r = await running
    expect(r.status).toBe('error')
    expect(r.message).toMatch(/stopped/)
    expect((await own.run(job('python', 'print(1)'))).status).toBe('error')
  })

  test('the sandbox describes what it enforces', () => {
    expect(ex.sandbox.kind).toBe('bubblewrap')
    expect(ex.sandbox.enforced).toEqual(expect.arrayContaining(['uid per job slot', 'cgroup memory', 'rlimit nproc']))
  })
})

describe('CPU weight', () => {
  test('every process of a job is in its own cpu subgroup of its node\'s jobs\' group, which weighs a program per slot, at most two per core', async () => {
    const cpu = (await probeCgroups(1)).cpu
    if (cpu === null) {
      console.log('skipped: no writable cgroup v1 cpu controller on this machine')
      return
    }
    // The executors of this file run in this process: their node is this process.
    expect(Number((await readFile(join(cpu, nodeCpuGroup(), 'cpu.shares'), 'utf8')).trim())).toBe(jobsCpuShares(1))
    expect([jobsCpuShares(1, 2), jobsCpuShares(3, 2), jobsCpuShares(30, 2), jobsCpuShares(30, 8)]).toEqual([1024, 3072, 4096, 16384])
    const marker = `cpu-weight-${process.pid}`
    const ac = new AbortController()
    const running = ex.run(job('python', 'import time\ntime.sleep(30)', { args: [marker] }), { signal: ac.signal })
    let pids: number[] = []
    for (let i = 0; i < 100 && pids.length === 0; i++) {
      await new Promise((res) => setTimeout(res, 50))
      pids = await processesWith(marker)
    }
    expect(pids.length).toBeGreaterThan(0)
    for (const pid of pids) {
      const line = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).split('\n').find((l) => /^\d+:[^:]*\bcpu\b/.test(l))
      expect(line).toMatch(new RegExp(`:/${nodeCpuGroup()}/\\d+$`))
    }
    ac.abort()
    expect((await running).status).toBe('error')
  })
})
