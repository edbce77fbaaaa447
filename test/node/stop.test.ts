/**
 * Stopping a node with a signal (src/client/cli-node.ts): the same signal
 * twice at once (Ctrl-C reaches the node and, under a Node older than 22,
 * the launcher that passes it on; a service manager may signal the whole
 * group) is one request, and a signal sent as soon as the node says
 * "ready" finds its handler in place: the node stops cleanly, exit code 0,
 * and as root its own cpu group removed. Before, the second copy, or a
 * signal a moment after "ready", killed it mid-stop or before its handler.
 */
import { afterAll, expect, test } from 'vitest'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { v1Mounts } from '../../src/exec/cgroups.ts'
import { startNode, stopAll } from '../helpers/procs.ts'

afterAll(stopAll)

const cpuMount = process.getuid?.() === 0 ? (await v1Mounts()).get('cpu')?.[0] : undefined
if (cpuMount === undefined) console.log('stop test: not root or no cgroup v1 cpu controller, so the cpu group part is not checked (the exit code is)')

test.each(['SIGTERM', 'SIGINT'] as const)('%s twice at once stops the node cleanly, as once does', async (signal) => {
  const node = await startNode()
  const pid = node.proc.pid!
  const group = cpuMount === undefined ? undefined : join(cpuMount, `meshrun-${pid}-node`)
  if (group !== undefined) expect(existsSync(group)).toBe(true)
  const exited = new Promise<[number | null, string | null]>((resolve) => { node.proc.once('exit', (code, sig) => { resolve([code, sig]) }) })
  node.proc.kill(signal)
  await new Promise((resolve) => setTimeout(resolve, 20))
  node.proc.kill(signal)
  expect(await exited, node.output.join('')).toEqual([0, null])
  if (group !== undefined) expect(existsSync(group)).toBe(false)
})
