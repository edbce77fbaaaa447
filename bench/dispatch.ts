/**
 * Dispatch overhead: one job at a time through a 3-node cluster, the client
 * on a node that is not the master, against the same program in the same
 * sandbox started by a bare spawn, and with no sandbox at all.
 */
import { MeshClient } from '../src/client/client.ts'
import type { JobSpec } from '../src/exec/types.ts'
import { prepareBaselines, timeRun } from './baseline.ts'
import { cHello, pyHello } from './jobs.ts'
import { fmt, startCluster, stopNodes, summarize, waitAgreed, workDir, type Row, type Summary } from './lib.ts'

export async function benchDispatch (quick: boolean): Promise<{ rows: Row[], data: Record<string, Summary> }> {
  const n = quick ? 30 : 200
  const nodes = await startCluster(3)
  const [s] = await waitAgreed(nodes)
  const entry = nodes.find((x) => x.id !== s!.master)!
  const client = await MeshClient.connect({ node: entry.addr })
  const base = await prepareBaselines(await workDir())
  const data: Record<string, Summary> = {}
  const rows: Row[] = []
  try {
    for (const [name, make, b] of [['python', pyHello, base.python], ['c (cached)', cHello, base.c]] as Array<[string, () => JobSpec, typeof base.python]>) {
      for (let i = 0; i < 5; i++) await client.run(make()) // warm: compile cache, connections
      const mesh: number[] = []
      const remote = new Set<string>()
      for (let i = 0; i < n; i++) {
        const t0 = performance.now()
        const r = await client.run(make())
        mesh.push(performance.now() - t0)
        if (r.status !== 'ok' || r.run?.stdout !== 'hello\n') throw new Error(`dispatch job failed: ${r.status} ${r.message ?? ''}`)
        if (r.node !== entry.id) remote.add(r.node)
      }
      const sandboxed: number[] = []
      const direct: number[] = []
      for (let i = 0; i < 3; i++) { await timeRun(['/bin/sh', b.sandboxed]); await timeRun(b.direct, b.box) }
      for (let i = 0; i < n; i++) {
        sandboxed.push(await timeRun(['/bin/sh', b.sandboxed]))
        direct.push(await timeRun(b.direct, b.box))
      }
      const m = summarize(mesh)
      const sb = summarize(sandboxed)
      const d = summarize(direct)
      data[`${name} meshrun`] = m
      data[`${name} sandbox`] = sb
      data[`${name} direct`] = d
      rows.push(
        { section: 'dispatch', metric: `${name} e2e p50 (min–max)`, value: `${fmt(m.p50)} (${fmt(m.min)}–${fmt(m.max)})`, baseline: `${fmt(sb.p50)} (${fmt(sb.min)}–${fmt(sb.max)}) sandbox`, ratio: `${(m.p50 / sb.p50).toFixed(2)}×`, note: `overhead ${fmt(m.p50 - sb.p50)}; ${remote.size > 0 ? 'ran on other nodes too' : 'ran on the entry'}` },
        { section: 'dispatch', metric: `${name} e2e p99`, value: fmt(m.p99), baseline: `${fmt(sb.p99)} sandbox`, ratio: `${(m.p99 / sb.p99).toFixed(2)}×` },
        { section: 'dispatch', metric: `${name} no sandbox p50`, value: '', baseline: `${fmt(d.p50)} direct`, ratio: `${(m.p50 / d.p50).toFixed(1)}×`, note: `sandbox alone costs ${fmt(sb.p50 - d.p50)}` },
      )
    }
  } finally {
    await client.close()
    await stopNodes(nodes)
  }
  return { rows, data }
}
