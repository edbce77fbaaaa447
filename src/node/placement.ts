/**
 * The entry's way to the current master: local when this node is master,
 * over the link to it otherwise; when the master is lost mid-placement, wait for
 * the election and ask the new one.
 */
import type { Links } from './link.ts'
import { MasterLostError, type Grant, type PlaceOptions, type PlacementLink } from './links.ts'
import { RemotePlacement } from './remote-links.ts'

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
  private remote: RemotePlacement | undefined
  private readonly byJob = new Map<string, PlacementLink>()

  constructor (self: string, local: PlacementLink, links: Links, view: MasterView) {
    this.self = self
    this.local = local
    this.links = links
    this.view = view
  }

  async place (opts: PlaceOptions): Promise<Grant> {
    for (;;) {
      const master = this.view.master()
      if (master === null) {
        await this.view.changed(opts.signal)
        continue
      }
      const link = master === this.self ? this.local : this.remoteFor(master)
      try {
        const grant = await link.place(opts)
        this.byJob.set(opts.id, link)
        return grant
      } catch (err) {
        if (!(err instanceof MasterLostError) || opts.signal.aborted) throw err
        // Wait for the election to settle (or retry soon, if it already has).
        await Promise.race([this.view.changed(opts.signal), sleep(250)])
      }
    }
  }

  done (id: string): void {
    const link = this.byJob.get(id)
    this.byJob.delete(id)
    link?.done(id)
  }

  private remoteFor (master: string): RemotePlacement {
    if (this.remote?.master !== master) this.remote = new RemotePlacement(this.links, master)
    return this.remote
  }
}

async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}
