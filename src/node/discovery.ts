/**
 * Finding peers: mDNS answers (libp2p does not dial discovered peers by
 * itself), `--peer` bootstrap addresses redialled until connected, and the
 * addresses peers gossip, so every node ends up connected to every other.
 *
 * One connection per pair: both nodes of a pair usually hear of each other
 * at the same moment (the same report, the same mDNS round), and when both
 * dial, libp2p keeps both connections: 10 nodes started together had ~16
 * connections each instead of 9, each with its own handshake, identify
 * exchange and pings. So of two peers that heard of each other, the one
 * with the smaller id dials at once and the other only if still
 * unconnected DEFER_MS later: the smaller may have heard of it later (a
 * joiner learns the cluster's peers from its bootstrap peer's first report,
 * and they learn of the joiner from that peer's next, ~500 ms later), or
 * be unable to reach it.
 *
 * Rank first while forming. A node that heard of a new peer less than
 * FOCUS_MS ago, or whose election has not settled (`focusUntil`), dials
 * only the highest id it knows of: the peer that will be master, unless a
 * higher priority says otherwise (a master named by a report is dialled at
 * once through `seek`, whatever its id; bootstrap peers always are). The
 * rest of the full mesh waits until the node is settled. 30 nodes started
 * together on two cores spent ~20 s of CPU opening 435 connections at once,
 * and the node every other one had to reach to agree on it, the highest,
 * got its share of the CPU only after that: 9–22 s from the last start to
 * the last node following it. With every node first dialling the highest
 * id it knows, the highest is connected to all of them, and followed,
 * 0.6–7.1 s after the last start, ~1.2 s at the median of 23 starts
 * (bench: `scale`); the mesh forms after.
 */
import type { Multiaddr } from '@multiformats/multiaddr'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdOf } from './peer-ids.ts'
import type { PeerInfo } from '@libp2p/interface'
import { DIAL_TIMEOUT_MS, type Host } from './host.ts'
import type { Logger } from './log.ts'

const FORGET_MS = 10 * 60_000
/** How long the node with the larger id of a pair leaves the dialling to the other (see the top of this file). */
export const DEFER_MS = 1000
/** How long after hearing of a new peer (or after its election settles) a node dials only the highest id it knows. */
export const FOCUS_MS = 2000
const SEEK_GAP_MS = 1000

export interface DiscoveryInit {
  host: Host
  bootstrap: Multiaddr[]
  log: Logger
  redialMs?: number
  /**
   * Until when (ms since the epoch) the node's election asks it to dial the
   * highest id only: it follows no master, or changed master lately.
   */
  focusUntil?: () => number
}

export class Discovery {
  private readonly init: DiscoveryInit
  private timer: NodeJS.Timeout | undefined
  private readonly dialing = new Set<string>()
  /** Bootstrap address → the peer it turned out to be. */
  private readonly bootPeers = new Map<string, string>()
  /**
   * Every peer heard of, with when it was last connected: redialled while
   * away (a stopped process that resumes, a restart, a healed partition),
   * forgotten after FORGET_MS. libp2p reports a discovery once per peer per
   * process lifetime, so rejoining is up to us.
   */
  private readonly known = new Map<string, { addrs: Multiaddr[], seen: number }>()
  /** The addresses of each peer already put into the peer store. */
  private readonly stored = new Map<string, Set<string>>()
  /** Peers whose dial waits for DEFER_MS to pass (see `defers`). */
  private readonly deferred = new Set<string>()
  private stopped = false
  /** When a peer id was last heard of for the first time. */
  private newAt = 0
  /** Wakes the dialling up when the focus ends (see `focused`). */
  private focusTimer: NodeJS.Timeout | undefined
  private readonly onDiscovery = (evt: CustomEvent<PeerInfo>): void => {
    const id = evt.detail.id.toString()
    void this.remember(id, evt.detail.multiaddrs).then(async () => { await this.dialPeer(id) })
  }

  constructor (init: DiscoveryInit) {
    this.init = init
  }

  /** Call before the host starts, so that the first answers are heard. */
  start (): void {
    this.init.host.addEventListener('peer:discovery', this.onDiscovery)
    this.init.host.services.mdns?.addEventListener('peer', this.onDiscovery)
    this.timer = setInterval(() => { this.redial() }, this.init.redialMs ?? 1000)
    this.redial()
  }

  stop (): void {
    this.stopped = true
    clearInterval(this.timer)
    clearTimeout(this.focusTimer)
    this.init.host.removeEventListener('peer:discovery', this.onDiscovery)
    this.init.host.services.mdns?.removeEventListener('peer', this.onDiscovery)
  }

  /**
   * A peer we heard of (gossip, a grant): connect if not connected yet.
   * Resolves once its addresses are in the peer store.
   */
  async learn (id: string, addrs: string[]): Promise<void> {
    if (id === this.init.host.peerId.toString()) return
    // Every report names its sender's addresses, and other peers' full
    // reports name its first two: most times nothing is new (and a known
    // peer that is not connected is redialled every second). Comparing the
    // whole list, the two sources took turns, and each turn wrote to the
    // peer store: ~4 % of a node's time while 30 joined.
    let stored = this.stored.get(id)
    if (stored === undefined) this.stored.set(id, stored = new Set())
    if (addrs.every((a) => stored.has(a)) && this.known.has(id)) return
    for (const a of addrs) stored.add(a)
    const parsed: Multiaddr[] = []
    for (const a of addrs) { try { parsed.push(multiaddr(a)) } catch {} }
    await this.remember(id, parsed)
    void this.dialPeer(id)
  }

  /**
   * Notes a peer and its addresses for redialling, and puts the addresses
   * into the peer store at once, dial or not: while we leave the dialling to
   * the peer (see `defers`), a job placed on it must still be able to reach
   * it (a link dials by peer id). Resolves once they are stored.
   */
  private async remember (id: string, addrs: Multiaddr[]): Promise<void> {
    if (id === this.init.host.peerId.toString()) return
    const k = this.known.get(id)
    // A peer with no address to dial (a client: it listens nowhere) is not
    // one to call back: every CLI run that connected was redialled each
    // second for ten minutes.
    if (addrs.length === 0 && (k === undefined || k.addrs.length === 0)) return
    if (k === undefined) this.newAt = Date.now()
    // `seen`: when we last were connected (or first heard of it).
    this.known.set(id, { addrs: addrs.length > 0 ? addrs : k?.addrs ?? [], seen: k?.seen ?? Date.now() })
    if (addrs.length === 0) return
    try {
      await this.init.host.peerStore.merge(peerIdOf(id), { multiaddrs: addrs })
    } catch (err) {
      this.init.log.debug(`cannot store the addresses of ${id}: ${String(err)}`)
    }
  }

  private connected (id: string): boolean {
    try { return this.init.host.getConnections(peerIdOf(id)).length > 0 } catch { return false }
  }

  /**
   * Leave the dialling to the peer: ours is the larger id, and we heard of
   * it (or lost it) less than DEFER_MS ago.
   */
  private defers (id: string): boolean {
    const k = this.known.get(id)
    if (k === undefined || this.init.host.peerId.toString() < id) return false
    // Counted from the end of the focus too: both ends of a pair that
    // waited for it would otherwise dial at once when it ends.
    const wait = Math.max(k.seen, this.focusEnd()) + DEFER_MS - Date.now()
    if (wait <= 0) return false
    if (!this.deferred.has(id)) {
      this.deferred.add(id)
      setTimeout(() => {
        this.deferred.delete(id)
        if (this.known.has(id) && !this.stopped) void this.dialPeer(id)
      }, wait).unref()
    }
    return true
  }

  /** When the node may dial every peer it knows of (see the top of this file). */
  private focusEnd (): number {
    return Math.max(this.newAt + FOCUS_MS, this.init.focusUntil?.() ?? 0)
  }

  /** Not now: the node is forming and this is not the highest id it knows of (itself included). */
  private focused (id: string): boolean {
    const wait = this.focusEnd() - Date.now()
    if (wait <= 0) return false
    let top = this.init.host.peerId.toString()
    for (const k of this.known.keys()) if (k > top) top = k
    if (id === top) return false
    if (this.focusTimer === undefined) {
      this.focusTimer = setTimeout(() => {
        this.focusTimer = undefined
        if (!this.stopped) this.redial()
      }, wait).unref()
    }
    return true
  }

  /**
   * Connect to this peer now, whichever id is the smaller: the election
   * asks for a master it hears of and has not heard from (at most one try
   * per SEEK_GAP_MS; it asks with every report that names it).
   */
  seek (id: string): void {
    const now = Date.now()
    if ((this.sought.get(id) ?? 0) + SEEK_GAP_MS > now) return
    this.sought.set(id, now)
    for (const [k, at] of this.sought) if (at + SEEK_GAP_MS <= now) this.sought.delete(k)
    void this.dialPeer(id, true)
  }

  private readonly sought = new Map<string, number>()

  /** Dials a peer by id: its addresses are in the peer store (`remember`, or libp2p's own discovery). */
  private async dialPeer (id: string, now = false): Promise<void> {
    if (id === this.init.host.peerId.toString() || this.dialing.has(id) || this.connected(id) || (!now && (this.focused(id) || this.defers(id)))) return
    this.dialing.add(id)
    try {
      await this.init.host.dial(peerIdOf(id), { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
      this.init.log.debug(`connected to ${id}`)
    } catch (err) {
      this.init.log.debug(`dial ${id} failed: ${String(err)}`)
    } finally {
      this.dialing.delete(id)
    }
  }

  private redial (): void {
    const now = Date.now()
    for (const [id, k] of this.known) {
      if (this.connected(id)) { k.seen = now; continue }
      if (now - k.seen > FORGET_MS) { this.known.delete(id); this.stored.delete(id); continue }
      void this.dialPeer(id)
    }
    for (const addr of this.init.bootstrap) {
      const key = addr.toString()
      const known = this.bootPeers.get(key)
      if (known !== undefined && this.connected(known)) continue
      if (this.dialing.has(key)) continue
      this.dialing.add(key)
      this.init.host.dial(addr, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
        .then((conn) => { this.bootPeers.set(key, conn.remotePeer.toString()) })
        .catch((err: unknown) => { this.init.log.debug(`bootstrap ${key}: ${String(err)}`) })
        .finally(() => { this.dialing.delete(key) })
    }
  }
}
