/**
 * gossipsub 17 opens its outbound stream to each new peer one peer at a time
 * (a queue it drains in order) and never tries again when an opening fails.
 * A node that many peers join at once (the `--peer` every other node names,
 * 30 nodes started together on two cores) opened one stream per round trip
 * of a loaded machine: the last joiners heard nothing from it for a minute,
 * and a failed opening, or a stream that broke later (a reset under load),
 * left a pair of connected nodes deaf to each other for good. Here each
 * peer's stream opens as soon as it connects, at most one opening per peer
 * at a time; a failed one is tried again (1, 2, 4 s), and every REPAIR_MS
 * a connected peer without a stream gets one again.
 *
 * This replaces a private field of the GossipSub instance; if a release
 * renames what it relies on, `parallelOutboundStreams` throws at start-up
 * (and every test with it) rather than silently doing nothing.
 */
import type { GossipSub } from '@libp2p/gossipsub'
import type { Connection, PeerId } from '@libp2p/interface'

interface Opening { peerId: PeerId, connection: Connection }

interface Internals {
  outboundInflightQueue: { push: (o: Opening) => void, end: () => void }
  createOutboundStream: (peerId: PeerId, connection: Connection) => Promise<void>
  streamsOutbound: Map<string, unknown>
  peers: Map<string, PeerId>
  isStarted: () => boolean
}

const RETRIES = 3
const REPAIR_MS = 2000

export function parallelOutboundStreams (pubsub: GossipSub, connections: (peer: PeerId) => Connection[]): void {
  const g = pubsub as unknown as Partial<Internals>
  if (typeof g.createOutboundStream !== 'function' || typeof g.outboundInflightQueue?.push !== 'function' ||
      !(g.streamsOutbound instanceof Map) || !(g.peers instanceof Map) || typeof g.isStarted !== 'function') {
    throw new Error('@libp2p/gossipsub internals changed: outbound stream opening cannot be patched (src/node/gossip-streams.ts)')
  }
  const gs = g as Internals
  const original = gs.outboundInflightQueue
  const opening = new Set<string>()
  const open = (o: Opening, attempt: number): void => {
    const id = o.peerId.toString()
    if (opening.has(id)) return
    opening.add(id)
    gs.createOutboundStream(o.peerId, o.connection).catch(() => {}).finally(() => {
      opening.delete(id)
      if (gs.streamsOutbound.has(id) || !gs.peers.has(id) || o.connection.status !== 'open' || !gs.isStarted() || attempt >= RETRIES) return
      setTimeout(() => { open(o, attempt + 1) }, 1000 * 2 ** attempt).unref()
    })
  }
  const repair = setInterval(() => {
    if (!gs.isStarted()) { clearInterval(repair); return }
    for (const [id, peerId] of gs.peers) {
      if (gs.streamsOutbound.has(id) || opening.has(id)) continue
      const connection = connections(peerId).find((c) => c.status === 'open')
      if (connection !== undefined) open({ peerId, connection }, RETRIES)
    }
  }, REPAIR_MS).unref()
  gs.outboundInflightQueue = {
    push: (o) => { open(o, 0) },
    end: () => { clearInterval(repair); original.end() },
  }
}
