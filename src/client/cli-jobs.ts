/**
 * `meshrun jobs`: the jobs running and waiting in the whole cluster (each
 * live node is asked over libp2p), or with --http a node's recent jobs with
 * their results (from its HTTP gateway).
 */
import type { Status } from '../node/schemas.ts'
import type { JobSummary } from '../node/http/jobs.ts'
import { MeshClient } from './client.ts'
import { pskFrom } from './key.ts'
import { duration, short, table } from './format.ts'

export interface JobsFlags { node: string, http?: string, token?: string, json?: boolean, key?: string }

export interface ClusterJob { id: string, language: string, stage: 'queued' | 'compile' | 'run', node: string, elapsedMs: number }

export async function jobsCommand (flags: JobsFlags): Promise<number> {
  if (flags.http !== undefined) {
    const jobs = await httpJobs(flags.http, flags.token ?? process.env.MESHRUN_HTTP_TOKEN)
    process.stdout.write(flags.json === true ? JSON.stringify(jobs, null, 2) + '\n' : formatRecentJobs(jobs))
    return 0
  }
  const { jobs, unreachable } = await clusterJobs(flags.node, (await pskFrom(flags.key)).psk)
  if (flags.json === true) {
    process.stdout.write(JSON.stringify({ jobs, unreachable }, null, 2) + '\n')
  } else {
    process.stdout.write(formatClusterJobs(jobs))
    for (const id of unreachable) process.stderr.write(`meshrun: node ${id} did not answer\n`)
  }
  return 0
}

async function statusOf (addr: string, psk?: Uint8Array): Promise<Status> {
  const client = await MeshClient.connect({ node: addr, dialTimeoutMs: 3000, ...(psk === undefined ? {} : { psk }) })
  try {
    return await client.status()
  } finally {
    await client.close()
  }
}

/** Asks `node` for the cluster, then every other live node for its jobs. */
export async function clusterJobs (node: string, psk?: Uint8Array): Promise<{ jobs: ClusterJob[], unreachable: string[] }> {
  const first = await statusOf(node, psk)
  const others = first.nodes.filter((n) => n.up && n.id !== first.self && n.addrs.length > 0)
  const unreachable: string[] = []
  const statuses = [first]
  await Promise.all(others.map(async (n) => {
    for (const addr of n.addrs) {
      try {
        statuses.push(await statusOf(addr.includes('/p2p/') ? addr : `${addr}/p2p/${n.id}`, psk))
        return
      } catch {}
    }
    unreachable.push(n.id)
  }))
  const jobs = statuses.flatMap((s) => s.local.jobs.map((j) => ({ ...j, node: s.self })))
  jobs.sort((a, b) => b.elapsedMs - a.elapsedMs)
  return { jobs, unreachable }
}

export function formatClusterJobs (jobs: ClusterJob[]): string {
  if (jobs.length === 0) return 'no jobs running or waiting\n'
  return table(['JOB', 'LANGUAGE', 'STATE', 'NODE', 'ELAPSED'], jobs.map((j) => [
    j.id, j.language, j.stage === 'queued' ? 'waiting' : j.stage === 'compile' ? 'compiling' : 'running',
    j.stage === 'queued' ? `(entry ${short(j.node)})` : short(j.node), duration(j.elapsedMs),
  ])) + '\n'
}

async function httpJobs (url: string, token: string | undefined): Promise<JobSummary[]> {
  const base = url.endsWith('/') ? url : url + '/'
  const res = await fetch(new URL('api/jobs', base), { headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) })
  const body = await res.json() as { jobs?: JobSummary[], message?: string }
  if (!res.ok || body.jobs === undefined) throw new Error(`${base}api/jobs answered ${res.status}: ${body.message ?? ''}`)
  return body.jobs
}

export function formatRecentJobs (jobs: JobSummary[]): string {
  if (jobs.length === 0) return 'no jobs submitted to this node recently\n'
  return table(['JOB', 'LANGUAGE', 'STATE', 'STATUS', 'NODE', 'TIME'], jobs.map((j) => [
    j.id, j.language, j.state === 'queued' && j.position !== null ? `queued #${j.position}` : j.state, j.status ?? '-', short(j.node), duration(j.elapsedMs),
  ])) + '\n'
}
