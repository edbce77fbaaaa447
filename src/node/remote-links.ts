/** Placement and dispatch over libp2p streams, to a master or worker on another node. */
import { peerIdFromString } from '@libp2p/peer-id'
import type { ExecResult, JobSpec } from '../exec/types.ts'
import type { Host } from './host.ts'
import { Channel } from './wire.ts'
import { MAX_STREAMS, PROTOCOL_DISPATCH, PROTOCOL_PLACE } from './protocols.ts'
import { dispatchEventSchema, placeEventSchema, type DispatchEvent, type DispatchRequest, type PlaceEvent, type PlaceRequest } from './schemas.ts'
import {
  MasterLostError, RefusedError, RejectedError, WorkerLostError,
  type DispatchHooks, type DispatchLink, type Grant, type PlaceOptions, type PlacementLink,
} from './links.ts'

export class RemotePlacement implements PlacementLink {
  private readonly host: Host
  readonly master: string
  private readonly open = new Map<string, Channel<PlaceEvent, PlaceRequest>>()

  constructor (host: Host, master: string) {
    this.host = host
    this.master = master
  }

  async place (opts: PlaceOptions): Promise<Grant> {
    let ch: Channel<PlaceEvent, PlaceRequest>
    try {
      const stream = await this.host.dialProtocol(peerIdFromString(this.master), PROTOCOL_PLACE, { maxOutboundStreams: MAX_STREAMS, signal: AbortSignal.any([opts.signal, AbortSignal.timeout(3000)]) })
      ch = new Channel(stream, placeEventSchema)
      await ch.write({ t: 'place', id: opts.id, language: opts.language, ...(opts.avoid === undefined || opts.avoid.length === 0 ? {} : { avoid: opts.avoid.slice(-16) }) })
    } catch (err) {
      throw new MasterLostError(`cannot reach master ${this.master}: ${String(err)}`)
    }
    for (;;) {
      let ev: PlaceEvent | null
      try {
        ev = await ch.read(opts.signal)
      } catch (err) {
        if (opts.signal.aborted) throw err
        throw new MasterLostError(`master ${this.master} went away: ${String(err)}`)
      }
      if (ev === null) throw new MasterLostError(`master ${this.master} closed the placement`)
      switch (ev.t) {
        case 'queued': opts.onPosition(ev.position); break
        case 'grant':
          this.open.set(opts.id, ch)
          return { worker: ev.worker, term: ev.term }
        case 'reject':
          await ch.close()
          throw new RejectedError(ev.message)
        case 'not-master':
          await ch.close()
          throw new MasterLostError(`${this.master} is not master (it names ${ev.master ?? 'none'})`)
      }
    }
  }

  done (id: string): void {
    const ch = this.open.get(id)
    if (ch === undefined) return
    this.open.delete(id)
    ch.write({ t: 'done' }).then(async () => { await ch.close() }, () => { ch.abort(new Error('master gone')) })
  }
}

export class RemoteDispatch {
  private readonly host: Host

  constructor (host: Host) {
    this.host = host
  }

  async dispatch (job: JobSpec, grant: Grant, hooks: DispatchHooks): Promise<{ result: ExecResult, node: string }> {
    let ch: Channel<DispatchEvent, DispatchRequest>
    try {
      const stream = await this.host.dialProtocol(peerIdFromString(grant.worker), PROTOCOL_DISPATCH, { maxOutboundStreams: MAX_STREAMS, signal: AbortSignal.any([hooks.signal, AbortSignal.timeout(3000)]) })
      ch = new Channel(stream, dispatchEventSchema)
      await ch.write({ t: 'dispatch', job, term: grant.term })
    } catch (err) {
      throw new WorkerLostError(`cannot reach worker ${grant.worker}: ${String(err)}`)
    }
    for (;;) {
      let ev: DispatchEvent | null
      try {
        ev = await ch.read(hooks.signal)
      } catch (err) {
        throw new WorkerLostError(`worker ${grant.worker} went away: ${String(err)}`)
      }
      if (ev === null) throw new WorkerLostError(`worker ${grant.worker} closed the stream without a result`)
      switch (ev.t) {
        case 'started': hooks.onStage(ev.stage, grant.worker); break
        case 'output': hooks.onOutput(ev.stage, ev.stream, ev.data); break
        case 'result':
          await ch.close()
          return { result: ev.result, node: grant.worker }
        case 'refused':
          await ch.close()
          throw new RefusedError(`${grant.worker} refused (${ev.reason}): ${ev.message}`)
      }
    }
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
