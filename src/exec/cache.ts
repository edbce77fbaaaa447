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
 */
import { createHash } from 'node:crypto'
import { chown, copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
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
  private readonly memory = new Map<string, CacheEntry>()

  constructor (dir: string) {
    this.dir = dir
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
    if (hit !== undefined) { this.remember(key, hit); return hit }
    const dir = this.entryDir(key)
    try {
      const saved = JSON.parse(await readFile(join(dir, 'result.json'), 'utf8')) as { result: StageResult; artefacts: string[] }
      const entry = { result: saved.result, artefacts: saved.artefacts, dir }
      this.remember(key, entry)
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
      return true
    } finally {
      await rm(tmp, { recursive: true, force: true })
    }
  }
}
