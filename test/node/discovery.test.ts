/**
 * Discovery between real hosts on loopback: of two peers that hear of each
 * other, only the one with the smaller id dials at once (both dialling left
 * two connections per pair), and the other dials if still unconnected a
 * second after its focus ends; while it waits, the peer's addresses are
 * already in its peer store, so a link or a grant that dials the peer by id
 * reaches it. While forming (a new peer heard of lately, or an election not
 * settled), a node dials the highest id it knows of only.
 */
import { afterEach, expect, test } from 'vitest'
import { createHost, type Host } from '../../src/node/host.ts'
import { DEFER_MS, Discovery, FOCUS_MS } from '../../src/node/discovery.ts'
import { createLogger } from '../../src/node/log.ts'

const started: Array<{ stop: () => unknown }> = []

afterEach(async () => {
  for (const s of started.splice(0).reverse()) await s.stop()
})

/** Hosts on loopback, ordered by id (the smallest first). */
async function hosts (n: number): Promise<Host[]> {
  const hs = await Promise.all(Array.from({ length: n }, async () => await createHost({ listen: ['/ip4/127.0.0.1/tcp/0'] })))
  started.push(...hs)
  return hs.sort((a, b) => (a.peerId.toString() < b.peerId.toString() ? -1 : 1))
}

/** Two hosts, ordered by id: `lo` has the smaller. */
async function pair (): Promise<{ lo: Host, hi: Host }> {
  const [lo, hi] = await hosts(2)
  return { lo: lo!, hi: hi! }
}

function discovery (host: Host, focusUntil?: () => number): Discovery {
  const d = new Discovery({ host, bootstrap: [], log: createLogger('test', 'silent'), redialMs: 60_000, ...(focusUntil === undefined ? {} : { focusUntil }) })
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
  // Past the larger id's wait (its focus, then DEFER_MS): it found the pair connected and did not dial.
  await new Promise((r) => setTimeout(r, FOCUS_MS + DEFER_MS + 300))
  expect(connections(lo, hi)).toBe(1)
  expect(lo.getConnections(hi.peerId)[0]!.direction).toBe('outbound')
})

test('the larger id dials DEFER_MS after its focus when the smaller never does; meanwhile the peer can be dialled by id', async () => {
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
  // `lo` never dials: `hi` does once the wait is over (it is the highest
  // id it knows of, so it dials nobody while its focus lasts).
  await until('hi to dial lo itself', () => connections(hi, lo) > 0, FOCUS_MS + DEFER_MS + 3000)
  expect(Date.now() - t0).toBeGreaterThanOrEqual(FOCUS_MS + DEFER_MS - 50)
})

test('while forming, a node dials the highest id it knows of only; the others once its election has settled', async () => {
  const [a, b, c] = await hosts(3)
  let settledAt = Infinity
  // `a`'s election: no master until `settledAt`, then one followed since then.
  const dA = discovery(a!, () => Math.min(Date.now(), settledAt) + FOCUS_MS)
  await Promise.all([dA.learn(b!.peerId.toString(), addrsOf(b!)), dA.learn(c!.peerId.toString(), addrsOf(c!))])
  await until('a to dial c, the highest id', () => connections(a!, c!) > 0)
  // Past FOCUS_MS since it heard of them, its election still holds it to c alone.
  await new Promise((r) => setTimeout(r, FOCUS_MS + 500))
  expect(connections(a!, b!)).toBe(0)
  settledAt = Date.now()
  await until('a to dial b once settled', () => connections(a!, b!) > 0, FOCUS_MS + 3000)
  expect(Date.now() - settledAt).toBeGreaterThanOrEqual(FOCUS_MS - 50)
  expect(a!.getConnections(b!.peerId)[0]!.direction).toBe('outbound')
})
