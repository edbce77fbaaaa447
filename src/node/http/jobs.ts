/** How jobs look over HTTP: summaries for lists, views with output for one job. */
import type { JobRecord } from '../entry.ts'
import type { JobEvent, JobResult } from '../schemas.ts'

export interface JobSummary {
  id: string
  language: string
  state: JobRecord['state']
  /** The result's status once done, else null. */
  status: JobResult['status'] | null
  /** Queue position while waiting for a worker. */
  position: number | null
  /** The worker running it, or the node that produced the result. */
  node: string | null
  acceptedAt: number
  /** Total time once done, else time so far. */
  elapsedMs: number
  attempts: number
}

export interface StageOutput { stdout: string, stderr: string, output: string }

export interface JobView extends JobSummary {
  queuedMs: number | null
  /** Output so far, per stage, in the order it was written (live output only: a cached compile has none). */
  output: { compile: StageOutput, run: StageOutput }
  result: JobResult | null
}

export function jobSummary (job: JobRecord, now = Date.now()): JobSummary {
  return {
    id: job.spec.id,
    language: job.language,
    state: job.state,
    status: job.result?.status ?? null,
    position: job.state === 'queued' ? job.position : null,
    node: job.result?.node ?? job.worker,
    acceptedAt: job.acceptedAt,
    elapsedMs: job.result?.totalMs ?? now - job.acceptedAt,
    attempts: job.attempts,
  }
}

export function jobView (job: JobRecord, now = Date.now()): JobView {
  return { ...jobSummary(job, now), queuedMs: job.queuedMs, output: collectOutput(job.history), result: job.result }
}

/** Output events gathered per stage; a re-placed job's output restarts with its new run. */
export function collectOutput (events: Iterable<JobEvent>): { compile: StageOutput, run: StageOutput } {
  const empty = (): StageOutput => ({ stdout: '', stderr: '', output: '' })
  let out = { compile: empty(), run: empty() }
  let seenRun = false
  for (const e of events) {
    if (e.t === 'started') {
      if (e.stage === 'compile' || (e.stage === 'run' && seenRun)) out = { compile: e.stage === 'compile' ? empty() : out.compile, run: empty() }
      if (e.stage === 'run') seenRun = true
      if (e.stage === 'compile') seenRun = false
    }
    if (e.t === 'output') {
      const s = out[e.stage]
      s[e.stream] += e.data
      s.output += e.data
    }
  }
  return out
}

/** The order-preserving output of a stage, if the live events saw all of it. */
export function interleaved (live: StageOutput, stdout: string, stderr: string): string | undefined {
  return live.stdout === stdout && live.stderr === stderr ? live.output : undefined
}
