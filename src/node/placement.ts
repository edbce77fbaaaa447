/**
 * The entry's way to the current master: local when this node is master,
 * over the link to it otherwise; when the master is lost mid-placement, wait for
 * the election and ask the new one.
 */
import type { Links } from './link.ts'
import { MasterLostError, type Grant, type PlaceOptions, type PlacementLink } from './links.ts'
import { RemotePlacement, type Leasing } from './remote-links.ts'

export interface MasterView {
  /** The master this node follows (itself when master), or null during an election. */
  master: () => string | null
  /** Resolves at the next change of master or term. */
  changed: (signal: AbortSignal) => Promise<void>
}

export class ClusterPlacement implements PlacementLink {
  private readonly self: string
  private readonly local: PlacementLink
  private readonly links: Links
  private readonly view: MasterView
  private readonly leasing: Leasing | undefined
  private remote: RemotePlacement | undefined
  private readonly byJob = new Map<string, PlacementLink>()

  constructor (self: string, local: PlacementLink, links: Links, view: MasterView, leasing?: Leasing) {
    this.self = self
    this.local = local
    this.links = links
    this.view = view
    this.leasing = leasing
  }

  /** Placements since start: by this node as master, by asking a master, on a leased slot without asking. */
  readonly counts = { local: 0, asked: 0, leased: 0 }

  /** Slots of this node leased to it by the master it follows, held now. */
  get leases (): number { return this.remote?.leases ?? 0 }

  async place (opts: PlaceOptions): Promise<Grant> {
    for (;;) {
      const master = this.view.master()
      if (master === null) {
        await this.view.changed(opts.signal)
        continue
      }
      if (master === this.self && this.remote !== undefined) { this.remote.close(); this.remote = undefined }
      const link = master === this.self ? this.local : this.remoteFor(master)
      try {
        const grant = master === this.self ? await link.place(opts) : await this.placeWhileMaster(link, master, opts)
        this.byJob.set(opts.id, link)
        this.counts[master === this.self ? 'local' : grant.leased === true ? 'leased' : 'asked']++
        return grant
      } catch (err) {
        if (!(err instanceof MasterLostError) || opts.signal.aborted) throw err
        if (err instanceof MasterChangedError) continue // the new one is known: ask it now
        // Wait for the election to settle (or retry soon, if it already has).
        await Promise.race([this.view.changed(opts.signal), sleep(250)])
      }
    }
  }

  /**
   * Asks a remote master, and withdraws the request as soon as this node
   * follows another one (or none). Otherwise a request queued at a master
   * that stopped (SIGSTOP) waited until this node's own report sweep gave
   * up on it, which can be a second or more after the others elected a new
   * master: in one failover run in ten, jobs queued at the old master
   * started 1.4 s after the agreement.
   */
  private async placeWhileMaster (link: PlacementLink, master: string, opts: PlaceOptions): Promise<Grant> {
    const changed = new AbortController()
    const watching = new AbortController()
    const watch = AbortSignal.any([opts.signal, watching.signal])
    void (async () => {
      while (this.view.master() === master) await this.view.changed(watch)
      changed.abort(new MasterChangedError(`${master} is no longer the master this node follows`))
    })().catch(() => {})
    try {
      return await link.place({ ...opts, signal: AbortSignal.any([opts.signal, changed.signal]) })
    } catch (err) {
      if (changed.signal.aborted && !opts.signal.aborted) throw changed.signal.reason
      throw err
    } finally {
      watching.abort()
    }
  }

  done (id: string, failed = false): void {
    const link = this.byJob.get(id)
    this.byJob.delete(id)
    link?.done(id, failed)
  }

  private remoteFor (master: string): RemotePlacement {
    if (this.remote?.master !== master) {
      this.remote?.close()
      this.remote = new RemotePlacement(this.links, master, this.leasing)
    }
    return this.remote
  }
}

async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

/** The master changed while a request waited at the old one (withdrawn; ask the new one). */
class MasterChangedError extends MasterLostError {
  override name = 'MasterChangedError'
}
