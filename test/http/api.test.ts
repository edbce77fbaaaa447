/**
 * meshrun's own HTTP API, metrics and token checks, on a real two-node
 * cluster (and a third node with a token), over real sockets. Also the CLI
 * views built on the same data: `meshrun jobs` and `meshrun watch`.
 */
import { randomUUID } from 'node:crypto'
import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { cli, httpUrl, startNode, stopAll, waitFor, type NodeProc } from '../helpers/procs.ts'
import { readSse } from './sse.ts'

let a: NodeProc
let b: NodeProc
let base: string

beforeAll(async () => {
  a = await startNode(['--http', '0', '--priority', '10'])
  b = await startNode(['--peer', a.hostPort])
  base = httpUrl(a)
  await waitFor(async () => {
    const nodes = await get('api/nodes')
    return nodes.body.master === a.id && nodes.body.nodes.filter((n: any) => n.up).length === 2 ? true : undefined
  }, 20_000, 'a two-node cluster with A as master')
})

afterAll(async () => { await stopAll() })

async function get (path: string, headers: Record<string, string> = {}): Promise<{ status: number, body: any }> {
  const res = await fetch(new URL(path, base), { headers })
  const text = await res.text()
  return { status: res.status, body: res.headers.get('content-type')?.includes('json') === true ? JSON.parse(text) : text }
}

async function post (path: string, body: unknown): Promise<{ status: number, body: any }> {
  const res = await fetch(new URL(path, base), { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) })
  return { status: res.status, body: await res.json() }
}

const py = (content: string, extra: object = {}): object => ({ language: 'python', files: [{ name: 'main.py', content }], ...extra })

describe('jobs', () => {
  test('submit returns the id at once; the job is then fetched, listed and waited for', async () => {
    const sub = await post('api/jobs', py('import time\ntime.sleep(0.3)\nprint(input())', { stdin: 'hi\n' }))
    expect(sub.status).toBe(202)
    expect(sub.body).toMatchObject({ attached: false, entry: a.id })
    const id: string = sub.body.id
    expect(id).toMatch(/^[0-9a-f-]{36}$/)
    const done = await get(`api/jobs/${id}?wait=1`)
    expect(done.status).toBe(200)
    expect(done.body).toMatchObject({ id, language: 'python', state: 'done', status: 'ok', attempts: 1 })
    expect(done.body.result.run.stdout).toBe('hi\n')
    expect(done.body.output.run.stdout).toBe('hi\n')
    expect([a.id, b.id]).toContain(done.body.node)
    expect(typeof done.body.result.totalMs).toBe('number')
    const list = await get('api/jobs')
    expect(list.body.jobs.find((j: any) => j.id === id)).toMatchObject({ status: 'ok', state: 'done', language: 'python' })
  })

  test('a client-chosen id is idempotent; reusing it for another job is a conflict', async () => {
    const id = `api-${randomUUID()}`
    const first = await post('api/jobs?wait=1', py('print(6 * 7)', { id }))
    expect(first.status).toBe(200)
    expect(first.body.result.run.stdout).toBe('42\n')
    const again = await post('api/jobs', py('print(6 * 7)', { id }))
    expect(again.body).toMatchObject({ id, attached: true })
    const other = await post('api/jobs', py('print(1)', { id }))
    expect(other.status).toBe(409)
    expect(other.body.message).toMatch(/already used/)
  })

  test('bad submissions are answered 400 with a message; unknown jobs 404', async () => {
    expect((await post('api/jobs', { files: [{ name: 'a.py', content: '' }] })).body.message).toMatch(/language/)
    const unknown = await post('api/jobs', { language: 'cobol', files: [{ name: 'a.cob', content: '' }] })
    expect(unknown).toMatchObject({ status: 400, body: { message: expect.stringMatching(/unknown language 'cobol'/) } })
    expect((await post('api/jobs', py('', { id: 'no spaces allowed' }))).status).toBe(400)
    expect((await post('api/jobs', '[1')).status).toBe(400)
    const missing = await get('api/jobs/no-such-job')
    expect(missing.status).toBe(404)
    expect(missing.body.message).toMatch(/no job no-such-job/)
    expect((await get('api/nope')).status).toBe(404)
  })

  test('a job\'s events stream live: queue position or start, output, then the result', async () => {
    const sub = await post('api/jobs', py('import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.2)'))
    const events = await readSse(new URL(`api/jobs/${sub.body.id}/events`, base).href, (e) => e.event === 'end' || e.event === 'result')
    expect(events[0]).toMatchObject({ event: 'job', data: { id: sub.body.id } })
    expect(events.some((e) => e.event === 'started' && e.data.stage === 'run')).toBe(true)
    const output = events.filter((e) => e.event === 'output').map((e) => e.data.data).join('')
    expect(output).toBe('0\n1\n2\n')
    expect(events.at(-1)).toMatchObject({ event: 'result', data: { result: { status: 'ok' } } })
  })

  test('a job that waits for a worker shows its queue position', async () => {
    // Two nodes run two jobs each: the fifth and sixth wait.
    const ids: string[] = []
    for (let i = 0; i < 6; i++) ids.push((await post('api/jobs', py('import time\ntime.sleep(1.5)'))).body.id)
    const events = await readSse(new URL(`api/jobs/${ids[5]}/events`, base).href, (e) => e.event === 'result')
    const positions = events.filter((e) => e.event === 'queued').map((e) => e.data.position as number)
    expect(positions.length, JSON.stringify(events.map((e) => e.event))).toBeGreaterThan(0)
    expect(Math.max(...positions)).toBeGreaterThanOrEqual(1)
    // The fifth job may finish just after the sixth (they run side by side): wait for each.
    for (const id of ids) expect((await get(`api/jobs/${id}?wait=1`)).body.status).toBe('ok')
    const listed = await get('api/jobs')
    const mine = listed.body.jobs.filter((j: any) => ids.includes(j.id))
    expect(mine.map((j: any) => j.status)).toEqual(ids.map(() => 'ok'))
  })
})

describe('cluster', () => {
  test('GET /api/nodes lists both nodes with their load, the master and the term', async () => {
    const { body } = await get('api/nodes')
    expect(body).toMatchObject({ cluster: 'default', self: a.id, master: a.id })
    expect(body.term).toBeGreaterThan(0)
    expect(body.nodes.map((n: any) => n.id).sort()).toEqual([a.id, b.id].sort())
    for (const n of body.nodes) expect(n).toMatchObject({ up: true, maxJobs: 2, languages: expect.arrayContaining(['python', 'c']) })
    expect(body.nodes.find((n: any) => n.id === a.id).role).toBe('master')
    expect((await get('api/status')).body.local.id).toBe(a.id)
    const langs = (await get('api/languages')).body
    expect(langs.find((l: any) => l.name === 'cpp')).toMatchObject({ available: true, extensions: expect.arrayContaining(['.cpp']) })
  })

  test('GET /api/events says hello with status and history, then a status each second', async () => {
    const events = await readSse(new URL('api/events', base).href, (_e, all) => all.filter((x) => x.event === 'status').length >= 2)
    expect(events[0]!.event).toBe('hello')
    expect(events[0]!.data.status.master).toBe(a.id)
    expect(events[0]!.data.history.length).toBeGreaterThan(0)
    expect(events[0]!.data.events.some((e: any) => e.type === 'election')).toBe(true)
    expect(events.at(-1)!.data.nodes.length).toBe(2)
  })

  test('GET /metrics has the meshrun_ metrics', async () => {
    await post('api/jobs?wait=1', py('print(1)'))
    const { status, body } = await get('metrics')
    expect(status).toBe(200)
    for (const name of ['meshrun_jobs_total{status="ok",language="python"}', 'meshrun_job_duration_seconds_bucket', 'meshrun_queue_length', 'meshrun_jobs_running',
      'meshrun_elections_total', 'meshrun_term', 'meshrun_peers_up 1', 'meshrun_is_master 1', 'meshrun_process_cpu_seconds_total',
      'meshrun_placements_total{via="local"}', 'meshrun_placements_total{via="leased"} 0', 'meshrun_leases_held 0',
      'meshrun_compile_cache_entries', 'meshrun_compile_cache_bytes', 'meshrun_compile_cache_evictions_total 0']) {
      expect(body).toContain(name)
    }
  })

  test('the web page and its assets are served', async () => {
    const page = await get('')
    expect(page.status).toBe(200)
    expect(page.body).toContain('<title>meshrun</title>')
    expect((await fetch(new URL('vendor/uPlot.esm.js', base))).status).toBe(200)
    expect((await fetch(new URL('ui/app.js', base))).headers.get('content-type')).toMatch(/javascript/)
    expect((await fetch(new URL('ui/..%2F..%2Fnode%2Fnode.ts', base))).status).toBe(404)
  })

  test('without a token, only requests addressed to a loopback name are answered', async () => {
    // fetch may not set Host: a plain request can, as a DNS-rebinding page would make the browser do.
    const { status, body } = await new Promise<{ status: number, body: string }>((resolve, reject) => {
      request(new URL('api/nodes', base), { headers: { host: 'attacker.example' } }, (res) => {
        let text = ''
        res.on('data', (d: Buffer) => { text += d.toString() })
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: text }) })
      }).on('error', reject).end()
    })
    expect(status).toBe(403)
    expect(JSON.parse(body).message).toMatch(/loopback/)
  })
})

describe('with a token', () => {
  const token = 's3cret-token-for-tests'
  let t: NodeProc
  let tbase: string
  beforeAll(async () => {
    t = await startNode(['--http', '0', '--http-token', token])
    tbase = httpUrl(t)
  })

  test('a missing or wrong token is refused, the right one accepted', async () => {
    const url = new URL('api/nodes', tbase)
    const none = await fetch(url)
    expect(none.status).toBe(401)
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/)
    expect((await none.json() as { message: string }).message).toMatch(/needs a token/)
    const wrong = await fetch(url, { headers: { authorization: 'Bearer nope' } })
    expect(wrong.status).toBe(401)
    expect((await wrong.json() as { message: string }).message).toBe('wrong token')
    expect((await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
    for (const path of ['api/v2/runtimes', 'metrics', '', 'api/events']) expect((await fetch(new URL(path, tbase))).status).toBe(401)
    const exec = await fetch(new URL('api/v2/execute', tbase), { method: 'POST', body: '{}' })
    expect(exec.status).toBe(401)
  })

  test('a browser opens /?token= once and gets a cookie', async () => {
    const res = await fetch(new URL(`?token=${token}`, tbase), { redirect: 'manual' })
    expect(res.status).toBe(303)
    const cookie = res.headers.get('set-cookie')!
    expect(cookie).toMatch(/HttpOnly/i)
    expect(cookie).toMatch(/SameSite=Strict/i)
    const page = await fetch(tbase, { headers: { cookie: cookie.split(';')[0]! } })
    expect(page.status).toBe(200)
    expect((await fetch(new URL(`?token=wrong`, tbase), { redirect: 'manual' })).status).toBe(401)
  })

  test('another address than loopback needs a token', async () => {
    const r = await cli(['node', '--port', '0', '--no-mdns', '--http', '0', '--http-host', '0.0.0.0'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/needs --http-token/)
  })
})

describe('CLI', () => {
  test('meshrun jobs lists the jobs running in the cluster, and --http a node\'s recent ones', async () => {
    const sub = await post('api/jobs', py('import time\nprint("start", flush=True)\ntime.sleep(4)'))
    const id: string = sub.body.id
    await readSse(new URL(`api/jobs/${id}/events`, base).href, (e) => e.event === 'output')
    const [r, j] = await Promise.all([cli(['jobs', '--node', b.hostPort]), cli(['jobs', '--node', a.hostPort, '--json'])])
    expect(r.code, r.stderr).toBe(0)
    const line = r.stdout.split('\n').find((l) => l.startsWith(id))
    expect(line, r.stdout).toMatch(/python\s+running/)
    const json = JSON.parse(j.stdout)
    expect(json.jobs.some((x: any) => x.id === id && x.stage === 'run'), j.stdout).toBe(true)
    await get(`api/jobs/${id}?wait=1`)
    const recent = await cli(['jobs', '--http', base])
    expect(recent.stdout).toMatch(new RegExp(`${id}\\s+python\\s+done\\s+ok`))
  })

  test('meshrun watch draws the cluster with the master marked', async () => {
    const r = await cli(['watch', '--node', b.hostPort, '--count', '2', '--interval', '300'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`master …${a.id.slice(-8)}`)
    expect(r.stdout).toMatch(new RegExp(`★\\s+…${a.id.slice(-8)}\\s+master`))
    expect(r.stdout).toMatch(/2\/2 nodes up/)
  })
})
