/**
 * Throughput: 200 Python hello-world jobs and 200 cached C jobs submitted at
 * once to a 3-node cluster, against `xargs -P 2` running the same sandboxed
 * commands directly (2 cores: 2 at a time is the physical limit).
 */
import { spawn } from 'node:child_process'
import { MeshClient } from '../src/client/client.ts'
import { prepareBaselines } from './baseline.ts'
import { cHello, pyHello } from './jobs.ts'
import { startCluster, stopNodes, waitAgreed, workDir, type Row } from './lib.ts'

export async function benchThroughput (quick: boolean): Promise<{ rows: Row[], data: Record<string, number> }> {
  const each = quick ? 60 : 200
  const nodes = await startCluster(3)
  await waitAgreed(nodes)
  const clients = await Promise.all(nodes.map(async (n) => await MeshClient.connect({ node: n.addr })))
  const base = await prepareBaselines(await workDir())
  try {
    // Warm the compile caches on every node (a cached job is the point here).
    await Promise.all(clients.flatMap((c) => [c.run(cHello()), c.run(pyHello()), c.run(cHello()), c.run(pyHello())]))
    const jobs = Array.from({ length: each * 2 }, (_, i) => (i % 2 === 0 ? pyHello() : cHello()))
    const t0 = performance.now()
    const results = await Promise.all(jobs.map(async (j, i) => await clients[i % clients.length]!.run(j)))
    const meshMs = performance.now() - t0
    const bad = results.filter((r) => r.status !== 'ok' || r.run?.stdout !== 'hello\n')
    if (bad.length > 0) throw new Error(`${bad.length} throughput jobs failed: ${bad[0]!.status} ${bad[0]!.message ?? ''}`)

    const lines = Array.from({ length: each * 2 }, (_, i) => (i % 2 === 0 ? base.python.sandboxed : base.c.sandboxed)).join('\n') + '\n'
    const t1 = performance.now()
    await new Promise<void>((resolve, reject) => {
      const x = spawn('xargs', ['-P', '2', '-I{}', 'sh', '-c', 'sh {} 3>/dev/null >/dev/null'], { stdio: ['pipe', 'ignore', 'inherit'] })
      x.on('exit', (code) => { code === 0 ? resolve() : reject(new Error(`xargs exited ${code}`)) })
      x.stdin!.end(lines)
    })
    const xargsMs = performance.now() - t1
    const mesh = jobs.length / (meshMs / 1000)
    const direct = jobs.length / (xargsMs / 1000)
    return {
      rows: [{ section: 'throughput', metric: `${jobs.length} jobs (python + cached C) at once`, value: `${mesh.toFixed(1)} jobs/s`, baseline: `${direct.toFixed(1)} jobs/s xargs -P 2`, ratio: `${(mesh / direct).toFixed(2)}`, note: `${(meshMs / 1000).toFixed(1)} s vs ${(xargsMs / 1000).toFixed(1)} s` }],
      data: { meshJobsPerS: mesh, xargsJobsPerS: direct },
    }
  } finally {
    await Promise.all(clients.map(async (c) => { await c.close() }))
    await stopNodes(nodes)
  }
}
