/**
 * The libp2p host: TCP, Noise, Yamux, identify and ping; gossipsub and mDNS
 * for cluster nodes. A silent peer (SIGSTOP, a pulled cable) is found by its
 * load reports stopping (see membership.ts), not by pings.
 */
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping, type Ping } from '@libp2p/ping'
import { mdns } from '@libp2p/mdns'
import { gossipsub, StrictNoSign, type GossipSub } from '@libp2p/gossipsub'
import { preSharedKey } from '@libp2p/pnet'
import { MAX_STREAMS } from './protocols.ts'
import { coalescing } from './coalesce.ts'
import { windowUpdatesAtHalf } from './yamux-window.ts'
import { parallelOutboundStreams } from './gossip-streams.ts'
import type { PeerDiscovery, PrivateKey } from '@libp2p/interface'

export interface HostInit {
  privateKey?: PrivateKey
  listen: string[]
  /** Cluster nodes gossip load; clients don't. */
  gossip?: boolean
  /** mDNS service tag; no mDNS when undefined. */
  mdnsTag?: string
  /** The cluster's pre-shared key (pnet): peers without it cannot connect. */
  psk?: Uint8Array
}

/**
 * How long a dial to a cluster peer may take, the Noise handshake included
 * (discovery's dials, and libp2p's per address). A node busy with many
 * joiners at once (30 started together on two cores) took longer than the
 * 3 s this used to be: the joiners gave up and dialled again a second
 * later, and the handshakes it had half done were lost work.
 */
export const DIAL_TIMEOUT_MS = 10_000

export type Host = Libp2p<{ pubsub?: GossipSub, mdns?: PeerDiscovery, ping: Ping }>

export async function createHost (init: HostInit): Promise<Host> {
  const services: Record<string, any> = { identify: identify(), ping: ping() }
  // Under services (not peerDiscovery) so that its own event fires on every
  // mDNS answer: libp2p's peer:discovery fires once per peer per process, and
  // a peer that went away and came back must be dialled again.
  if (init.mdnsTag !== undefined) services.mdns = mdns({ serviceTag: init.mdnsTag, interval: 2000 })
  if (init.gossip === true) {
    services.pubsub = gossipsub({
      allowPublishToZeroTopicPeers: true,
      emitSelf: false,
      // Reports are not relayed, so their author is the authenticated peer
      // they arrive from: no signature to make and check (gossip.ts).
      globalSignaturePolicy: StrictNoSign,
      // gossipsub scores down peers that share an IP address beyond 10 (a
      // defence against sybils on open networks): in a private cluster (the
      // key decides who joins) several nodes per machine, or a lab behind
      // one NAT, are normal, and past 10 of them the rest were graylisted.
      scoreParams: { IPColocationFactorWeight: 0 },
      heartbeatInterval: 1000,
      maxInboundDataLength: 64 * 1024,
      // Every node hears every report directly (flood publish to all its
      // peers), and the next report replaces a lost one: gossip about
      // messages (IHAVE to peers outside the mesh each heartbeat, IDONTWANT
      // for large ones) only added bytes, ~15 % at 10 nodes.
      Dlazy: 0,
      gossipFactor: 0,
      idontwantMinDataSize: 1 << 20,
    })
  }
  // A window update once half the window is used, not after every frame (yamux-window.ts).
  windowUpdatesAtHalf()
  const host = await createLibp2p({
    ...(init.privateKey === undefined ? {} : { privateKey: init.privateKey }),
    addresses: { listen: init.listen },
    // One writev per tick per connection instead of a write per Noise chunk (coalesce.ts).
    transports: [coalescing(tcp())],
    ...(init.psk === undefined ? {} : { connectionProtector: preSharedKey({ psk: init.psk }) }),
    connectionEncrypters: [noise()],
    // yamux kills a connection on which more than 10 streams open before the
    // first is acknowledged: a client submitting many jobs at once does that.
    streamMuxers: [yamux({ maxEarlyStreams: 1000, maxInboundStreams: MAX_STREAMS, maxOutboundStreams: MAX_STREAMS })],
    connectionManager: {
      // Each address of a peer gets as long as a whole dial.
      addressDialTimeout: DIAL_TIMEOUT_MS,
      // libp2p's default lets one host open 5 connections a second: a lab or
      // CI runner behind one address submits far more than that.
      inboundConnectionThreshold: 500,
      maxIncomingPendingConnections: 128,
      maxConnections: 1000,
    },
    // A silent cluster peer is found by its load reports stopping (the node
    // drops its links with it within ~2 s): pinging every connection twice a second
    // cost more than everything else an idle node does, and a client busy
    // with hundreds of jobs could miss a 1.5 s ping and lose its connection.
    // A peer whose reports stop is pinged once, and hung up on if it does
    // not answer (node.ts, `checkSilent`): that clears connections that
    // died without a word (a crashed machine sends no FIN) where it matters.
    // This ping of every connection is only a backstop for the others
    // (clients): each one is a new stream, ~3 ms of CPU for the pair, and at
    // every 30 s it was ~0.15 % of a core per idle node at 10 nodes, three
    // times that at 30.
    connectionMonitor: init.gossip === true
      ? { pingInterval: 300_000, pingTimeout: { minTimeout: 10_000, maxTimeout: 20_000 } }
      : { enabled: false },
    services,
  }) as Host
  // Outbound gossip streams open in parallel and are retried (gossip-streams.ts).
  if (host.services.pubsub !== undefined) parallelOutboundStreams(host.services.pubsub, (peer) => host.getConnections(peer))
  return host
}
