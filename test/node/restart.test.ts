/**
 * Restarts resume from the journal: a node killed while it holds accepted
 * jobs comes back with the same data dir, and its clients get their results.
 */
import { afterAll, expect, test } from 'vitest'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { MeshClient } from '../../src/client/client.ts'
import { freePort, startNode, stopAll, waitFor } from '../helpers/procs.ts'
import { expectAllCorrect, sleeper, statusOf } from '../helpers/cluster.ts'

afterAll(async () => { await stopAll() })

test('SIGKILL of a node holding accepted jobs; restarted on the same data dir, its clients get every result once', async () => {
  const port = await freePort()
  const first = await startNode(['--port', String(port), '--max-jobs', '1'])
  const client = await MeshClient.connect({ node: first.hostPort })
  try {
    const jobs = Array.from({ length: 5 }, (_, i) => sleeper(i, 700))
    const accepted = new Set<string>()
    const failovers: string[] = []
    const pending = Promise.all(jobs.map(async (job) => await client.run(job, {
      onEvent: (e) => { if (e.t === 'accepted') accepted.add(job.id) },
      onFailover: ({ error }) => { failovers.push(error) },
    })))
    await waitFor(async () => (accepted.size === jobs.length && (await statusOf(first)).local.running > 0 ? true : undefined), 10_000, 'the jobs to be accepted', 30)
    // Every accepted job is in the journal before the client heard "accepted".
    const journal = await readFile(join(first.dataDir, 'journal.jsonl'), 'utf8')
    for (const job of jobs) expect(journal).toContain(job.id)

    first.proc.kill('SIGKILL')
    await new Promise((r) => setTimeout(r, 500))
    const again = await startNode(['--port', String(port), '--max-jobs', '1'], { dataDir: first.dataDir })
    expect(again.id).toBe(first.id)
    const results = await pending
    expectAllCorrect(jobs, results)
    expect(failovers.length).toBeGreaterThan(0)
    expect(results.every((r) => r.entry === first.id)).toBe(true)
  } finally {
    await client.close()
  }
})
