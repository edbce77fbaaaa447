/**
 * A private cluster: nodes and clients without the cluster key cannot join
 * or submit; without a key nothing listens beyond loopback; on the wire a
 * job's source and output never appear in clear text.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { MeshClient } from '../../src/client/client.ts'
import { loadClusterKey } from '../../src/node/cluster-key.ts'
import { cli, freePort, startNode, stopAll, tempDir, waitFor, type NodeProc } from '../helpers/procs.ts'
import { statusOf } from '../helpers/cluster.ts'

let dir: string
let key: string
let otherKey: string

beforeAll(async () => {
  dir = await tempDir('meshrun-keys-')
  key = join(dir, 'cluster.key')
  otherKey = join(dir, 'other.key')
  expect((await cli(['keygen', key])).code).toBe(0)
  expect((await cli(['keygen', otherKey])).code).toBe(0)
})

afterAll(async () => { await stopAll() })

async function keyedStatus (n: NodeProc, file: string): Promise<import('../../src/node/schemas.ts').Status> {
  const c = await MeshClient.connect({ node: n.hostPort, failoverMs: 0, psk: await loadClusterKey(file) })
  try { return await c.status() } finally { await c.close() }
}

describe('a private cluster', () => {
  test('keygen refuses to overwrite a key and writes it readable by its owner only', async () => {
    const again = await cli(['keygen', key])
    expect(again.code).toBe(2)
    expect(again.stderr).toMatch(/exists already/)
    const mode = execFileSync('stat', ['-c', '%a', key], { encoding: 'utf8' }).trim()
    expect(mode).toBe('600')
  })

  test('a node with another key cannot join, and clients without the key cannot submit', async () => {
    const a = await startNode(['--key', key, '--listen', '/ip4/127.0.0.1/tcp/0'])
    const b = await startNode(['--key', key, '--listen', '/ip4/127.0.0.1/tcp/0', '--peer', a.hostPort])
    const stranger = await startNode(['--key', otherKey, '--listen', '/ip4/127.0.0.1/tcp/0', '--peer', a.hostPort])
    await waitFor(async () => ((await keyedStatus(a, key)).nodes.filter((n) => n.up).length === 2 ? true : undefined), 5000, 'the two keyed nodes')
    await new Promise((r) => setTimeout(r, 1500))
    expect((await keyedStatus(a, key)).nodes.map((n) => n.id).sort()).toEqual([a.id, b.id].sort())
    expect((await keyedStatus(stranger, otherKey)).nodes.map((n) => n.id)).toEqual([stranger.id])

    const ok = await cli(['run', '--node', b.hostPort, '--key', key, '--lang', 'calc', '-e', '6 * 7'])
    expect(ok.stdout).toBe('42\n')
    for (const args of [[], ['--key', otherKey]]) {
      const refused = await cli(['run', '--node', a.hostPort, ...args, '--lang', 'calc', '-e', '6 * 7'])
      expect(refused.code).toBe(125)
      expect(refused.stdout).toBe('')
      expect(refused.stderr).toMatch(/wrong or missing cluster key/)
    }
    // The key can come from the environment too.
    const env = await cli(['status', '--node', a.hostPort, '--json'], { env: { MESHRUN_KEY_FILE: key } })
    expect(JSON.parse(env.stdout).self).toBe(a.id)
  })

  test('without a key a node listens on loopback only, and refuses to listen beyond it', async () => {
    const n = await startNode([])
    const listening = execFileSync('ss', ['-Hltnp'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(`pid=${n.proc.pid},`))
    expect(listening.length).toBeGreaterThan(0)
    for (const line of listening) expect(line).toMatch(/\s127\.0\.0\.1:\d+\s/)
    await waitFor(async () => (/no cluster key: listening on loopback only/.test(n.output.join('')) ? true : undefined), 5000, 'the warning')
    const open = await cli(['node', '--no-mdns', '--data', await tempDir(), '--listen', '/ip4/0.0.0.0/tcp/0'])
    expect(open.code).toBe(2)
    expect(open.stderr).toMatch(/refusing to listen on \/ip4\/0\.0\.0\.0\/tcp\/0 without a cluster key/)
    // With a key, the default is every interface.
    const keyed = await startNode(['--key', key])
    const keyedListening = execFileSync('ss', ['-Hltnp'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(`pid=${keyed.proc.pid},`))
    expect(keyedListening.some((l) => /\s0\.0\.0\.0:\d+\s/.test(l))).toBe(true)
  })
})

const hasTshark = ((): boolean => { try { execFileSync('tshark', ['--version'], { stdio: 'ignore' }); return true } catch { return false } })()
const captureWhy = process.getuid?.() !== 0 ? 'not root' : hasTshark ? null : 'tshark is not installed'
if (captureWhy !== null) console.log(`traffic capture test skipped: ${captureWhy}`)

test.skipIf(captureWhy !== null)('a capture of a job\'s traffic shows neither its source nor its output in clear text', async () => {
  const port = await freePort()
  const n = await startNode(['--port', String(port)])
  const pcap = join(await tempDir('meshrun-pcap-'), 'job.pcapng')
  const dump = spawn('tshark', ['-i', 'lo', '-f', `tcp port ${port}`, '-w', pcap], { stdio: ['ignore', 'ignore', 'pipe'] })
  let dumpErr = ''
  dump.stderr!.on('data', (d: Buffer) => { dumpErr += d.toString() })
  await waitFor(async () => (dumpErr.includes('Capturing on') ? true : undefined), 10_000, 'tshark to start')
  await new Promise((r) => setTimeout(r, 500))
  const secretSource = `SOURCE_MARKER_${randomBytes(8).toString('hex')}`
  const secretOutput = `OUTPUT_MARKER_${randomBytes(8).toString('hex')}`
  const client = await MeshClient.connect({ node: n.hostPort })
  try {
    const program = `# ${secretSource}\nprint("OUTPUT_MARKER_" + "${secretOutput.slice('OUTPUT_MARKER_'.length)}")\n`
    const r = await client.run({ id: randomUUID(), language: 'python', files: [{ name: 'main.py', content: program }], stdin: '', args: [] })
    expect(r.run?.stdout).toBe(`${secretOutput}\n`)
  } finally {
    await client.close()
  }
  await new Promise((r) => setTimeout(r, 500))
  dump.kill('SIGINT')
  await new Promise((r) => dump.once('exit', r))
  const bytes = await readFile(pcap)
  expect(bytes.length).toBeGreaterThan(1000) // the conversation was captured
  expect(bytes.includes(Buffer.from(secretSource))).toBe(false)
  expect(bytes.includes(Buffer.from(secretOutput))).toBe(false)
  expect(bytes.includes(Buffer.from('print('))).toBe(false)
})

test('status of a keyed node works with the right key', async () => {
  const n = await startNode(['--key', key, '--listen', '/ip4/127.0.0.1/tcp/0'])
  expect((await keyedStatus(n, key)).self).toBe(n.id)
  await expect(statusOf(n)).rejects.toThrow(/cluster key/)
})
