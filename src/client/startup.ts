/**
 * What `meshrun node` prints on stdout as it starts (see cli-node.ts):
 * `peer <id>`, one `listening <multiaddr>` per address, then `ready`. For
 * scripts that start nodes and must know when, and where, they listen.
 */
import type { Readable } from 'node:stream'
import { createInterface } from 'node:readline'

/** Reads a starting node's lines up to `ready`: its peer id and first address (without /p2p/…). */
export async function readStartup (stdout: Readable): Promise<{ id: string, addr: string }> {
  let id = ''
  let addr = ''
  for await (const line of createInterface({ input: stdout })) {
    if (line.startsWith('peer ')) id = line.slice(5)
    if (line.startsWith('listening ') && addr === '') addr = line.slice(10).replace(/\/p2p\/.*/, '')
    if (line === 'ready') return { id, addr }
  }
  throw new Error('the node exited before it was ready')
}
