/**
 * One real node process, real sandbox and compilers, driven through the CLI
 * and the client library over libp2p.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { closeSync, openSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MeshClient } from '../../src/client/client.ts'
import type { JobEvent } from '../../src/node/schemas.ts'
import type { JobSpec } from '../../src/exec/types.ts'
import { BIN, NODE, ROOT, cli, startNode, stopAll, waitFor, type NodeProc } from '../helpers/procs.ts'

let node: NodeProc
let client: MeshClient

beforeAll(async () => {
  node = await startNode(['--max-jobs', '2', '--cache-max', '64'])
  client = await MeshClient.connect({ node: node.hostPort })
})

afterAll(async () => {
  await client?.close()
  await stopAll()
})

const ex = (...p: string[]): string => join(ROOT, 'examples', ...p)

function job (language: string, name: string, content: string, extra: Partial<JobSpec> = {}): JobSpec {
  return { id: randomUUID(), language, files: [{ name, content }], stdin: '', args: [], ...extra }
}

describe('the CLI runs every language', () => {
  const cases: Array<[string, string[]]> = [
    ['python', [ex('python', 'hello.py')]],
    ['c', [ex('c', 'hello.c')]],
    ['cpp', [ex('cpp', 'hello.cpp')]],
    ['java', [ex('java', 'hello.java')]],
    ['js', [ex('js', 'hello.js')]],
  ]
  test.each(cases)('%s hello world', async (_lang, files) => {
    const r = await cli(['run', '--node', node.hostPort, ...files])
    expect(r.stderr).toBe('')
    expect(r.stdout).toBe('Hello, world!\n')
    expect(r.code).toBe(0)
  })

  test('calc with -e', async () => {
    const r = await cli(['run', '--node', node.hostPort, '--lang', 'calc', '-e', '4 * (2 + 3)'])
    expect(r.stdout).toBe('20\n')
    expect(r.code).toBe(0)
  })

  test.each(['c', 'cpp', 'java', 'python', 'js'])('%s multi-file directory', async (lang) => {
    const r = await cli(['run', '--node', node.hostPort, '--json', ex(lang, 'multi')])
    const result = JSON.parse(r.stdout)
    expect(result.status, r.stdout + r.stderr).toBe('ok')
    expect(result.run.stdout.length).toBeGreaterThan(0)
  })

  test('stdin and args reach the program', async () => {
    const r = await cli(['run', '--node', node.hostPort, '--stdin', '-', '--arg', 'a', '--arg', 'b c', ex('python', 'stdin.py')], { stdin: '1 2 3\n4\n' })
    expect(r.stdout).toBe('10\nargs: a b c\n')
    expect(r.code).toBe(0)
  })

  test('a file redirected to stdin reaches the program without --stdin; a pipe does not', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshrun-stdin-'))
    let proc: ChildProcess | undefined
    try {
      const input = join(dir, 'input.txt')
      await writeFile(input, '5 6\n7\n')
      const fd = openSync(input, 'r')
      const run = proc = spawn(NODE, [BIN, 'run', '--node', node.hostPort, ex('python', 'stdin.py')], { stdio: [fd, 'pipe', 'pipe'] })
      closeSync(fd)
      let out = ''
      run.stdout!.on('data', (d: Buffer) => { out += d.toString() })
      run.stderr!.resume()
      const code = await new Promise((resolve) => run.on('exit', resolve))
      expect(out).toBe('18\nargs:\n')
      expect(code).toBe(0)
      // A pipe (the helper writes and closes one) is read only with --stdin -.
      const piped = await cli(['run', '--node', node.hostPort, ex('python', 'stdin.py')], { stdin: '1 2 3\n' })
      expect(piped.stdout).toBe('0\nargs:\n')
    } finally {
      if (proc?.exitCode === null) proc.kill('SIGKILL')
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('--json prints one result object with the documented fields', async () => {
    const r = await cli(['run', '--node', node.hostPort, '--json', '--id', `json-${randomUUID()}`, ex('c', 'hello.c')])
    const result = JSON.parse(r.stdout)
    expect(Object.keys(result)).toEqual(expect.arrayContaining(['id', 'status', 'language', 'node', 'compile', 'run', 'queuedMs']))
    expect(result.node).toBe(node.id)
    expect(result.language).toBe('c')
    for (const stage of [result.compile, result.run]) {
      expect(Object.keys(stage)).toEqual(expect.arrayContaining(['stdout', 'stderr', 'code', 'signal', 'wallMs']))
    }
  })

  test('exit codes: the program\'s own, and distinct ones for other outcomes', async () => {
    const exit3 = await cli(['run', '--node', node.hostPort, '--lang', 'python', '-e', 'import sys; sys.exit(3)'])
    expect(exit3.code).toBe(3)
    const compileError = await cli(['run', '--node', node.hostPort, ex('c', 'compile_error.c')])
    expect(compileError.code).toBe(121)
    expect(compileError.stderr).toMatch(/error/)
    const unknown = await cli(['run', '--node', node.hostPort, '--lang', 'cobol', ex('c', 'hello.c')])
    expect(unknown.code).toBe(120)
    expect(unknown.stderr).toMatch(/unknown language/)
    const unreachable = await cli(['run', '--node', '127.0.0.1:1', ex('c', 'hello.c')])
    expect(unreachable.code).toBe(125)
    expect(unreachable.stderr).toMatch(/cannot reach node/)
  })
})

describe('outcomes are reported precisely', () => {
  test('compile error vs runtime error', async () => {
    const ce = await client.run(job('c', 'bad.c', 'int main( { return 0; }'))
    expect(ce.status).toBe('compile_error')
    expect(ce.compile?.stderr).toMatch(/error/)
    expect(ce.run).toBeNull()
    const re = await client.run(job('c', 'crash.c', '#include <stdlib.h>\nint main(void){ abort(); }'))
    expect(re.status).toBe('runtime_error')
    expect(re.run?.signal).toBe('SIGABRT')
  })

  test('time limit', async () => {
    const r = await client.run(job('c', 'loop.c', 'int main(void){ for(;;); }', { limits: { timeMs: 500 } }))
    expect(r.status).toBe('time_limit')
  })

  test('memory limit', async () => {
    const r = await client.run(job('python', 'hog.py', 'x = []\nwhile True:\n    x.append(bytearray(1 << 20))\n', { limits: { memoryMb: 64 } }))
    expect(r.status).toBe('memory_limit')
  })

  test('output limit, with the output cut', async () => {
    const r = await client.run(job('python', 'flood.py', 'while True:\n    print("y" * 1000)\n', { limits: { outputBytes: 10_000 } }))
    expect(r.status).toBe('output_limit')
    expect(r.run?.truncated).toBe(true)
    expect(r.run!.stdout.length).toBeLessThan(20_000)
  })

  test('a repeated C submission skips compilation', async () => {
    const src = `#include <stdio.h>\nint main(void){ puts("cache ${randomUUID()}"); return 0; }\n`
    const first = await client.run(job('c', 'c.c', src))
    const second = await client.run(job('c', 'c.c', src))
    expect(first.status).toBe('ok')
    expect(first.compile?.cached).not.toBe(true)
    expect(second.status).toBe('ok')
    expect(second.compile?.cached).toBe(true)
    expect(second.run?.stdout).toBe(first.run?.stdout)
    // The cache's bound is the node's --cache-max; what it holds is in the status.
    const { cache } = (await client.status()).local
    expect(cache?.maxBytes).toBe(64 * 1024 * 1024)
    expect(cache?.entries).toBeGreaterThanOrEqual(1)
    expect(cache?.bytes).toBeGreaterThan(4096)
    expect((await cli(['status', '--node', node.hostPort])).stdout).toMatch(/^cache {5}\d+ entries, \d+\.\d MiB of 64\.0 MiB$/m)
  })

  test('output streams while the program runs', async () => {
    const events: Array<{ e: JobEvent, at: number }> = []
    const src = 'import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.3)\n'
    const r = await client.run(job('python', 's.py', src), { onEvent: (e) => events.push({ e, at: Date.now() }) })
    expect(r.run?.stdout).toBe('0\n1\n2\n')
    const outputs = events.filter((x) => x.e.t === 'output')
    expect(outputs.length).toBeGreaterThanOrEqual(2)
    const resultAt = events.find((x) => x.e.t === 'result')!.at
    // The first line arrived well before the end of the program.
    expect(resultAt - outputs[0]!.at).toBeGreaterThan(400)
  })
})

describe('many clients at once', () => {
  test('20 clients on a node with --max-jobs 2 all get correct results and see queue positions', async () => {
    const clients = await Promise.all(Array.from({ length: 20 }, async () => await MeshClient.connect({ node: node.hostPort })))
    try {
      const positions: number[][] = clients.map(() => [])
      const results = await Promise.all(clients.map(async (c, i) => {
        const src = `import time\ntime.sleep(0.2)\nprint(${i} * ${i})\n`
        return await c.run(job('python', 'sq.py', src), { onEvent: (e) => { if (e.t === 'queued') positions[i]!.push(e.position) } })
      }))
      results.forEach((r, i) => {
        expect(r.status).toBe('ok')
        expect(r.run?.stdout).toBe(`${i * i}\n`)
      })
      const sawQueue = positions.filter((p) => p.length > 0)
      expect(sawQueue.length).toBeGreaterThan(10)
      expect(Math.max(...positions.flat())).toBeGreaterThanOrEqual(10)
      const status = await client.status()
      expect(status.local.running).toBe(0)
    } finally {
      await Promise.all(clients.map(async (c) => { await c.close() }))
    }
  })
})

describe('one client, many jobs', () => {
  test('150 jobs in flight from one client (beyond libp2p\'s default of 64 streams a protocol)', async () => {
    const results = await Promise.all(Array.from({ length: 150 }, async (_, i) => await client.run(job('calc', 'a.calc', `${i} * 2`))))
    results.forEach((r, i) => { expect(r.run?.stdout).toBe(`${i * 2}\n`) })
  })
})

describe('status', () => {
  test('status --json shows the peer id, languages, load and running jobs', async () => {
    const slow = client.run(job('python', 'slow.py', 'import time\ntime.sleep(4)\nprint("done")\n'))
    await waitFor(async () => ((await client.status()).local.running > 0 ? true : undefined), 3000, 'the job to run')
    const r = await cli(['status', '--node', node.hostPort, '--json'])
    expect(r.code).toBe(0)
    const s = JSON.parse(r.stdout)
    expect(s.self).toBe(node.id)
    expect(s.local.languages.map((l: { name: string }) => l.name)).toEqual(expect.arrayContaining(['python', 'c', 'cpp', 'java', 'js', 'calc']))
    expect(typeof s.local.cpu).toBe('number')
    expect(s.local.jobs.some((j: { language: string }) => j.language === 'python')).toBe(true)
    expect((await slow).status).toBe('ok')
    const text = await cli(['status', '--node', node.hostPort])
    expect(text.stdout).toContain(node.id)
  })
})
