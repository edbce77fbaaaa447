/**
 * The worker role: runs jobs placed on this node through the executor, within
 * the node's --max-jobs, and keeps track of what runs for status and gossip.
 */
import type { ExecHooks, ExecResult, Executor, JobSpec, Stage } from '../exec/types.ts'

export interface RunningJob {
  id: string
  language: string
  stage: 'queued' | Stage
  startedAt: number
}

export class BusyError extends Error {
  override name = 'BusyError'
}

export class Worker {
  readonly maxJobs: number
  private readonly executor: Executor
  private readonly active = new Map<string, RunningJob>()

  constructor (executor: Executor, maxJobs: number) {
    this.executor = executor
    this.maxJobs = maxJobs
  }

  get running (): number { return this.active.size }
  get jobs (): RunningJob[] { return [...this.active.values()] }
  has (id: string): boolean { return this.active.has(id) }

  /** Run a job now; refuses (BusyError) when every slot is taken. */
  async run (job: JobSpec, hooks: ExecHooks = {}): Promise<ExecResult> {
    if (this.active.size >= this.maxJobs) throw new BusyError(`all ${this.maxJobs} job slots are busy`)
    if (this.active.has(job.id)) throw new BusyError(`job ${job.id} is already running here`)
    const rec: RunningJob = { id: job.id, language: job.language, stage: 'queued', startedAt: Date.now() }
    this.active.set(job.id, rec)
    try {
      return await this.executor.run(job, {
        ...hooks,
        onStage: (stage) => { rec.stage = stage; hooks.onStage?.(stage) },
      })
    } finally {
      this.active.delete(job.id)
    }
  }
}
