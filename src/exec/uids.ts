/**
 * Unprivileged uids for the sandbox, claimed across processes: several
 * meshrun nodes on one machine (`meshrun up -n 3`, parallel tests) must never
 * share a uid, since a uid's process count is its fork limit and since the
 * executor kills whatever still runs under its uids.
 *
 * A claim is a lock file `<lockDir>/<uid>` holding "pid starttime"; it is
 * stale when that process is gone. Claims are made under a short-lived mutex
 * (an atomic mkdir). A uid listed in /etc/passwd, or with processes and no
 * stale meshrun claim, belongs to someone else and is skipped.
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync, writeFileSync } from 'node:fs'
import { mkdir, readFile, rmdir, stat, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { UidPoolError } from './errors.ts'

export const DEFAULT_LOCK_DIR = '/run/meshrun/uids'

function sleep (ms: number): Promise<void> {
  return new Promise((res) => setTimeout(res, ms))
}

/**
 * Start time (clock ticks since boot) of a process, or undefined when it is
 * gone. Synchronous, like everything done under the mutex: a /proc read
 * takes microseconds, and an await on a machine busy starting 30 nodes
 * could wait many milliseconds for its turn while the others queue.
 */
function startTime (pid: number | 'self'): string | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return s.slice(s.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

function uidsOfStatus (status: string): number[] {
  const m = /\nUid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/.exec(status)
  return m === null ? [] : [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])]
}

const STATUS_HEAD = 1024
const BATCH = 256

/**
 * Scans /proc: the pids whose real, effective, saved or filesystem uid is
 * one of `uids` (zombies included: they still count against RLIMIT_NPROC).
 * Synchronous reads of the first KiB of each status file (ten times cheaper
 * in CPU than one async read each, measured), yielding to the event loop
 * every few hundred processes.
 */
export async function processesOf (uids: ReadonlySet<number>): Promise<Map<number, number[]>> {
  const found = new Map<number, number[]>()
  let entries: string[]
  try { entries = readdirSync('/proc') } catch { return found }
  const self = process.pid
  const buf = Buffer.alloc(STATUS_HEAD)
  let n = 0
  for (const e of entries) {
    const c = e.charCodeAt(0)
    if (c < 48 || c > 57) continue
    if (++n % BATCH === 0) await new Promise((res) => setImmediate(res))
    const pid = Number(e)
    if (pid === self) continue
    let fd = -1
    let head: string
    try {
      fd = openSync(`/proc/${e}/status`, 'r')
      head = buf.toString('latin1', 0, readSync(fd, buf, 0, STATUS_HEAD, 0))
    } catch {
      continue
    } finally {
      if (fd >= 0) closeSync(fd)
    }
    for (const u of new Set(uidsOfStatus(head))) {
      if (!uids.has(u)) continue
      const list = found.get(u)
      if (list === undefined) found.set(u, [pid])
      else list.push(pid)
    }
  }
  return found
}

/** SIGKILLs every process of `uid` found in /proc; returns how many were found. */
export async function killUid (uid: number): Promise<number> {
  const pids = (await processesOf(new Set([uid]))).get(uid) ?? []
  for (const pid of pids) {
    try { process.kill(pid, 'SIGKILL') } catch { /* gone already */ }
  }
  return pids.length
}

async function passwdUids (): Promise<Set<number>> {
  const out = new Set<number>()
  try {
    for (const line of (await readFile('/etc/passwd', 'utf8')).split('\n')) {
      const uid = Number(line.split(':')[2])
      if (Number.isInteger(uid)) out.add(uid)
    }
  } catch { /* no passwd: nothing to avoid */ }
  return out
}

async function withMutex<T> (dir: string, fn: () => Promise<T>): Promise<T> {
  const m = join(dir, '.mutex')
  const deadline = Date.now() + 20_000
  for (;;) {
    try {
      await mkdir(m)
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      try {
        const st = await stat(m)
        if (Date.now() - st.mtimeMs > 10_000) { await rmdir(m).catch(() => {}); continue }
      } catch { continue }
      if (Date.now() > deadline) throw new UidPoolError(`timed out waiting for ${m}`)
      await sleep(5 + Math.random() * 20)
    }
  }
  try {
    return await fn()
  } finally {
    await rmdir(m).catch(() => {})
  }
}

export interface UidLease {
  readonly uids: readonly number[]
  /** Drops the claims (lock files). */
  release: () => Promise<void>
}

export interface ClaimOptions {
  base: number
  count: number
  lockDir?: string
  /** How far above `base` to look for free uids. */
  span?: number
}

/**
 * Claims `count` uids at or above `base`. Processes left under a stale claim
 * (a crashed node's jobs) are killed. Throws UidPoolError when not enough
 * free uids are found within `span`.
 */
export async function claimUids (opts: ClaimOptions): Promise<UidLease> {
  const dir = opts.lockDir ?? DEFAULT_LOCK_DIR
  const span = opts.span ?? 4096
  await mkdir(dirname(dir), { recursive: true, mode: 0o755 })
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const me = `${process.pid} ${startTime('self') ?? '0'}\n`
  const reserved = await passwdUids()
  const candidates = new Set<number>()
  for (let u = opts.base; u < opts.base + span; u++) if (!reserved.has(u)) candidates.add(u)
  // The /proc scan (the slow part) runs before the mutex: only a claim's
  // holder starts processes under a uid, and a live claim is skipped below
  // whatever the scan saw; leftovers of a dead holder were there before.
  // With the scan inside, 30 nodes starting at once queued on the mutex
  // past its deadline.
  const procs = await processesOf(candidates)
  const { got: taken, tookOver } = await withMutex(dir, async () => {
    const claimed = new Set(readdirSync(dir))
    const got: number[] = []
    const tookOver: number[] = []
    for (const uid of candidates) {
      if (got.length >= opts.count) break
      const file = join(dir, String(uid))
      let stale = false
      if (claimed.has(String(uid))) {
        try {
          const [pid, start] = readFileSync(file, 'utf8').trim().split(' ')
          const alive = pid !== undefined && /^\d+$/.test(pid) && startTime(Number(pid)) === start
          if (alive) continue
          stale = true
          tookOver.push(uid)
        } catch { /* released meanwhile: no claim */ }
      }
      const pids = procs.get(uid) ?? []
      if (pids.length > 0) {
        if (!stale) continue // someone else's uid
        for (const pid of pids) { try { process.kill(pid, 'SIGKILL') } catch { /* gone */ } }
      }
      writeFileSync(file, me)
      got.push(uid)
    }
    return { got, tookOver }
  })
  // A holder that died after the scan may have left processes it started
  // since: look again under the uids taken over from dead holders (ours now).
  if (tookOver.length > 0) {
    for (const pids of (await processesOf(new Set(tookOver))).values()) {
      for (const pid of pids) { try { process.kill(pid, 'SIGKILL') } catch { /* gone */ } }
    }
  }
  const release = async (): Promise<void> => {
    await Promise.all(taken.map(async (uid) => {
      const file = join(dir, String(uid))
      try {
        if ((await readFile(file, 'utf8')) === me) await unlink(file)
      } catch { /* already gone */ }
    }))
  }
  if (taken.length < opts.count) {
    await release()
    throw new UidPoolError(`found only ${taken.length} of ${opts.count} free uids in ${opts.base}..${opts.base + span - 1}`)
  }
  return { uids: taken, release }
}
