/**
 * Sandbox identities: a uid, its cgroups and its workspace, set up once at
 * start-up and reused. After a job, an identity goes back to the pool only
 * once nothing of the job is left: no task in its pids cgroup, no process
 * of its uid in /proc (zombies included). The pool holds more identities
 * than there are job slots, so that check never delays the next job.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { JobCgroup, probeCgroups, type CgroupSupport } from './cgroups.ts'
import { Pool } from './pool.ts'
import { claimUids, processesOf, type UidLease } from './uids.ts'
import { DEFAULT_WORKSPACE_ROOT, mountTmpfs, unmountTmpfs, Workspace } from './workspace.ts'

/** What one job runs as and in. */
export interface Identity {
  /** -1 when not root (jobs run as the node's uid). */
  uid: number
  cgroup: JobCgroup | null
  workspace: Workspace
}

export interface IdentitySetup {
  count: number
  /** First uid to try (root only). */
  uidBase: number
  /** Size of each workspace tmpfs. */
  workspaceBytes: number
  /** Where workspaces go when not root. */
  dataDir: string
  workspaceRoot?: string
  lockDir?: string
}

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

  private constructor (all: Identity[], cgroups: CgroupSupport, tmpfs: boolean, warnings: string[], lease: UidLease | null, mounts: string[]) {
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
        all.push({ uid: -1, cgroup: null, workspace: ws })
      }
      return new Identities(all, { memory: null, pids: null, cpuacct: null, memsw: false }, false, warnings, null, [])
    }
    const wsRoot = setup.workspaceRoot ?? DEFAULT_WORKSPACE_ROOT
    await mkdir(wsRoot, { recursive: true, mode: 0o755 })
    const lease = await claimUids({ base: setup.uidBase, count: setup.count, ...(setup.lockDir === undefined ? {} : { lockDir: setup.lockDir }) })
    try {
      const cgroups = await probeCgroups()
      const dirs = lease.uids.map((u) => join(wsRoot, String(u)))
      const mountError = await mountTmpfs(dirs, setup.workspaceBytes, 16384)
      if (mountError !== null) warnings.push(`cannot mount tmpfs job dirs (${mountError}): disk use is limited per file only`)
      const all = lease.uids.map((uid, i): Identity => {
        const hasCg = cgroups.memory !== null || cgroups.pids !== null || cgroups.cpuacct !== null
        const cgroup = hasCg ? new JobCgroup(cgroups, uid) : null
        cgroup?.create()
        cgroup?.killAll()
        return { uid, cgroup, workspace: new Workspace(dirs[i]!) }
      })
      await Promise.all(all.map((id) => id.workspace.clean()))
      return new Identities(all, cgroups, mountError === null, warnings, lease, mountError === null ? dirs : [])
    } catch (err) {
      await lease.release()
      throw err
    }
  }

  acquire (signal?: AbortSignal): Promise<Identity> {
    return this.pool.acquire(signal)
  }

  /**
   * Hands an identity back once nothing of the job is left (in the
   * background; `drain` waits for it). An identity that cannot be cleaned
   * within a minute is retired.
   */
  recycle (id: Identity): void {
    const p = this.clean(id).then((clean) => { if (clean) this.pool.release(id) })
    this.recycling.add(p)
    void p.finally(() => { this.recycling.delete(p) })
  }

  /** True once the identity's uid and cgroup are empty. */
  private async clean (id: Identity): Promise<boolean> {
    const deadline = Date.now() + 60_000
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      try { id.cgroup?.killAll() } catch { /* group gone */ }
      const left = id.uid >= 0 ? (await processesOf(new Set([id.uid]))).get(id.uid) ?? [] : []
      let tasks = 0
      try { tasks = id.cgroup?.tasks() ?? 0 } catch { /* group gone */ }
      if (left.length === 0 && tasks === 0) return true
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
    for (const id of this.all) {
      try { id.cgroup?.killAll() } catch { /* gone */ }
    }
    await Promise.all(this.all.map((id) => id.workspace.clean().catch(() => {})))
    for (const id of this.all) id.cgroup?.destroy()
    await unmountTmpfs(this.mounts)
    await this.lease?.release()
  }
}
