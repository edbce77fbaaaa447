/**
 * The client library: connect to any node, submit a job and follow it, ask
 * for status. A client is a small libp2p host of its own (TCP, Noise, Yamux)
 * that never listens.
 *
 * All the jobs a client sends to a node share one stream (/meshrun/session),
 * opened with the first.
 *
 * Failover: every node tells the client which other nodes are alive. When
 * the node a job was submitted to dies (or the stream breaks), the client
 * submits the same job id to another node, which attaches to the job where
 * it still runs; output already shown is not shown twice, and exactly one
 * result is returned.
 *
 * @example
 * const client = await MeshClient.connect({ node: '127.0.0.1:7700' })
 * const result = await client.run({ id: 'j1', language: 'python', files: [{ name: 'a.py', content: 'print(1)' }], stdin: '', args: [] })
 * await client.close()
 */
import type { Multiaddr } from '@multiformats/multiaddr'
import { multiaddr } from '@multiformats/multiaddr'
import type { PeerId, Stream } from '@libp2p/interface'
import type { JobSpec } from '../exec/types.ts'
import { createHost, type Host } from '../node/host.ts'
import { Channel } from '../node/wire.ts'
import { MAX_STREAMS, PROTOCOL_SESSION, PROTOCOL_STATUS } from '../node/protocols.ts'
import { Sessions } from '../node/link.ts'
import { sessionEventSchema, statusSchema, type ClientRequest, type JobEvent, type JobResult, type SessionEvent, type SessionRequest, type Status } from '../node/schemas.ts'
import { parseNodeAddr } from './addr.ts'

export interface ClientInit {
  /** HOST:PORT or a multiaddr. */
  node: string
  dialTimeoutMs?: number
  /** How long to keep trying other nodes after the one in use fails (default 60 s; 0: no failover). */
  failoverMs?: number
  /** The cluster's pre-shared key, when the cluster has one. */
  psk?: Uint8Array
}

export interface RunOptions {
  /** Progress: acceptance, queue positions, stage starts, live output. Without it the node sends the result only. */
  onEvent?: (event: JobEvent) => void
  /** The node in use failed; the job goes on through `next`. */
  onFailover?: (info: { from: string, to: string, error: string }) => void
  signal?: AbortSignal
}

export class ConnectError extends Error {
  override name = 'ConnectError'
}

/** The node answered with an error instead of a result. */
export class JobError extends Error {
  override name = 'JobError'
}

interface Target { addr: Multiaddr, peer?: PeerId, connecting?: Promise<PeerId> }

export class MeshClient {
  readonly host: Host
  private readonly targets: Target[]
  private current = 0
  private readonly dialTimeoutMs: number
  private readonly failoverMs: number
  /** One session per node, keyed by its address, opened with its first job. */
  private readonly sessions = new Sessions<SessionEvent, SessionRequest>(async (addr) => await this.open(this.targetAt(addr), PROTOCOL_SESSION), sessionEventSchema)

  private constructor (host: Host, addr: Multiaddr, init: ClientInit) {
    this.host = host
    this.targets = [{ addr }]
    this.dialTimeoutMs = init.dialTimeoutMs ?? 5000
    this.failoverMs = init.failoverMs ?? 60_000
  }

  static async connect (init: ClientInit): Promise<MeshClient> {
    const addr = parseNodeAddr(init.node)
    const host = await createHost({ listen: [], ...(init.psk === undefined ? {} : { psk: init.psk }) })
    await host.start()
    return new MeshClient(host, addr, init)
  }

  /** The address of the node in use. */
  get addr (): Multiaddr { return this.targets[this.current]!.addr }

  async close (): Promise<void> {
    await this.host.stop()
  }

  private async open (target: Target, protocol: string): Promise<Stream> {
    let dialled = false
    try {
      // Dial the address once and then the peer: concurrent dials of a bare
      // address open duplicate connections, and libp2p prunes them, resetting
      // whatever streams they carried.
      if (target.peer === undefined) {
        // One dial per node, shared by concurrent calls.
        target.connecting ??= this.host.dial(target.addr, { signal: AbortSignal.timeout(this.dialTimeoutMs) })
          .then((conn) => conn.remotePeer)
          .finally(() => { target.connecting = undefined })
        target.peer = await target.connecting
      }
      dialled = true
      return await this.host.dialProtocol(target.peer, protocol, { maxOutboundStreams: MAX_STREAMS, signal: AbortSignal.timeout(this.dialTimeoutMs) })
    } catch (err: any) {
      throw new ConnectError(dialled ? `node ${target.addr.toString()}: cannot open a stream: ${err?.message ?? String(err)}` : describeConnectError(target.addr.toString(), err))
    }
  }

  /** Nodes named by the cluster: remembered for failover. */
  private learn (addrs: string[]): void {
    for (const a of addrs) {
      if (this.targets.length >= 64) return
      try {
        const ma = multiaddr(a)
        const id = ma.getComponents().find((c) => c.name === 'p2p')?.value
        if (this.targets.some((t) => t.addr.toString() === a || (id !== undefined && t.peer?.toString() === id))) continue
        this.targets.push({ addr: ma })
      } catch {}
    }
  }

  /** Submit a job (or attach to the job with that id) and wait for its one result. */
  async run (job: JobSpec, opts: RunOptions = {}): Promise<JobResult> {
    return await this.withFailover({ t: 'submit', job, ...quietUnlessWatched(opts) }, opts)
  }

  /** Attach to a job already submitted with this id (to this node). */
  async attach (id: string, opts: RunOptions = {}): Promise<JobResult> {
    return await this.withFailover({ t: 'attach', id, ...quietUnlessWatched(opts) }, { ...opts }, false)
  }

  private async withFailover (req: ClientRequest, opts: RunOptions, failover = true): Promise<JobResult> {
    // Output already passed on, per stage and stream, so a replay after a
    // failover does not show it twice.
    const seen = new Map<string, number>()
    const replay = new Map<string, number>()
    // Once a request went out, the job may exist somewhere: re-submitting the
    // same id is safe (it attaches). Only a node never reached fails at once.
    let sent = false
    const onEvent = (e: JobEvent): void => {
      if (e.t === 'accepted' && e.peers !== undefined) this.learn(e.peers)
      if (e.t === 'output') {
        const key = `${e.stage}/${e.stream}`
        const had = seen.get(key) ?? 0
        const offset = replay.get(key) ?? 0
        replay.set(key, offset + e.data.length)
        if (offset + e.data.length <= had) return
        const fresh = offset >= had ? e.data : e.data.slice(had - offset)
        seen.set(key, offset + e.data.length)
        opts.onEvent?.({ ...e, data: fresh })
        return
      }
      opts.onEvent?.(e)
    }
    let deadline = 0
    let tried = 0
    for (;;) {
      replay.clear()
      const target = this.targets[this.current]!
      try {
        return await this.follow(target, req, onEvent, opts.signal, () => { sent = true })
      } catch (err) {
        if (err instanceof JobError || opts.signal?.aborted === true || !failover || this.failoverMs <= 0 || !sent) throw err
        const now = Date.now()
        if (deadline === 0) deadline = now + this.failoverMs
        if (now > deadline) throw err
        tried++
        const from = target.addr.toString()
        this.current = (this.current + 1) % this.targets.length
        target.peer = undefined
        this.sessions.drop(from, err instanceof Error ? err : new Error(String(err)))
        // Went round every known node: give them a moment (one may restart).
        if (tried % this.targets.length === 0) await new Promise((resolve) => setTimeout(resolve, 500))
        opts.onFailover?.({ from, to: this.addr.toString(), error: err instanceof Error ? err.message : String(err) })
      }
    }
  }

  private targetAt (addr: string): Target {
    const t = this.targets.find((x) => x.addr.toString() === addr)
    if (t === undefined) throw new ConnectError(`no node ${addr} known`)
    return t
  }

  private async follow (target: Target, req: ClientRequest, onEvent: (e: JobEvent) => void, signal: AbortSignal | undefined, onSent: () => void): Promise<JobResult> {
    signal?.throwIfAborted()
    const session = await this.sessions.get(target.addr.toString(), signal)
    // The node was reached: from here on the job may exist there, and a retry
    // (same id) attaches to it. Failing to send still retries elsewhere.
    onSent()
    return await new Promise<JobResult>((resolve, reject) => {
      let r = 0
      const end = (): void => {
        signal?.removeEventListener('abort', onAbort)
        session.forget(r)
      }
      const onAbort = (): void => {
        end()
        session.post({ t: 'forget', r })
        reject(new Error('cancelled by the client'))
      }
      r = session.request(req, ({ e }) => {
        try {
          onEvent(e)
        } catch (err) {
          end()
          reject(err)
          return
        }
        if (e.t === 'error') { end(); reject(new JobError(e.message)) }
        if (e.t === 'result') { end(); resolve(e.result) }
      }, (err) => {
        end()
        reject(new ConnectError(`node ${target.addr.toString()}: ${err.message}`))
      })
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  async status (): Promise<Status> {
    const stream = await this.open(this.targets[this.current]!, PROTOCOL_STATUS)
    const ch = new Channel<Status, { t: 'status' }>(stream, statusSchema)
    try {
      await ch.write({ t: 'status' })
      const status = await ch.read(AbortSignal.timeout(10_000))
      if (status === null) throw new JobError('the node closed the stream without a status')
      return status
    } finally {
      await ch.close()
    }
  }
}

/** Without an `onEvent`, nobody looks at progress: the node sends the result only (schemas.ts, `quiet`). */
function quietUnlessWatched (opts: RunOptions): { quiet?: true } {
  return opts.onEvent === undefined ? { quiet: true } : {}
}

/**
 * A node that refuses the handshake looks like a timeout or an encryption
 * failure; libp2p has no "wrong key" error, so say what it most likely is.
 */
function describeConnectError (addr: string, err: any): string {
  const text = String(err?.message ?? err)
  const all = [text, ...(Array.isArray(err?.errors) ? err.errors.map((e: any) => String(e?.message ?? e)) : [])].join(' ')
  if (/ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EADDRNOTAVAIL/.test(all)) return `cannot reach node ${addr}: nothing is listening there (${text})`
  // Something listens, but the handshake failed: a node of a keyed cluster
  // answers a client without (or with another) key with noise or silence.
  return `cannot reach node ${addr}: the connection failed during the handshake — wrong or missing cluster key? (give the cluster's key with --key FILE or MESHRUN_KEY_FILE) (${text})`
}
