/**
 * Three real node processes on loopback, bootstrapped with --peer: one
 * master, shared work, capability-aware placement, launch-time limits.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { randomUUID } from 'node:crypto'
import { MeshClient } from '../../src/client/client.ts'
import type { JobSpec } from '../../src/exec/types.ts'
import { cli, startNode, stopAll, waitFor, type NodeProc } from '../helpers/procs.ts'
import { agreed, startCluster, statusOf } from '../helpers/cluster.ts'

afterAll(async () => { await stopAll() })

function py (src: string, id = randomUUID()): JobSpec {
  return { id, language: 'python', files: [{ name: 'main.py', content: src }], stdin: '', args: [] }
}

describe('a three-node cluster', () => {
  let nodes: NodeProc[]
  let readyAt: number

  beforeAll(async () => {
    nodes = await startCluster(3, ['--max-jobs', '2'])
    readyAt = Date.now()
  })

  test('agrees on one master and term within 3 s, and every status shows all three', async () => {
    const all = await waitFor(async () => await agreed(nodes), 3000, 'agreement on one master')
    console.log(`cluster agreed ${Date.now() - readyAt} ms after the nodes were ready: master ${all[0]!.master}, term ${all[0]!.term}`)
    const ids = nodes.map((n) => n.id).sort()
    for (const s of all) {
      expect(s.nodes.map((n) => n.id).sort()).toEqual(ids)
      expect(s.nodes.filter((n) => n.role === 'master').map((n) => n.id)).toEqual([s.master])
      expect(ids).toContain(s.master)
    }
    // The text form too: the master is marked and all three are listed.
    const text = await cli(['status', '--node', nodes[1]!.hostPort])
    for (const id of ids) expect(text.stdout).toContain(id)
    expect(text.stdout).toMatch(/master/)
  })

  test('30 jobs through all three entries all return correct output, spread over the nodes', async () => {
    const clients = await Promise.all(nodes.map(async (n) => await MeshClient.connect({ node: n.hostPort })))
    try {
      const results = await Promise.all(Array.from({ length: 30 }, async (_, i) => {
        const r = await clients[i % 3]!.run(py(`import time\ntime.sleep(0.15)\nprint(${i} + 1000)\n`))
        return { i, r }
      }))
      for (const { i, r } of results) {
        expect(r.status).toBe('ok')
        expect(r.run?.stdout).toBe(`${i + 1000}\n`)
        expect(r.entry).toBe(nodes[i % 3]!.id)
      }
      const ran = new Set(results.map(({ r }) => r.node))
      console.log(`jobs per node: ${JSON.stringify(Object.fromEntries([...ran].map((n) => [n.slice(-6), results.filter(({ r }) => r.node === n).length])))}`)
      expect(ran.size).toBeGreaterThanOrEqual(2)
    } finally {
      await Promise.all(clients.map(async (c) => { await c.close() }))
    }
  })
})

describe('capabilities and limits', () => {
  test('a node started with --langs python never receives C jobs', async () => {
    const nodes = await startCluster(3, ['--max-jobs', '2'], (i) => (i === 2 ? ['--langs', 'python'] : []))
    await waitFor(async () => await agreed(nodes), 15_000, 'agreement')
    const pyOnly = nodes[2]!
    const client = await MeshClient.connect({ node: pyOnly.hostPort })
    try {
      const c = (i: number): JobSpec => ({ id: randomUUID(), language: 'c', files: [{ name: 'a.c', content: `#include <stdio.h>\n#include <unistd.h>\nint main(void){ usleep(100000); printf("%d\\n", ${i}); return 0; }\n` }], stdin: '', args: [] })
      const results = await Promise.all(Array.from({ length: 12 }, async (_, i) => await client.run(c(i))))
      results.forEach((r, i) => {
        expect(r.status).toBe('ok')
        expect(r.run?.stdout).toBe(`${i}\n`)
        expect(r.node).not.toBe(pyOnly.id)
      })
      const status = await statusOf(pyOnly)
      expect(status.nodes.find((n) => n.id === pyOnly.id)?.languages).toEqual(['python'])
    } finally {
      await client.close()
      await Promise.all(nodes.map(async (n) => { await n.stop() }))
    }
  })

  test('with --max-jobs 1 everywhere, 6 slow jobs never overlap on a node and the rest queue', async () => {
    const nodes = await startCluster(3, ['--max-jobs', '1'])
    await waitFor(async () => await agreed(nodes), 15_000, 'agreement')
    const client = await MeshClient.connect({ node: nodes[0]!.hostPort })
    try {
      const src = 'import time\nstart = time.time()\ntime.sleep(0.6)\nprint(start, time.time())\n'
      const queued: boolean[] = []
      const results = await Promise.all(Array.from({ length: 6 }, async (_, i) => await client.run(py(src), {
        onEvent: (e) => { if (e.t === 'queued') queued[i] = true },
      })))
      const spans = new Map<string, Array<[number, number]>>()
      for (const r of results) {
        expect(r.status).toBe('ok')
        const [a, b] = r.run!.stdout.trim().split(' ').map(Number)
        spans.set(r.node, [...(spans.get(r.node) ?? []), [a!, b!]])
      }
      for (const [node, list] of spans) {
        list.sort((x, y) => x[0] - y[0])
        for (let i = 1; i < list.length; i++) {
          expect(list[i]![0], `jobs overlapped on ${node}`).toBeGreaterThanOrEqual(list[i - 1]![1])
        }
      }
      expect(queued.filter(Boolean).length).toBeGreaterThanOrEqual(3)
    } finally {
      await client.close()
      await Promise.all(nodes.map(async (n) => { await n.stop() }))
    }
  })

  test('a job no live node can run is rejected with a message saying so', async () => {
    const nodes = await startCluster(2, [], () => ['--langs', 'python,calc'])
    await waitFor(async () => await agreed(nodes), 15_000, 'agreement')
    const client = await MeshClient.connect({ node: nodes[1]!.hostPort })
    try {
      const r = await client.run({ id: randomUUID(), language: 'java', files: [{ name: 'A.java', content: 'class A { public static void main(String[] a) {} }' }], stdin: '', args: [] })
      expect(r.status).toBe('rejected')
      expect(r.message).toMatch(/no live node can run java/)
    } finally {
      await client.close()
      await Promise.all(nodes.map(async (n) => { await n.stop() }))
    }
  })

  test('two clusters with different --cluster names stay apart', async () => {
    const a = await startNode(['--cluster', 'red'])
    const b = await startNode(['--cluster', 'blue', '--peer', a.hostPort])
    const c = await startNode(['--cluster', 'red', '--peer', a.hostPort])
    await waitFor(async () => await agreed([a, c]), 15_000, 'the red cluster')
    // B hears no peer of its own cluster: after waiting for one (3 s) it stands alone.
    const blue = await waitFor(async () => { const s = await statusOf(b); return s.master !== null ? s : undefined }, 15_000, 'the blue node to elect itself')
    expect(blue.nodes.map((n) => n.id)).toEqual([b.id])
    expect(blue.master).toBe(b.id)
    const red = await statusOf(a)
    expect(red.nodes.map((n) => n.id)).not.toContain(b.id)
    await Promise.all([a, b, c].map(async (n) => { await n.stop() }))
  })
})
