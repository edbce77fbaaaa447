/**
 * Gossip between two real hosts: an outbound gossip stream that breaks is
 * opened again (src/node/gossip-streams.ts; gossipsub itself never does),
 * and a load report is taken only from the peer it names: reports are not
 * signed and not relayed (src/node/gossip.ts), so one naming anyone else is
 * refused. The repair leans on private fields of @libp2p/gossipsub: if a
 * release renames them, createHost throws and every test here fails.
 */
import { afterAll, beforeAll, expect, test } from 'vitest'
import type { Message } from '@libp2p/gossipsub'
import { createHost, type Host } from '../../src/node/host.ts'
import { LoadGossip, topicFor } from '../../src/node/gossip.ts'
import { createLogger } from '../../src/node/log.ts'
import type { LoadReport } from '../../src/node/schemas.ts'

let a: Host
let b: Host

beforeAll(async () => {
  a = await createHost({ listen: ['/ip4/127.0.0.1/tcp/0'], gossip: true })
  b = await createHost({ listen: ['/ip4/127.0.0.1/tcp/0'], gossip: true })
  await b.dial(a.getMultiaddrs()[0]!)
})

afterAll(async () => {
  await b?.stop()
  await a?.stop()
})

async function until<T> (what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const encoder = new TextEncoder()

test('an outbound gossip stream that breaks is opened again, and messages flow again', async () => {
  const topic = '/meshrun-test/repair/1'
  const got: string[] = []
  b.services.pubsub!.addEventListener('message', (evt: CustomEvent<Message>) => {
    if (evt.detail.topic === topic) got.push(new TextDecoder().decode(evt.detail.data))
  })
  a.services.pubsub!.subscribe(topic)
  b.services.pubsub!.subscribe(topic)
  let n = 0
  const publish = async (): Promise<number> => (await a.services.pubsub!.publish(topic, encoder.encode(`m${++n}`))).recipients.length
  await until('b to hear a', async () => { await publish(); return got.length > 0 ? true : undefined })

  // Break a's stream to b.
  const outbound = a.getConnections(b.peerId).flatMap((c) => c.streams).filter((s) => s.direction === 'outbound' && s.protocol?.startsWith('/meshsub/') === true)
  expect(outbound.length).toBeGreaterThan(0)
  for (const s of outbound) s.abort(new Error('test: a broken gossip stream'))
  // It is gone: a publish reaches no one…
  await until('a to lose its stream to b', async () => ((await publish()) === 0 ? true : undefined), 1500)
  const broken = n
  // …and within a few seconds (the repair runs every 2 s) b hears what a publishes after the break.
  await until('b to hear a again', async () => { await publish(); return got.some((m) => Number(m.slice(1)) > broken) ? true : undefined })
  expect(a.getConnections(b.peerId).flatMap((c) => c.streams).some((s) => s.direction === 'outbound' && s.protocol?.startsWith('/meshsub/') === true && s.status === 'open')).toBe(true)
})

test('a load report is taken from the peer it names, and refused when it names anyone else', async () => {
  const cluster = 'gossip-test'
  const heard: LoadReport[] = []
  const gossip = new LoadGossip({
    pubsub: a.services.pubsub!,
    cluster,
    intervalMs: () => 60_000,
    makeReport: () => ({
      id: a.peerId.toString(), priority: 0, term: 0, isMaster: false, master: null, cpu: 0, mem: 0, running: 0, maxJobs: 1,
      maxCpu: 100, maxMem: 100, accepting: true, queue: 0, languages: [], jobs: [], addrs: [], version: 'test',
    }),
    idle: () => true,
    onReport: (r) => { heard.push(r) },
    log: createLogger('test', 'silent'),
  })
  gossip.start()
  try {
    const topic = topicFor(cluster)
    b.services.pubsub!.subscribe(topic)
    const full = (id: string, seq: number): Uint8Array => encoder.encode(JSON.stringify({
      v: 1, cluster, id, seq, priority: 0, term: 0, isMaster: false, master: null, cpu: 1, mem: 1, running: 0, maxJobs: 2,
      maxCpu: 100, maxMem: 95, accepting: true, queue: 0, languages: ['python'], jobs: [], addrs: [], version: 'test', every: 500,
    }))
    // b speaking for a (its own id) and for itself: only the second is heard.
    let seq = 1
    await until('a to hear b', async () => {
      await b.services.pubsub!.publish(topic, full(a.peerId.toString(), seq++))
      await b.services.pubsub!.publish(topic, full(b.peerId.toString(), seq++))
      return heard.length > 0 ? true : undefined
    })
    expect(heard.every((r) => r.id === b.peerId.toString())).toBe(true)
    expect(heard[0]!.languages).toEqual(['python'])
  } finally {
    gossip.stop()
  }
})

test('a new term makes a full report; a light report of a term its full one did not state names no master', async () => {
  const cluster = 'gossip-term-test'
  const topic = topicFor(cluster)
  let term = 1
  const sent: Array<Record<string, unknown>> = []
  b.services.pubsub!.addEventListener('message', (evt: CustomEvent<Message>) => {
    if (evt.detail.topic === topic) sent.push(JSON.parse(new TextDecoder().decode(evt.detail.data)) as Record<string, unknown>)
  })
  b.services.pubsub!.subscribe(topic)
  const heard: LoadReport[] = []
  const master = b.peerId.toString()
  const gossip = new LoadGossip({
    pubsub: a.services.pubsub!,
    cluster,
    intervalMs: () => 60_000,
    makeReport: () => ({
      id: a.peerId.toString(), priority: 0, term, isMaster: false, master, cpu: 0, mem: 0, running: 0, maxJobs: 1,
      maxCpu: 100, maxMem: 100, accepting: true, queue: 0, languages: ['c'], jobs: [], addrs: [], version: 'test',
    }),
    idle: () => false,
    onReport: (r) => { heard.push(r) },
    log: createLogger('test', 'silent'),
  })
  gossip.start()
  try {
    await until('b to hear a', () => { gossip.publish(); return sent.length > 0 ? true : undefined })
    // Light reports while the term stays; the next term's first report is full.
    await until('a light report', () => { gossip.publish(); return sent.some((r) => r.term === 1 && r.languages === undefined) ? true : undefined })
    term = 2
    gossip.publish()
    const first = await until('a report of term 2', () => sent.find((r) => r.term === 2))
    expect(first).toMatchObject({ master, languages: ['c'] })

    // Receiving (a hears b): a light report is completed from the full one,
    // but its master only when the terms match (a lost full report of a new
    // term would otherwise name the old term's master).
    let seq = 1
    const report = (t: number, full: boolean): Uint8Array => encoder.encode(JSON.stringify({
      seq: seq++, term: t, cpu: 1, mem: 1,
      ...(full ? { v: 1, cluster, priority: 0, master: a.peerId.toString(), maxJobs: 2, maxCpu: 100, maxMem: 95, languages: ['python'], addrs: [], version: 'test', every: 500 } : {}),
    }))
    await until('a to hear b', async () => { await b.services.pubsub!.publish(topic, report(5, true)); return heard.length > 0 ? true : undefined })
    await b.services.pubsub!.publish(topic, report(5, false))
    await b.services.pubsub!.publish(topic, report(6, false))
    await until('the light report of term 6', () => heard.find((r) => r.term === 6))
    expect(heard.slice(-2).map((r) => [r.term, r.master, r.languages])).toEqual([[5, a.peerId.toString(), ['python']], [6, null, ['python']]])
  } finally {
    gossip.stop()
  }
})
