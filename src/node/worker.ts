/**
 * The worker role: runs jobs placed on this node through the executor, within
 * the node's --max-jobs. Every run is kept by job id while it runs and for a
 * while after, with its progress: a dispatch of an id that is running or ran
 * here attaches to it instead of running the program again (an entry that
 * lost its stream, a new master re-placing a job, a client re-submitting).
 */
import type { ExecHooks, ExecResult, Executor, JobSpec, OutputStream, Stage } from '../exec/types.ts'

export interface RunningJob {
  id: string
  language: string
  stage: 'queued' | Stage
  startedAt: number
}

export type RunEvent =
  | { t: 'started', stage: Stage }
  | { t: 'output', stage: Stage, stream: OutputStream, data: string }

interface Run {
  info: RunningJob
  history: RunEvent[]
  listeners: Set<(e: RunEvent) => void>
  result: Promise<ExecResult>
  done: boolean
}

export class BusyError extends Error {
  override name = 'BusyError'
}

export interface WorkerOptions {
  /** How long a finished run stays available to attach to. */
  keepMs?: number
}

export class Worker {
  readonly maxJobs: number
  private readonly executor: Executor
  private readonly runs = new Map<string, Run>()
  private readonly keepMs: number
  private active = 0

  constructor (executor: Executor, maxJobs: number, opts: WorkerOptions = {}) {
    this.executor = executor
    this.maxJobs = maxJobs
    this.keepMs = opts.keepMs ?? 5 * 60_000
  }

  get running (): number { return this.active }
  get jobs (): RunningJob[] { return [...this.runs.values()].filter((r) => !r.done).map((r) => r.info) }
  /** True while the job runs here (not once it finished). */
  has (id: string): boolean { return this.runs.get(id)?.done === false }
  /** True when the job runs or ran here recently. */
  knows (id: string): boolean { return this.runs.has(id) }

  /**
   * Run a job, or attach to its run when this id runs or ran here; refuses
   * (BusyError) a new run when every slot is taken.
   */
  async run (job: JobSpec, hooks: ExecHooks = {}): Promise<ExecResult> {
    const existing = this.runs.get(job.id)
    if (existing !== undefined) return await this.attach(existing, hooks)
    if (this.active >= this.maxJobs) throw new BusyError(`all ${this.maxJobs} job slots are busy`)
    const info: RunningJob = { id: job.id, language: job.language, stage: 'queued', startedAt: Date.now() }
    const run: Run = { info, history: [], listeners: new Set(), result: Promise.resolve(null as never), done: false }
    const emit = (e: RunEvent): void => {
      run.history.push(e)
      for (const l of run.listeners) l(e)
    }
    this.active++
    run.result = this.executor.run(job, {
      // A run is not cancelled when the one who asked goes away: it finishes
      // and its result waits here for pickup.
      onStage: (stage) => { info.stage = stage; emit({ t: 'started', stage }) },
      onOutput: (stage, stream, data) => { emit({ t: 'output', stage, stream, data }) },
    }).finally(() => {
      this.active--
      run.done = true
      run.listeners.clear()
      // The result holds the output; the replay log is only for live attach.
      run.history = []
      setTimeout(() => { this.runs.delete(job.id) }, this.keepMs).unref()
    })
    this.runs.set(job.id, run)
    return await this.attach(run, hooks)
  }

  private async attach (run: Run, hooks: ExecHooks): Promise<ExecResult> {
    const deliver = (e: RunEvent): void => {
      if (e.t === 'started') hooks.onStage?.(e.stage)
      else hooks.onOutput?.(e.stage, e.stream, e.data)
    }
    for (const e of run.history) deliver(e)
    if (!run.done) run.listeners.add(deliver)
    try {
      return await run.result
    } finally {
      run.listeners.delete(deliver)
    }
  }
}
