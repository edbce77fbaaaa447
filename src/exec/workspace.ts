/**
 * Job directories. Each sandbox uid has a workspace: `box/` (bound at /box,
 * the job's files) and `tmp/` (bound at /tmp), and beside them, unseen by
 * the job, the stage script and the stdin file its zygote uses. As root, the workspace is a
 * size- and inode-limited tmpfs mounted once at start-up and reused, so a
 * job filling the disk (one big file or many small ones) stops at its quota
 * and never touches the host's disk; the mounts live outside the data dir,
 * under /run/meshrun/ws/<uid>, and a later node claiming the uid reuses them.
 * Without root they are plain directories (quota: RLIMIT_FSIZE per file only).
 */
import { spawn } from 'node:child_process'
import { chownSync, mkdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs'
import { mkdir, readFile, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { SourceFile } from './types.ts'

export const DEFAULT_WORKSPACE_ROOT = '/run/meshrun/ws'
/** Up to this many inodes in use, a workspace is cleaned synchronously (a few ms at most). */
const FEW_INODES = 256

async function mountPoints (): Promise<Set<string>> {
  const out = new Set<string>()
  try {
    for (const line of (await readFile('/proc/self/mountinfo', 'utf8')).split('\n')) {
      const p = line.split(' ')[4]
      if (p !== undefined) out.add(p.replace(/\\040/g, ' '))
    }
  } catch { /* no mountinfo */ }
  return out
}

function sh (script: string, args: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((res) => {
    const child = spawn('/bin/sh', ['-c', script, 'sh', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: '/usr/bin:/bin:/usr/sbin:/sbin' } })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    child.on('error', (err) => { res({ code: null, stderr: err.message }) })
    child.on('close', (code) => { res({ code, stderr }) })
  })
}

/**
 * Mounts (or re-sizes) a tmpfs on each directory, in one process. Returns
 * null on success or the reason it failed.
 */
export async function mountTmpfs (dirs: readonly string[], sizeBytes: number, inodes: number): Promise<string | null> {
  await Promise.all(dirs.map((d) => mkdir(d, { recursive: true, mode: 0o755 })))
  const mounted = await mountPoints()
  const opts = `size=${sizeBytes},nr_inodes=${inodes}`
  const lines: string[] = []
  dirs.forEach((d, i) => {
    // Braces: in sh, `$10` is `${1}0` (a node with 10 slots or more mounted
    // nothing, and its job dirs fell back to plain directories).
    const arg = `"\${${i + 1}}"`
    lines.push(mounted.has(d)
      ? `mount -o remount,${opts} ${arg} || exit 1`
      : `mount -t tmpfs -o ${opts},mode=0755,nosuid,nodev meshrun ${arg} || exit 1`)
  })
  const r = await sh(lines.join('\n'), dirs)
  return r.code === 0 ? null : (r.stderr.trim() || `mount exited with ${String(r.code)}`)
}

/** Unmounts the workspaces' tmpfs (best effort, one process). */
export async function unmountTmpfs (dirs: readonly string[]): Promise<void> {
  if (dirs.length === 0) return
  await sh('for d; do umount "$d" 2>/dev/null || umount -l "$d" 2>/dev/null; rmdir "$d" 2>/dev/null; done; exit 0', dirs)
}

export class Workspace {
  readonly root: string
  readonly box: string
  readonly tmp: string
  /** The stage's stdin, outside what the sandbox sees. */
  readonly stdin: string

  constructor (root: string) {
    this.root = root
    this.box = join(root, 'box')
    this.tmp = join(root, 'tmp')
    this.stdin = join(root, 'stdin')
  }

  /** Files and directories in the workspace's tmpfs (a plain directory's disk counts in millions). */
  private inodesUsed (): number {
    try {
      const s = statfsSync(this.root)
      return s.files - s.ffree
    } catch {
      return Infinity
    }
  }

  /**
   * Fresh `box/` and `tmp/` owned by `uid` (−1: keep the owner), with the
   * job's files in `box/`. Synchronous: a handful of small writes to a tmpfs
   * (microseconds), where a thread-pool round trip per call would cost more.
   */
  async prepare (uid: number, files: readonly SourceFile[]): Promise<void> {
    try {
      mkdirSync(this.box, { mode: 0o700 })
      mkdirSync(this.tmp, { mode: 0o700 })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      // Left over from a job whose clean-up failed: never hand it to the next one.
      await this.clean()
      mkdirSync(this.box, { mode: 0o700 })
      mkdirSync(this.tmp, { mode: 0o700 })
    }
    const own = (p: string): void => { if (uid >= 0) chownSync(p, uid, uid) }
    own(this.box)
    own(this.tmp)
    const dirs = new Set<string>()
    for (const f of files) {
      for (let d = dirname(f.name); d !== '.'; d = dirname(d)) dirs.add(d)
    }
    for (const d of [...dirs].sort((a, b) => a.length - b.length)) {
      const p = join(this.box, d)
      mkdirSync(p, { mode: 0o755 })
      own(p)
    }
    for (const f of files) {
      const p = join(this.box, f.name)
      writeFileSync(p, f.encoding === 'base64' ? Buffer.from(f.content, 'base64') : f.content, { mode: 0o644 })
      own(p)
    }
  }

  /**
   * Removes everything the job left. A job leaves a handful of files, and
   * removing them at once costs ~0.05 ms of CPU per directory where
   * `fs/promises`' `rm` (JavaScript walking the tree, a thread-pool round
   * trip per file) costs ~0.6 ms: a tenth of a node's CPU per job in the
   * throughput benchmark. A job that left many (its tmpfs allows 16384) is
   * removed without blocking the event loop.
   */
  async clean (): Promise<void> {
    if (this.inodesUsed() <= FEW_INODES) {
      rmSync(this.box, { recursive: true, force: true })
      rmSync(this.tmp, { recursive: true, force: true })
      rmSync(this.stdin, { force: true })
      return
    }
    await Promise.all([
      rm(this.box, { recursive: true, force: true, maxRetries: 2 }),
      rm(this.tmp, { recursive: true, force: true, maxRetries: 2 }),
      rm(this.stdin, { force: true }),
    ])
  }
}
