/**
 * Yamux window updates once half the window is used (src/node/yamux-window.ts):
 * small messages no longer each cost a window update back, and flow control
 * still carries a bulk transfer (many windows' worth, both directions) whole.
 * It leans on fields @chainsafe/libp2p-yamux's types keep private: this
 * fails if a release renames them.
 */
import { afterAll, beforeAll, expect, test } from 'vitest'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import type { Stream } from '@libp2p/interface'
import { createHost, type Host } from '../../src/node/host.ts'
import { windowUpdatesSkipped } from '../../src/node/yamux-window.ts'

const ECHO = '/meshrun-test/echo/1.0.0'
let a: Host
let b: Host

beforeAll(async () => {
  a = await createHost({ listen: ['/ip4/127.0.0.1/tcp/0'] })
  b = await createHost({ listen: [] })
  // Echoes every chunk, and a hash of all of them when the writer is done.
  await a.handle(ECHO, async (stream) => {
    const hash = createHash('sha256')
    for await (const chunk of stream) {
      const data = chunk.subarray()
      hash.update(data)
      if (!stream.send(data)) await once(stream, 'drain')
    }
    stream.send(new TextEncoder().encode(hash.digest('hex')))
    await stream.close()
  })
})

afterAll(async () => {
  await b?.stop()
  await a?.stop()
})

async function roundTrip (stream: Stream, chunks: Uint8Array[]): Promise<{ bytes: number, tail: string }> {
  const reading = (async () => {
    const got: Uint8Array[] = []
    for await (const chunk of stream) got.push(chunk.subarray())
    return Buffer.concat(got)
  })()
  for (const c of chunks) {
    if (!stream.send(c)) await once(stream, 'drain')
  }
  await stream.close()
  const all = await reading
  return { bytes: all.byteLength - 64, tail: all.subarray(all.byteLength - 64).toString() }
}

test('a hundred small messages each way cost a handful of window updates, not a hundred', async () => {
  const stream = await b.dialProtocol(a.getMultiaddrs()[0]!, ECHO)
  const before = windowUpdatesSkipped()
  const chunks = Array.from({ length: 100 }, (_, i) => new TextEncoder().encode(`report ${i} `.padEnd(200, '.')))
  const hash = createHash('sha256')
  for (const c of chunks) hash.update(c)
  // One at a time, as load reports and job messages go.
  const reader = stream[Symbol.asyncIterator]()
  for (const c of chunks) {
    stream.send(c)
    const echoed = await reader.next()
    expect(echoed.done).toBe(false)
  }
  // Both ends received 100 frames; each would have answered every one.
  expect(windowUpdatesSkipped() - before).toBeGreaterThanOrEqual(190)
  await stream.close()
  let tail = ''
  for (let r = await reader.next(); r.done !== true; r = await reader.next()) tail += new TextDecoder().decode(r.value.subarray())
  expect(tail).toBe(hash.digest('hex'))
})

test('flow control still works: 8 MiB (32 initial windows) each way arrive whole and in order', async () => {
  const stream = await b.dialProtocol(a.getMultiaddrs()[0]!, ECHO)
  const chunks = Array.from({ length: 256 }, (_, i) => new Uint8Array(32 * 1024).fill(i % 253))
  const hash = createHash('sha256')
  for (const c of chunks) hash.update(c)
  const { bytes, tail } = await roundTrip(stream, chunks)
  expect(bytes).toBe(8 * 1024 * 1024)
  expect(tail).toBe(hash.digest('hex'))
})
