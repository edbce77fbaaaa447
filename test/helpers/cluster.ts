/** Clusters of real node processes for integration tests, and jobs with known answers. */
import { randomUUID } from 'node:crypto'
import { expect } from 'vitest'
import { MeshClient, type RunOptions } from '../../src/client/client.ts'
import type { JobResult, Status } from '../../src/node/schemas.ts'
import type { JobSpec } from '../../src/exec/types.ts'
import { startNode, waitFor, type NodeProc } from './procs.ts'

export async function statusOf (n: NodeProc): Promise<Status> {
  const c = await MeshClient.connect({ node: n.hostPort, failoverMs: 0 })
  try { return await c.status() } finally { await c.close() }
}

/** Start a first node, then the others bootstrapped from it, all at once. */
export async function startCluster (count: number, args: string[] = [], perNode: (i: number) => string[] = () => []): Promise<NodeProc[]> {
  const first = await startNode([...args, ...perNode(0)])
  const rest = await Promise.all(Array.from({ length: count - 1 }, async (_, i) => await startNode(['--peer', first.hostPort, ...args, ...perNode(i + 1)])))
  return [first, ...rest]
}

/** Every node answers and names the same master and term, and sees all of them up. */
export async function agreed (nodes: NodeProc[]): Promise<Status[] | undefined> {
  const all = await Promise.all(nodes.map(statusOf))
  const master = all[0]!.master
  if (master === null) return undefined
  const ok = all.every((s) => s.master === master && s.term === all[0]!.term && s.nodes.filter((n) => n.up).length === nodes.length)
  return ok ? all : undefined
}

export async function waitAgreed (nodes: NodeProc[], timeoutMs = 15_000): Promise<Status[]> {
  return await waitFor(async () => await agreed(nodes), timeoutMs, 'agreement on one master')
}

/** A Python job that sleeps and then prints an answer only this job gives. */
export function sleeper (i: number, ms: number, id = `job-${i}-${randomUUID()}`): JobSpec {
  return { id, language: 'python', files: [{ name: 'main.py', content: `import time\ntime.sleep(${ms / 1000})\nprint("answer", ${i}, ${i} * ${i})\n` }], stdin: '', args: [] }
}

export function expectedOutput (i: number): string {
  return `answer ${i} ${i * i}\n`
}

/**
 * Submit the jobs (round-robin over the clients), each through its own
 * client call, and collect every result that comes back. Exactly-once is
 * checked by the caller: one resolution per call, each with its own id.
 */
export async function submitAll (clients: MeshClient[], jobs: JobSpec[], opts: RunOptions = {}): Promise<JobResult[]> {
  return await Promise.all(jobs.map(async (job, i) => await clients[i % clients.length]!.run(job, opts)))
}

export function expectAllCorrect (jobs: JobSpec[], results: JobResult[]): void {
  expect(results).toHaveLength(jobs.length)
  expect(new Set(results.map((r) => r.id)).size).toBe(jobs.length)
  results.forEach((r, i) => {
    expect(r.id).toBe(jobs[i]!.id)
    expect(r.status, `${r.id}: ${r.message ?? ''} ${r.run?.stderr ?? ''}`).toBe('ok')
    expect(r.run?.stdout).toBe(expectedOutput(i))
  })
}
