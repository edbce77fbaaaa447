/**
 * Output of one stage: stdout and stderr counted together against one cap,
 * decoded as UTF-8 without ever splitting a character across chunks, passed
 * on live, and cut with a marker when the cap is reached (the caller then
 * kills the stage).
 */
import { StringDecoder } from 'node:string_decoder'
import type { OutputStream } from './types.ts'

export function truncationMarker (cap: number): string {
  return `\n[meshrun: output truncated: limit of ${cap} bytes reached]\n`
}

export class OutputCapture {
  private readonly cap: number
  private readonly onData: ((stream: OutputStream, text: string) => void) | undefined
  private readonly onLimit: () => void
  private readonly decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') }
  private readonly text = { stdout: '', stderr: '' }
  private bytes = 0
  truncated = false

  constructor (cap: number, onLimit: () => void, onData?: (stream: OutputStream, text: string) => void) {
    this.cap = cap
    this.onLimit = onLimit
    this.onData = onData
  }

  private emit (stream: OutputStream, s: string): void {
    if (s === '') return
    this.text[stream] += s
    this.onData?.(stream, s)
  }

  push (stream: OutputStream, chunk: Buffer): void {
    if (this.truncated) return
    const room = this.cap - this.bytes
    if (chunk.length <= room) {
      this.bytes += chunk.length
      this.emit(stream, this.decoders[stream].write(chunk))
      return
    }
    // Keep what fits; a character cut in half at the cap is dropped, not mangled.
    this.bytes = this.cap
    this.emit(stream, this.decoders[stream].write(chunk.subarray(0, room)))
    this.emit(stream, truncationMarker(this.cap))
    this.truncated = true
    this.onLimit()
  }

  /** The decoded output; flushes an incomplete trailing character as U+FFFD. */
  finish (): { stdout: string; stderr: string; truncated: boolean } {
    if (!this.truncated) {
      for (const s of ['stdout', 'stderr'] as const) this.emit(s, this.decoders[s].end())
    }
    return { stdout: this.text.stdout, stderr: this.text.stderr, truncated: this.truncated }
  }
}
