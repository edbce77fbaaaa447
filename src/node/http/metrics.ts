/**
 * `/metrics` in Prometheus format (prom-client, one registry per gateway,
 * every name prefixed `meshrun_`). Job counts and durations are those of the
 * jobs submitted to this node; gauges read the node's state at scrape time.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { VERSION } from '../protocols.ts'
import type { GatewayNode } from './types.ts'

const SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]

export interface Metrics {
  registry: Registry
  stop: () => void
}

export function createMetrics (node: GatewayNode): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'meshrun_' })
  const r = [registry]

  const accepted = new Counter({ name: 'meshrun_jobs_accepted_total', help: 'Jobs submitted to this node', labelNames: ['language'], registers: r })
  const finished = new Counter({ name: 'meshrun_jobs_total', help: 'Jobs submitted to this node that finished, by result status', labelNames: ['status', 'language'], registers: r })
  const duration = new Histogram({ name: 'meshrun_job_duration_seconds', help: 'Time from acceptance to result', labelNames: ['status', 'language'], buckets: SECONDS, registers: r })
  const waited = new Histogram({ name: 'meshrun_job_queue_seconds', help: 'Time from acceptance to the first grant of a worker', labelNames: ['language'], buckets: SECONDS, registers: r })
  const run = new Histogram({ name: 'meshrun_job_run_seconds', help: 'Wall time of the run stage', labelNames: ['language'], buckets: SECONDS, registers: r })

  // Each gauge reads at scrape time; the node's status (job lists and the
  // cluster's nodes included) is built once per scrape, not once per gauge:
  // a scrape calls every collect in the same tick, so a snapshot lives until
  // the next.
  const perScrape = <T>(read: () => T): () => T => {
    let snapshot: { value: T } | undefined
    return () => {
      if (snapshot === undefined) {
        snapshot = { value: read() }
        setImmediate(() => { snapshot = undefined })
      }
      return snapshot.value
    }
  }
  const own = perScrape(() => node.localStatus())
  const cluster = perScrape(() => node.status())
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({ name, help, registers: r, collect () { this.set(read()) } })
  }
  gauge('meshrun_queue_length', 'Jobs waiting in the master\'s queue (0 on nodes that are not master)', () => node.scheduler.queueLength)
  gauge('meshrun_jobs_running', 'Jobs running on this node', () => own().running)
  gauge('meshrun_jobs_waiting', 'Jobs submitted to this node still waiting for a worker', () => own().queued)
  gauge('meshrun_jobs_max', 'Jobs this node runs at once', () => own().maxJobs)
  gauge('meshrun_cluster_jobs_running', 'Jobs running on all live nodes', () => cluster().nodes.filter((n) => n.up).reduce((s, n) => s + n.running, 0))
  gauge('meshrun_peers_up', 'Other nodes this node sees as up', () => cluster().nodes.filter((n) => n.up && n.id !== node.id).length)
  gauge('meshrun_leases_held', 'Slots of this node the master leased to it for its own jobs, held now', () => own().placements?.leases ?? 0)
  gauge('meshrun_compile_cache_bytes', 'Bytes the compile cache holds on disk', () => own().cache?.bytes ?? 0)
  gauge('meshrun_compile_cache_entries', 'Entries in the compile cache', () => own().cache?.entries ?? 0)
  new Counter({
    name: 'meshrun_compile_cache_evictions_total', help: 'Compile cache entries evicted (least recently used first) to stay within --cache-max', registers: r,
    collect () { this.reset(); this.inc(own().cache?.evicted ?? 0) },
  })
  gauge('meshrun_term', 'Current election term', () => node.election.term)
  gauge('meshrun_is_master', '1 while this node is the master', () => (node.election.master === node.id ? 1 : 0))
  gauge('meshrun_cpu_percent', 'CPU use of this machine', () => own().cpu)
  gauge('meshrun_memory_percent', 'Memory use of this machine', () => own().mem)
  new Counter({
    name: 'meshrun_elections_total', help: 'Elections this node has seen complete', registers: r,
    collect () { this.reset(); this.inc(node.election.elections) },
  })
  // Autoscaling (nodes started with --autoscale): the limit, live spawned workers, and every decision that acted.
  const scaling = node.status().autoscale !== undefined
  const decisions = new Counter({ name: 'meshrun_autoscale_decisions_total', help: 'Autoscaler decisions that acted or changed what it waits for (spawn, joined, failed, abandon, at-max, …)', labelNames: ['action'], registers: scaling ? r : [] })
  if (scaling) {
    gauge('meshrun_autoscale_max', 'Most spawned workers this node\'s autoscaler keeps (--autoscale)', () => cluster().autoscale?.max ?? 0)
    gauge('meshrun_autoscale_workers', 'Live spawned workers counted toward the maximum (this master\'s and adopted ones)', () => cluster().autoscale?.spawned.length ?? 0)
    gauge('meshrun_autoscale_pending', 'Workers started and not joined yet', () => cluster().autoscale?.pending ?? 0)
    for (const action of ['spawn', 'joined', 'failed', 'abandon']) decisions.inc({ action }, 0)
  }
  new Counter({
    name: 'meshrun_placements_total',
    help: 'Workers found for jobs submitted to this node: by this node as master (local), by asking the master (asked), on a slot the master leased to this node (leased)',
    labelNames: ['via'],
    registers: r,
    collect () {
      this.reset()
      const { local = 0, asked = 0, leased = 0 } = own().placements ?? {}
      for (const [via, n] of Object.entries({ local, asked, leased })) this.inc({ via }, n)
    },
  })
  new Gauge({ name: 'meshrun_node_info', help: 'This node', labelNames: ['id', 'version'], registers: r }).set({ id: node.id, version: VERSION }, 1)

  const off = node.events.on((e) => {
    if (e.type === 'autoscale' && scaling) decisions.inc({ action: e.action })
    if (e.type !== 'job') return
    if (e.state === 'accepted') accepted.inc({ language: e.language })
    if (e.state !== 'done') return
    const status = e.status ?? 'error'
    finished.inc({ status, language: e.language })
    const result = node.entry.get(e.id)?.result
    if (result == null) return
    duration.observe({ status, language: e.language }, result.totalMs / 1000)
    waited.observe({ language: e.language }, result.queuedMs / 1000)
    if (result.run !== null) run.observe({ language: e.language }, result.run.wallMs / 1000)
  })
  return { registry, stop: off }
}
