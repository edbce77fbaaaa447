/** Placement and dispatch on the links to a master or a worker on another node (see link.ts). */
import type { ExecResult, JobSpec } from '../exec/types.ts'
import type { LinkSession, Links } from './link.ts'
import {
  MasterLostError, RefusedError, RejectedError, WorkerLostError,
  type DispatchHooks, type DispatchLink, type Grant, type PlaceOptions, type PlacementLink,
} from './links.ts'

export class RemotePlacement implements PlacementLink {
  private readonly links: Links
  readonly master: string
  /** Granted jobs: the link and request that hold the slot until `done`. */
  private readonly granted = new Map<string, { link: LinkSession, r: number }>()

  constructor (links: Links, master: string) {
    this.links = links
    this.master = master
  }

  async place (opts: PlaceOptions): Promise<Grant> {
    let link: LinkSession
    try {
      link = await this.links.get(this.master, opts.signal)
    } catch (err) {
      if (opts.signal.aborted) throw err
      throw new MasterLostError(`cannot reach master ${this.master}: ${String(err)}`)
    }
    return await new Promise<Grant>((resolve, reject) => {
      const settle = (): void => { opts.signal.removeEventListener('abort', onAbort) }
      const r = link.request(
        { t: 'place', id: opts.id, language: opts.language, ...(opts.avoid === undefined || opts.avoid.length === 0 ? {} : { avoid: opts.avoid.slice(-16) }) },
        (ev) => {
          if (ev.t === 'queued') { opts.onPosition(ev.position); return }
          if (ev.t !== 'grant' && ev.t !== 'reject' && ev.t !== 'not-master') return
          settle()
          link.forget(r)
          if (ev.t === 'grant') {
            this.granted.set(opts.id, { link, r })
            resolve({ worker: ev.worker, term: ev.term, ...(ev.addrs === undefined ? {} : { addrs: ev.addrs }) })
          } else if (ev.t === 'reject') {
            reject(new RejectedError(ev.message))
          } else {
            reject(new MasterLostError(`${this.master} is not master (it names ${ev.master ?? 'none'})`))
          }
        },
        (err) => { settle(); reject(new MasterLostError(`master ${this.master} went away: ${err.message}`)) },
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

  done (id: string): void {
    const g = this.granted.get(id)
    if (g === undefined) return
    this.granted.delete(id)
    g.link.post({ t: 'done', r: g.r })
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
