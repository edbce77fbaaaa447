/** The client-facing protocols: /meshrun/session and /meshrun/job (submit or attach, then follow) and /meshrun/status. */
import type { Stream } from '@libp2p/interface'
import { ConflictError, type Entry, type JobRecord } from './entry.ts'
import { Channel } from './wire.ts'
import { clientRequestSchema, sessionRequestSchema, statusRequestSchema, type ClientRequest, type JobEvent, type SessionEvent, type SessionRequest, type Status } from './schemas.ts'
import type { Logger } from './log.ts'

/** Jobs one session may follow at once (as many as /meshrun/job streams one connection may open). */
export const MAX_FOLLOWED_PER_SESSION = 4096

/** How long a client may take to send its first message. */
const FIRST_MESSAGE_TIMEOUT_MS = 10_000

export interface ClientServiceInit {
  self: string
  entry: Entry
  status: () => Status
  /** Addresses of the other live nodes, for clients to fail over to. */
  peers: () => string[]
  log: Logger
}

export class ClientService {
  private readonly init: ClientServiceInit

  constructor (init: ClientServiceInit) {
    this.init = init
  }

  /** /meshrun/job: a client submits a job or attaches to one, then follows it to its result. */
  async onJob (stream: Stream): Promise<void> {
    const ch = new Channel<ClientRequest, JobEvent>(stream, clientRequestSchema)
    let req
    try {
      req = await ch.read(AbortSignal.timeout(FIRST_MESSAGE_TIMEOUT_MS))
    } catch (err: any) {
      await refuse(ch, err?.name === 'TimeoutError' || err?.name === 'AbortError' ? 'no request received in time' : String(err?.message ?? err))
      return
    }
    if (req === null) { await ch.close(); return }
    const taken = this.take(req)
    if ('refused' in taken) { await refuse(ch, taken.refused); return }
    const out = new InOrder(ch)
    const closed = new Promise<void>((resolve) => { stream.addEventListener('close', () => { resolve() }, { once: true }) })
    await this.follow(taken.job, taken.attached, req.quiet === true, (e) => { out.send(e) }, closed, () => this.init.peers())
    await out.close()
  }

  /**
   * /meshrun/session: one stream for all of a client's jobs on this node.
   * Each submit or attach is followed like a /meshrun/job stream, its events
   * wrapped with the request's number; `forget` stops following (the job
   * goes on, and can be attached to again). Opening a stream per job cost
   * more than the rest of a job's way through the node.
   */
  async onSession (stream: Stream): Promise<void> {
    const ch = new Channel<SessionRequest, SessionEvent>(stream, sessionRequestSchema)
    const following = new Map<number, () => void>()
    const out = new InOrder(ch)
    const send = (r: number, e: JobEvent): void => { out.send({ r, e }) }
    // The other nodes, for the client's failover: with each acceptance when
    // they changed since the last one on this session (16 addresses are ~1 KB).
    let lastPeers = ''
    const peers = (): string[] | undefined => {
      const now = this.init.peers()
      const key = now.join(' ')
      if (key === lastPeers) return undefined
      lastPeers = key
      return now
    }
    try {
      for (;;) {
        const req = await ch.read()
        if (req === null) break
        const r = req.r
        if (req.t === 'forget') { following.get(r)?.(); continue }
        if (following.has(r)) { send(r, { t: 'error', message: `request number ${r} is already in use on this session` }); continue }
        if (following.size >= MAX_FOLLOWED_PER_SESSION) { send(r, { t: 'error', message: `too many jobs followed on this session (${MAX_FOLLOWED_PER_SESSION}): wait for some results` }); continue }
        const taken = this.take(req.t === 'submit' ? { t: 'submit', job: req.job } : { t: 'attach', id: req.id })
        if ('refused' in taken) { send(r, { t: 'error', message: taken.refused }); continue }
        let stop!: () => void
        const stopped = new Promise<void>((resolve) => { stop = resolve })
        following.set(r, stop)
        void this.follow(taken.job, taken.attached, req.quiet === true, (e) => { send(r, e) }, stopped, peers).finally(() => { following.delete(r) })
      }
    } catch (err) {
      this.init.log.debug(`session closed: ${String(err)}`)
    } finally {
      for (const stop of following.values()) stop()
    }
    await out.close()
  }

  /** A submit or an attach: the job it names, or why not. */
  private take (req: ClientRequest): { job: JobRecord, attached: boolean } | { refused: string } {
    const { entry } = this.init
    if (req.t === 'submit') {
      try {
        const { job, attached } = entry.submit(req.job)
        this.init.log.debug(`job ${job.spec.id} ${attached ? 'attached' : 'accepted'} (${job.language})`)
        return { job, attached }
      } catch (err) {
        return { refused: err instanceof ConflictError ? err.message : `cannot accept the job: ${String(err)}` }
      }
    }
    const job = entry.get(req.id)
    if (job === undefined) return { refused: `unknown job ${req.id}` }
    this.init.log.debug(`job ${job.spec.id} attached (${job.language})`)
    return { job, attached: true }
  }

  /**
   * Sends a job's events (accepted once durable, then past and live ones,
   * the result last; `quiet`: the result only after `accepted`) until it is
   * done or `stop` resolves.
   */
  private async follow (job: JobRecord, attached: boolean, quiet: boolean, send: (e: JobEvent) => void, stop: Promise<void>, peers: () => string[] | undefined): Promise<void> {
    await job.persisted
    const known = peers()
    send({ t: 'accepted', id: job.spec.id, entry: this.init.self, attached, ...(known === undefined ? {} : { peers: known }) })
    const unsubscribe = this.init.entry.subscribe(job, quiet ? (e) => { if (e.t === 'result' || e.t === 'error') send(e) } : send)
    await Promise.race([job.done, stop])
    unsubscribe()
  }

  async onStatus (stream: Stream): Promise<void> {
    const ch = new Channel<{ t: 'status' }, Status>(stream, statusRequestSchema)
    try {
      const req = await ch.read(AbortSignal.timeout(FIRST_MESSAGE_TIMEOUT_MS))
      if (req !== null) await ch.write(this.init.status())
      await ch.close()
    } catch (err) {
      ch.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }
}

/**
 * Writes messages in order, each after the last has gone out; a client that
 * goes away (a write fails) only stops its own feed.
 */
class InOrder<T> {
  private readonly ch: Channel<unknown, T>
  private sending: Promise<void> = Promise.resolve()
  private failed = false

  constructor (ch: Channel<unknown, T>) {
    this.ch = ch
  }

  send (msg: T): void {
    this.sending = this.sending.then(async () => { if (!this.failed) await this.ch.write(msg) }).catch(() => { this.failed = true })
  }

  /** Once everything has been written, half-closes the stream (unless it failed). */
  async close (): Promise<void> {
    await this.sending
    if (!this.failed) await this.ch.close()
  }
}

async function refuse (ch: Channel<unknown, JobEvent>, message: string): Promise<void> {
  try {
    await ch.write({ t: 'error', message })
    await ch.close()
  } catch {
    ch.abort(new Error(message))
  }
}
