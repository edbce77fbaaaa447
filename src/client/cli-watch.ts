/**
 * `meshrun watch`: a live view of the cluster in the terminal. It asks a node
 * for its status every interval, draws the nodes (master marked), this node's
 * jobs, and what changed (elections, nodes coming and going). When that node
 * stops answering it moves on to another node it has seen.
 */
import type { Status } from '../node/schemas.ts'
import { MeshClient } from './client.ts'
import { pskFrom } from './key.ts'
import { bar, clip, clock, duration, hostPort, short, table } from './format.ts'
import { UsageError } from './errors.ts'

export interface WatchFlags { node: string, interval?: string, count?: string, key?: string }

interface Change { at: number, text: string }

/** What changed between two views of the cluster, as lines for the log. */
export function changes (before: Status | undefined, after: Status): string[] {
  if (before === undefined) {
    const up = after.nodes.filter((n) => n.up).length
    return [`watching ${short(after.self)}: master ${short(after.master)}, term ${after.term}, ${up} node${up === 1 ? '' : 's'} up`]
  }
  const out: string[] = []
  if (after.master !== before.master || after.term !== before.term) {
    out.push(after.master === null ? `term ${after.term}: no master (election running)` : `term ${after.term}: master is ${short(after.master)}${before.master !== null && before.master !== after.master ? ` (was ${short(before.master)})` : ''}`)
  }
  const was = new Map(before.nodes.map((n) => [n.id, n.up]))
  for (const n of after.nodes) {
    const up = was.get(n.id)
    if (up === undefined && n.up) out.push(`node ${short(n.id)} joined`)
    else if (up === true && !n.up) out.push(`node ${short(n.id)} is down`)
    else if (up === false && n.up) out.push(`node ${short(n.id)} is back`)
  }
  const now = new Set(after.nodes.map((n) => n.id))
  for (const n of before.nodes) if (!now.has(n.id) && n.up) out.push(`node ${short(n.id)} left`)
  return out
}

export function renderWatch (s: Status, via: string, log: readonly Change[], width = 100): string {
  const up = s.nodes.filter((n) => n.up)
  const lines = [
    `\x1b[1mmeshrun\x1b[0m  cluster ${s.cluster}  ·  master ${s.master === null ? '(electing)' : short(s.master)}  ·  term ${s.term}  ·  ${up.length}/${s.nodes.length} nodes up  ·  via ${hostPort(via)}  ·  ${clock(Date.now())}`,
    '',
    table(['', 'NODE', 'ROLE', 'CPU', '', 'MEM', '', 'JOBS', 'LANGUAGES'], s.nodes.map((n) => [
      n.role === 'master' && n.up ? '\x1b[33m★\x1b[0m' : n.id === s.self ? '*' : ' ',
      short(n.id),
      !n.up ? '\x1b[31mdown\x1b[0m' : n.role === 'master' ? '\x1b[33mmaster\x1b[0m' : 'worker',
      bar(n.cpu), `${n.cpu.toFixed(0)}%`, bar(n.mem), `${n.mem.toFixed(0)}%`,
      `${n.running}/${n.maxJobs}`,
      n.languages.join(','),
    ])),
    '',
  ]
  const jobs = s.local.jobs
  lines.push(jobs.length === 0
    ? `no jobs on ${short(s.self)}`
    : table(['JOB', 'LANGUAGE', 'STAGE', 'ELAPSED'], jobs.map((j) => [j.id, j.language, j.stage, duration(j.elapsedMs)])))
  lines.push('', '\x1b[2mevents\x1b[0m', ...log.slice(-8).reverse().map((c) => `${clock(c.at)}  ${c.text}`))
  return lines.join('\n').split('\n').map((l) => clip(l, width)).join('\n') + '\n'
}

export async function watchCommand (flags: WatchFlags): Promise<number> {
  const interval = Number(flags.interval ?? 1000)
  if (!Number.isInteger(interval) || interval < 100 || interval > 60_000) throw new UsageError(`--interval takes 100 to 60000 ms, got '${flags.interval}'`)
  const count = flags.count === undefined ? Infinity : Number(flags.count)
  const tty = process.stdout.isTTY
  const out = process.stdout
  let stopped = false
  const stop = (): void => { stopped = true }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  if (tty) out.write('\x1b[?1049h\x1b[?25l')

  const key = await pskFrom(flags.key)
  const known = [flags.node]
  let at = 0
  let client: MeshClient | undefined
  let last: Status | undefined
  const log: Change[] = []
  try {
    for (let frame = 0; frame < count && !stopped; frame++) {
      const via = known[at]!
      let status: Status | undefined
      try {
        client ??= await MeshClient.connect({ node: via, dialTimeoutMs: 2000, ...key })
        status = await client.status()
      } catch (err) {
        await client?.close().catch(() => {})
        client = undefined
        const next = (at + 1) % known.length
        log.push({ at: Date.now(), text: `${hostPort(via)} did not answer${next === at ? '' : `; trying ${hostPort(known[next]!)}`}` })
        at = next
      }
      if (status !== undefined) {
        for (const text of changes(last, status)) log.push({ at: Date.now(), text })
        last = status
        for (const n of status.nodes) {
          const addr = n.addrs[0]
          if (n.up && addr !== undefined && n.id !== status.self && !known.includes(addr)) known.push(addr.includes('/p2p/') ? addr : `${addr}/p2p/${n.id}`)
        }
      }
      if (log.length > 100) log.splice(0, log.length - 100)
      const screen = last === undefined ? `waiting for ${via}…\n${log.map((c) => c.text).join('\n')}\n` : renderWatch(last, known[at]!, log, out.columns ?? 100)
      out.write(tty ? `\x1b[H${screen.replace(/\n/g, '\x1b[K\n')}\x1b[J` : `${screen.replace(/\x1b\[[0-9;]*m/g, '')}\n`)
      if (frame + 1 < count) await sleep(interval, () => stopped)
    }
  } finally {
    if (tty) out.write('\x1b[?25h\x1b[?1049l')
    await client?.close().catch(() => {})
  }
  return 0
}

async function sleep (ms: number, stop: () => boolean): Promise<void> {
  const until = Date.now() + ms
  while (Date.now() < until && !stop()) await new Promise((r) => setTimeout(r, Math.min(100, until - Date.now())))
}
