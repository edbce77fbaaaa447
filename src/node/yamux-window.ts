/**
 * Fewer yamux window updates. @chainsafe/libp2p-yamux 8 answers every data
 * frame it receives with a window update (a 12-byte frame, 30 bytes once
 * Noise has framed it, and a write(2) of its own unless something else
 * leaves in the same tick): each gossiped load report, each job message
 * cost its receiver a write and its sender a read, a decryption and a frame
 * to handle — about as many frames again as the messages themselves. The
 * yamux specification leaves the moment to the receiver; Go's and Rust's
 * yamux send the update once half the window has been consumed, and so does
 * this. The sender keeps at least half a window (128 KiB at first) of credit
 * meanwhile, so nothing waits for an update that is not sent; the window's
 * auto-tuning, the SYN/ACK that opens a stream and the resume after a pause
 * go out as before.
 *
 * It replaces `sendWindowUpdate` on the prototype of the stream class that
 * the package exports (`@chainsafe/libp2p-yamux/stream`, the one its muxer
 * instantiates) and relies on that method's fields (`state`, `recvWindow`,
 * `recvWindowCapacity`), which the types keep private; the regression test
 * (test/node/yamux-window.test.ts) counts the frames on a real connection.
 */
import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream'

interface WindowFields {
  state: StreamState
  recvWindow: number
  recvWindowCapacity: number
}

let skipped = 0
/** Window updates not sent in this process (for the regression test). */
export function windowUpdatesSkipped (): number {
  return skipped
}

let installed = false
/** Send a window update once half the receive window is used, not after every frame (idempotent). */
export function windowUpdatesAtHalf (): void {
  if (installed) return
  const proto = YamuxStream.prototype as unknown as { sendWindowUpdate: (this: WindowFields) => void }
  const sendWindowUpdate = proto.sendWindowUpdate
  if (typeof sendWindowUpdate !== 'function') return
  installed = true
  proto.sendWindowUpdate = function (this: WindowFields) {
    // Only an established stream's plain credit update waits: opening
    // flags and pauses take the original path.
    if (this.state === StreamState.Established && typeof this.recvWindow === 'number' &&
      this.recvWindow - this.recvWindowCapacity < this.recvWindow / 2) {
      skipped++
      return
    }
    sendWindowUpdate.call(this)
  }
}
