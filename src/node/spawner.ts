/**
 * Starting extra workers for the autoscaler.
 *
 * By default a worker is a child `meshrun node` on this host (the same Node
 * binary and bin/meshrun.js), with its own data dir under this node's
 * (`<data>/spawned/<name>`), bootstrapped from this node (`--peer`), in the
 * same cluster with the same key and job flags, and told who started it
 * (`--spawned-by`) and when to retire (`--retire-idle`). Its peer id is known
 * before it starts: the identity is written into its data dir first.
 *
 * With a command (`--spawn-cmd`), the operator's command runs under
 * `/bin/sh -c` instead, with the environment a worker needs (see
 * `commandEnv`), so workers can start elsewhere (ssh, containers, a cloud CLI).
 *
 * Lifetimes: every spawned process runs in its own session and process group
 * (`detached`) with its output in `<dir>/node.log`, so neither a terminal's
 * Ctrl-C nor this node's death (even SIGKILL, mid-job) takes it down: an
 * orphan finishes its jobs and retires itself once idle. `stop()` on this
 * node's orderly stop sends SIGTERM to each group still running, then SIGKILL
 * after `STOP_GRACE_MS`.
 */
import { spawn } from 'node:child_process'
import { mkdir, open, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { loadOrCreateIdentity } from './identity.ts'

export const STOP_GRACE_MS = 5000
/** Priority of spawned workers: below any node an operator starts, so one never becomes master while such a node lives. */
export const SPAWNED_PRIORITY = -1_000_000

export interface SpawnerInit {
  /** This node's data dir: workers' dirs go under `<dataDir>/spawned/`. */
  dataDir: string
  /** This node's peer id (`--spawned-by`). */
  self: string
  /** A multiaddr of this node: loopback for a local child, else one other hosts can reach. */
  peer: (local: boolean) => string
  cluster: string
  keyFile?: string
  /** Whether this node uses mDNS (a local child does the same). */
  mdns: boolean
  /** Idle seconds after which a spawned worker drains and stops. */
  idleRetireS: number
  /** Job flags passed on (--max-jobs, --langs, limits, …). */
  workerArgs: readonly string[]
  /** The operator's command (`--spawn-cmd`); default: a child `meshrun node`. */
  command?: string
  /** Node binary and launcher (default: this process's). */
  execPath?: string
  bin?: string
}

export interface SpawnedWorker {
  /** Its peer id when known in advance (default spawner), else null. */
  readonly id: string | null
  readonly pid: number | null
  readonly dir: string
  readonly startedAt: number
  readonly exited: Promise<{ code: number | null, signal: string | null }>
  running: boolean
}

const DEFAULT_BIN = join(import.meta.dirname, '..', '..', 'bin', 'meshrun.js')

export class Spawner {
  private readonly init: SpawnerInit
  private readonly live = new Set<SpawnedWorker>()
  private count = 0

  constructor (init: SpawnerInit) {
    this.init = init
  }

  get kind (): 'process' | 'command' { return this.init.command === undefined ? 'process' : 'command' }

  /** The flags a worker is started with (besides --port and --data). */
  nodeArgs (local: boolean): string[] {
    const i = this.init
    return [
      '--peer', i.peer(local),
      '--cluster', i.cluster,
      ...(i.keyFile === undefined ? [] : ['--key', i.keyFile]),
      ...(i.mdns ? [] : ['--no-mdns']),
      ...i.workerArgs,
      '--spawned-by', i.self,
      '--retire-idle', String(i.idleRetireS),
    ]
  }

  /** The environment of a `--spawn-cmd` command. */
  commandEnv (dir: string): Record<string, string> {
    const i = this.init
    return {
      MESHRUN_CLUSTER: i.cluster,
      MESHRUN_KEY_FILE: i.keyFile ?? '',
      MESHRUN_PEER: i.peer(false),
      MESHRUN_SPAWNED_BY: i.self,
      MESHRUN_RETIRE_IDLE: String(i.idleRetireS),
      MESHRUN_DATA: dir,
      MESHRUN_NODE_ARGS: this.nodeArgs(false).map(shellQuote).join(' '),
      MESHRUN_BIN: [i.execPath ?? process.execPath, i.bin ?? DEFAULT_BIN].map(shellQuote).join(' '),
    }
  }

  async spawn (): Promise<SpawnedWorker> {
    const i = this.init
    const dir = join(i.dataDir, 'spawned', `${Date.now().toString(36)}-${process.pid}-${++this.count}`)
    await mkdir(dir, { recursive: true, mode: 0o700 })
    let id: string | null = null
    let cmd: string
    let args: string[]
    let env: NodeJS.ProcessEnv = process.env
    if (i.command === undefined) {
      id = peerIdFromPrivateKey(await loadOrCreateIdentity(dir)).toString()
      cmd = i.execPath ?? process.execPath
      args = [i.bin ?? DEFAULT_BIN, 'node', '--port', '0', '--data', dir, ...this.nodeArgs(true)]
      // Node's compile cache, shared by the children: each starts ~0.3 s sooner.
      env = { ...process.env, NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE ?? join(i.dataDir, 'spawned', '.compile-cache') }
    } else {
      cmd = '/bin/sh'
      args = ['-c', i.command]
      env = { ...process.env, ...this.commandEnv(dir) }
    }
    const logFile = await open(join(dir, 'node.log'), 'a', 0o600)
    let child
    try {
      child = spawn(cmd, args, { detached: true, stdio: ['ignore', logFile.fd, logFile.fd], env })
    } finally {
      await logFile.close()
    }
    const exited = new Promise<{ code: number | null, signal: string | null }>((resolve) => {
      child.once('error', () => { resolve({ code: null, signal: null }) })
      child.once('exit', (code, signal) => { resolve({ code, signal }) })
    })
    const worker: SpawnedWorker = { id, pid: child.pid ?? null, dir, startedAt: Date.now(), exited, running: child.pid !== undefined }
    this.live.add(worker)
    void exited.then(async ({ code }) => {
      worker.running = false
      this.live.delete(worker)
      // A local worker that retired cleanly leaves nothing worth keeping.
      if (code === 0 && i.command === undefined) await rm(dir, { recursive: true, force: true }).catch(() => {})
    })
    return worker
  }

  /** The end of a worker's log (why it failed). */
  async logTail (worker: SpawnedWorker, bytes = 800): Promise<string> {
    try {
      const text = await readFile(join(worker.dir, 'node.log'), 'utf8')
      return text.slice(-bytes).trim()
    } catch {
      return ''
    }
  }

  /** Stop every spawned process still running: SIGTERM to its group, SIGKILL after the grace time. */
  async stop (): Promise<void> {
    await Promise.all([...this.live].map(async (w) => {
      if (!w.running || w.pid === null) return
      signalGroup(w.pid, 'SIGTERM')
      let timer: NodeJS.Timeout | undefined
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => { signalGroup(w.pid!, 'SIGKILL'); resolve() }, STOP_GRACE_MS)
      })
      await Promise.race([w.exited, killed])
      clearTimeout(timer)
      await w.exited
    }))
  }
}

function signalGroup (pid: number, signal: NodeJS.Signals): void {
  try { process.kill(-pid, signal) } catch {
    try { process.kill(pid, signal) } catch {}
  }
}

export function shellQuote (s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`
}
