/**
 * The compile cache's bound on disk: least recently used entries go when a
 * new one takes it over `maxBytes`; use and sizes survive a restart; an
 * entry gone from under a hit makes that job compile instead of failing.
 */
import { afterAll, describe, expect, test } from 'vitest'
import { access, mkdir, readdir, rm, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CompileCache } from '../../src/exec/cache.ts'
import type { StageResult } from '../../src/exec/types.ts'
import { cleanup, job, newExecutor, tempDir } from './helpers.ts'

afterAll(cleanup)

const OK: StageResult = { code: 0, signal: null, stdout: '', stderr: '', wallMs: 1, cpuMs: 1, memoryKb: null, truncated: false, limit: null }
const KiB = 1024

/** A job dir holding one 16 KiB artefact `a.out` whose bytes say `n`. */
async function jobDir (n: number): Promise<string> {
  const d = await tempDir()
  await writeFile(join(d, 'a.out'), Buffer.alloc(16 * KiB, n))
  return d
}

async function exists (p: string): Promise<boolean> {
  try { await access(p); return true } catch { return false }
}

/** Entry dirs on disk (eviction removes them in the background). */
async function onDisk (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const shard of await readdir(dir)) {
    if (shard.startsWith('.tmp-')) continue
    for (const k of await readdir(join(dir, shard))) out.push(k)
  }
  return out.sort()
}

async function settled (dir: string, want: string[]): Promise<string[]> {
  const until = Date.now() + 5000
  let seen = await onDisk(dir)
  while (JSON.stringify(seen) !== JSON.stringify([...want].sort()) && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    seen = await onDisk(dir)
  }
  return seen
}

describe('the compile cache stays within its bound', () => {
  test('the least recently used entries go; a recent hit keeps an old entry', async () => {
    const dir = join(await tempDir(), 'cache')
    const cache = new CompileCache(dir, 100 * KiB)
    await cache.load()
    const keys = Array.from({ length: 8 }, (_, i) => cache.key({ language: 'c', version: '1', command: ['cc'], files: [{ name: 'main.c', content: `int x = ${i};` }] }))
    for (let i = 0; i < keys.length; i++) {
      expect(await cache.put(keys[i]!, OK, await jobDir(i), ['a.out'])).toBe(true)
      // Entry 0 is used after every put: it is never the least recent.
      expect(await cache.get(keys[0]!)).toBeDefined()
      expect(cache.stats().bytes).toBeLessThanOrEqual(100 * KiB)
      // Distinct use times even on a fast machine.
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    const { entries, evicted, bytes } = cache.stats()
    expect(evicted).toBeGreaterThan(0)
    expect(entries + evicted).toBe(keys.length)
    // An entry is 16 KiB of artefact plus its result and directories: 3 or 4 fit under 100 KiB.
    expect(entries).toBeGreaterThanOrEqual(3)
    expect(bytes).toBeGreaterThan(16 * KiB * entries)
    // What stays: entry 0 (used all along) and the newest; what went: the oldest of the rest.
    const kept = [keys[0]!, ...keys.slice(keys.length - (entries - 1))]
    expect(await settled(dir, kept)).toEqual([...kept].sort())
    for (const k of keys.slice(1, keys.length - (entries - 1))) expect(await cache.get(k)).toBeUndefined()
    const hit = await cache.get(keys[0]!)
    expect(hit?.artefacts).toEqual(['a.out'])
  })

  test('a restart reads sizes and last use back, and a lower bound evicts the least recently used', async () => {
    const dir = join(await tempDir(), 'cache')
    const first = new CompileCache(dir, 1024 * KiB)
    await first.load()
    const keys = Array.from({ length: 4 }, (_, i) => first.key({ language: 'c', version: '1', command: ['cc'], files: [{ name: 'main.c', content: `int y = ${i};` }] }))
    for (let i = 0; i < keys.length; i++) await first.put(keys[i]!, OK, await jobDir(i), ['a.out'])
    // Last used: key 2 an hour ago, the others a minute ago (a hit writes the entry's mtime).
    const at = (key: string): string => join(dir, key.slice(0, 2), key, 'result.json')
    const now = Date.now() / 1000
    for (const k of keys) await utimes(at(k), now - 60, now - 60)
    await utimes(at(keys[2]!), now - 3600, now - 3600)
    // A crash left a half-written entry behind.
    await mkdir(join(dir, '.tmp-crashed', 'files'), { recursive: true })

    // A lookup does not wait for the cache to read what is on disk.
    const early = new CompileCache(dir, 1024 * KiB)
    expect((await early.get(keys[1]!))?.artefacts).toEqual(['a.out'])

    const again = new CompileCache(dir, 1024 * KiB)
    await again.load()
    expect(again.stats().entries).toBe(4)
    expect(again.stats().bytes).toBe(first.stats().bytes)
    expect(await exists(join(dir, '.tmp-crashed'))).toBe(false)

    // A bound just under the four (eviction goes down to 90 % of it): the one used longest ago goes.
    const lower = new CompileCache(dir, Math.floor(first.stats().bytes * 0.95))
    await lower.load()
    expect(lower.stats()).toMatchObject({ entries: 3, evicted: 1 })
    expect(await lower.get(keys[2]!)).toBeUndefined()
    expect(await settled(dir, [keys[0]!, keys[1]!, keys[3]!])).toHaveLength(3)
  })
})

describe('a hit whose files are gone', () => {
  test('the job compiles again instead of failing', async () => {
    const dataDir = await tempDir()
    const ex = await newExecutor({ dataDir, langs: ['c'] })
    const src = '#include <stdio.h>\nint main(void){ puts("again"); return 0; }\n'
    const first = await ex.run(job('c', src))
    expect(first.status).toBe('ok')
    expect(first.compile!.cached).toBe(false)
    expect(ex.cache.entries).toBe(1)
    // Gone from under the cache (evicted by another job, or removed by hand).
    const dir = join(dataDir, 'cache')
    for (const k of await onDisk(dir)) await rm(join(dir, k.slice(0, 2), k, 'files'), { recursive: true })
    const second = await ex.run(job('c', src))
    expect(second.status).toBe('ok')
    expect(second.run!.stdout).toBe('again\n')
    expect(second.compile!.cached).toBe(false)
    const third = await ex.run(job('c', src))
    expect(third.compile!.cached).toBe(true)
    expect(third.run!.stdout).toBe('again\n')
  })
})
