/** Placement and dispatch on the links to a master or a worker on another node (see link.ts). */
import type { ExecResult, JobSpec } from '../exec/types.ts'
import type { LinkSession, Links } from './link.ts'
import {
  MasterLostError, RefusedError, RejectedError, WorkerLostError,
  type DispatchHooks, type DispatchLink, type Grant, type PlaceOptions, type PlacementLink,
} from './links.ts'

/**
 * The entry's own slots, leased to it by the master (see schemas.ts): a job
 * that comes one at a time then runs on its entry without the round trip to
 * the master.
 */
export interface Leasing {
  self: string
  /** This node may run the job now (it can, and no other node reports running it). */
  usable: (opts: PlaceOptions) => boolean
  /** An idle leased slot goes back to the master after this long. */
  idleMs: number
}

/** A granted slot the entry holds: its request on the link to the master keeps it. */
interface Held {
  link: LinkSession
  r: number
  term: number
  lease: boolean
  revoked: boolean
  timer?: NodeJS.Timeout
}

export class RemotePlacement implements PlacementLink {
  private readonly links: Links
  readonly master: string
  private readonly leasing: Leasing | undefined
  /** Granted jobs: the link and request that hold the slot until `done`. */
  private readonly granted = new Map<string, Held>()
  /** Leased slots with no job now. */
  private readonly free = new Set<Held>()
  private closed = false

  constructor (links: Links, master: string, leasing?: Leasing) {
    this.links = links
    this.master = master
    this.leasing = leasing
  }

  async place (opts: PlaceOptions): Promise<Grant> {
    const lease = this.takeLease(opts)
    if (lease !== undefined) {
      lease.link.post({ t: 'reuse', r: lease.r, id: opts.id })
      this.granted.set(opts.id, lease)
      return { worker: this.leasing!.self, term: lease.term, leased: true }
    }
    let link: LinkSession
    try {
      link = await this.links.get(this.master, opts.signal)
    } catch (err) {
      if (opts.signal.aborted) throw err
      throw new MasterLostError(`cannot reach master ${this.master}: ${String(err)}`)
    }
    return await new Promise<Grant>((resolve, reject) => {
      const settle = (): void => { opts.signal.removeEventListener('abort', onAbort) }
      // Once granted, a leased slot still hears from the master (`revoke`).
      let held: Held | undefined
      const r = link.request(
        { t: 'place', id: opts.id, language: opts.language, ...(opts.avoid === undefined || opts.avoid.length === 0 ? {} : { avoid: opts.avoid.slice(-16) }) },
        (ev) => {
          if (held !== undefined) {
            if (ev.t === 'revoke') this.revoke(held)
            return
          }
          if (ev.t === 'queued') { opts.onPosition(ev.position); return }
          if (ev.t !== 'grant' && ev.t !== 'reject' && ev.t !== 'not-master') return
          settle()
          if (ev.t === 'grant') {
            const lease = ev.lease === true && this.leasing !== undefined && ev.worker === this.leasing.self
            if (!lease) link.forget(r)
            held = { link, r, term: ev.term, lease, revoked: false }
            this.granted.set(opts.id, held)
            resolve({ worker: ev.worker, term: ev.term, ...(ev.addrs === undefined ? {} : { addrs: ev.addrs }) })
            return
          }
          link.forget(r)
          if (ev.t === 'reject') {
            reject(new RejectedError(ev.message))
          } else {
            reject(new MasterLostError(`${this.master} is not master (it names ${ev.master ?? 'none'})`))
          }
        },
        (err) => {
          if (held !== undefined) { this.forget(held); return }
          settle()
          reject(new MasterLostError(`master ${this.master} went away: ${err.message}`))
        },
      )
      // The entry gives up (it is stopping): withdraw the request.
      const onAbort = (): void => {
        link.forget(r)
        link.post({ t: 'done', r })
        reject(opts.signal.reason)
      }
      if (opts.signal.aborted) onAbort()
      else opts.signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** Leased slots this entry holds now, with a job or without. */
  get leases (): number {
    let n = this.free.size
    for (const h of this.granted.values()) if (h.lease) n++
    return n
  }

  /** The job is done with its slot; a leased one is kept for the next job unless its attempt failed. */
  done (id: string, failed = false): void {
    const h = this.granted.get(id)
    if (h === undefined) return
    this.granted.delete(id)
    if (h.lease && !h.revoked && !failed && !this.closed && h.link.open) {
      this.free.add(h)
      h.timer = setTimeout(() => { this.release(h) }, this.leasing!.idleMs)
      h.timer.unref()
      return
    }
    this.release(h)
  }

  /** This node follows another master: give back the idle leases, and the others when their jobs end. */
  close (): void {
    this.closed = true
    for (const h of [...this.free]) this.release(h)
  }

  private takeLease (opts: PlaceOptions): Held | undefined {
    if (this.free.size === 0 || this.leasing === undefined || !this.leasing.usable(opts)) return undefined
    for (const h of this.free) {
      this.free.delete(h)
      clearTimeout(h.timer)
      if (h.link.open) return h
    }
    return undefined
  }

  private revoke (h: Held): void {
    h.revoked = true
    if (this.free.has(h)) this.release(h)
  }

  private release (h: Held): void {
    this.forget(h)
    h.link.post({ t: 'done', r: h.r })
  }

  private forget (h: Held): void {
    this.free.delete(h)
    clearTimeout(h.timer)
    h.link.forget(h.r)
  }
}

export class RemoteDispatch {
  private readonly links: Links
  /** Takes note of where a peer listens (before the link to a worker the entry has not heard of is dialled). */
  private readonly learn: (id: string, addrs: string[]) => Promise<void>

  constructor (links: Links, learn: (id: string, addrs: string[]) => Promise<void> = async () => {}) {
    this.links = links
    this.learn = learn
  }

  async dispatch (job: JobSpec, grant: Grant, hooks: DispatchHooks): Promise<{ result: ExecResult, node: string }> {
    if (grant.addrs !== undefined && grant.addrs.length > 0) await this.learn(grant.worker, grant.addrs)
    let link: LinkSession
    try {
      link = await this.links.get(grant.worker, hooks.signal)
    } catch (err) {
      throw new WorkerLostError(`cannot reach worker ${grant.worker}: ${String(err)}`)
    }
    return await new Promise((resolve, reject) => {
      const settle = (): void => { hooks.signal.removeEventListener('abort', onAbort) }
      const r = link.request(
        { t: 'dispatch', job, term: grant.term },
        (ev) => {
          switch (ev.t) {
            case 'started': hooks.onStage(ev.stage, grant.worker); return
            case 'output': hooks.onOutput(ev.stage, ev.stream, ev.data); return
            case 'result':
              settle()
              link.forget(r)
              resolve({ result: ev.result, node: grant.worker })
              return
            case 'refused':
              settle()
              link.forget(r)
              reject(new RefusedError(`${grant.worker} refused (${ev.reason}): ${ev.message}`))
          }
        },
        (err) => { settle(); reject(new WorkerLostError(`worker ${grant.worker} went away: ${err.message}`)) },
      )
      const onAbort = (): void => {
        link.forget(r)
        reject(new WorkerLostError(`stopped waiting for worker ${grant.worker}: ${String(hooks.signal.reason)}`))
      }
      if (hooks.signal.aborted) onAbort()
      else hooks.signal.addEventListener('abort', onAbort, { once: true })
    })
  }
}

/** Dispatch to this node's own worker or to another node's, as the grant says. */
export class ClusterDispatch implements DispatchLink {
  private readonly self: string
  private readonly local: DispatchLink
  private readonly remote: RemoteDispatch

  constructor (self: string, local: DispatchLink, remote: RemoteDispatch) {
    this.self = self
    this.local = local
    this.remote = remote
  }

  async dispatch (job: JobSpec, grant: Grant, hooks: DispatchHooks): Promise<{ result: ExecResult, node: string }> {
    return grant.worker === this.self ? await this.local.dispatch(job, grant, hooks) : await this.remote.dispatch(job, grant, hooks)
  }
}
