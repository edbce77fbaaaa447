/**
 * The client library: connect to any node, submit a job and follow it, ask
 * for status. A client is a small libp2p host of its own (TCP, Noise, Yamux)
 * that never listens.
 *
 * @example
 * const client = await MeshClient.connect({ node: '127.0.0.1:7700' })
 * const result = await client.run({ id: 'j1', language: 'python', files: [{ name: 'a.py', content: 'print(1)' }], stdin: '', args: [] })
 * await client.close()
 */
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Connection, PeerId } from '@libp2p/interface'
import type { JobSpec } from '../exec/types.ts'
import { createHost, type Host } from '../node/host.ts'
import { Channel } from '../node/wire.ts'
import { PROTOCOL_JOB, PROTOCOL_STATUS } from '../node/protocols.ts'
import { jobEventSchema, statusSchema, type ClientRequest, type JobEvent, type JobResult, type Status } from '../node/schemas.ts'
import { parseNodeAddr } from './addr.ts'

export interface ClientInit {
  /** HOST:PORT or a multiaddr. */
  node: string
  dialTimeoutMs?: number
}

export interface RunOptions {
  onEvent?: (event: JobEvent) => void
  signal?: AbortSignal
}

export class ConnectError extends Error {
  override name = 'ConnectError'
}

/** The node answered with an error instead of a result. */
export class JobError extends Error {
  override name = 'JobError'
}

export class MeshClient {
  readonly host: Host
  readonly addr: Multiaddr
  private readonly dialTimeoutMs: number
  private connecting: Promise<Connection> | undefined

  private constructor (host: Host, addr: Multiaddr, dialTimeoutMs: number) {
    this.host = host
    this.addr = addr
    this.dialTimeoutMs = dialTimeoutMs
  }

  static async connect (init: ClientInit): Promise<MeshClient> {
    const addr = parseNodeAddr(init.node)
    const host = await createHost({ listen: [] })
    await host.start()
    return new MeshClient(host, addr, init.dialTimeoutMs ?? 5000)
  }

  async close (): Promise<void> {
    await this.host.stop()
  }

  /** The node's peer id, learnt on the first connection. */
  private peer: PeerId | undefined

  private async open (protocol: string): Promise<import('@libp2p/interface').Stream> {
    try {
      // Dial the address once and then the peer: concurrent dials of a bare
      // address open duplicate connections, and libp2p prunes them, resetting
      // whatever streams they carried.
      if (this.peer === undefined) {
        this.connecting ??= this.host.dial(this.addr, { signal: AbortSignal.timeout(this.dialTimeoutMs) }).finally(() => { this.connecting = undefined })
        this.peer = (await this.connecting).remotePeer
      }
      return await this.host.dialProtocol(this.peer, protocol, { signal: AbortSignal.timeout(this.dialTimeoutMs) })
    } catch (err: any) {
      throw new ConnectError(`cannot reach node ${this.addr.toString()}: ${err?.message ?? String(err)}`)
    }
  }

  /** Submit a job (or attach to the job with that id) and wait for its one result. */
  async run (job: JobSpec, opts: RunOptions = {}): Promise<JobResult> {
    return await this.follow({ t: 'submit', job }, opts)
  }

  /** Attach to a job already submitted with this id. */
  async attach (id: string, opts: RunOptions = {}): Promise<JobResult> {
    return await this.follow({ t: 'attach', id }, opts)
  }

  private async follow (req: ClientRequest, opts: RunOptions): Promise<JobResult> {
    const stream = await this.open(PROTOCOL_JOB)
    const ch = new Channel<JobEvent, ClientRequest>(stream, jobEventSchema)
    const onAbort = (): void => { ch.abort(new Error('cancelled by the client')) }
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      await ch.write(req)
      for (;;) {
        const event = await ch.read()
        if (event === null) throw new JobError('the node closed the stream before sending a result')
        opts.onEvent?.(event)
        if (event.t === 'error') throw new JobError(event.message)
        if (event.t === 'result') return event.result
      }
    } finally {
      opts.signal?.removeEventListener('abort', onAbort)
      await ch.close()
    }
  }

  async status (): Promise<Status> {
    const stream = await this.open(PROTOCOL_STATUS)
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
