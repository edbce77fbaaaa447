/** `meshrun status`: the cluster as one node sees it, and that node in detail. */
import type { AutoscaleStatus, Status } from '../node/schemas.ts'
import { MeshClient } from './client.ts'
import { pskFrom } from './key.ts'

export async function statusCommand (flags: { node: string, json?: boolean, key?: string }): Promise<number> {
  const client = await MeshClient.connect({ node: flags.node, ...await pskFrom(flags.key) })
  let status: Status
  try {
    status = await client.status()
  } finally {
    await client.close()
  }
  process.stdout.write(flags.json === true ? JSON.stringify(status, null, 2) + '\n' : formatStatus(status))
  return 0
}

export function formatStatus (s: Status): string {
  const l = s.local
  const lines = [
    `cluster   ${s.cluster}  master ${s.master ?? '(none yet)'}  term ${s.term}`,
    `this node ${s.self}  (meshrun ${l.version}, up ${Math.round(l.uptimeMs / 1000)} s)`,
    `sandbox   ${l.sandbox.kind}: ${l.sandbox.enforced.join(', ')}`,
    ...l.sandbox.warnings.map((w) => `warning   ${w}`),
    ...(l.cache === undefined ? [] : [`cache     ${l.cache.entries} entries, ${mib(l.cache.bytes)} of ${mib(l.cache.maxBytes)}${l.cache.evicted > 0 ? `, ${l.cache.evicted} evicted (least recently used)` : ''}`]),
    '',
    table(['', 'NODE', 'ROLE', 'CPU', 'MEM', 'JOBS', 'LANGUAGES', 'SEEN'], s.nodes.map((n) => [
      n.id === s.self ? '*' : ' ',
      n.id,
      (n.up ? (n.accepting === false ? 'draining' : n.role) : 'down') + (n.spawnedBy == null ? '' : ' (spawned)'),
      `${n.cpu.toFixed(0)}%`,
      `${n.mem.toFixed(0)}%`,
      `${n.running}/${n.maxJobs}`,
      n.languages.join(','),
      n.id === s.self ? '-' : `${(n.lastSeenMs / 1000).toFixed(1)}s ago`,
    ])),
  ]
  if (s.autoscale !== undefined) lines.push('', ...formatAutoscale(s.autoscale))
  if (l.jobs.length > 0) {
    lines.push('', table(['JOB', 'LANGUAGE', 'STAGE', 'ELAPSED'], l.jobs.map((j) => [j.id, j.language, j.stage, `${(j.elapsedMs / 1000).toFixed(1)}s`])))
  }
  return lines.join('\n') + '\n'
}

function formatAutoscale (a: AutoscaleStatus): string[] {
  const own = a.spawned.filter((w) => !w.adopted).length
  const head = `autoscale ${a.spawned.length}/${a.max} spawned workers up (${own} started here, ${a.spawned.length - own} adopted)` +
    `${a.pending > 0 ? ', 1 starting' : ''}; ${a.counts.spawned} started, ${a.counts.joined} joined, ${a.counts.failed} failed (${a.spawner === 'command' ? '--spawn-cmd' : 'local processes'})`
  const last = a.lastDecision === null ? [] : [`          last: ${a.lastDecision.action} at ${new Date(a.lastDecision.at).toLocaleTimeString()}: ${a.lastDecision.reason}`]
  return [head, ...a.spawned.map((w) => `          ${w.id}${w.pid === null ? '' : ` pid ${w.pid}`}${w.adopted ? ` adopted from ${w.by}` : ''}`), ...last]
}

function mib (bytes: number): string {
  return bytes >= 1024 * 1024 * 1024 ? `${(bytes / 1024 ** 3).toFixed(1)} GiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}

function table (head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const fmt = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
  return [fmt(head), ...rows.map(fmt)].join('\n')
}
