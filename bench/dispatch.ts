/**
 * Dispatch overhead: one job at a time through a 3-node cluster, the client
 * on a node that is not the master, against the same job run by meshrun's
 * executor in this process (the very same sandbox: zygote, cgroups, tmpfs,
 * seccomp, compile cache; no network), the same program's stage script
 * started by a bare spawn (bwrap and rlimits only), and no sandbox at all.
 */
import { MeshClient } from '../src/client/client.ts'
import type { JobSpec } from '../src/exec/types.ts'
import { createExecutor } from '../src/exec/executor.ts'
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
  const executor = await createExecutor({ dataDir: await workDir(), slots: 1, langs: ['python', 'c'] })
  const data: Record<string, Summary> = {}
  const rows: Row[] = []
  try {
    for (const [name, make, b] of [['python', pyHello, base.python], ['c (cached)', cHello, base.c]] as Array<[string, () => JobSpec, typeof base.python]>) {
      for (let i = 0; i < 5; i++) await client.run(make()) // warm: compile cache, connections
      // Python also watching progress (onEvent: queue position, stage start
      // and live output come too, as for the CLI), alternating with the quiet
      // runs (the library without onEvent: accepted and the result only).
      const watch = name === 'python'
      const mesh: number[] = []
      const watched: number[] = []
      const remote = new Set<string>()
      for (let i = 0; i < n; i++) {
        for (const into of watch ? [mesh, watched] : [mesh]) {
          const t0 = performance.now()
          const r = await client.run(make(), into === watched ? { onEvent: () => {} } : {})
          into.push(performance.now() - t0)
          if (r.status !== 'ok' || r.run?.stdout !== 'hello\n') throw new Error(`dispatch job failed: ${r.status} ${r.message ?? ''}`)
          if (r.node !== entry.id) remote.add(r.node)
        }
      }
      const local: number[] = []
      for (let i = 0; i < 3; i++) await executor.run(make())
      for (let i = 0; i < n; i++) {
        const t0 = performance.now()
        const r = await executor.run(make())
        local.push(performance.now() - t0)
        if (r.status !== 'ok') throw new Error(`executor job failed: ${r.status} ${r.message ?? ''}`)
      }
      const sandboxed: number[] = []
      const direct: number[] = []
      for (let i = 0; i < 3; i++) { await timeRun(['/bin/sh', b.sandboxed]); await timeRun(b.direct, b.box) }
      for (let i = 0; i < n; i++) {
        sandboxed.push(await timeRun(['/bin/sh', b.sandboxed]))
        direct.push(await timeRun(b.direct, b.box))
      }
      const m = summarize(mesh)
      const ex = summarize(local)
      const sb = summarize(sandboxed)
      const d = summarize(direct)
      data[`${name} meshrun`] = m
      data[`${name} executor`] = ex
      data[`${name} sandbox`] = sb
      data[`${name} direct`] = d
      rows.push(
        { section: 'dispatch', metric: `${name} e2e p50 (min–max)`, value: `${fmt(m.p50)} (${fmt(m.min)}–${fmt(m.max)})`, baseline: `${fmt(ex.p50)} (${fmt(ex.min)}–${fmt(ex.max)}) same sandbox, in process`, ratio: `${(m.p50 / ex.p50).toFixed(2)}×`, note: `dispatch overhead ${fmt(m.p50 - ex.p50)}; ${remote.size > 0 ? 'ran on other nodes too' : 'ran on the entry'}` },
        { section: 'dispatch', metric: `${name} e2e p99`, value: fmt(m.p99), baseline: `${fmt(ex.p99)} same sandbox, in process`, ratio: `${(m.p99 / ex.p99).toFixed(2)}×` },
      )
      if (watched.length > 0) {
        const w = data[`${name} meshrun watched`] = summarize(watched)
        rows.push({ section: 'dispatch', metric: `${name} e2e p50, watching events (as the CLI)`, value: `${fmt(w.p50)} (${fmt(w.min)}–${fmt(w.max)})`, baseline: `${fmt(ex.p50)} same sandbox, in process`, ratio: `${(w.p50 / ex.p50).toFixed(2)}×`, note: `dispatch overhead ${fmt(w.p50 - ex.p50)}` })
      }
      rows.push(
        { section: 'dispatch', metric: `${name} stage script, bare spawn p50`, value: '', baseline: `${fmt(sb.p50)} (${fmt(sb.min)}–${fmt(sb.max)}) bwrap + rlimits`, ratio: `${(m.p50 / sb.p50).toFixed(2)}×`, note: `meshrun's sandbox adds ${fmt(ex.p50 - sb.p50)} (cgroups, tmpfs, seccomp, zygote)` },
        { section: 'dispatch', metric: `${name} no sandbox p50`, value: '', baseline: `${fmt(d.p50)} direct`, ratio: `${(m.p50 / d.p50).toFixed(1)}×`, note: `sandbox alone costs ${fmt(sb.p50 - d.p50)}` },
      )
    }
  } finally {
    await executor.stop()
    await client.close()
    await stopNodes(nodes)
  }
  return { rows, data }
}
