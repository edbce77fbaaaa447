/**
 * Hostile programs: each must end with a precise status, leave nothing
 * running, reach nothing outside its sandbox, and leave the executor able
 * to run a normal job right after.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { randomUUID } from 'node:crypto'
import { writeFile, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import type { ExecResult, Executor, JobSpec } from '../../src/exec/types.ts'
import { cleanup, job, newExecutor, processesOfUids, processesWith, tempDir, TEST_LIMITS } from './helpers.ts'

const UID_BASE = 64400
let ex: Executor
/** A generous wall clock, so that CPU burners meet the CPU limit first even on a loaded machine (a client's timeMs lowers both). */
let cpuEx: Executor
let dataDir: string

beforeAll(async () => {
  dataDir = await tempDir()
  ex = await newExecutor({ dataDir, uidBase: UID_BASE })
  cpuEx = await newExecutor({ uidBase: UID_BASE + 50, limits: { ...TEST_LIMITS, run: { ...TEST_LIMITS!.run, cpuMs: 500, wallMs: 20_000 } } })
})
afterAll(cleanup)

const HELLO = job('c', '#include <stdio.h>\nint main(void) { puts("still fine"); return 0; }')

/** Runs a hostile job, then checks nothing of it is left and a normal job still works. */
async function contained (spec: JobSpec, on: Executor = ex): Promise<ExecResult> {
  // The job id as a last argument marks the job's processes in /proc.
  const r = await on.run({ ...spec, args: [...spec.args, spec.id] })
  expect(await processesWith(spec.id)).toEqual([])
  expect(await processesOfUids(UID_BASE, UID_BASE + 100)).toEqual([])
  const after = await on.run({ ...HELLO, id: randomUUID() })
  expect(after.status).toBe('ok')
  expect(after.run!.stdout).toBe('still fine\n')
  return r
}

describe('resource attacks end with a precise status', () => {
  test('a CPU loop → time_limit (cpu)', async () => {
    const r = await contained(job('c', 'int main(void) { for (;;); }'), cpuEx)
    expect(r.status).toBe('time_limit')
    expect(r.run!.limit).toBe('cpu')
    expect(r.message).toBe('CPU time limit of 500 ms exceeded')
    expect(r.run!.cpuMs).toBeGreaterThanOrEqual(500)
  })

  test('a Python CPU loop → time_limit (cpu)', async () => {
    const r = await contained(job('python', 'while True:\n    pass'), cpuEx)
    expect(r.status).toBe('time_limit')
    expect(r.run!.limit).toBe('cpu')
  })

  test('many processes burning CPU are limited together → time_limit (cpu)', async () => {
    const src = '#include <unistd.h>\nint main(void) { for (int i = 0; i < 7; i++) fork(); for (;;); }'
    const r = await contained(job('c', src), cpuEx)
    expect(r.status).toBe('time_limit')
    expect(r.run!.limit).toBe('cpu')
    // 128 processes, each far below RLIMIT_CPU: stopped at 0.5 s of CPU all together.
    expect(r.run!.cpuMs).toBeGreaterThanOrEqual(500)
    expect(r.run!.cpuMs).toBeLessThan(1000)
  })

  test('a sleeper → time_limit (wall)', async () => {
    const r = await contained(job('python', 'import time\ntime.sleep(60)', { limits: { timeMs: 500 } }))
    expect(r.status).toBe('time_limit')
    expect(r.run!.limit).toBe('wall')
    expect(r.run!.wallMs).toBeLessThan(2000)
  })

  test('a fork bomb is contained', async () => {
    const r = await contained(job('c', '#include <unistd.h>\nint main(void) { for (;;) fork(); }', { limits: { processes: 32 } }), cpuEx)
    expect(r.status).toBe('time_limit')
    expect(r.run!.limit).toBe('cpu')
  })

  test('a Python fork bomb that gives up → runtime_error naming the process limit', async () => {
    const r = await contained(job('python', 'import os\nwhile True:\n    os.fork()', { limits: { timeMs: 2000, processes: 16 } }))
    expect(r.status).toBe('runtime_error')
    expect(r.run!.limit).toBe('processes')
    expect(r.message).toMatch(/process limit of 16 reached/)
  })

  test.each([
    ['c', '#include <stdlib.h>\n#include <string.h>\nint main(void) { for (;;) { char *p = malloc(1 << 20); if (!p) return 9; memset(p, 1, 1 << 20); } }'],
    ['python', 'a = []\nwhile True:\n    a.append(bytearray(1 << 20))'],
    ['java', 'import java.util.*;\npublic class Main { public static void main(String[] x) { List<long[]> l = new ArrayList<>(); while (true) l.add(new long[1 << 17]); } }'],
    ['js', 'const a = []\nfor (;;) a.push(new Array(1 << 16).fill(1.5))'],
  ])('a %s memory hog → memory_limit', async (lang, src) => {
    const r = await contained(job(lang, src, { limits: { memoryMb: 64, timeMs: 3000 } }))
    expect(r.status, JSON.stringify({ ...r, compile: null })).toBe('memory_limit')
    expect(r.run!.limit).toBe('memory')
    expect(r.message).toBe('memory limit of 64 MiB exceeded')
  })

  test('a stdout flood → output_limit, cut with a marker', async () => {
    const r = await contained(job('c', '#include <stdio.h>\nint main(void) { for (;;) puts("yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"); }', { limits: { outputBytes: 65536 } }))
    expect(r.status).toBe('output_limit')
    expect(r.run!.truncated).toBe(true)
    expect(r.run!.limit).toBe('output')
    expect(r.run!.stdout).toContain('output truncated')
    expect(Buffer.byteLength(r.run!.stdout)).toBeLessThan(65536 + 200)
  })

  test('a stderr flood of multi-byte characters → output_limit, valid UTF-8', async () => {
    const r = await contained(job('python', 'import sys\nwhile True:\n    sys.stderr.write("€ü" * 1000)', { limits: { outputBytes: 10001 } }))
    expect(r.status).toBe('output_limit')
    expect(r.run!.stderr).not.toContain('\ufffd')
  })

  test('one big file → runtime_error at the disk limit', async () => {
    const r = await contained(job('python', 'with open("big", "wb") as f:\n    while True:\n        f.write(b"x" * 65536)'))
    expect(r.status).toBe('runtime_error')
    expect(r.run!.limit).toBe('disk')
    expect(r.message).toMatch(/disk limit/)
  })

  test('many small files in /tmp → runtime_error at the disk limit', async () => {
    const r = await contained(job('python', 'i = 0\nwhile True:\n    open(f"/tmp/f{i}", "wb").write(b"x" * 8192)\n    i += 1'))
    expect(r.status).toBe('runtime_error')
    expect(r.run!.limit).toBe('disk')
  })

  test('reading stdin forever ends at EOF', async () => {
    const r = await contained(job('python', 'import sys\nwhile True:\n    if sys.stdin.read(1) == "":\n        break\nprint("eof")', { stdin: 'abc' }))
    expect(r.status).toBe('ok')
    expect(r.run!.stdout).toBe('eof\n')
  })

  test('a daemon that escapes into its own session dies with the job', async () => {
    const marker = randomUUID()
    const src = `import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(300)\n    os._exit(0)\nprint("parent done")`
    const r = await contained(job('python', src, { id: marker }))
    expect(r.status).toBe('ok')
    expect(await processesOfUids(UID_BASE, UID_BASE + 100)).toEqual([])
  })
})

describe('isolation', () => {
  let server: Server
  let connections = 0
  let port = 0
  beforeAll(async () => {
    server = createServer((s) => { connections++; s.destroy() })
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res))
    port = (server.address() as { port: number }).port
  })
  afterAll(async () => { await new Promise((res) => server.close(res)) })

  test('cannot reach the network', async () => {
    const src = `import socket\nfor host in ["127.0.0.1", "1.1.1.1"]:\n    try:\n        socket.create_connection((host, ${port}), timeout=1)\n        print("connected", host)\n    except OSError as e:\n        print("refused", host, e.errno)`
    const r = await contained(job('python', src))
    expect(r.status).toBe('ok')
    expect(r.run!.stdout).not.toContain('connected')
    expect(connections).toBe(0)
  })

  test('cannot read secrets of the node or the host', async () => {
    const secret = `secret-${randomUUID()}`
    const inData = join(dataDir, 'identity.key')
    const inRoot = `/root/meshrun-test-secret-${randomUUID()}`
    await writeFile(inData, secret)
    await writeFile(inRoot, secret)
    process.env.MESHRUN_TEST_SECRET = secret
    try {
      const paths = [inData, inRoot, '/etc/shadow', '/proc/1/environ', `/proc/${process.pid}/environ`, '/proc/self/environ']
      const src = `import os\nfor p in ${JSON.stringify(paths)}:\n    try:\n        print(p, open(p, "rb").read()[:200])\n    except OSError as e:\n        print(p, "denied", e.errno)\nprint(dict(os.environ))\nfor d in ["/", "/etc", "/root", "/home"]:\n    try:\n        print(d, os.listdir(d))\n    except OSError as e:\n        print(d, "denied")`
      const r = await contained(job('python', src))
      expect(r.status).toBe('ok')
      expect(r.run!.stdout).not.toContain(secret)
      for (const p of [inData, inRoot, '/etc/shadow', `/proc/${process.pid}/environ`]) expect(r.run!.stdout).toContain(`${p} denied`)
    } finally {
      delete process.env.MESHRUN_TEST_SECRET
      await rm(inRoot, { force: true })
    }
  })

  test('cannot write outside its job dir, nor keep files between jobs', async () => {
    const src = 'import os\nfor p in ["/usr/x", "/etc/x", "/x", "/dev/x", "/proc/x"]:\n    try:\n        open(p, "w").write("x")\n        print("wrote", p)\n    except OSError:\n        pass\nopen("/box/left", "w").write("x")\nopen("/tmp/left", "w").write("x")'
    const r = await contained(job('python', src))
    expect(r.status).toBe('ok')
    expect(r.run!.stdout).toBe('')
    const next = await ex.run(job('python', 'import os\nprint(os.path.exists("/box/left"), os.path.exists("/tmp/left"))'))
    expect(next.run!.stdout).toBe('False False\n')
  })

  test('runs as an unprivileged uid without capabilities', async () => {
    const src = 'import os\ncaps = [l.split()[1] for l in open("/proc/self/status") if l.startswith("Cap")]\nprint(os.getuid() != 0, len(caps), set(caps))'
    const r = await contained(job('python', src))
    expect(r.run!.stdout).toBe("True 5 {'0000000000000000'}\n")
  })

  test('killing everything it can see hurts nobody else', async () => {
    const r = await contained(job('python', 'import os, signal\nos.kill(-1, signal.SIGKILL)\nprint("survived")'))
    expect(['ok', 'runtime_error']).toContain(r.status)
  })
})
