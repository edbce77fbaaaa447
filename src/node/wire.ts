/**
 * A message channel over a libp2p stream: length-prefixed JSON frames, each
 * bounded in size and parsed with a schema before use.
 */
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import type { z } from 'zod'
import { MAX_FRAME_BYTES } from './schemas.ts'

export class ProtocolError extends Error {
  override name = 'ProtocolError'
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export class Channel<In, Out> {
  readonly stream: Stream
  private readonly lp: LengthPrefixedStream<Stream>
  private readonly schema: z.ZodType<In>

  constructor (stream: Stream, schema: z.ZodType<In>, maxFrameBytes = MAX_FRAME_BYTES) {
    this.stream = stream
    this.schema = schema
    this.lp = lpStream(stream, { maxDataLength: maxFrameBytes, maxBufferSize: maxFrameBytes + 16 })
  }

  /** The next message, or null when the remote closed its side cleanly. */
  async read (signal?: AbortSignal): Promise<In | null> {
    let frame
    try {
      frame = await this.lp.read(signal === undefined ? undefined : { signal })
    } catch (err: any) {
      if (err?.name === 'UnexpectedEOFError') return null
      if (err?.name === 'InvalidDataLengthError' || err?.name === 'InvalidMessageLengthError' || err?.name === 'InvalidDataLengthLengthError') {
        throw new ProtocolError(`frame too large (limit ${MAX_FRAME_BYTES} bytes)`)
      }
      throw err
    }
    let value: unknown
    try {
      value = JSON.parse(decoder.decode(frame.subarray()))
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
    await this.lp.write(encoder.encode(JSON.stringify(msg)), signal === undefined ? undefined : { signal })
  }

  /** Half-close our side; the stream ends once the remote closes too. */
  async close (): Promise<void> {
    try { await this.stream.close() } catch { this.stream.abort(new Error('close failed')) }
  }

  abort (err: Error): void {
    this.stream.abort(err)
  }
}
