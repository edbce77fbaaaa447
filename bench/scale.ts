/**
 * Cost per node as the cluster grows: 3, 10 and 30 idle nodes on this
 * machine. Resident memory, CPU and bytes written (gossip, pings; idle nodes
 * log nothing) per node, and the time from starting them all to every node
 * agreeing on one master: the last change of master or term on any node
 * (its own clock), read once every node sees all the others, so no later
 * change is left out. A bare Node process is the memory baseline. The idle
 * figures are those of a settled cluster (see below).
 */
import { spawn } from 'node:child_process'
import { agreedAt, fmt, procUsage, sleep, startCluster, stopNodes, summarize, waitAgreed, type Row } from './lib.ts'

/** Starts of the largest cluster in a full run (see below). */
const AGREE_REPS = 3

async function bareNodeRssKb (): Promise<number> {
  const p = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 5000)'], { stdio: 'ignore' })
  await sleep(500)
  const { rssKb } = await procUsage(p.pid!)
  p.kill()
  return rssKb
}

export async function benchScale (quick: boolean): Promise<{ rows: Row[], data: Record<string, Record<string, number>> }> {
  const sizes = quick ? [3, 10] : [3, 10, 30]
  const windowMs = quick ? 4000 : 10_000
  const bare = await bareNodeRssKb()
  const rows: Row[] = []
  const data: Record<string, Record<string, number>> = {}
  for (const n of sizes) {
    const t0 = performance.now()
    const nodes = await startCluster(n)
    const started = Date.now()
    let agreeMs: number
    let meshMs: number
    try {
      const all = await waitAgreed(nodes, 90_000)
      meshMs = Date.now() - started
      agreeMs = Math.max(0, agreedAt(all) - started)
    } catch (err) {
      await stopNodes(nodes)
      rows.push({ section: `scale ${n} nodes`, metric: 'all agree on one master after all started', value: 'no agreement within 90 s', baseline: 'target 3000 ms', ratio: '—', note: err instanceof Error ? err.message : String(err) })
      continue
    }
    const totalMs = performance.now() - t0
    // Idle means settled: every node sees all the others (the full mesh
    // forms after the agreement: src/node/discovery.ts), reports have
    // stopped naming their peers (src/node/gossip.ts), and the garbage of
    // forming the cluster is collected (a full GC lands 10–20 s after the
    // start). Two windows one after the other, 6 s after that: the second
    // is the idle cost, the first is shown beside it.
    await sleep(6000)
    const usage = async (): Promise<Array<{ rssKb: number, cpuMs: number, wchar: number }>> => await Promise.all(nodes.map(async (x) => await procUsage(x.proc.pid!)))
    const per = (a: Awaited<ReturnType<typeof usage>>, b: Awaited<ReturnType<typeof usage>>): { cpu: number, bytes: number } => ({
      cpu: b.reduce((s, u, i) => s + (u.cpuMs - a[i]!.cpuMs), 0) / n / windowMs * 100,
      bytes: b.reduce((s, u, i) => s + (u.wchar - a[i]!.wchar), 0) / n / (windowMs / 1000),
    })
    const u0 = await usage()
    await sleep(windowMs)
    const u1 = await usage()
    await sleep(windowMs)
    const u2 = await usage()
    await stopNodes(nodes)
    const rss = u2.reduce((a, u) => a + u.rssKb, 0) / n / 1024
    const early = per(u0, u1)
    const { cpu, bytes } = per(u1, u2)
    const windows = `${windowMs / 1000} s from ${6 + windowMs / 1000} s after all saw all; the ${windowMs / 1000} s before:`
    data[String(n)] = { rssMb: rss, cpuPct: cpu, bytesPerS: bytes, earlyCpuPct: early.cpu, earlyBytesPerS: early.bytes, agreeMs, meshMs, startMs: totalMs }
    rows.push(
      { section: `scale ${n} nodes`, metric: 'resident memory per node', value: `${rss.toFixed(0)} MiB`, baseline: `${(bare / 1024).toFixed(0)} MiB bare node`, ratio: `${(rss / (bare / 1024)).toFixed(1)}×` },
      { section: `scale ${n} nodes`, metric: 'CPU per idle node', value: `${cpu.toFixed(2)} % of a core`, baseline: 'target < 1 %', ratio: `${(cpu / 1).toFixed(2)}`, note: `${windows} ${early.cpu.toFixed(2)} %` },
      { section: `scale ${n} nodes`, metric: 'bytes sent per idle node (gossip, pings)', value: `${(bytes / 1024).toFixed(2)} KB/s`, baseline: 'target < 2 KB/s', ratio: `${(bytes / 2048).toFixed(2)}`, note: `${windows} ${(early.bytes / 1024).toFixed(2)} KB/s` },
    )
    // Which node boots last, and when the highest id boots, decide much of
    // a start: the largest cluster starts AGREE_REPS times in a full run
    // (the later starts measure the agreement only).
    const agree = [agreeMs]
    const mesh = [meshMs]
    for (let rep = 1; rep < (quick || n !== sizes.at(-1) ? 1 : AGREE_REPS); rep++) {
      const again = await startCluster(n)
      const t = Date.now()
      try {
        const all = await waitAgreed(again, 90_000)
        mesh.push(Date.now() - t)
        agree.push(Math.max(0, agreedAt(all) - t))
      } catch {
        agree.push(Infinity)
      } finally {
        await stopNodes(again)
      }
    }
    const a = summarize(agree)
    const reps = agree.length > 1 ? `p50 of ${agree.length} starts (${agree.map((x) => (Number.isFinite(x) ? fmt(x) : 'none in 90 s')).join(', ')}); ` : ''
    data[String(n)]!.agreeMs = a.p50
    rows.push({ section: `scale ${n} nodes`, metric: 'all agree on one master after all started', value: Number.isFinite(a.p50) ? fmt(a.p50) : 'no agreement within 90 s', baseline: 'target 3000 ms', ratio: `${(a.p50 / 3000).toFixed(2)}`, note: `${reps}all saw all ${(summarize(mesh).p50 / 1000).toFixed(1)} s after all started, ${(totalMs / 1000).toFixed(1)} s after the first spawn` })
  }
  // The same start with the first node's priority above the others'
  // (`--priority 1`, how an operator pins the master): a node that joins
  // later cannot outrank it, so every node following it in one term is the
  // final agreement (no need to wait until each sees all the others, which
  // takes the full mesh).
  if (!quick) {
    const n = sizes.at(-1)!
    const nodes = await startCluster(n, [], ['--priority', '1'])
    const started = Date.now()
    try {
      const all = await waitAgreed(nodes, 90_000, undefined, false)
      const ms = Math.max(0, agreedAt(all) - started)
      data[`${n} pinned`] = { agreeMs: ms }
      rows.push({ section: `scale ${n} nodes`, metric: 'first node pinned (--priority 1): all follow it after all started', value: fmt(ms), baseline: 'target 3000 ms', ratio: `${(ms / 3000).toFixed(2)}`, note: `term ${all[0]!.term}` })
    } catch (err) {
      rows.push({ section: `scale ${n} nodes`, metric: 'first node pinned (--priority 1): all follow it after all started', value: 'no agreement within 90 s', baseline: 'target 3000 ms', ratio: '—', note: err instanceof Error ? err.message : String(err) })
    } finally {
      await stopNodes(nodes)
    }
  }
  return { rows, data }
}
