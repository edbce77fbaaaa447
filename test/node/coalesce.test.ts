/**
 * Write coalescing (src/node/coalesce.ts) leans on two things of
 * @libp2p/tcp that its types do not promise (the connection's socket and its
 * sendData): this fails if an upgrade takes them away. And corked sockets
 * must still carry everything, in order, with back-pressure: a megabyte in
 * many small writes arrives whole in both directions.
 */
import { afterAll, beforeAll, expect, test } from 'vitest'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import type { Stream } from '@libp2p/interface'
import { createHost, type Host } from '../../src/node/host.ts'
import { coalescedConnections } from '../../src/node/coalesce.ts'

const PROTOCOL = '/meshrun-test/sink/1.0.0'
let a: Host
let b: Host

beforeAll(async () => {
  a = await createHost({ listen: ['/ip4/127.0.0.1/tcp/0'] })
  b = await createHost({ listen: [] })
  // The sink reads everything, then answers with its length and hash.
  await a.handle(PROTOCOL, async (stream) => {
    const hash = createHash('sha256')
    let bytes = 0
    for await (const chunk of stream) {
      const data = chunk.subarray()
      hash.update(data)
      bytes += data.byteLength
    }
    stream.send(new TextEncoder().encode(`${bytes} ${hash.digest('hex')}`))
    await stream.close()
  })
})

afterAll(async () => {
  await b?.stop()
  await a?.stop()
})

async function sendAll (stream: Stream, chunks: Uint8Array[]): Promise<void> {
  for (const c of chunks) {
    if (!stream.send(c)) await once(stream, 'drain')
  }
}

test('both ends of a TCP connection coalesce their writes, and a megabyte in small writes arrives whole', async () => {
  const before = coalescedConnections()
  const stream = await b.dialProtocol(a.getMultiaddrs()[0]!, PROTOCOL)
  // The dialler's connection and the listener's, both in this process.
  expect(coalescedConnections() - before).toBe(2)

  const chunks = Array.from({ length: 1024 }, (_, i) => new Uint8Array(1024).fill(i % 251))
  const hash = createHash('sha256')
  for (const c of chunks) hash.update(c)
  await sendAll(stream, chunks)
  await stream.close()
  let answer = ''
  for await (const chunk of stream) answer += new TextDecoder().decode(chunk.subarray())
  expect(answer).toBe(`${1024 * 1024} ${hash.digest('hex')}`)
})
