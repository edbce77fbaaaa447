/**
 * A message channel over a libp2p stream: length-prefixed JSON frames (an
 * unsigned varint, then that many bytes), each bounded in size and parsed
 * with a schema before use.
 *
 * Memory is bounded whatever a peer sends. A channel holds what arrived
 * until it is read, at most one frame's bound (plus its prefix) per stream,
 * and every channel of the process charges it to shared budgets: the first
 * SMALL_PER_CHANNEL bytes a channel holds to the small budget, the rest to
 * the large one (INBOUND_BUDGET_BYTES). A stream that would exceed a bound
 * or a budget is aborted at once: a flood of streams that each send most of
 * a large frame and then stall costs the large budget, not gigabytes, and
 * leaves the small one to ordinary messages (requests, events), so the node
 * keeps serving meanwhile. Once a channel is closed, or its peer broke the
 * protocol, whatever else arrives is dropped. A write the
 * peer does not take within WRITE_TIMEOUT_MS aborts the stream, so a peer
 * that stops reading cannot pin a stream (and what is queued on it) forever.
 *
 * (libp2p's lpStream buffers every byte a peer sends up to its bound from
 * the moment it is created, with nothing shared between streams: 60 streams
 * each stalled inside an 8 MiB frame held 550 MB of a node's memory.)
 */
import type { Stream } from '@libp2p/interface'
import type { z } from 'zod'
import { MAX_FRAME_BYTES } from './schemas.ts'

export class ProtocolError extends Error {
  override name = 'ProtocolError'
}

/** Bytes beyond each channel's first SMALL_PER_CHANNEL, received by all channels of this process and not yet read. */
export const INBOUND_BUDGET_BYTES = 128 * 1024 * 1024
/** Each channel's first bytes held come from the small budget. */
export const SMALL_PER_CHANNEL = 64 * 1024
export const SMALL_BUDGET_BYTES = 64 * 1024 * 1024
/** How long a write may wait for the peer to take it. */
export const WRITE_TIMEOUT_MS = 60_000

/** The process-wide account of unread inbound bytes (memory belongs to the process, not to a channel). */
const inbound = { small: 0, large: 0 }

/** Bytes currently held by channels, unread (for tests and metrics). */
export function inboundBytes (): number {
  return inbound.small + inbound.large
}

/** How a channel's holding going from `from` to `to` bytes splits between the budgets. */
function split (from: number, to: number): { small: number, large: number } {
  const small = Math.min(to, SMALL_PER_CHANNEL) - Math.min(from, SMALL_PER_CHANNEL)
  return { small, large: (to - from) - small }
}

/** A varint of any frame length we take fits in this many bytes (header() rejects longer ones). */
const MAX_PREFIX_BYTES = 10
const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

function varint (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
  return Uint8Array.from(out)
}

/** The frame header at the start of `buf`: its length and the prefix's size, or null if incomplete. */
function header (buf: Uint8Array, maxFrameBytes: number): { length: number, size: number } | null {
  const maxPrefix = varint(maxFrameBytes).length
  let n = 0
  for (let i = 0; i < buf.length; i++) {
    if (i >= maxPrefix) throw new ProtocolError(`frame too large (limit ${maxFrameBytes} bytes)`)
    n += (buf[i]! & 0x7f) * 2 ** (7 * i)
    if ((buf[i]! & 0x80) === 0) {
      if (n > maxFrameBytes) throw new ProtocolError(`frame too large (limit ${maxFrameBytes} bytes)`)
      return { length: n, size: i + 1 }
    }
  }
  return null
}

export class Channel<In, Out> {
  readonly stream: Stream
  private readonly schema: z.ZodType<In>
  private readonly maxFrameBytes: number
  /** Received, not yet read (charged to the budget). */
  private chunks: Uint8Array[] = []
  private held = 0
  /** Set when the channel stops taking input: closed by us, a protocol error, an abort. */
  private failed: Error | null = null
  private discarding = false
  private wake: (() => void) | null = null

  constructor (stream: Stream, schema: z.ZodType<In>, maxFrameBytes = MAX_FRAME_BYTES) {
    this.stream = stream
    this.schema = schema
    this.maxFrameBytes = maxFrameBytes
    stream.addEventListener('message', (evt) => {
      const data = evt.data.subarray()
      // A small view would keep the whole transport buffer it points into alive: copy it.
      this.receive(data.byteLength * 2 < data.buffer.byteLength ? data.slice() : data)
    })
    stream.addEventListener('remoteCloseWrite', () => { this.notify() })
    stream.addEventListener('close', (evt) => {
      this.discard(evt.error ?? null)
      this.notify()
    })
  }

  private receive (data: Uint8Array): void {
    if (this.discarding || data.length === 0) return
    if (this.held + data.length > this.maxFrameBytes + 16) {
      this.fail(new ProtocolError(`frame too large (limit ${this.maxFrameBytes} bytes)`))
      return
    }
    const d = split(this.held, this.held + data.length)
    if (inbound.small + d.small > SMALL_BUDGET_BYTES || inbound.large + d.large > INBOUND_BUDGET_BYTES) {
      this.fail(new ProtocolError('the node is receiving too much data at once'))
      return
    }
    inbound.small += d.small
    inbound.large += d.large
    this.held += data.length
    this.chunks.push(data)
    this.notify()
  }

  private notify (): void {
    const w = this.wake
    this.wake = null
    w?.()
  }

  /** Drops what is held and everything that still arrives. */
  private discard (err: Error | null): void {
    if (err !== null) this.failed ??= err
    this.discarding = true
    this.release(this.held)
    this.chunks = []
  }

  /** The peer broke the protocol or the budget: stop reading and reset the stream. */
  private fail (err: Error): void {
    this.discard(err)
    this.notify()
    this.stream.abort(err)
  }

  /** The first `n` bytes held (fewer if fewer are held), without joining every chunk. */
  private peek (n: number): Uint8Array {
    const first = this.chunks[0]
    if (first === undefined) return new Uint8Array(0)
    if (first.length >= n || this.chunks.length === 1) return first.subarray(0, n)
    const out: Uint8Array[] = []
    let got = 0
    for (const c of this.chunks) {
      if (got >= n) break
      out.push(c.subarray(0, n - got))
      got += Math.min(c.length, n - got)
    }
    return Buffer.concat(out)
  }

  /** Removes the first `n` bytes held (n ≤ held) and returns them. */
  private take (n: number): Uint8Array {
    const out = new Uint8Array(n)
    let got = 0
    while (got < n) {
      const c = this.chunks[0]!
      const k = Math.min(c.length, n - got)
      out.set(c.subarray(0, k), got)
      got += k
      if (k === c.length) this.chunks.shift()
      else this.chunks[0] = c.subarray(k)
    }
    this.release(n)
    return out
  }

  private release (n: number): void {
    const d = split(this.held - n, this.held)
    inbound.small -= d.small
    inbound.large -= d.large
    this.held -= n
  }

  /** The remote will send nothing more (that has not already arrived). */
  private get ended (): boolean {
    return this.stream.remoteWriteStatus !== 'writable' && this.stream.readBufferLength === 0
  }

  /**
   * The next message, or null when the remote closed its side (cleanly, or
   * in the middle of a frame). Throws ProtocolError for a frame that is too
   * large, not UTF-8 JSON or not of the schema's shape; the stream's error
   * when it was reset; the signal's reason when aborted.
   */
  async read (signal?: AbortSignal): Promise<In | null> {
    for (;;) {
      if (this.failed !== null) throw this.failed
      signal?.throwIfAborted()
      let h: { length: number, size: number } | null
      try {
        h = header(this.peek(MAX_PREFIX_BYTES), this.maxFrameBytes)
      } catch (err) {
        this.fail(err as Error)
        throw err
      }
      if (h !== null && this.held >= h.size + h.length) {
        this.take(h.size)
        return this.parse(this.take(h.length))
      }
      if (this.discarding) return null
      if (this.ended) {
        this.discard(null)
        return null
      }
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => { this.wake = null; reject(signal!.reason) }
        signal?.addEventListener('abort', onAbort, { once: true })
        this.wake = () => { signal?.removeEventListener('abort', onAbort); resolve() }
      })
    }
  }

  private parse (frame: Uint8Array): In {
    let value: unknown
    try {
      value = JSON.parse(decoder.decode(frame))
    } catch {
      throw new ProtocolError('frame is not valid UTF-8 JSON')
    }
    const parsed = this.schema.safeParse(value)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      throw new ProtocolError(`invalid message: ${issue === undefined ? 'bad shape' : `${issue.path.join('.') || '(root)'}: ${issue.message}`}`)
    }
    return parsed.data
  }

  async write (msg: Out, signal?: AbortSignal): Promise<void> {
    const body = encoder.encode(JSON.stringify(msg))
    const prefix = varint(body.length)
    // One send, one muxer frame, one encrypted frame, one syscall per message.
    const frame = new Uint8Array(prefix.length + body.length)
    frame.set(prefix)
    frame.set(body, prefix.length)
    if (this.stream.send(frame)) return
    await this.drained(signal ?? AbortSignal.timeout(WRITE_TIMEOUT_MS))
  }

  /** Waits until the stream takes more; aborts it when the peer does not read in time. */
  private async drained (signal: AbortSignal): Promise<void> {
    if (this.stream.writableNeedsDrain !== true) return
    try {
      await new Promise<void>((resolve, reject) => {
        const done = (err?: Error): void => {
          this.stream.removeEventListener('drain', onDrain)
          this.stream.removeEventListener('close', onClose)
          signal.removeEventListener('abort', onAbort)
          if (err === undefined) resolve()
          else reject(err)
        }
        const onDrain = (): void => { done() }
        const onClose = (): void => { done(new ProtocolError('the stream closed before the message was sent')) }
        const onAbort = (): void => { done(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason))) }
        this.stream.addEventListener('drain', onDrain)
        this.stream.addEventListener('close', onClose)
        if (signal.aborted) onAbort()
        else signal.addEventListener('abort', onAbort)
      })
    } catch (err) {
      this.stream.abort(err as Error)
      throw err
    }
  }

  /** Half-close our side (taking nothing more from the peer); the stream ends once the remote closes too. */
  async close (): Promise<void> {
    this.discard(null)
    try {
      await this.stream.close({ signal: AbortSignal.timeout(WRITE_TIMEOUT_MS) })
    } catch {
      this.stream.abort(new Error('close failed'))
    }
  }

  abort (err: Error): void {
    this.discard(err)
    this.stream.abort(err)
  }
}
