/**
 * The entry's journal: every accepted job and every delivered result, one
 * JSON line each, appended to `<data>/journal.jsonl` and fsync'd before the
 * client hears "accepted". Appends that arrive while a write is under way go
 * out together in the next one (group commit). On start the journal is read
 * back — unfinished jobs are resumed, recent results kept for pickup — and
 * rewritten compactly.
 */
import { open, readFile, rename, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import type { JobSpec } from '../exec/types.ts'
import { jobResultSchema, jobSpecSchema, type JobResult } from './schemas.ts'

const lineSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('accepted'), at: z.number(), spec: jobSpecSchema }),
  z.object({ t: z.literal('done'), at: z.number(), result: jobResultSchema }),
])
type Line = z.infer<typeof lineSchema>

export interface Recovered {
  /** Jobs accepted and not finished, oldest first. */
  pending: JobSpec[]
  /** Results delivered within the keep window. */
  finished: JobResult[]
}

export class Journal {
  private readonly file: FileHandle
  private queue: string[] = []
  private waiters: Array<{ resolve: () => void, reject: (err: unknown) => void }> = []
  private writing = false
  private closed = false

  private constructor (file: FileHandle) {
    this.file = file
  }

  /** Read what an earlier run left, compact it, and open for appending. */
  static async open (dataDir: string, keepResultsMs: number, now = Date.now()): Promise<{ journal: Journal, recovered: Recovered }> {
    const path = join(dataDir, 'journal.jsonl')
    const recovered = parse(await readFile(path, 'utf8').catch((err: any) => {
      if (err?.code === 'ENOENT') return ''
      throw err
    }), keepResultsMs, now)
    // Rewrite: the unfinished jobs and the results still worth keeping.
    const tmp = `${path}.tmp`
    const out = await open(tmp, 'w', 0o600)
    const lines = [
      ...recovered.pending.map((spec) => JSON.stringify({ t: 'accepted', at: now, spec } satisfies Line)),
      ...recovered.finished.map((result) => JSON.stringify({ t: 'done', at: now, result } satisfies Line)),
    ]
    await out.writeFile(lines.length > 0 ? lines.join('\n') + '\n' : '')
    await out.datasync()
    await out.close()
    await rename(tmp, path)
    const file = await open(path, 'a', 0o600)
    return { journal: new Journal(file), recovered }
  }

  /** Durable once this resolves. */
  async accepted (spec: JobSpec): Promise<void> {
    await this.append({ t: 'accepted', at: Date.now(), spec })
  }

  async finished (result: JobResult): Promise<void> {
    await this.append({ t: 'done', at: Date.now(), result })
  }

  async close (): Promise<void> {
    this.closed = true
    while (this.writing) await new Promise((resolve) => setTimeout(resolve, 5))
    await this.file.close()
  }

  private async append (line: Line): Promise<void> {
    if (this.closed) return
    await new Promise<void>((resolve, reject) => {
      this.queue.push(JSON.stringify(line) + '\n')
      this.waiters.push({ resolve, reject })
      if (!this.writing) void this.flush()
    })
  }

  private async flush (): Promise<void> {
    this.writing = true
    while (this.queue.length > 0) {
      const batch = this.queue.join('')
      const waiters = this.waiters
      this.queue = []
      this.waiters = []
      try {
        await this.file.write(batch)
        await this.file.datasync()
        for (const w of waiters) w.resolve()
      } catch (err) {
        for (const w of waiters) w.reject(err)
      }
    }
    this.writing = false
  }
}

/** Replay the lines; a torn last line (a crash mid-write) is skipped. */
export function parse (text: string, keepResultsMs: number, now: number): Recovered {
  const accepted = new Map<string, JobSpec>()
  const done = new Map<string, { at: number, result: JobResult }>()
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue
    let line: Line
    try {
      const parsed = lineSchema.safeParse(JSON.parse(raw))
      if (!parsed.success) continue
      line = parsed.data
    } catch {
      continue
    }
    if (line.t === 'accepted') {
      if (!done.has(line.spec.id)) accepted.set(line.spec.id, line.spec)
    } else {
      accepted.delete(line.result.id)
      done.set(line.result.id, { at: line.at, result: line.result })
    }
  }
  return {
    pending: [...accepted.values()],
    finished: [...done.values()].filter((d) => now - d.at <= keepResultsMs).map((d) => d.result),
  }
}
