/**
 * Discovery between real hosts on loopback: of two peers that hear of each
 * other, only the one with the smaller id dials at once (both dialling left
 * two connections per pair), and the other dials if still unconnected a
 * second later; while it waits, the peer's addresses are already in its
 * peer store, so a link or a grant that dials the peer by id reaches it.
 */
import { afterEach, expect, test } from 'vitest'
import { createHost, type Host } from '../../src/node/host.ts'
import { DEFER_MS, Discovery } from '../../src/node/discovery.ts'
import { createLogger } from '../../src/node/log.ts'

const started: Array<{ stop: () => unknown }> = []

afterEach(async () => {
  for (const s of started.splice(0).reverse()) await s.stop()
})

/** Two hosts, ordered by id: `lo` has the smaller. */
async function pair (): Promise<{ lo: Host, hi: Host }> {
  const x = await createHost({ listen: ['/ip4/127.0.0.1/tcp/0'] })
  const y = await createHost({ listen: ['/ip4/127.0.0.1/tcp/0'] })
  started.push(x, y)
  return x.peerId.toString() < y.peerId.toString() ? { lo: x, hi: y } : { lo: y, hi: x }
}

function discovery (host: Host): Discovery {
  const d = new Discovery({ host, bootstrap: [], log: createLogger('test', 'silent'), redialMs: 60_000 })
  d.start()
  started.push(d)
  return d
}

const addrsOf = (h: Host): string[] => h.getMultiaddrs().map((a) => a.toString())
const connections = (a: Host, b: Host): number => a.getConnections(b.peerId).length

async function until (what: string, fn: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

test('two peers that hear of each other at once end up with one connection, dialled by the smaller id', async () => {
  const { lo, hi } = await pair()
  const dLo = discovery(lo)
  const dHi = discovery(hi)
  await Promise.all([dLo.learn(hi.peerId.toString(), addrsOf(hi)), dHi.learn(lo.peerId.toString(), addrsOf(lo))])
  await until('the pair to connect', () => connections(lo, hi) > 0)
  // Past the larger id's wait: it found the pair connected and did not dial.
  await new Promise((r) => setTimeout(r, DEFER_MS + 300))
  expect(connections(lo, hi)).toBe(1)
  expect(lo.getConnections(hi.peerId)[0]!.direction).toBe('outbound')
})

test('the larger id dials after DEFER_MS when the smaller never does; meanwhile the peer can be dialled by id', async () => {
  const { lo, hi } = await pair()
  // Without its address, a dial by id has nowhere to go.
  await expect(hi.dial(lo.peerId, { signal: AbortSignal.timeout(2000) })).rejects.toThrow()
  const dHi = discovery(hi)
  const t0 = Date.now()
  await dHi.learn(lo.peerId.toString(), addrsOf(lo))
  // It leaves the dialling to `lo` for now…
  await new Promise((r) => setTimeout(r, DEFER_MS / 2))
  expect(connections(hi, lo)).toBe(0)
  // …but what it learnt is in the peer store: a link (or a grant's dispatch) dialling by id gets through.
  const conn = await hi.dial(lo.peerId, { signal: AbortSignal.timeout(2000) })
  await conn.close()
  await until('the connection to close', () => connections(hi, lo) === 0)
  // `lo` never dials: `hi` does once the wait is over.
  await until('hi to dial lo itself', () => connections(hi, lo) > 0, DEFER_MS + 3000)
  expect(Date.now() - t0).toBeGreaterThanOrEqual(DEFER_MS - 50)
})
