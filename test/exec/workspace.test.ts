/**
 * Job directories as tmpfs mounts (src/exec/workspace.ts): as root, every
 * slot's directory gets its own size-limited tmpfs, however many slots —
 * a node with 10 or more once mounted none (`$10` in sh is `${1}0`) and ran
 * its jobs in plain directories on the host's disk.
 */
import { afterAll, expect, test } from 'vitest'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { mountTmpfs, unmountTmpfs, Workspace } from '../../src/exec/workspace.ts'
import { cleanup, tempDir } from './helpers.ts'

const mounted: string[] = []
afterAll(async () => {
  await unmountTmpfs(mounted)
  await cleanup()
})

async function tmpfsMounts (): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const line of (await readFile('/proc/self/mountinfo', 'utf8')).split('\n')) {
    const f = line.split(' ')
    const dash = f.indexOf('-')
    if (f[4] !== undefined && dash > 0 && f[dash + 1] === 'tmpfs') out.set(f[4], f[dash + 3] ?? '')
  }
  return out
}

const root = process.getuid?.() === 0
if (!root) console.log('workspace.test.ts: skipped — mounting tmpfs needs root')

test.skipIf(!root)('12 slots: 12 tmpfs mounts, each with its size; a second call resizes them in place', async () => {
  const base = await tempDir()
  const dirs = Array.from({ length: 12 }, (_, i) => join(base, `ws${i}`))
  mounted.push(...dirs)
  expect(await mountTmpfs(dirs, 8 * 1024 * 1024, 1000)).toBeNull()
  let mounts = await tmpfsMounts()
  for (const d of dirs) expect(mounts.get(d)).toMatch(/size=8192k/)
  expect(await mountTmpfs(dirs, 16 * 1024 * 1024, 1000)).toBeNull()
  mounts = await tmpfsMounts()
  for (const d of dirs) expect(mounts.get(d)).toMatch(/size=16384k/)
  await unmountTmpfs(dirs)
  mounted.length = 0
  mounts = await tmpfsMounts()
  for (const d of dirs) expect(mounts.has(d)).toBe(false)
})

test('clean() empties a workspace, a handful of files (removed at once) or thousands in nested directories (removed in the background), tmpfs or not', async () => {
  const base = await tempDir()
  const dirs = [join(base, 'plain')]
  mkdirSync(dirs[0]!)
  if (root) {
    dirs.push(join(base, 'tmpfs'))
    mounted.push(dirs[1]!)
    expect(await mountTmpfs([dirs[1]!], 32 * 1024 * 1024, 16384)).toBeNull()
  }
  for (const dir of dirs) {
    for (const many of [false, true]) {
      const ws = new Workspace(dir)
      await ws.prepare(-1, [{ name: 'main.py', content: 'print(1)' }, { name: 'lib/util.py', content: '' }])
      writeFileSync(ws.stdin, 'input')
      const n = many ? 3000 : 3
      for (let d = 0; d < n; d += 100) {
        mkdirSync(join(ws.tmp, `d${d}`, 'deep'), { recursive: true })
        for (let f = d; f < Math.min(n, d + 100); f++) writeFileSync(join(ws.tmp, `d${d}`, 'deep', `f${f}`), 'x')
      }
      await ws.clean()
      expect(readdirSync(dir), `${dir}, ${n} files`).toEqual([])
    }
  }
})
