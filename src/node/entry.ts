/**
 * The entry role: owns the conversation with clients. It keeps every job it
 * accepted until the result is delivered (and for a while after, so a client
 * that lost its connection can attach again by id), asks the master for a
 * worker, dispatches, relays progress, and re-places a job whose worker was
 * lost. Submitting an id that is already known attaches to that job, so
 * re-submission is idempotent and delivery is deduplicated by id.
 */
import { createHash } from 'node:crypto'
import type { ExecResult, JobSpec } from '../exec/types.ts'
import { resolveLanguage } from '../exec/languages.ts'
import type { JobEvent, JobResult } from './schemas.ts'
import { RefusedError, RejectedError, type DispatchLink, type PlacementLink } from './links.ts'

export type JobListener = (event: JobEvent) => void

export interface JobRecord {
  readonly spec: JobSpec
  readonly language: string
  readonly fingerprint: string
  readonly acceptedAt: number
  state: 'queued' | 'running' | 'done'
  position: number | null
  worker: string | null
  /** Time from acceptance to the first grant. */
  queuedMs: number | null
  attempts: number
  /** Progress so far, replayed to a client that attaches late. */
  readonly history: JobEvent[]
  historyBytes: number
  readonly listeners: Set<JobListener>
  result: JobResult | null
  readonly done: Promise<JobResult>
  /** Resolves once the job is in the journal (tell the client "accepted" after). */
  readonly persisted: Promise<void>
}

/** Where an entry records what it accepted and delivered (see journal.ts). */
export interface JobLog {
  accepted: (spec: JobSpec) => Promise<void>
  finished: (result: JobResult) => Promise<void>
}

export class ConflictError extends Error {
  override name = 'ConflictError'
}

export interface EntryInit {
  self: string
  /** Told of every state change of every job this entry owns. */
  onState?: (job: JobRecord) => void
  journal?: JobLog
  /** A journal write failed: the job goes on, but would not survive a restart. */
  onJournalError?: (err: unknown) => void
  placement: () => PlacementLink
  dispatch: () => DispatchLink
  /** Re-placements before a job is given up as `error`. */
  maxAttempts?: number
  /** How long finished jobs stay available for attach. */
  keepResultsMs?: number
  /** Bytes of replayable history kept per job. */
  maxHistoryBytes?: number
}

export class Entry {
  private readonly jobs = new Map<string, JobRecord>()
  private readonly init: Required<EntryInit>
  private readonly aborter = new AbortController()

  constructor (init: EntryInit) {
    this.init = {
      maxAttempts: 5,
      keepResultsMs: 10 * 60_000,
      maxHistoryBytes: 4 * 1024 * 1024,
      onState: () => {},
      journal: { accepted: async () => {}, finished: async () => {} },
      onJournalError: () => {},
      ...init,
    }
  }

  get(id: string): JobRecord | undefined { return this.jobs.get(id) }
  get all (): JobRecord[] { return [...this.jobs.values()] }
  get unfinished (): JobRecord[] { return this.all.filter((j) => j.state !== 'done') }

  /** Accept a job, or attach to the job that already has this id. */
  submit (spec: JobSpec): { job: JobRecord, attached: boolean } {
    const fingerprint = fingerprintOf(spec)
    const existing = this.jobs.get(spec.id)
    if (existing !== undefined) {
      // A restored result has no sources to compare: the id decides.
      if (existing.fingerprint !== '' && existing.fingerprint !== fingerprint) throw new ConflictError(`job id ${spec.id} is already used by a different job`)
      return { job: existing, attached: true }
    }
    let resolve!: (r: JobResult) => void
    const done = new Promise<JobResult>((r) => { resolve = r })
    const language = resolveLanguage(spec.language)?.name ?? spec.language
    const job: JobRecord = {
      spec, language, fingerprint, acceptedAt: Date.now(), state: 'queued', position: null, worker: null, queuedMs: null, attempts: 0,
      history: [], historyBytes: 0, listeners: new Set(), result: null, done,
      persisted: this.init.journal.accepted(spec).catch((err: unknown) => { this.init.onJournalError(err) }),
    }
    this.jobs.set(spec.id, job)
    this.init.onState(job)
    void this.drive(job).then(resolve, (err: unknown) => {
      resolve(this.finish(job, { status: 'error', message: `internal error: ${String(err)}`, compile: null, run: null }, this.init.self))
    })
    return { job, attached: false }
  }

  /** A result delivered before a restart, kept so that clients can still pick it up. */
  restore (result: JobResult, spec?: JobSpec): void {
    if (this.jobs.has(result.id)) return
    const job: JobRecord = {
      spec: spec ?? { id: result.id, language: result.language, files: [], stdin: '', args: [] },
      language: result.language,
      fingerprint: spec === undefined ? '' : fingerprintOf(spec),
      acceptedAt: Date.now(), state: 'done', position: null, worker: result.node, queuedMs: result.queuedMs,
      attempts: result.attempts, history: [], historyBytes: 0, listeners: new Set(), result,
      done: Promise.resolve(result), persisted: Promise.resolve(),
    }
    this.jobs.set(result.id, job)
    setTimeout(() => this.jobs.delete(result.id), this.init.keepResultsMs).unref()
  }

  /** Follow a job: past events are replayed, then live ones; returns unsubscribe. */
  subscribe (job: JobRecord, listener: JobListener): () => void {
    for (const e of job.history) listener(e)
    if (job.position !== null && job.state === 'queued') listener({ t: 'queued', position: job.position })
    if (job.result !== null) {
      listener({ t: 'result', result: job.result })
      return () => {}
    }
    job.listeners.add(listener)
    return () => { job.listeners.delete(listener) }
  }

  stop (): void {
    this.aborter.abort()
  }

  private emit (job: JobRecord, event: JobEvent, keep: boolean): void {
    if (keep) {
      const size = event.t === 'output' ? event.data.length : 64
      if (job.historyBytes + size <= this.init.maxHistoryBytes) {
        job.history.push(event)
        job.historyBytes += size
      }
    }
    for (const l of job.listeners) l(event)
  }

  private async drive (job: JobRecord): Promise<JobResult> {
    const { spec } = job
    if (resolveLanguage(spec.language) === undefined) {
      return this.finish(job, rejected(`unknown language '${spec.language}'`), this.init.self)
    }
    let lastError = ''
    let lost = 0
    let refused = 0
    const failedOn: string[] = []
    while (lost < this.init.maxAttempts && refused < 20 * this.init.maxAttempts) {
      if (this.aborter.signal.aborted) return this.finish(job, { status: 'error', message: 'node is shutting down', compile: null, run: null }, this.init.self)
      job.state = 'queued'
      const placement = this.init.placement()
      let grant
      try {
        grant = await placement.place({
          id: spec.id,
          language: job.language,
          avoid: failedOn,
          signal: this.aborter.signal,
          onPosition: (position) => {
            job.position = position
            this.emit(job, { t: 'queued', position }, false)
          },
        })
      } catch (err) {
        if (err instanceof RejectedError) return this.finish(job, rejected(err.message), this.init.self)
        lastError = String(err)
        lost++
        await sleep(100)
        continue
      }
      job.attempts++
      job.position = null
      job.queuedMs ??= Date.now() - job.acceptedAt
      job.state = 'running'
      job.worker = grant.worker
      this.init.onState(job)
      let failed = true
      try {
        const { result, node } = await this.init.dispatch().dispatch(spec, grant, {
          signal: this.aborter.signal,
          onStage: (stage, node) => { this.emit(job, { t: 'started', stage, node }, true) },
          onOutput: (stage, stream, data) => { this.emit(job, { t: 'output', stage, stream, data }, true) },
        })
        failed = false
        return this.finish(job, result, node)
      } catch (err) {
        lastError = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
        // A refusal (busy, stale term) costs nothing but a moment; a lost
        // worker is an attempt: the job is placed again, elsewhere.
        if (err instanceof RefusedError) {
          refused++
          await sleep(50)
        } else {
          lost++
          failedOn.push(grant.worker)
        }
      } finally {
        placement.done(spec.id, failed)
      }
    }
    return this.finish(job, { status: 'error', message: `gave up after ${job.attempts} attempts: ${lastError}`, compile: null, run: null }, this.init.self)
  }

  private finish (job: JobRecord, exec: ExecResult, node: string): JobResult {
    if (job.result !== null) return job.result
    const now = Date.now()
    const result: JobResult = {
      ...exec,
      id: job.spec.id,
      language: job.language,
      node,
      entry: this.init.self,
      queuedMs: job.queuedMs ?? now - job.acceptedAt,
      totalMs: now - job.acceptedAt,
      attempts: job.attempts,
    }
    job.result = result
    job.state = 'done'
    this.init.journal.finished(result).catch((err: unknown) => { this.init.onJournalError(err) })
    this.init.onState(job)
    for (const l of job.listeners) l({ t: 'result', result })
    job.listeners.clear()
    const timer = setTimeout(() => this.jobs.delete(job.spec.id), this.init.keepResultsMs)
    timer.unref()
    return result
  }
}

async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

function rejected (message: string): ExecResult {
  return { status: 'rejected', message, compile: null, run: null }
}

function fingerprintOf (spec: JobSpec): string {
  const h = createHash('sha256')
  h.update(JSON.stringify([spec.language, spec.files, spec.stdin, spec.args, spec.limits ?? null]))
  return h.digest('hex')
}
