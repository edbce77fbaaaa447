/**
 * Sandbox identities: a uid, its cgroups, its workspace and its zygote, set
 * up once at start-up and reused. After a job, an identity goes back to the
 * pool only once nothing of the job is left (no task but the zygote in its
 * pids cgroup, no process of its uid in /proc, zombies included) and its job
 * dir is removed. The pool holds more identities than there are job slots
 * (uid per slot, plus spares), so that check never delays the next job.
 */
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { JobCgroup, probeCgroups, releaseCpuGroup, type CgroupSupport } from './cgroups.ts'
import { Pool } from './pool.ts'
import { claimUids, processesOf, type UidLease } from './uids.ts'
import { DEFAULT_WORKSPACE_ROOT, mountTmpfs, unmountTmpfs, Workspace } from './workspace.ts'
import { Zygote } from './zygote.ts'

/** What one job runs as and in. */
export interface Identity {
  /** -1 when not root (jobs run as the node's uid). */
  uid: number
  cgroup: JobCgroup | null
  workspace: Workspace
  /** Starts the identity's stages (replaced if it dies). */
  zygote: Zygote
}

export interface IdentitySetup {
  count: number
  /** Jobs run at once (their CPU weight, see cgroups.ts). */
  slots: number
  /** First uid to try (root only). */
  uidBase: number
  /** Size of each workspace tmpfs. */
  workspaceBytes: number
  /** Where workspaces go when not root. */
  dataDir: string
  /** setpriv, to tie each zygote's life to the node's (null: without). */
  setpriv: string | null
  workspaceRoot?: string
  lockDir?: string
}

/** How often, at most, an identity's uid is looked for in /proc when its pids cgroup says it is empty. */
const AUDIT_MS = 10_000

function sleep (ms: number): Promise<void> {
  return new Promise((res) => setTimeout(res, ms))
}

export class Identities {
  readonly all: readonly Identity[]
  readonly cgroups: CgroupSupport
  readonly tmpfs: boolean
  /** Why something fell back, for SandboxInfo.warnings. */
  readonly warnings: string[]
  private readonly pool: Pool<Identity>
  private readonly lease: UidLease | null
  private readonly mounts: string[]
  private readonly recycling = new Set<Promise<void>>()
  /** When /proc was last scanned for each uid. */
  private readonly audited = new Map<number, number>()
  private readonly setpriv: string | null

  private constructor (all: Identity[], cgroups: CgroupSupport, tmpfs: boolean, warnings: string[], lease: UidLease | null, mounts: string[], setpriv: string | null) {
    this.setpriv = setpriv
    this.all = all
    this.cgroups = cgroups
    this.tmpfs = tmpfs
    this.warnings = warnings
    this.lease = lease
    this.mounts = mounts
    this.pool = new Pool(all)
  }

  static async create (setup: IdentitySetup): Promise<Identities> {
    const warnings: string[] = []
    if (process.getuid?.() !== 0) {
      const all: Identity[] = []
      for (let i = 0; i < setup.count; i++) {
        const ws = new Workspace(join(setup.dataDir, 'work', String(i)))
        await mkdir(ws.root, { recursive: true })
        await ws.clean()
        all.push({ uid: -1, cgroup: null, workspace: ws, zygote: new Zygote(ws.root, null, setup.setpriv) })
      }
      return new Identities(all, { memory: null, pids: null, cpuacct: null, cpu: null, memsw: false }, false, warnings, null, [], setup.setpriv)
    }
    const wsRoot = setup.workspaceRoot ?? DEFAULT_WORKSPACE_ROOT
    await mkdir(wsRoot, { recursive: true, mode: 0o755 })
    const lease = await claimUids({ base: setup.uidBase, count: setup.count, ...(setup.lockDir === undefined ? {} : { lockDir: setup.lockDir }) })
    try {
      const cgroups = await probeCgroups(setup.slots)
      const dirs = lease.uids.map((u) => join(wsRoot, String(u)))
      const mountError = await mountTmpfs(dirs, setup.workspaceBytes, 16384)
      if (mountError !== null) warnings.push(`cannot mount tmpfs job dirs (${mountError}): disk use is limited per file only`)
      const hasCg = cgroups.memory !== null || cgroups.pids !== null || cgroups.cpuacct !== null || cgroups.cpu !== null
      const all: Identity[] = []
      try {
        for (const [i, uid] of lease.uids.entries()) {
          const workspace = new Workspace(dirs[i]!)
          await workspace.clean()
          const cgroup = hasCg ? new JobCgroup(cgroups, uid) : null
          cgroup?.create()
          cgroup?.killAll()
          all.push({ uid, cgroup, workspace, zygote: new Zygote(workspace.root, cgroup, setup.setpriv) })
        }
      } catch (err) {
        await Promise.all(all.map((id) => id.zygote.stop()))
        throw err
      }
      return new Identities(all, cgroups, mountError === null, warnings, lease, mountError === null ? dirs : [], setup.setpriv)
    } catch (err) {
      await lease.release()
      throw err
    }
  }

  /** A free identity, with a live zygote. */
  async acquire (signal?: AbortSignal): Promise<Identity> {
    const id = await this.pool.acquire(signal)
    if (!id.zygote.alive) await this.respawn(id)
    return id
  }

  /** Replaces a dead zygote. */
  private async respawn (id: Identity): Promise<void> {
    await id.zygote.stop()
    try { id.cgroup?.killAll() } catch { /* group gone */ }
    id.zygote = new Zygote(id.workspace.root, id.cgroup, this.setpriv)
  }

  /**
   * Removes the job dir and hands the identity back once nothing of the job
   * is left (in the background; `drain` waits for it). An identity that
   * cannot be cleaned within a minute is retired.
   */
  recycle (id: Identity): void {
    const p = this.clean(id).catch(() => false).then((clean) => { if (clean) this.pool.release(id) })
    this.recycling.add(p)
    void p.finally(() => { this.recycling.delete(p) })
  }

  /**
   * True once nothing but the zygote is left of the identity's uid and
   * cgroups, and the job dir is gone. With a pids cgroup, its count is the
   * proof (every process of the job is born in it and cannot leave it: the
   * cgroup files belong to root); /proc is then scanned for the uid when
   * that count is off, and otherwise at most every AUDIT_MS per identity
   * (a scan costs ~2 ms of CPU per hundred processes). Without one, /proc
   * is scanned every time.
   */
  private async clean (id: Identity): Promise<boolean> {
    if (!id.zygote.alive) await this.respawn(id)
    const deadline = Date.now() + 60_000
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      const zygote = id.zygote.pid
      try { id.cgroup?.killAll(zygote === undefined ? [] : [zygote]) } catch { /* group gone */ }
      let tasks: number | null = null
      try {
        const t = id.cgroup?.tasks() ?? null
        if (t !== null) tasks = t - (id.zygote.alive ? 1 : 0)
      } catch { /* group gone */ }
      let left: number[] = []
      const now = Date.now()
      if (id.uid >= 0 && (tasks === null || tasks > 0 || now - (this.audited.get(id.uid) ?? 0) >= AUDIT_MS)) {
        left = (await processesOf(new Set([id.uid]))).get(id.uid) ?? []
        this.audited.set(id.uid, now)
      }
      if (left.length === 0 && (tasks ?? 0) <= 0) {
        try { await id.workspace.clean() } catch { return false }
        return true
      }
      for (const pid of left) {
        try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
      }
      await sleep(attempt < 10 ? 5 : 100)
    }
    return false
  }

  /** Waits for identities being recycled. */
  async drain (): Promise<void> {
    while (this.recycling.size > 0) await Promise.all([...this.recycling])
  }

  /** Fails waiters, kills what is left, removes cgroups and mounts, drops the uid claims. */
  async close (err: Error): Promise<void> {
    this.pool.rejectAll(err)
    await this.drain()
    await Promise.all(this.all.map((id) => id.zygote.stop()))
    for (const id of this.all) {
      try { id.cgroup?.killAll() } catch { /* gone */ }
    }
    await Promise.all(this.all.map((id) => id.workspace.clean().catch(() => {})))
    for (const id of this.all) id.cgroup?.destroy()
    releaseCpuGroup(this.cgroups)
    if (this.tmpfs) await unmountTmpfs(this.mounts)
    else await Promise.all(this.all.map((id) => rm(id.workspace.root, { recursive: true, force: true }).catch(() => {})))
    await this.lease?.release()
  }
}
