/**
 * Where sandboxes are started from. Forking costs time in proportion to the
 * forking process's memory (measured here: 0.9 ms from a 50 MB process,
 * 17 ms from a 350 MB one), and node forks synchronously on its event loop.
 * A node with libp2p loaded is big, so sandboxes are started by a small
 * helper process (sandbox-helper.ts, forked once) that runs `Sandbox.run`
 * and streams output and outcomes back over IPC. If the helper cannot be
 * started, sandboxes are started in-process (`LocalRunner`).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { JobCgroup } from './cgroups.ts'
import { Sandbox, type SandboxConfig, type SandboxLimits, type SandboxOutcome } from './sandbox.ts'
import type { OutputStream } from './types.ts'

/** One stage to run, as plain data (it crosses to the helper). */
export interface RunRequest {
  argv: readonly string[]
  /** -1: stay who we are. */
  uid: number
  /** Use the uid's cgroups (cgroups.ts). */
  cgroup: boolean
  box: string
  tmp: string
  limits: SandboxLimits
  stdin: string | null
}

export interface RunHooks {
  signal?: AbortSignal
  onOutput?: (stream: OutputStream, text: string) => void
}

export interface SandboxRunner {
  run: (req: RunRequest, hooks?: RunHooks) => Promise<SandboxOutcome>
  close: () => Promise<void>
}

/** The outcome of a stage that never started. */
export function failed (message: string): SandboxOutcome {
  return {
    stdout: '', stderr: '', truncated: false, code: null, signal: null, wallMs: 0, cpuMs: null, memoryKb: null,
    killedFor: null, oomKilled: false, pidsLimitHit: false, setupFailed: message,
  }
}

/** Runs sandboxes from this process. */
export class LocalRunner implements SandboxRunner {
  private readonly sandbox: Sandbox
  private readonly cgroups = new Map<number, JobCgroup>()

  constructor (config: SandboxConfig) {
    this.sandbox = new Sandbox(config)
  }

  async run (req: RunRequest, hooks: RunHooks = {}): Promise<SandboxOutcome> {
    let cgroup: JobCgroup | null = null
    try {
      if (req.cgroup) {
        cgroup = this.cgroups.get(req.uid) ?? null
        if (cgroup === null) {
          cgroup = new JobCgroup(this.sandbox.config.cgroups, req.uid)
          cgroup.create()
          this.cgroups.set(req.uid, cgroup)
        }
      }
      // pids.max one below RLIMIT_NPROC: the cgroup trips first and counts it (pids.events).
      cgroup?.prepare(req.limits.memoryBytes, Math.max(1, req.limits.processes - 1))
    } catch (err) {
      return failed(`cannot set up the cgroups of uid ${req.uid}: ${(err as Error).message}`)
    }
    return await this.sandbox.run({
      argv: req.argv,
      identity: { uid: req.uid, cgroup, workspace: { box: req.box, tmp: req.tmp } },
      limits: req.limits,
      stdin: req.stdin,
      ...(hooks.signal === undefined ? {} : { signal: hooks.signal }),
      ...(hooks.onOutput === undefined ? {} : { onOutput: hooks.onOutput }),
    })
  }

  async close (): Promise<void> {
    this.sandbox.killAll()
  }
}

/** Messages to the helper. */
export type ToHelper =
  | { type: 'run'; id: number; req: RunRequest }
  | { type: 'kill'; id: number }

/** Messages from the helper. */
export type FromHelper =
  | { type: 'ready' }
  | { type: 'output'; id: number; stream: OutputStream; text: string }
  /** After all of the stage's output; `outcome.stdout`/`stderr` are left empty (already streamed). */
  | { type: 'done'; id: number; outcome: SandboxOutcome }

interface Pending {
  hooks: RunHooks
  resolve: (o: SandboxOutcome) => void
  onAbort: () => void
  /** The output as streamed (the final outcome does not repeat it). */
  stdout: string
  stderr: string
}


/**
 * Runs sandboxes from a forked helper process, started on first use (an idle
 * node costs no helper) and again if it dies. If it cannot be started at
 * all, stages run in-process instead (`onFallback` says why, once).
 */
export class HelperRunner implements SandboxRunner {
  private readonly config: SandboxConfig
  private readonly onFallback: (why: string) => void
  private local: LocalRunner | null = null
  private child: ChildProcess | null = null
  private starting: Promise<ChildProcess> | null = null
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private closed = false

  constructor (config: SandboxConfig, onFallback: (why: string) => void = () => {}) {
    this.config = config
    this.onFallback = onFallback
  }

  /** Forks the helper and waits until it is ready. */
  start (): Promise<ChildProcess> {
    this.starting ??= new Promise<ChildProcess>((resolve, reject) => {
      const here = fileURLToPath(import.meta.url)
      const entry = here.slice(0, -extname(here).length).replace(/runner$/, 'sandbox-helper') + extname(here)
      const child = fork(entry, [JSON.stringify(this.config)], {
        execArgv: ['--max-old-space-size=128'],
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      })
      const onEarlyExit = (code: number | null, signal: string | null): void => {
        reject(new Error(`the sandbox helper exited during start-up (${signal ?? `exit code ${String(code)}`})`))
      }
      child.once('exit', onEarlyExit)
      child.once('error', reject)
      child.on('message', (m: FromHelper) => {
        if (m.type === 'ready') {
          child.off('exit', onEarlyExit)
          child.off('error', reject)
          this.child = child
          resolve(child)
        } else {
          this.onMessage(m)
        }
      })
      child.on('exit', () => {
        if (this.child === child) this.child = null
        this.starting = null
        for (const [id, p] of this.pending) {
          this.pending.delete(id)
          p.hooks.signal?.removeEventListener('abort', p.onAbort)
          p.resolve(failed('the sandbox helper process exited'))
        }
      })
    })
    return this.starting
  }

  private onMessage (m: FromHelper): void {
    if (m.type === 'output') {
      const p = this.pending.get(m.id)
      if (p === undefined) return
      p[m.stream] += m.text
      p.hooks.onOutput?.(m.stream, m.text)
    } else if (m.type === 'done') {
      const p = this.pending.get(m.id)
      if (p === undefined) return
      this.pending.delete(m.id)
      p.hooks.signal?.removeEventListener('abort', p.onAbort)
      p.resolve({ ...m.outcome, stdout: p.stdout, stderr: p.stderr })
    }
  }

  async run (req: RunRequest, hooks: RunHooks = {}): Promise<SandboxOutcome> {
    if (this.closed) return failed('the sandbox runner is closed')
    if (this.local !== null) return await this.local.run(req, hooks)
    let child: ChildProcess
    try {
      child = this.child ?? await this.start()
    } catch (err) {
      this.local ??= new LocalRunner(this.config)
      this.onFallback(`sandboxes are started from the node process: ${(err as Error).message}`)
      return await this.local.run(req, hooks)
    }
    const id = this.nextId++
    return new Promise<SandboxOutcome>((resolve) => {
      const onAbort = (): void => { this.send(child, { type: 'kill', id }) }
      this.pending.set(id, { hooks, resolve, onAbort, stdout: '', stderr: '' })
      this.send(child, { type: 'run', id, req })
      if (hooks.signal !== undefined) {
        if (hooks.signal.aborted) onAbort()
        else hooks.signal.addEventListener('abort', onAbort, { once: true })
      }
    })
  }

  private send (child: ChildProcess, m: ToHelper): void {
    if (child.connected) child.send(m)
  }

  async close (): Promise<void> {
    this.closed = true
    await this.local?.close()
    const child = this.child
    if (child === null) return
    for (const id of this.pending.keys()) this.send(child, { type: 'kill', id })
    await new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) { resolve(); return }
      child.once('exit', () => { resolve() })
      child.disconnect()
      setTimeout(() => { child.kill('SIGKILL') }, 2000).unref()
    })
  }
}

