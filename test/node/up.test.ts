/**
 * `meshrun up`: a Ctrl-C stops every node it started, cleanly, even when the
 * signal reaches it twice (from the terminal and from bin/meshrun.js, which
 * passes signals on), and it waits for them before it exits. And when up
 * itself is killed outright, its nodes stop too (their stdin closes).
 */
import { afterAll, expect, test } from 'vitest'
import { spawn } from 'node:child_process'
import { BIN, NODE, freePort, stopAll, tempDir, waitFor } from '../helpers/procs.ts'

afterAll(stopAll)

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

test('a doubled SIGINT stops all nodes cleanly (exit 0 each) before up exits', async () => {
  const port = await freePort(2)
  const up = spawn(NODE, [BIN, 'up', '-n', '2', '--port', String(port), '--data-root', await tempDir()], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  up.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d })
  const exited = new Promise<number | null>((resolve) => { up.on('exit', (code) => { resolve(code) }) })
  let clean = false
  try {
    // Each node's last start-up line, a JSON log line with its pid.
    const readyLines = (): string[] => out.split('\n').filter((l) => /ready, max \d+ jobs/.test(l))
    await waitFor(async () => (readyLines().length >= 2 ? true : undefined), 30_000, 'both nodes ready').catch((err: Error) => { throw new Error(`${err.message}; up printed:\n${out.slice(-3000)}`) })
    const pids = readyLines().map((l) => Number(/"pid":(\d+)/.exec(l)?.[1]))
    expect(new Set(pids).size).toBe(2)
    up.kill('SIGINT')
    up.kill('SIGINT')
    expect(await exited).toBe(0)
    expect(out.match(/exited \(0\)/g)?.length).toBe(2)
    expect(out.match(/stopping \(SIGTERM\)/g)?.length).toBe(2)
    for (const pid of new Set(pids)) expect(alive(pid)).toBe(false)
    clean = true
  } finally {
    // On failure: stop up's nodes too (a SIGKILLed up would leave them running).
    if (!clean) await stopUp()
  }

  async function stopUp (): Promise<void> {
    up.kill('SIGTERM') // up stops its nodes and waits for them
    const stopped = await Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => { resolve(false) }, 10_000))])
    if (stopped) return
    up.kill('SIGKILL')
    for (const m of out.matchAll(/"pid":(\d+)/g)) { try { process.kill(Number(m[1]), 'SIGKILL') } catch { /* gone */ } }
  }
})

test('a SIGKILLed up leaves no node running: each stops when its stdin closes', async () => {
  const port = await freePort(2)
  const up = spawn(NODE, [BIN, 'up', '-n', '2', '--port', String(port), '--data-root', await tempDir()], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  up.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d })
  const readyLines = (): string[] => out.split('\n').filter((l) => /ready, max \d+ jobs/.test(l))
  let pids: number[] = []
  try {
    await waitFor(async () => (readyLines().length >= 2 ? true : undefined), 30_000, 'both nodes ready').catch((err: Error) => { throw new Error(`${err.message}; up printed:\n${out.slice(-3000)}`) })
    pids = readyLines().map((l) => Number(/"pid":(\d+)/.exec(l)?.[1]))
    expect(pids.every(alive)).toBe(true)
    up.kill('SIGKILL')
    await waitFor(async () => (pids.every((p) => !alive(p)) ? true : undefined), 15_000, 'up\'s nodes to stop after up was killed')
  } finally {
    up.kill('SIGKILL')
    for (const pid of pids) { try { process.kill(pid, 'SIGKILL') } catch { /* gone */ } }
  }
})
