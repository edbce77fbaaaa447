/**
 * The election driver on real hosts: a follower that a lower-ranked
 * candidate's ELECTION makes doubt its master probes the master, and if no
 * ANSWER comes it elects — unless the master's reports still arrive on time
 * (a master that is alive but slow to answer, as on a loaded machine, where
 * such probes made most elections). A master that cannot even be reached is
 * given no such benefit.
 */
import { afterEach, expect, test } from 'vitest'
import { z } from 'zod'
import { createHost, type Host } from '../../src/node/host.ts'
import { ElectionDriver } from '../../src/node/election.ts'
import { PROTOCOL_ELECTION } from '../../src/node/protocols.ts'
import { Channel } from '../../src/node/wire.ts'
import { createLogger } from '../../src/node/log.ts'

const stops: Array<() => unknown> = []
afterEach(async () => { for (const s of stops.splice(0).reverse()) await s() })

const listen = ['/ip4/127.0.0.1/tcp/0']
const log = createLogger('test', 'silent')
type Wire = { type: 'ELECTION' | 'ANSWER' | 'COORDINATOR', term: number, priority: number }

/** A master that takes election messages and never answers; a follower driven by ElectionDriver; a lower-ranked candidate. */
async function setup (opts: { masterOnTime: boolean, masterListens: boolean }): Promise<{ follower: ElectionDriver, master: Host }> {
  const master = await createHost({ listen })
  const node = await createHost({ listen })
  const candidate = await createHost({ listen })
  stops.push(async () => { await master.stop() }, async () => { await node.stop() }, async () => { await candidate.stop() })
  if (opts.masterListens) {
    await master.handle(PROTOCOL_ELECTION, (stream) => { void new Channel<Wire, never>(stream, z.any(), 1024).read(AbortSignal.timeout(5000)).catch(() => {}) })
  }
  await node.dial(master.getMultiaddrs()[0]!)
  await candidate.dial(node.getMultiaddrs()[0]!)
  const masterId = master.peerId.toString()
  const follower = new ElectionDriver({
    host: node,
    self: { priority: 5, id: node.peerId.toString() },
    livePeers: () => [masterId, candidate.peerId.toString()],
    onTime: (peer) => opts.masterOnTime && peer === masterId,
    onChange: () => {},
    log,
  })
  stops.push(() => { follower.stop() })
  await follower.start()
  follower.report(masterId, 10, 1, true)
  follower.report(candidate.peerId.toString(), 0, 1, false)
  expect(follower.master).toBe(masterId)
  // The candidate doubts the master (it knows the current term): it sends the follower an ELECTION.
  const stream = await candidate.dialProtocol(node.peerId, PROTOCOL_ELECTION)
  const ch = new Channel<never, Wire>(stream, z.never())
  await ch.write({ type: 'ELECTION', term: 1, priority: 0 })
  await ch.close()
  // Its probe gets no ANSWER; the driver's waits are 25 ms, three tries and more.
  await new Promise((r) => setTimeout(r, 600))
  return { follower, master }
}

test('a master whose reports arrive on time is not deposed by a probe it answers late', async () => {
  const { follower, master } = await setup({ masterOnTime: true, masterListens: true })
  expect(follower.role).toBe('follower')
  expect(follower.master).toBe(master.peerId.toString())
})

test('without recent reports from it, the silent master is deposed: the follower elects and crowns itself', async () => {
  const { follower } = await setup({ masterOnTime: false, masterListens: true })
  expect(follower.role).toBe('master')
})

test('a master the probe cannot reach is deposed even while its last reports are recent', async () => {
  const { follower } = await setup({ masterOnTime: true, masterListens: false })
  expect(follower.role).toBe('master')
})
