/**
 * Bad input on the job protocol: malformed and oversized frames, unknown
 * languages, bad file names, a client that goes away mid-job. Each gets a
 * clear error or a clean-up, and the node keeps serving.
 */
import { afterAll, beforeAll, expect, test } from 'vitest'
import { randomUUID } from 'node:crypto'
import { lpStream } from '@libp2p/utils'
import { MeshClient } from '../../src/client/client.ts'
import { parseNodeAddr } from '../../src/client/addr.ts'
import { createHost, type Host } from '../../src/node/host.ts'
import { PROTOCOL_JOB, PROTOCOL_SESSION } from '../../src/node/protocols.ts'
import type { JobSpec } from '../../src/exec/types.ts'
import { startNode, stopAll, type NodeProc } from '../helpers/procs.ts'

let node: NodeProc
let raw: Host
let client: MeshClient

beforeAll(async () => {
  node = await startNode(['--max-jobs', '2'])
  raw = await createHost({ listen: [] })
  await raw.start()
  client = await MeshClient.connect({ node: node.hostPort })
})

afterAll(async () => {
  await raw?.stop()
  await client?.close()
  await stopAll()
})

const enc = new TextEncoder()
const dec = new TextDecoder()

/** Send raw frames and collect the node's answer frames until it closes. */
async function exchange (frames: Uint8Array[], opts: { maxDataLength?: number } = {}): Promise<{ answers: unknown[], reset: boolean }> {
  const stream = await raw.dialProtocol(parseNodeAddr(node.hostPort), PROTOCOL_JOB)
  const lp = lpStream(stream, { maxDataLength: opts.maxDataLength ?? 16 * 1024 * 1024 })
  const answers: unknown[] = []
  let reset = false
  try {
    for (const f of frames) await lp.write(f)
    for (;;) answers.push(JSON.parse(dec.decode((await lp.read()).subarray())))
  } catch (err: any) {
    if (err?.name !== 'UnexpectedEOFError') reset = true
  }
  try { await stream.close() } catch {}
  return { answers, reset }
}

async function stillServes (): Promise<void> {
  const r = await client.run({ id: randomUUID(), language: 'python', files: [{ name: 'ok.py', content: 'print("still here")' }], stdin: '', args: [] })
  expect(r.run?.stdout).toBe('still here\n')
}

test('a frame that is not JSON gets an error message', async () => {
  const { answers } = await exchange([enc.encode('this is not json {')])
  expect(answers).toEqual([{ t: 'error', message: expect.stringMatching(/not valid UTF-8 JSON/) }])
  await stillServes()
})

test('a message of the wrong shape gets an error naming the field', async () => {
  const { answers } = await exchange([enc.encode(JSON.stringify({ t: 'submit', job: { id: 'x', language: 'c', files: 'nope', stdin: '', args: [] } }))])
  expect(answers).toEqual([{ t: 'error', message: expect.stringMatching(/job\.files/) }])
  const unknownType = await exchange([enc.encode(JSON.stringify({ t: 'launch-missiles' }))])
  expect(unknownType.answers).toEqual([{ t: 'error', message: expect.stringMatching(/invalid message/) }])
  const bytes = await exchange([new Uint8Array([0xff, 0xfe, 0x00, 0x01])])
  expect(bytes.answers).toEqual([{ t: 'error', message: expect.any(String) }])
  await stillServes()
})

test('an oversized job is refused without the node buffering it', async () => {
  const huge = JSON.stringify({ t: 'submit', job: { id: 'big', language: 'python', files: [{ name: 'a.py', content: 'x'.repeat(9 * 1024 * 1024) }], stdin: '', args: [] } })
  const { answers, reset } = await exchange([enc.encode(huge)])
  // Refused at the frame's length prefix: an error frame, a reset or a
  // closed stream; never a result, and never an accepted job.
  expect(answers.some((a: any) => a.t === 'result' || a.t === 'accepted')).toBe(false)
  expect(reset || answers.length <= 1).toBe(true)
  await stillServes()
})

test('sources over the node\'s size limit are rejected with a message', async () => {
  const r = await client.run({ id: randomUUID(), language: 'python', files: [{ name: 'a.py', content: '#'.repeat(3 * 1024 * 1024) }], stdin: '', args: [] })
  expect(r.status).toBe('rejected')
  expect(r.message).toMatch(/size|large/i)
})

test('unknown languages and bad file names are rejected', async () => {
  const base: JobSpec = { id: '', language: 'python', files: [{ name: 'a.py', content: 'print(1)' }], stdin: '', args: [] }
  const unknown = await client.run({ ...base, id: randomUUID(), language: 'brainfuck' })
  expect(unknown.status).toBe('rejected')
  expect(unknown.message).toMatch(/unknown language/)
  const escape = await client.run({ ...base, id: randomUUID(), files: [{ name: '../../etc/evil.py', content: 'print(1)' }] })
  expect(escape.status).toBe('rejected')
  const absolute = await client.run({ ...base, id: randomUUID(), files: [{ name: '/etc/passwd', content: 'x' }] })
  expect(absolute.status).toBe('rejected')
})

test('a stream that opens and says nothing is closed, and others are served meanwhile', async () => {
  const stream = await raw.dialProtocol(parseNodeAddr(node.hostPort), PROTOCOL_JOB)
  await stillServes()
  try { await stream.close() } catch {}
})

test('a client that disconnects mid-job: the node keeps serving and the job can be picked up by id', async () => {
  const id = `gone-${randomUUID()}`
  const spec: JobSpec = { id, language: 'python', files: [{ name: 'a.py', content: 'import time\ntime.sleep(0.8)\nprint("finished anyway")\n' }], stdin: '', args: [] }
  const leaving = await MeshClient.connect({ node: node.hostPort })
  const controller = new AbortController()
  const pending = leaving.run(spec, { signal: controller.signal, onEvent: (e) => { if (e.t === 'started') controller.abort() } })
  await expect(pending).rejects.toThrow()
  await leaving.close()
  await stillServes()
  const picked = await client.attach(id)
  expect(picked.status).toBe('ok')
  expect(picked.run?.stdout).toBe('finished anyway\n')
  // Re-submitting the same id attaches too: one result, not a second run.
  const again = await client.run(spec)
  expect(again.run?.stdout).toBe('finished anyway\n')
  expect(again.totalMs).toBe(picked.totalMs)
})

test('an id reused for a different job is refused', async () => {
  const id = `dup-${randomUUID()}`
  await client.run({ id, language: 'calc', files: [{ name: 'a.calc', content: '1+1' }], stdin: '', args: [] })
  await expect(client.run({ id, language: 'calc', files: [{ name: 'a.calc', content: '2+2' }], stdin: '', args: [] })).rejects.toThrow(/already used/)
})

test('one session carries several jobs at once: events name their request; forget stops them, the job goes on; bad requests get errors', async () => {
  const stream = await raw.dialProtocol(parseNodeAddr(node.hostPort), PROTOCOL_SESSION)
  const lp = lpStream(stream)
  const send = async (msg: unknown): Promise<void> => { await lp.write(enc.encode(JSON.stringify(msg))) }
  const events = new Map<number, Array<{ t: string, [k: string]: any }>>()
  const reading = (async () => {
    try {
      for (;;) {
        const { r, e } = JSON.parse(dec.decode((await lp.read()).subarray())) as { r: number, e: { t: string } }
        events.set(r, [...(events.get(r) ?? []), e])
      }
    } catch {}
  })()
  const until = async (ok: () => boolean): Promise<void> => {
    for (let i = 0; i < 200 && !ok(); i++) await new Promise((res) => setTimeout(res, 50))
  }
  const last = (r: number): { t: string, [k: string]: any } | undefined => events.get(r)?.at(-1)
  const slow = (id: string, n: number): JobSpec => ({ id, language: 'python', files: [{ name: 's.py', content: `import time\ntime.sleep(0.8)\nprint(${n})` }], stdin: '', args: [] })
  const quick: JobSpec = { id: randomUUID(), language: 'calc', files: [{ name: 'e.calc', content: '21 * 2' }], stdin: '', args: [] }
  const kept = randomUUID()
  await send({ t: 'submit', r: 1, job: slow(randomUUID(), 7) })
  await send({ t: 'submit', r: 2, job: quick })
  await send({ t: 'submit', r: 1, job: slow(randomUUID(), 8) }) // r 1 is still followed
  await send({ t: 'attach', r: 3, id: 'no-such-job' })
  await send({ t: 'submit', r: 4, job: slow(kept, 9) })
  await until(() => events.get(4)?.some((e) => e.t === 'accepted') === true)
  await send({ t: 'forget', r: 4 })
  await until(() => last(1)?.t === 'result' && last(2)?.t === 'result')
  expect(last(2)!.result.run.stdout).toBe('42\n')
  expect(last(1)!.result.run.stdout).toBe('7\n')
  expect(events.get(1)!.filter((e) => e.t === 'error')).toEqual([{ t: 'error', message: expect.stringMatching(/already in use/) }])
  expect(events.get(3)).toEqual([{ t: 'error', message: 'unknown job no-such-job' }])
  // Forgotten: nothing more came for r 4, but the job ran; attaching to it gets its result.
  expect(events.get(4)!.some((e) => e.t === 'result')).toBe(false)
  await send({ t: 'attach', r: 5, id: kept })
  await until(() => last(5)?.t === 'result')
  expect(last(5)!.result.run.stdout).toBe('9\n')
  expect(events.get(4)!.some((e) => e.t === 'result')).toBe(false)
  // Quiet: accepted, then the result (with the output), nothing between; the same job watched gets it all.
  const printing = (id: string): JobSpec => ({ id, language: 'python', files: [{ name: 'p.py', content: 'import sys, time\nprint("a", flush=True)\ntime.sleep(0.3)\nprint("b")' }], stdin: '', args: [] })
  const hushed = randomUUID()
  await send({ t: 'submit', r: 6, job: printing(hushed), quiet: true })
  await send({ t: 'submit', r: 7, job: printing(randomUUID()) })
  await until(() => last(6)?.t === 'result' && last(7)?.t === 'result')
  expect(events.get(6)!.map((e) => e.t)).toEqual(['accepted', 'result'])
  expect(last(6)!.result.run.stdout).toBe('a\nb\n')
  expect(events.get(7)!.map((e) => e.t)).toEqual(expect.arrayContaining(['accepted', 'started', 'output', 'result']))
  // Attaching quietly to a finished job: its result, no replayed output.
  await send({ t: 'attach', r: 8, id: hushed, quiet: true })
  await until(() => last(8)?.t === 'result')
  expect(events.get(8)!.map((e) => e.t)).toEqual(['accepted', 'result'])
  await stream.close()
  await reading
})
