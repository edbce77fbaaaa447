/**
 * Schemas for every message that crosses the network. Each message is one
 * length-prefixed JSON frame, parsed with these schemas before use.
 */
import { z } from 'zod'
import { JOB_STATUSES } from '../exec/types.ts'

/** Largest frame a node accepts (a job's sources travel in one frame). */
export const MAX_FRAME_BYTES = 8 * 1024 * 1024

const id = z.string().min(1).max(128).regex(/^[A-Za-z0-9._:-]+$/, 'ids use letters, digits and . _ : -')
const peerId = z.string().min(1).max(128)
const count = z.number().int().nonnegative()

export const sourceFileSchema = z.object({
  name: z.string().min(1).max(255),
  content: z.string(),
  encoding: z.enum(['utf8', 'base64']).optional(),
})

export const jobLimitsSchema = z.object({
  timeMs: z.number().int().positive().max(24 * 3600_000).optional(),
  memoryMb: z.number().int().positive().max(1024 * 1024).optional(),
  outputBytes: z.number().int().positive().optional(),
  processes: z.number().int().positive().max(100_000).optional(),
})

export const jobSpecSchema = z.object({
  id,
  language: z.string().min(1).max(64),
  files: z.array(sourceFileSchema).min(1).max(256),
  stdin: z.string(),
  args: z.array(z.string().max(4096)).max(256),
  limits: jobLimitsSchema.optional(),
})

const limitKind = z.enum(['cpu', 'wall', 'memory', 'output', 'processes', 'disk'])
export const stageResultSchema = z.object({
  stdout: z.string(),
  stderr: z.string(),
  code: z.number().int().nullable(),
  signal: z.string().nullable(),
  wallMs: z.number(),
  cpuMs: z.number().nullable(),
  memoryKb: z.number().nullable(),
  limit: limitKind.nullable(),
  truncated: z.boolean(),
  cached: z.boolean().optional(),
})

export const execResultSchema = z.object({
  status: z.enum(JOB_STATUSES),
  message: z.string().optional(),
  compile: stageResultSchema.nullable(),
  run: stageResultSchema.nullable(),
})

export const jobResultSchema = execResultSchema.extend({
  id,
  language: z.string(),
  /** Peer id of the node that ran the job (or that rejected it). */
  node: peerId,
  /** Peer id of the node the client submitted to. */
  entry: peerId,
  queuedMs: z.number(),
  totalMs: z.number(),
  attempts: count,
})
export type JobResult = z.infer<typeof jobResultSchema>

const stage = z.enum(['compile', 'run'])
const stream = z.enum(['stdout', 'stderr'])

/**
 * `quiet`: the client wants `accepted` and the result (or an error) only,
 * no queue positions, stage starts or live output (the result holds the
 * output): a script that waits for results (a grader) spares the node and
 * itself ~5 of a job's 7 messages.
 */
const quiet = z.boolean().optional()

/** Client → entry on /meshrun/job. */
export const clientRequestSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('submit'), job: jobSpecSchema, quiet }),
  z.object({ t: z.literal('attach'), id, quiet }),
])
export type ClientRequest = z.infer<typeof clientRequestSchema>

/** Entry → client on /meshrun/job: progress events, then exactly one result. */
export const jobEventSchema = z.discriminatedUnion('t', [
  z.object({
    t: z.literal('accepted'), id, entry: peerId, attached: z.boolean(),
    /** Other live nodes (multiaddrs): where the client goes if this entry dies. On a session, only when they changed since its last `accepted`. */
    peers: z.array(z.string().max(512)).max(64).optional(),
  }),
  z.object({ t: z.literal('queued'), position: count }),
  z.object({ t: z.literal('started'), stage, node: peerId }),
  z.object({ t: z.literal('output'), stage, stream, data: z.string() }),
  z.object({ t: z.literal('result'), result: jobResultSchema }),
  z.object({ t: z.literal('error'), message: z.string() }),
])
export type JobEvent = z.infer<typeof jobEventSchema>

/**
 * Client ↔ entry on /meshrun/session: one long-lived stream per client and
 * node carries all the client's jobs there. Each request (submit, attach)
 * has a number `r`, unique on its session; the events of its job come back
 * wrapped with that number (`e`), and `forget` stops them (the job goes on).
 */
const sessionR = z.number().int().positive().max(Number.MAX_SAFE_INTEGER)
export const sessionRequestSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('submit'), r: sessionR, job: jobSpecSchema, quiet }),
  z.object({ t: z.literal('attach'), r: sessionR, id, quiet }),
  z.object({ t: z.literal('forget'), r: sessionR }),
])
export type SessionRequest = z.infer<typeof sessionRequestSchema>
export const sessionEventSchema = z.object({ r: sessionR, e: jobEventSchema })
export type SessionEvent = z.infer<typeof sessionEventSchema>

export const statusRequestSchema = z.object({ t: z.literal('status') })

export const languageInfoSchema = z.object({
  name: z.string(),
  version: z.string(),
  aliases: z.array(z.string()),
  extensions: z.array(z.string()),
  compiled: z.boolean(),
})

export const runningJobSchema = z.object({
  id,
  language: z.string(),
  stage: z.enum(['queued', 'compile', 'run']),
  elapsedMs: z.number(),
})

export const nodeStatusSchema = z.object({
  id: peerId,
  version: z.string(),
  addrs: z.array(z.string()),
  languages: z.array(languageInfoSchema),
  maxJobs: count,
  running: count,
  queued: count,
  cpu: z.number(),
  mem: z.number(),
  jobs: z.array(runningJobSchema),
  sandbox: z.object({ kind: z.enum(['bubblewrap', 'none']), enforced: z.array(z.string()), warnings: z.array(z.string()) }),
  uptimeMs: z.number(),
  /** Streams opened to this node since it started, by protocol. */
  streams: z.record(z.string(), count).optional(),
  /** Load reports this node published: how many, their bytes, the largest. */
  gossip: z.object({ published: count, bytes: count, largest: count, full: count.optional() }).optional(),
  /** How this node's jobs found a worker: as master itself, by asking the master, on a slot leased to it; and the leased slots it holds now. */
  placements: z.object({ local: count, asked: count, leased: count, leases: count.optional() }).optional(),
  /** The compile cache on disk: entries, bytes, the bound (--cache-max), evictions since start. */
  cache: z.object({ entries: count, bytes: count, maxBytes: count, evicted: count }).optional(),
})
export type NodeStatus = z.infer<typeof nodeStatusSchema>

/** One node as another node sees it (from gossip, or itself). */
export const clusterNodeSchema = z.object({
  id: peerId,
  role: z.enum(['master', 'worker']),
  up: z.boolean(),
  addrs: z.array(z.string()),
  cpu: z.number(),
  mem: z.number(),
  running: count,
  maxJobs: count,
  languages: z.array(z.string()),
  lastSeenMs: z.number(),
  /** False while the node drains (takes no new jobs). */
  accepting: z.boolean().optional(),
  /** The master that started this node as an extra worker (autoscaling). */
  spawnedBy: peerId.nullable().optional(),
})
export type ClusterNode = z.infer<typeof clusterNodeSchema>

/** A node's autoscaler: its limit, the live spawned workers, and what it decided last. */
export const autoscaleStatusSchema = z.object({
  max: count,
  spawner: z.enum(['process', 'command']),
  spawned: z.array(z.object({ id: peerId, by: peerId, adopted: z.boolean(), pid: z.number().int().nullable() })),
  pending: count,
  lastDecision: z.object({ at: z.number(), action: z.string(), reason: z.string() }).nullable(),
  counts: z.object({ spawned: count, joined: count, failed: count }),
})
export type AutoscaleStatus = z.infer<typeof autoscaleStatusSchema>

/** What `meshrun status` shows: the cluster as this node sees it, and this node in detail. */
export const statusSchema = z.object({
  self: peerId,
  cluster: z.string(),
  master: peerId.nullable(),
  term: count,
  /** When this node last changed its view of master or term (ms since the epoch). */
  masterSince: z.number().optional(),
  nodes: z.array(clusterNodeSchema),
  local: nodeStatusSchema,
  /** This node's autoscaler, when it runs with --autoscale. */
  autoscale: autoscaleStatusSchema.optional(),
})
export type Status = z.infer<typeof statusSchema>

/** Peers named in one load report (see `peers`). */
export const MAX_PEERS_IN_REPORT = 32

/** A node's load report, published on the cluster's gossip topic several times a second. */
export const loadReportSchema = z.object({
  v: z.literal(1),
  cluster: z.string().max(64),
  id: peerId,
  seq: count,
  priority: z.number().int(),
  term: count,
  isMaster: z.boolean(),
  master: peerId.nullable(),
  /** The master's priority, when not 0 (receivers that have not heard from that master rank it by this). */
  masterPriority: z.number().int().optional(),
  cpu: z.number().min(0).max(100),
  mem: z.number().min(0).max(100),
  running: count,
  maxJobs: count,
  maxCpu: z.number(),
  maxMem: z.number(),
  accepting: z.boolean(),
  /** The master that started this node as an extra worker, if one did. */
  spawnedBy: peerId.nullable().optional(),
  queue: count,
  languages: z.array(z.string().max(32)).max(32),
  jobs: z.array(id).max(1024),
  addrs: z.array(z.string().max(256)).max(16),
  version: z.string().max(32),
  /** The sender's report interval in ms: it grows with the cluster (see gossip.ts); receivers judge its silence by it. */
  every: z.number().int().min(50).max(60_000).optional(),
  /** While membership changes (a node joins or leaves), the peers this node hears, for discovery: nodes that joined through different bootstrap peers learn of each other at once. */
  peers: z.array(z.object({ id: peerId, addrs: z.array(z.string().max(256)).max(2) })).max(MAX_PEERS_IN_REPORT).optional(),
})
export type LoadReport = z.infer<typeof loadReportSchema>

/** The parts of a report that rarely change: sent in full reports only (see gossip.ts; the topic names the cluster, and a new master makes a full report at once). */
export const STATIC_REPORT_KEYS = ['v', 'cluster', 'priority', 'master', 'masterPriority', 'maxJobs', 'maxCpu', 'maxMem', 'spawnedBy', 'languages', 'addrs', 'version', 'every'] as const
/** What an idle node's report says: a report leaves out the fields that have these values. */
export const IDLE_REPORT = Object.freeze({ isMaster: false, running: 0, queue: 0, jobs: Object.freeze([]) as readonly string[], accepting: true })
/**
 * A report as sent: a full one, or a light one without the static parts,
 * and either without the fields whose values are those of IDLE_REPORT.
 * Neither names its author: it is the peer the report arrives from
 * (gossip.ts; one that names anyone else is refused).
 */
export const wireReportSchema = loadReportSchema.partial({ v: true, cluster: true, id: true, priority: true, master: true, masterPriority: true, maxJobs: true, maxCpu: true, maxMem: true, spawnedBy: true, languages: true, addrs: true, version: true, every: true }).extend({
  isMaster: loadReportSchema.shape.isMaster.default(IDLE_REPORT.isMaster),
  running: loadReportSchema.shape.running.default(IDLE_REPORT.running),
  queue: loadReportSchema.shape.queue.default(IDLE_REPORT.queue),
  jobs: loadReportSchema.shape.jobs.default(() => []),
  accepting: loadReportSchema.shape.accepting.default(IDLE_REPORT.accepting),
})
export type WireReport = z.infer<typeof wireReportSchema>

/**
 * Node → node on /meshrun/link: one long-lived stream per pair of nodes (the
 * one that opened it is the entry) carries every job between them. Each
 * request has a number `r`, unique on its link, and every answer names it.
 *
 * Entry → master: `place` asks for a worker; `done` frees the granted slot
 * (or withdraws a request still queued). A slot granted on the entry itself
 * may come as a lease (`grant` with `lease`): the entry keeps it after the
 * job and runs its next job there without asking, saying only which job
 * (`reuse`), until it is idle for a while or the master needs it (`revoke`),
 * then frees it with `done`. Entry → worker: `dispatch` runs a job granted
 * in `term`. A link that closes releases everything on it.
 */
const r = z.number().int().positive().max(Number.MAX_SAFE_INTEGER)
export const linkRequestSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('place'), r, id, language: z.string().min(1).max(64), avoid: z.array(peerId).max(16).optional() }),
  z.object({ t: z.literal('done'), r }),
  z.object({ t: z.literal('reuse'), r, id }),
  z.object({ t: z.literal('dispatch'), r, job: jobSpecSchema, term: count }),
])
export type LinkRequest = z.infer<typeof linkRequestSchema>

/** Master → entry (placement) and worker → entry (dispatch) on /meshrun/link. */
export const linkEventSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('queued'), r, position: count }),
  /** `addrs`: where the worker listens (the entry may not have heard of it yet). */
  z.object({ t: z.literal('grant'), r, worker: peerId, term: count, addrs: z.array(z.string().max(256)).max(16).optional(), lease: z.literal(true).optional() }),
  /** Give the leased slot back as soon as it is free (others wait for slots). */
  z.object({ t: z.literal('revoke'), r }),
  z.object({ t: z.literal('reject'), r, message: z.string() }),
  z.object({ t: z.literal('not-master'), r, master: peerId.nullable(), term: count }),
  z.object({ t: z.literal('started'), r, stage }),
  z.object({ t: z.literal('output'), r, stage, stream, data: z.string() }),
  z.object({ t: z.literal('result'), r, result: execResultSchema }),
  z.object({ t: z.literal('refused'), r, reason: z.enum(['busy', 'stale-term', 'draining']), message: z.string() }),
])
export type LinkEvent = z.infer<typeof linkEventSchema>
