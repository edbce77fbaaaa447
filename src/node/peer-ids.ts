/**
 * Peer ids parsed once: `peerIdFromString` decodes base58 and builds a public
 * key each time, and discovery asked it for every peer named in every report
 * (a tenth of a busy node's time when 30 nodes joined at once).
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'

const MAX = 4096
const cache = new Map<string, PeerId>()

/** The PeerId for a string id; throws on a malformed one, as peerIdFromString does. */
export function peerIdOf (id: string): PeerId {
  let p = cache.get(id)
  if (p === undefined) {
    p = peerIdFromString(id)
    if (cache.size >= MAX) cache.clear()
    cache.set(id, p)
  }
  return p
}
