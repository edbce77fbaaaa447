/**
 * The master's and the worker's sides of /meshrun/link (see link.ts): an
 * entry asks the master for a worker (`place`) and frees the slot when the
 * job is done (`done`); it hands a worker a job (`dispatch`) and receives its
 * output and result. Many jobs share one link; a link that closes releases
 * every slot granted on it and withdraws every request still queued.
 */
import type { Stream } from '@libp2p/interface'
import type { PlaceRequest as QueuedRequest, Scheduler } from './scheduler.ts'
import { BusyError, type Worker } from './worker.ts'
import { Channel } from './wire.ts'
import { linkRequestSchema, type LinkEvent, type LinkRequest } from './schemas.ts'

/** Requests one link may have waiting for a grant or holding a slot: more is a broken or hostile peer. */
const MAX_PLACEMENTS_PER_LINK = 20_000

export interface ServicesInit {
  scheduler: Scheduler
  worker: Worker
  /** False while the node drains: new runs are refused, attaching is fine. */
  accepting: () => boolean
  isMaster: () => boolean
  master: () => string | null
  term: () => number
  /** Where a peer listens (from its reports), for grants: see Grant.addrs. */
  addrsOf: (id: string) => string[]
}

interface Placement {
  id: string
  request: QueuedRequest
  granted: boolean
  /** Rejected or lost by the scheduler: nothing to cancel. */
  settled: boolean
  /** A slot on the entry itself that it may keep for its next jobs (see schemas.ts). */
  lease: boolean
}

interface ServedLink {
  from: string
  send: (ev: LinkEvent) => void
  placements: Map<number, Placement>
  abort: (err: Error) => void
}

export class Services {
  private readonly init: ServicesInit
  private readonly links = new Set<ServedLink>()
  /** Leased slots not yet revoked. */
  private readonly leases = new Map<Placement, { link: ServedLink, r: number }>()

  constructor (init: ServicesInit) {
    this.init = init
  }

  /** This node stopped being master: every request still waiting must ask the new one. */
  steppedDown (): void {
    this.revokeLeases()
    for (const link of this.links) {
      for (const [r, p] of link.placements) {
        if (p.granted) continue
        link.placements.delete(r)
        link.send({ t: 'not-master', r, master: this.init.master(), term: this.init.term() })
      }
    }
  }

  /** The peer went silent: close its links; the slots granted on them are freed as they close. */
  dropFrom (peer: string, err: Error): void {
    for (const link of this.links) if (link.from === peer) link.abort(err)
  }

  async onLink (stream: Stream, from: string): Promise<void> {
    const ch = new Channel<LinkRequest, LinkEvent>(stream, linkRequestSchema)
    const link: ServedLink = {
      from,
      send: (ev) => { ch.write(ev).catch(() => {}) },
      placements: new Map(),
      abort: (err) => { ch.abort(err) },
    }
    this.links.add(link)
    try {
      for (;;) {
        const req = await ch.read()
        if (req === null) break
        switch (req.t) {
          case 'place': this.place(link, req); break
          case 'done': this.release(link, req.r); break
          case 'reuse': this.reuse(link, req.r, req.id); break
          case 'dispatch': void this.dispatch(link, req); break
        }
      }
      await ch.close()
    } catch (err) {
      ch.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      this.links.delete(link)
      for (const r of [...link.placements.keys()]) this.release(link, r)
    }
  }

  private place (link: ServedLink, req: Extract<LinkRequest, { t: 'place' }>): void {
    const { r, id, language, avoid } = req
    if (!this.init.isMaster()) {
      link.send({ t: 'not-master', r, master: this.init.master(), term: this.init.term() })
      return
    }
    if (link.placements.has(r)) return
    if (link.placements.size >= MAX_PLACEMENTS_PER_LINK) {
      link.send({ t: 'reject', r, message: `too many jobs in flight from one node (limit ${MAX_PLACEMENTS_PER_LINK})` })
      return
    }
    const p: Placement = {
      id,
      granted: false,
      settled: false,
      lease: false,
      request: {
        id,
        language,
        ...(avoid === undefined ? {} : { avoid }),
        entry: link.from,
        onPosition: (position) => { if (!p.granted && !p.settled) link.send({ t: 'queued', r, position }) },
        onGrant: (worker) => {
          p.granted = true
          if (worker === link.from) {
            // A slot on the entry itself: leased while nobody waits for one.
            p.lease = this.init.scheduler.queueLength === 0
            if (p.lease) this.leases.set(p, { link, r })
            link.send({ t: 'grant', r, worker, term: this.init.term(), ...(p.lease ? { lease: true } : {}) })
            return
          }
          // All of them, as its reports list them: the entry's discovery then
          // sees nothing new (an entry that knows the worker does no work).
          const addrs = this.init.addrsOf(worker).slice(0, 16)
          link.send({ t: 'grant', r, worker, term: this.init.term(), ...(addrs.length > 0 ? { addrs } : {}) })
        },
        onReject: (message) => {
          p.settled = true
          link.placements.delete(r)
          link.send({ t: 'reject', r, message })
        },
        // The scheduler dropped it (this node stepped down): steppedDown() tells the entry.
        onLost: () => { p.settled = true },
      },
    }
    link.placements.set(r, p)
    this.init.scheduler.enqueue(p.request)
  }

  /** A job waits (from any entry, this node's own too): slots leased to entries go back as soon as their job ends. */
  revokeLeases (): void {
    for (const [p, lease] of this.leases) {
      this.leases.delete(p)
      lease.link.send({ t: 'revoke', r: lease.r })
    }
  }

  /** The entry runs another job on its leased slot: the slot stays taken, under that job's id. */
  private reuse (link: ServedLink, r: number, id: string): void {
    const p = link.placements.get(r)
    if (p === undefined || !p.lease || !this.init.isMaster()) return
    if (this.init.scheduler.rekey(p.id, id)) p.id = id
  }

  /** The entry is done with a granted job (its slot is free) or withdraws a queued request. */
  private release (link: ServedLink, r: number): void {
    const p = link.placements.get(r)
    if (p === undefined) return
    link.placements.delete(r)
    this.leases.delete(p)
    if (p.granted) {
      if (this.init.isMaster()) this.init.scheduler.release(p.id)
    } else if (!p.settled) {
      this.init.scheduler.cancel(p.id, p.request)
    }
  }

  private async dispatch (link: ServedLink, req: Extract<LinkRequest, { t: 'dispatch' }>): Promise<void> {
    const { r } = req
    if (req.term < this.init.term()) {
      link.send({ t: 'refused', r, reason: 'stale-term', message: `granted in term ${req.term}, this node is in term ${this.init.term()}` })
      return
    }
    if (!this.init.accepting() && !this.init.worker.knows(req.job.id)) {
      link.send({ t: 'refused', r, reason: 'draining', message: 'this node is draining and takes no new jobs' })
      return
    }
    try {
      const result = await this.init.worker.run(req.job, {
        onStage: (stage) => { link.send({ t: 'started', r, stage }) },
        onOutput: (stage, stream, data) => { link.send({ t: 'output', r, stage, stream, data }) },
      })
      link.send({ t: 'result', r, result })
    } catch (err) {
      if (err instanceof BusyError) link.send({ t: 'refused', r, reason: 'busy', message: err.message })
      else link.send({ t: 'result', r, result: { status: 'error', message: `worker failure: ${String(err)}`, compile: null, run: null } })
    }
  }
}
