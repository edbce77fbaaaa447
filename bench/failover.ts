/**
 * Failover: SIGKILL (then SIGSTOP) of the master with 50 jobs in flight.
 * Agreement time is when the last survivor adopted the new master (each node
 * stamps its status with that time), less the moment of the signal. "Last
 * result" is, over the 50 jobs, the latest of (result received − agreement −
 * the job's own run time as measured by its worker): the delay failover adds
 * to a job. The two survivors have room for all 50 jobs and more (--max-jobs 30), so
 * no orphan waits for another job to finish; on 2 cores a 1 s sleep takes
 * 1.1–2 s of wall time with 50 sandboxes starting at once, hence "own run time".
 */
import { MeshClient } from '../src/client/client.ts'
import { pySleep } from './jobs.ts'
import { fmt, sleep, startCluster, status, stopNodes, summarize, waitAgreed, type Row, type Summary } from './lib.ts'

const JOBS = 50
const JOB_MS = 1000

async function once (signal: 'SIGKILL' | 'SIGSTOP'): Promise<{ agreeMs: number, lastMs: number }> {
  const nodes = await startCluster(3, ['--max-jobs', '30'])
  try {
    const [s] = await waitAgreed(nodes)
    const master = nodes.find((n) => n.id === s!.master)!
    const survivors = nodes.filter((n) => n !== master)
    const clients = await Promise.all(survivors.map(async (n) => await MeshClient.connect({ node: n.addr })))
    let last = 0
    const pending = Promise.all(Array.from({ length: JOBS }, async (_, i) => {
      const r = await clients[i % clients.length]!.run(pySleep(JOB_MS, i))
      last = Math.max(last, Date.now() - (r.run?.wallMs ?? JOB_MS))
      if (r.status !== 'ok' || r.run?.stdout !== `${i}\n`) throw new Error(`failover job ${i}: ${r.status} ${r.message ?? ''}`)
    }))
    pending.catch(() => {}) // awaited below; do not crash while polling
    // Wait until the master runs some of them.
    for (;;) {
      const ms = await status(master.addr)
      if ((ms?.local.running ?? 0) >= 3) break
      await sleep(20)
    }
    const at = Date.now()
    master.proc.kill(signal)
    let agreedAt = 0
    for (;;) {
      const all = await Promise.all(survivors.map(async (n) => await status(n.addr)))
      const m = all[0]?.master
      if (m !== null && m !== undefined && m !== master.id && all.every((x) => x?.master === m && x.term === all[0]!.term)) {
        agreedAt = Math.max(...all.map((x) => x!.masterSince ?? Date.now()))
        break
      }
      await sleep(10)
    }
    await pending
    await Promise.all(clients.map(async (c) => { await c.close() }))
    return { agreeMs: agreedAt - at, lastMs: last - agreedAt }
  } finally {
    await stopNodes(nodes)
  }
}

export async function benchFailover (quick: boolean): Promise<{ rows: Row[], data: Record<string, Summary> }> {
  const reps = quick ? 2 : 10
  const rows: Row[] = []
  const data: Record<string, Summary> = {}
  for (const signal of ['SIGKILL', 'SIGSTOP'] as const) {
    const agree: number[] = []
    const last: number[] = []
    for (let i = 0; i < reps; i++) {
      const r = await once(signal)
      agree.push(r.agreeMs)
      last.push(r.lastMs)
    }
    const a = summarize(agree)
    const l = summarize(last)
    data[`${signal} agree`] = a
    data[`${signal} last`] = l
    const target = signal === 'SIGKILL' ? 250 : 2500
    rows.push(
      { section: 'failover', metric: `${signal} master: new master agreed p50 / p99`, value: `${fmt(a.p50)} / ${fmt(a.p99)}`, baseline: `target ${target} ms p99`, ratio: `${(a.p99 / target).toFixed(2)}`, note: `${reps} runs, min ${fmt(a.min)} max ${fmt(a.max)}` },
      { section: 'failover', metric: `${signal} master: last of ${JOBS} results after agreement + its own run time, p50 / p99`, value: `${fmt(l.p50)} / ${fmt(l.p99)}`, baseline: 'target 1000 ms', ratio: `${(l.p99 / 1000).toFixed(2)}` },
    )
  }
  return { rows, data }
}
