/** The client-facing protocols: /meshrun/job (submit or attach, then follow) and /meshrun/status. */
import type { Stream } from '@libp2p/interface'
import { ConflictError, type Entry } from './entry.ts'
import { Channel } from './wire.ts'
import { clientRequestSchema, statusRequestSchema, type ClientRequest, type JobEvent, type Status } from './schemas.ts'
import type { Logger } from './log.ts'

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

  /** A client submits a job or attaches to one, then follows it to its result. */
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

    const { entry } = this.init
    let job
    let attached = false
    if (req.t === 'submit') {
      try {
        ({ job, attached } = entry.submit(req.job))
      } catch (err) {
        await refuse(ch, err instanceof ConflictError ? err.message : `cannot accept the job: ${String(err)}`)
        return
      }
    } else {
      job = entry.get(req.id)
      if (job === undefined) { await refuse(ch, `unknown job ${req.id}`); return }
      attached = true
    }
    this.init.log.debug(`job ${job.spec.id} ${attached ? 'attached' : 'accepted'} (${job.language})`)

    // Events are written in order; a client that goes away only stops its own feed.
    let failed = false
    let sending: Promise<void> = Promise.resolve()
    const send = (e: JobEvent): void => {
      sending = sending.then(async () => { if (!failed) await ch.write(e) }).catch(() => { failed = true })
    }
    await job.persisted
    send({ t: 'accepted', id: job.spec.id, entry: this.init.self, attached, peers: this.init.peers() })
    const closed = new Promise<void>((resolve) => { stream.addEventListener('close', () => { resolve() }, { once: true }) })
    const unsubscribe = entry.subscribe(job, send)
    await Promise.race([job.done, closed])
    unsubscribe()
    await sending
    if (!failed) await ch.close()
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

async function refuse (ch: Channel<unknown, JobEvent>, message: string): Promise<void> {
  try {
    await ch.write({ t: 'error', message })
    await ch.close()
  } catch {
    ch.abort(new Error(message))
  }
}
