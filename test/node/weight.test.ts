/**
 * A node's own CPU weight (src/exec/cgroups.ts `weighNode`): as root, the
 * node process moves itself into `meshrun-<pid>-node` in the cpu hierarchy,
 * weighing as much as its jobs together, so that its event loop keeps up
 * while its jobs saturate the cores (a survivor with 50 orphans starting
 * used to lag 100–400 ms behind a master's death). On a clean stop it goes
 * back to the root group and removes its own.
 */
import { afterAll, expect, test } from 'vitest'
import { existsSync, readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { jobsCpuShares, v1Mounts } from '../../src/exec/cgroups.ts'
import { startNode, stopAll, stopProc } from '../helpers/procs.ts'

afterAll(stopAll)

const mount = (await v1Mounts()).get('cpu')?.[0]
const why = process.getuid?.() !== 0 ? 'it needs root' : mount === undefined ? 'no cgroup v1 cpu controller here' : null
if (why !== null) console.log(`node CPU weight test skipped: ${why}`)

test.skipIf(why !== null)('a node weighs as much as its jobs together, in a group of its own that it removes when it stops', async () => {
  const node = await startNode(['--max-jobs', '3'])
  const pid = node.proc.pid!
  const group = join(mount!, `meshrun-${pid}-node`)
  const cpuLine = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes('cpu'))
  expect(cpuLine).toMatch(new RegExp(`:/meshrun-${pid}-node$`))
  expect(Number(readFileSync(join(group, 'cpu.shares'), 'utf8'))).toBe(jobsCpuShares(3, availableParallelism()))
  expect(jobsCpuShares(3, availableParallelism())).toBeGreaterThan(1024)
  await stopProc(node.proc)
  expect(existsSync(group)).toBe(false)
})
