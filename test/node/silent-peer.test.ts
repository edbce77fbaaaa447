/**
 * A peer that goes silent (SIGSTOP here; a crashed machine or a pulled
 * cable alike: no FIN ever comes) is pinged once when its reports stop, and
 * its connection is dropped when the ping goes unanswered (node.ts,
 * checkSilent). Without that, only libp2p's slow connection monitor (every
 * 5 min) would clear it, and a peer back from a crash could stay unheard.
 * After SIGCONT it dials back in and the cluster agrees again.
 */
import { execFileSync } from 'node:child_process'
import { afterEach, expect, test } from 'vitest'
import { stopAll, waitFor } from '../helpers/procs.ts'
import { startCluster, statusOf, waitAgreed } from '../helpers/cluster.ts'

afterEach(async () => { await stopAll() })

/** TCP connections a process holds open (ESTABLISHED), from `ss`. */
function established (pid: number): number {
  const out = execFileSync('ss', ['-tnpH', 'state', 'established'], { encoding: 'utf8' })
  return out.split('\n').filter((l) => l.includes(`pid=${pid},`)).length
}

test('a silent peer that answers no ping is hung up on; after SIGCONT it rejoins', async () => {
  const [a, b] = await startCluster(2)
  await waitAgreed([a!, b!])
  expect(established(b!.proc.pid!)).toBeGreaterThan(0)
  b!.proc.kill('SIGSTOP')
  try {
    await waitFor(async () => ((await statusOf(a!)).nodes.find((n) => n.id === b!.id)?.up === false ? true : undefined), 15_000, 'a to mark b down')
    // Ping timeout 10 s after that: a hangs up, and b's end of each connection is no longer ESTABLISHED.
    await waitFor(async () => (established(b!.proc.pid!) === 0 ? true : undefined), 20_000, 'the connections to the stopped peer to be dropped', 250)
  } finally {
    b!.proc.kill('SIGCONT')
  }
  await waitAgreed([a!, b!], 20_000)
  expect(established(b!.proc.pid!)).toBeGreaterThan(0)
})
