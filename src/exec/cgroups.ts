/**
 * cgroup v1 for one sandbox uid: memory (limit, peak, OOM kills), pids
 * (process/thread limit, whether it was hit, what is left), cpuacct (CPU
 * of every process of the job together, so 32 children cannot each stay
 * under RLIMIT_CPU) and cpu (scheduling weight). Groups live at
 * `<controller mount>/meshrun/<uid>` (cpu: see below); the uid is claimed
 * exclusively (uids.ts), so the group is ours.
 *
 * CPU weight: every sandbox starts its own session, and with the kernel's
 * autogroup each session weighs as much as the node itself, so 50 busy jobs
 * left a node 1/51 of a core: reports late, elections lost to timeouts, a
 * dead master noticed hundreds of ms late. In the cpu controller a node's
 * jobs share one group of its own, `meshrun-<node pid>` (at the top, beside
 * the node's own session), that weighs as many ordinary programs as the
 * node has job slots, but no more than two per core (jobsCpuShares): up to
 * that many, jobs compete with the machine's other programs as before (a
 * lower weight, or one group for the jobs of all the nodes on a machine,
 * starved them into their wall-clock limits whenever anything else was
 * busy), but 50 of them weigh as 4 on 2 cores. The node process itself
 * sits in a group of its own that weighs as much as its jobs together
 * (weighNode, from `meshrun node`): it needs little, and gets it at once.
 * The scheduler is
 * work-conserving: nothing is left idle. Each job, in its own subgroup, gets
 * an equal part of the group however many processes it starts. Where
 * cpuacct shares the cpu hierarchy, it lives in the same groups.
 *
 * The identity's zygote (zygote.ts) is moved into the groups once; every
 * stage it starts is born there.
 *
 * The control files are tiny kernel files: they are read and written
 * synchronously (microseconds each, no disk).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'

export type Controller = 'memory' | 'pids' | 'cpuacct' | 'cpu'
const CONTROLLERS: readonly Controller[] = ['memory', 'pids', 'cpuacct', 'cpu']

/** Where each usable v1 controller is mounted (null: not available or not writable). */
export interface CgroupSupport {
  memory: string | null
  pids: string | null
  cpuacct: string | null
  /** Scheduling weight (cpu.shares) of this node's jobs together (see above). */
  cpu: string | null
  /** memory.memsw.* exists (swap accounting): set it equal to the memory limit. */
  memsw: boolean
}

const GROUP = 'meshrun'
/** The cpu.shares of a node's jobs together: one ordinary program's (1024, the node's own) per slot, at most two per core. */
export function jobsCpuShares (slots: number, cores = availableParallelism()): number {
  return 1024 * Math.max(1, Math.min(slots, 2 * cores))
}

/** This node's group in the cpu hierarchy (at its top). */
export function nodeCpuGroup (pid = process.pid): string {
  return `${GROUP}-${pid}`
}

/** The group (under the controller's mount) that holds the per-uid groups of controller `c`. */
function groupFor (support: CgroupSupport, c: Controller): string {
  return c === 'cpu' || (c === 'cpuacct' && support.cpu !== null && support.cpu === support.cpuacct) ? nodeCpuGroup() : GROUP
}

/** Removes the cpu groups of nodes that are gone (a SIGKILLed node cannot). */
function pruneCpuGroups (mount: string): void {
  let entries: string[]
  try { entries = readdirSync(mount) } catch { return }
  for (const e of entries) {
    const m = /^meshrun-(\d+)(-node)?$/.exec(e)
    if (m === null || alive(Number(m[1]))) continue
    const dir = join(mount, e)
    try {
      for (const sub of readdirSync(dir, { withFileTypes: true })) if (sub.isDirectory()) rmdirSync(join(dir, sub.name))
      rmdirSync(dir)
    } catch { /* busy: its processes are still dying */ }
  }
}

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

/** Removes this node's cpu group (once its per-uid groups are gone). */
export function releaseCpuGroup (support: CgroupSupport): void {
  if (support.cpu === null) return
  try { rmdirSync(join(support.cpu, nodeCpuGroup())) } catch { /* busy or gone */ }
}

/**
 * The node process's own weight (cpu controller, root only): the node moves
 * itself into a group of its own, `meshrun-<pid>-node`, that weighs as much
 * as its jobs together (jobsCpuShares). Alone at the top it weighed one
 * ordinary program against its jobs' up to two per core: with 50 orphans
 * starting after a master died, a survivor got a fifth of a core and its
 * event loop lagged 100–400 ms, just when it had to notice the death and
 * elect. It uses little CPU, so the weight costs the jobs nothing unless
 * the node is busy. Returns the undo (back to the root group), or null
 * when there is no writable cpu controller.
 */
export async function weighNode (slots: number): Promise<(() => Promise<void>) | null> {
  if (process.getuid?.() !== 0) return null
  const mount = (await v1Mounts()).get('cpu')?.[0]
  if (mount === undefined) return null
  const name = `${nodeCpuGroup()}-node`
  const dir = join(mount, name)
  try {
    weighedGroup(mount, name, slots)
    writeFileSync(join(dir, 'cgroup.procs'), String(process.pid))
  } catch {
    try { rmdirSync(dir) } catch { /* not made */ }
    return null
  }
  return async () => {
    try { writeFileSync(join(mount, 'cgroup.procs'), String(process.pid)) } catch { /* stays */ }
    // A child that has just exited keeps the group busy until Node reaps it
    // (a zygote stopped a moment ago, under load): try again for a while.
    for (let i = 0; i < UNWEIGH_TRIES; i++) {
      try { rmdirSync(dir); return } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EBUSY') return
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
}

const UNWEIGH_TRIES = 40

/** Makes (or keeps) cpu group `name` under `mount`, weighing as much as `slots` jobs (jobsCpuShares); throws where not permitted. */
function weighedGroup (mount: string, name: string, slots: number): void {
  mkdirSync(join(mount, name), { recursive: true })
  writeFileSync(join(mount, name, 'cpu.shares'), String(jobsCpuShares(slots)))
}

/** Where each cgroup v1 controller we use is mounted, in /proc/self/mountinfo's order. */
export async function v1Mounts (): Promise<Map<Controller, string[]>> {
  const out = new Map<Controller, string[]>()
  let info: string
  try { info = await readFile('/proc/self/mountinfo', 'utf8') } catch { return out }
  for (const line of info.split('\n')) {
    const [pre, post] = line.split(' - ')
    const [fstype, , superOpts] = post?.split(' ') ?? []
    const mount = pre?.split(' ')[4]
    if (fstype !== 'cgroup' || superOpts === undefined || mount === undefined) continue
    const opts = superOpts.split(',')
    for (const c of CONTROLLERS) if (opts.includes(c)) out.set(c, [...(out.get(c) ?? []), mount])
  }
  return out
}

/** Finds v1 controllers and checks that we can make groups there (the first mount of each that lets us). */
export async function probeCgroups (slots = 1): Promise<CgroupSupport> {
  const support: CgroupSupport = { memory: null, pids: null, cpuacct: null, cpu: null, memsw: false }
  if (process.getuid?.() !== 0) return support
  for (const [c, mounts] of await v1Mounts()) {
    for (const mount of mounts) {
      try {
        if (c === 'cpu') {
          pruneCpuGroups(mount)
          weighedGroup(mount, nodeCpuGroup(), slots)
        } else {
          mkdirSync(join(mount, GROUP), { recursive: true })
        }
        support[c] = mount
        break
      } catch { /* read-only or not permitted */ }
    }
  }
  if (support.memory !== null) support.memsw = existsSync(join(support.memory, GROUP, 'memory.memsw.limit_in_bytes'))
  return support
}

export interface StageStats {
  cpuMs: number | null
  memoryKb: number | null
  /** The kernel OOM-killed a process of the job during the stage. */
  oomKilled: boolean
  /** A fork/clone failed at the pids limit during the stage. */
  pidsLimitHit: boolean
}

function readNumber (file: string): number {
  return Number(readFileSync(file, 'latin1').trim())
}

function readKey (file: string, key: string): number {
  const m = new RegExp(`(?:^|\\n)${key} (\\d+)`).exec(readFileSync(file, 'latin1'))
  return m === null ? 0 : Number(m[1])
}

export class JobCgroup {
  readonly uid: number
  private readonly dirs: Partial<Record<Controller, string>> = {}
  private readonly memsw: boolean
  private memLimit = -1
  private memswLimit = -1
  private pidsLimit = -1
  private oomKills = 0
  private pidsMax = 0

  constructor (support: CgroupSupport, uid: number) {
    this.uid = uid
    this.memsw = support.memsw
    for (const c of CONTROLLERS) {
      const mount = support[c]
      if (mount !== null) this.dirs[c] = join(mount, groupFor(support, c), String(uid))
    }
  }

  has (c: Controller): boolean {
    return this.dirs[c] !== undefined
  }

  /** Creates the groups (or adopts the ones a previous node left). */
  create (): void {
    for (const dir of Object.values(this.dirs)) mkdirSync(dir, { recursive: true })
    if (this.dirs.memory !== undefined) {
      this.oomKills = readKey(join(this.dirs.memory, 'memory.oom_control'), 'oom_kill')
      this.memLimit = readNumber(join(this.dirs.memory, 'memory.limit_in_bytes'))
      if (this.memsw) this.memswLimit = readNumber(join(this.dirs.memory, 'memory.memsw.limit_in_bytes'))
    }
    if (this.dirs.pids !== undefined) this.pidsMax = readKey(join(this.dirs.pids, 'pids.events'), 'max')
  }

  /** The groups' `cgroup.procs` files (once each: cpu and cpuacct are often mounted together). */
  procsFiles (): string[] {
    return [...new Set(Object.values(this.dirs))].map((d) => join(d, 'cgroup.procs'))
  }

  /** Moves a process (with its threads) into every group. */
  join (pid: number): void {
    for (const f of this.procsFiles()) writeFileSync(f, String(pid))
  }

  /** Sets the stage's limits and resets the peak and CPU counters. */
  prepare (memoryBytes: number, pids: number): void {
    const mem = this.dirs.memory
    if (mem !== undefined) {
      if (memoryBytes !== this.memLimit || (this.memsw && memoryBytes !== this.memswLimit)) {
        // The memory limit may never exceed memsw: raise memsw first, lower it last.
        const order = this.memsw && memoryBytes > this.memswLimit
          ? ['memory.memsw.limit_in_bytes', 'memory.limit_in_bytes']
          : ['memory.limit_in_bytes', ...(this.memsw ? ['memory.memsw.limit_in_bytes'] : [])]
        for (const f of order) writeFileSync(join(mem, f), String(memoryBytes))
        this.memLimit = memoryBytes
        if (this.memsw) this.memswLimit = memoryBytes
      }
      writeFileSync(join(mem, 'memory.max_usage_in_bytes'), '0')
    }
    const pd = this.dirs.pids
    if (pd !== undefined && pids !== this.pidsLimit) {
      writeFileSync(join(pd, 'pids.max'), String(pids))
      this.pidsLimit = pids
    }
    if (this.dirs.cpuacct !== undefined) writeFileSync(join(this.dirs.cpuacct, 'cpuacct.usage'), '0')
  }

  /** CPU time of the job so far, in ms (null without cpuacct). */
  cpuMs (): number | null {
    const d = this.dirs.cpuacct
    return d === undefined ? null : readNumber(join(d, 'cpuacct.usage')) / 1e6
  }

  /** Reads what the stage used; call once after it ended. */
  finish (): StageStats {
    const stats: StageStats = { cpuMs: this.cpuMs(), memoryKb: null, oomKilled: false, pidsLimitHit: false }
    const mem = this.dirs.memory
    if (mem !== undefined) {
      stats.memoryKb = Math.round(readNumber(join(mem, 'memory.max_usage_in_bytes')) / 1024)
      const kills = readKey(join(mem, 'memory.oom_control'), 'oom_kill')
      stats.oomKilled = kills > this.oomKills
      this.oomKills = kills
    }
    const pd = this.dirs.pids
    if (pd !== undefined) {
      const max = readKey(join(pd, 'pids.events'), 'max')
      stats.pidsLimitHit = max > this.pidsMax
      this.pidsMax = max
    }
    return stats
  }

  /** Processes and threads still charged to the group, zombies included (null without pids). */
  tasks (): number | null {
    const d = this.dirs.pids
    return d === undefined ? null : readNumber(join(d, 'pids.current'))
  }

  /** SIGKILLs every process in the groups but those in `except`; returns how many there were. */
  killAll (except: Iterable<number> = []): number {
    const pids = new Set<number>()
    for (const d of new Set(Object.values(this.dirs))) {
      try {
        for (const l of readFileSync(join(d, 'cgroup.procs'), 'latin1').split('\n')) if (l !== '') pids.add(Number(l))
      } catch { /* group gone */ }
    }
    for (const e of except) pids.delete(e)
    for (const pid of pids) {
      try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
    }
    return pids.size
  }

  /** Removes the groups (only possible once they are empty). */
  destroy (): void {
    for (const d of new Set(Object.values(this.dirs))) {
      try { rmdirSync(d) } catch { /* busy or gone: a later node adopts it */ }
    }
  }
}
