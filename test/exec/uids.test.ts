/**
 * The uid pool (src/exec/uids.ts): nodes on one machine claim disjoint uids
 * for their job slots. Claims are made under a mutex, after a /proc scan
 * done outside it (with the scan inside, 30 nodes starting at once queued
 * past the mutex's deadline and some exited). Here separate processes claim
 * at once from the same range, as nodes do, and a dead node's claim is
 * taken over while a live one is respected.
 */
import { afterAll, expect, test } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { claimUids } from '../../src/exec/uids.ts'
import { cleanup, tempDir } from './helpers.ts'

const children: ChildProcess[] = []
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL')
  await cleanup()
})

// Far above any real account: nothing runs under these uids.
const BASE = 3_100_000
const UIDS = join(import.meta.dirname, '../../src/exec/uids.ts')

/** A process that claims `count` uids and holds them (as a node does) until it is killed. */
function claimInChild (lockDir: string, count: number): Promise<{ uids: number[], child: ChildProcess }> {
  const script = `import { claimUids } from ${JSON.stringify(UIDS)}
const lease = await claimUids({ base: ${BASE}, count: ${count}, lockDir: ${JSON.stringify(lockDir)}, span: 64 })
console.log(JSON.stringify(lease.uids))
setInterval(() => {}, 1000)`
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    child.stderr!.on('data', (d: Buffer) => { err += d.toString() })
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('\n')) resolve({ uids: JSON.parse(out) as number[], child })
    })
    child.on('exit', (code) => { reject(new Error(`claimer exited (${String(code)}) before claiming: ${err}`)) })
  })
}

test('processes claiming at once get disjoint uids, all of them', async () => {
  const lockDir = join(await tempDir(), 'uids')
  const claims = (await Promise.all(Array.from({ length: 8 }, async () => await claimInChild(lockDir, 3)))).map((c) => c.uids)
  const all = claims.flat()
  expect(claims.every((c) => c.length === 3)).toBe(true)
  expect(new Set(all).size).toBe(24)
  expect(all.every((u) => u >= BASE && u < BASE + 64)).toBe(true)
}, 90_000)

test('a dead holder\'s claim is taken over; a live holder\'s is skipped', async () => {
  const lockDir = join(await tempDir(), 'uids')
  // A live claim: this process (pid and start time, as claims record them).
  const mine = await claimUids({ base: BASE, count: 1, lockDir, span: 64 })
  expect(mine.uids).toEqual([BASE])
  // A dead one: a pid that is not running (pid_max is at most 2^22).
  await writeFile(join(lockDir, String(BASE + 1)), `${2 ** 22 + 1} 12345\n`)
  const next = await claimUids({ base: BASE, count: 2, lockDir, span: 64 })
  expect(next.uids).toEqual([BASE + 1, BASE + 2])
  expect(await readFile(join(lockDir, String(BASE + 1)), 'utf8')).toMatch(new RegExp(`^${process.pid} `))
  await next.release()
  await mine.release()
})

if (process.getuid?.() !== 0) console.log('uid takeover test skipped: starting a process under another uid needs root')
test.skipIf(process.getuid?.() !== 0)('taking over a dead holder\'s uid kills what it left running under it', async () => {
  const lockDir = join(await tempDir(), 'uids')
  const uid = BASE + 10
  const left = spawn('setpriv', ['--reuid', String(uid), '--regid', String(uid), '--clear-groups', 'sleep', '60'], { stdio: 'ignore' })
  children.push(left)
  const gone = new Promise((resolve) => left.once('exit', (_code, signal) => { resolve(signal) }))
  await new Promise((resolve) => setTimeout(resolve, 200))
  await mkdir(lockDir, { recursive: true })
  await writeFile(join(lockDir, String(uid)), `${2 ** 22 + 1} 12345\n`)
  const lease = await claimUids({ base: uid, count: 1, lockDir, span: 4 })
  expect(lease.uids).toEqual([uid])
  expect(await gone).toBe('SIGKILL')
  await lease.release()
})
