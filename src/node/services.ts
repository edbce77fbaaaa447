/**
 * The master's and the worker's sides of the node-to-node protocols:
 * /meshrun/place (an entry asks the master for a worker and keeps the stream
 * open until the job is done) and /meshrun/dispatch (an entry hands a worker
 * a job and receives its output and result).
 */
import type { Stream } from '@libp2p/interface'
import type { Scheduler } from './scheduler.ts'
import { BusyError, type Worker } from './worker.ts'
import { Channel } from './wire.ts'
import {
  dispatchRequestSchema, placeRequestSchema,
  type DispatchEvent, type DispatchRequest, type PlaceEvent, type PlaceRequest,
} from './schemas.ts'
import type { Logger } from './log.ts'

const FIRST_MESSAGE_TIMEOUT_MS = 10_000

export interface ServicesInit {
  self: string
  scheduler: Scheduler
  worker: Worker
  /** False while the node drains: new runs are refused, attaching is fine. */
  accepting: () => boolean
  isMaster: () => boolean
  master: () => string | null
  term: () => number
  log: Logger
}

export class Services {
  private readonly init: ServicesInit
  /** Placement streams this node serves as master: closed when it steps down. */
  private readonly placing = new Set<Channel<PlaceRequest, PlaceEvent>>()

  constructor (init: ServicesInit) {
    this.init = init
  }

  /** This node stopped being master: every entry must ask the new one. */
  steppedDown (): void {
    for (const ch of this.placing) {
      const notMaster: PlaceEvent = { t: 'not-master', master: this.init.master(), term: this.init.term() }
      ch.write(notMaster).then(async () => { await ch.close() }, () => { ch.abort(new Error('stepped down')) })
    }
    this.placing.clear()
  }

  async onPlace (stream: Stream, from: string): Promise<void> {
    const ch = new Channel<PlaceRequest, PlaceEvent>(stream, placeRequestSchema)
    let req: PlaceRequest | null
    try {
      req = await ch.read(AbortSignal.timeout(FIRST_MESSAGE_TIMEOUT_MS))
    } catch (err) {
      ch.abort(err instanceof Error ? err : new Error(String(err)))
      return
    }
    if (req === null || req.t !== 'place') { await ch.close(); return }
    if (!this.init.isMaster()) {
      await this.safeWrite(ch, { t: 'not-master', master: this.init.master(), term: this.init.term() })
      await ch.close()
      return
    }
    const { id, language, avoid } = req
    this.placing.add(ch)
    let granted = false
    let settled = false
    let request: import('./scheduler.ts').PlaceRequest | undefined
    const finished = new Promise<void>((resolve) => {
      request = {
        id,
        language,
        ...(avoid === undefined ? {} : { avoid }),
        entry: from,
        onPosition: (position) => { void this.safeWrite(ch, { t: 'queued', position }) },
        onGrant: (worker) => {
          granted = true
          void this.safeWrite(ch, { t: 'grant', worker, term: this.init.term() })
          resolve()
        },
        onReject: (message) => {
          settled = true
          void this.safeWrite(ch, { t: 'reject', message }).then(async () => { await ch.close() })
          resolve()
        },
        onLost: () => { settled = true; resolve() },
      }
      this.init.scheduler.enqueue(request)
    })
    // Until granted, a closed stream means the entry gave up on the job.
    const closed = new Promise<void>((resolve) => { stream.addEventListener('close', () => { resolve() }, { once: true }) })
    await Promise.race([finished, closed])
    if (!granted) {
      if (!settled) this.init.scheduler.cancel(id, request)
      this.placing.delete(ch)
      return
    }
    // Granted: the slot is held until the entry says done (or goes away).
    try {
      await ch.read()
    } catch {}
    this.placing.delete(ch)
    if (this.init.isMaster()) this.init.scheduler.release(id)
    await ch.close()
  }

  async onDispatch (stream: Stream): Promise<void> {
    const ch = new Channel<DispatchRequest, DispatchEvent>(stream, dispatchRequestSchema)
    let req: DispatchRequest | null
    try {
      req = await ch.read(AbortSignal.timeout(FIRST_MESSAGE_TIMEOUT_MS))
    } catch (err) {
      ch.abort(err instanceof Error ? err : new Error(String(err)))
      return
    }
    if (req === null) { await ch.close(); return }
    if (req.term < this.init.term()) {
      await this.safeWrite(ch, { t: 'refused', reason: 'stale-term', message: `granted in term ${req.term}, this node is in term ${this.init.term()}` })
      await ch.close()
      return
    }
    if (!this.init.accepting() && !this.init.worker.knows(req.job.id)) {
      await this.safeWrite(ch, { t: 'refused', reason: 'draining', message: 'this node is draining and takes no new jobs' })
      await ch.close()
      return
    }
    let sending: Promise<void> = Promise.resolve()
    const send = (ev: DispatchEvent): void => { sending = sending.then(async () => { await this.safeWrite(ch, ev) }) }
    try {
      const result = await this.init.worker.run(req.job, {
        onStage: (stage) => { send({ t: 'started', stage }) },
        onOutput: (stage, s, data) => { send({ t: 'output', stage, stream: s, data }) },
      })
      send({ t: 'result', result })
    } catch (err) {
      if (err instanceof BusyError) send({ t: 'refused', reason: 'busy', message: err.message })
      else send({ t: 'result', result: { status: 'error', message: `worker failure: ${String(err)}`, compile: null, run: null } })
    }
    await sending
    await ch.close()
  }

  private async safeWrite<T>(ch: Channel<unknown, T>, msg: T): Promise<void> {
    try { await ch.write(msg) } catch {}
  }
}
