/**
 * The compile cache: `<dataDir>/cache/<k[0..2]>/<k>/` with `result.json`
 * (the compile StageResult and the artefact list) and `files/` (the
 * artefacts), where k = sha256(language, toolchain version, compile command,
 * files). A hit restores the artefacts into the job dir and skips the
 * compile process. Compile errors are cached too (no artefacts); stages
 * ended by a limit or a node fault are not.
 *
 * Entries are written to a temp dir and renamed into place, so concurrent
 * identical jobs are safe (the first rename wins, the other is dropped).
 * Recently used entries are kept in memory (results only, not files).
 *
 * The cache holds at most `maxBytes` on disk (default DEFAULT_CACHE_MAX_MB,
 * `meshrun node --cache-max MB`): a grading farm compiles a new program for
 * every submission, and a cache without a bound fills the disk in weeks.
 * When a new entry takes it over the bound, the least recently used
 * entries go until it is at EVICT_TO of it. Use survives restarts: a hit
 * sets its entry's `result.json` mtime (at most once per TOUCH_EVERY_MS),
 * and a starting node reads the sizes and mtimes back (`load`).
 */
import { createHash } from 'node:crypto'
import { lstatSync, readdirSync } from 'node:fs'
import { chown, copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { SourceFile, StageResult } from './types.ts'

export interface CacheEntry {
  result: StageResult
  /** Paths relative to the job dir. */
  artefacts: string[]
  dir: string
}

export interface CacheKeyParts {
  language: string
  version: string
  command: readonly string[]
  files: readonly SourceFile[]
}

const MEMORY_ENTRIES = 512
/** The default bound of a node's compile cache on disk, in MiB. */
export const DEFAULT_CACHE_MAX_MB = 1024
/** Eviction goes down to this share of the bound, so that not every new entry evicts. */
const EVICT_TO = 0.9
/** A hit writes its use to disk (the entry's mtime) at most this often. */
const TOUCH_EVERY_MS = 60_000
const BLOCK = 4096

/** What an entry takes on disk (files by their blocks, directories a block each) and when it was last used. */
interface Held { bytes: number, used: number, touched: number }

export interface CacheStats {
  entries: number
  bytes: number
  maxBytes: number
  /** Entries evicted since the node started. */
  evicted: number
}

/**
 * Bytes on disk under `path` (a file or a directory tree). Synchronous: an
 * entry is a few small files, and the start-up read of a large cache took
 * ~0.45 ms of CPU an entry with fs/promises (~0.06 ms this way, in batches
 * between which the event loop runs: see `load`).
 */
function diskBytes (path: string): number {
  let st
  try { st = lstatSync(path) } catch { return 0 }
  if (!st.isDirectory()) return st.blocks * 512
  let sum = BLOCK
  let names: string[] = []
  try { names = readdirSync(path) } catch {}
  for (const n of names) sum += diskBytes(join(path, n))
  return sum
}

/** Entries `load` reads between two turns of the event loop. */
const LOAD_BATCH = 64
const NODE_UID = process.getuid?.()
const NODE_GID = process.getgid?.()

function matches (rel: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => p.startsWith('**/*') ? rel.endsWith(p.slice(4)) : rel === p)
}

/** Regular files under `root` matching the patterns (symlinks and specials are ignored). */
async function collect (root: string, patterns: readonly string[], rel = '', depth = 0): Promise<string[]> {
  if (depth > 16) return []
  const out: string[] = []
  let entries
  try { entries = await readdir(join(root, rel), { withFileTypes: true }) } catch { return out }
  for (const e of entries) {
    const r = rel === '' ? e.name : `${rel}/${e.name}`
    if (e.isDirectory()) out.push(...await collect(root, patterns, r, depth + 1))
    else if (e.isFile() && matches(r, patterns)) out.push(r)
  }
  return out
}

export class CompileCache {
  readonly dir: string
  readonly maxBytes: number
  private readonly memory = new Map<string, CacheEntry>()
  /** The entries on disk (read at first use, see `load`), in no particular order. */
  private readonly held = new Map<string, Held>()
  private bytes = 0
  private evicted = 0
  private loaded: Promise<void> | undefined
  /** `load` has read everything on disk into `held`. */
  private complete = false

  constructor (dir: string, maxBytes = DEFAULT_CACHE_MAX_MB * 1024 * 1024) {
    this.dir = dir
    this.maxBytes = maxBytes
  }

  stats (): CacheStats {
    return { entries: this.held.size, bytes: this.bytes, maxBytes: this.maxBytes, evicted: this.evicted }
  }

  /**
   * Reads what is on disk (an earlier run's entries: their sizes, and their
   * last use from `result.json`'s mtime) and removes temp dirs a crash left
   * behind. Once per cache, started with the executor; jobs do not wait
   * for it (a cache of a gigabyte is tens of thousands of entries to read):
   * until it is done a lookup reads the disk, and eviction waits for it.
   * Evicts at the end if the cache is over the bound.
   */
  async load (): Promise<void> {
    this.loaded ??= (async () => {
      let shards: string[] = []
      try { shards = await readdir(this.dir) } catch { this.complete = true; return }
      let read = 0
      for (const shard of shards) {
        if (shard.startsWith('.tmp-')) { await rm(join(this.dir, shard), { recursive: true, force: true }).catch(() => {}); continue }
        let keys: string[] = []
        try { keys = await readdir(join(this.dir, shard)) } catch { continue }
        for (const key of keys) {
          if (++read % LOAD_BATCH === 0) await new Promise((resolve) => setImmediate(resolve))
          // Stored by a job meanwhile: already counted.
          if (this.held.has(key)) continue
          const dir = join(this.dir, shard, key)
          let used: number
          try { used = lstatSync(join(dir, 'result.json')).mtimeMs } catch { continue }
          this.hold(key, { bytes: diskBytes(dir), used, touched: used })
        }
      }
      this.complete = true
      this.evict()
    })()
    await this.loaded
  }

  private hold (key: string, h: Held): void {
    const had = this.held.get(key)
    if (had !== undefined) this.bytes -= had.bytes
    this.held.set(key, h)
    this.bytes += h.bytes
  }

  /** Marks a hit: in memory now, on disk at most every TOUCH_EVERY_MS (at once while `load` may not have read it yet). */
  private use (key: string, dir: string): void {
    const h = this.held.get(key)
    const now = Date.now()
    if (h !== undefined) {
      h.used = now
      if (now - h.touched < TOUCH_EVERY_MS) return
      h.touched = now
    } else if (this.complete) {
      return
    }
    const t = new Date(now)
    utimes(join(dir, 'result.json'), t, t).catch(() => {})
  }

  /**
   * Over the bound: the least recently used entries go (never `keep`, the
   * one just stored) until the cache is at EVICT_TO of the bound. An entry
   * being restored at that moment makes its restore fail, and that job
   * compiles instead (executor.ts).
   */
  private evict (keep?: string): void {
    if (!this.complete || this.bytes <= this.maxBytes) return
    const order = [...this.held].filter(([k]) => k !== keep).sort((a, b) => a[1].used - b[1].used)
    for (const [key] of order) {
      if (this.bytes <= this.maxBytes * EVICT_TO) break
      this.evicted++
      void this.forget(key)
    }
  }

  /** Drops an entry (evicted, or broken: its restore failed), from disk too, so that it can be stored again. */
  async forget (key: string): Promise<void> {
    this.memory.delete(key)
    const h = this.held.get(key)
    if (h !== undefined) {
      this.held.delete(key)
      this.bytes -= h.bytes
    }
    await rm(this.entryDir(key), { recursive: true, force: true }).catch(() => {})
  }

  key (parts: CacheKeyParts): string {
    const h = createHash('sha256')
    const field = (s: string | Buffer): void => {
      const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s
      h.update(`${b.length}:`)
      h.update(b)
    }
    field(parts.language)
    field(parts.version)
    field(JSON.stringify(parts.command))
    for (const f of parts.files) {
      field(f.name)
      field(f.encoding === 'base64' ? Buffer.from(f.content, 'base64') : Buffer.from(f.content, 'utf8'))
    }
    return h.digest('hex')
  }

  private entryDir (key: string): string {
    return join(this.dir, key.slice(0, 2), key)
  }

  private remember (key: string, entry: CacheEntry): void {
    this.memory.delete(key)
    this.memory.set(key, entry)
    if (this.memory.size > MEMORY_ENTRIES) this.memory.delete(this.memory.keys().next().value!)
  }

  async get (key: string): Promise<CacheEntry | undefined> {
    const hit = this.memory.get(key)
    if (hit !== undefined) { this.remember(key, hit); this.use(key, hit.dir); return hit }
    if (this.complete && !this.held.has(key)) return undefined
    const dir = this.entryDir(key)
    try {
      const saved = JSON.parse(await readFile(join(dir, 'result.json'), 'utf8')) as { result: StageResult; artefacts: string[] }
      const entry = { result: saved.result, artefacts: saved.artefacts, dir }
      this.remember(key, entry)
      this.use(key, dir)
      return entry
    } catch {
      return undefined
    }
  }

  /** Copies the entry's artefacts into `jobDir` (directories owned by `uid`, -1: unchanged). */
  async restore (entry: CacheEntry, jobDir: string, uid: number): Promise<void> {
    const dirs = new Set<string>()
    for (const a of entry.artefacts) for (let d = dirname(a); d !== '.'; d = dirname(d)) dirs.add(d)
    for (const d of [...dirs].sort((a, b) => a.length - b.length)) {
      const p = join(jobDir, d)
      await mkdir(p, { recursive: true })
      if (uid >= 0) await chown(p, uid, uid)
    }
    await Promise.all(entry.artefacts.map(async (a) => {
      const to = join(jobDir, a)
      await copyFile(join(entry.dir, 'files', a), to)
      // copyFile keeps the owner of the original: give the artefact to this job's uid.
      if (uid >= 0) await chown(to, uid, uid)
    }))
  }

  /**
   * Stores a compile result with the artefacts found in `jobDir`. Returns
   * false when an entry for the key appeared meanwhile (ours is dropped).
   */
  async put (key: string, result: StageResult, jobDir: string, patterns: readonly string[]): Promise<boolean> {
    const artefacts = result.code === 0 ? await collect(jobDir, patterns) : []
    await mkdir(this.dir, { recursive: true })
    const tmp = await mkdtemp(join(this.dir, '.tmp-'))
    try {
      for (const a of artefacts) {
        const to = join(tmp, 'files', a)
        await mkdir(dirname(to), { recursive: true })
        await copyFile(join(jobDir, a), to)
        // copyFile keeps the owner (the compiling job's uid): the cache belongs to the node.
        if (NODE_UID !== undefined) await chown(to, NODE_UID, NODE_GID!)
      }
      const stored: StageResult = { ...result }
      delete stored.cached
      await writeFile(join(tmp, 'result.json'), JSON.stringify({ result: stored, artefacts }))
      const dir = this.entryDir(key)
      await mkdir(dirname(dir), { recursive: true })
      try {
        await rename(tmp, dir)
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        if (code === 'ENOTEMPTY' || code === 'EEXIST') return false
        throw err
      }
      this.remember(key, { result: stored, artefacts, dir })
      const now = Date.now()
      this.hold(key, { bytes: diskBytes(dir), used: now, touched: now })
      this.evict(key)
      return true
    } finally {
      await rm(tmp, { recursive: true, force: true })
    }
  }
}
