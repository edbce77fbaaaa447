/**
 * A meshrun node: the libp2p host plus the entry, master and worker roles,
 * load gossip, discovery and the election. Every node runs the same code; a
 * node that is alone is all three roles.
 */
import { join } from 'node:path'
import { homedir } from 'node:os'
import { mkdir } from 'node:fs/promises'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { createExecutor, type NodeLimitsInit } from '../exec/index.ts'
import type { Executor } from '../exec/types.ts'
import { createHost, type Host } from './host.ts'
import { loadOrCreateIdentity } from './identity.ts'
import { Entry } from './entry.ts'
import { Scheduler, type NodeView } from './scheduler.ts'
import { Worker } from './worker.ts'
import { LocalDispatch, LocalPlacement } from './local-links.ts'
import { ClusterDispatch, RemoteDispatch } from './remote-links.ts'
import { ClusterPlacement } from './placement.ts'
import { LoadMonitor } from './load.ts'
import { LoadGossip, reportInterval } from './gossip.ts'
import { Membership } from './membership.ts'
import { peerIdOf } from './peer-ids.ts'
import { Discovery, FOCUS_MS } from './discovery.ts'
import { ElectionDriver, LagGauge, type ElectionChange } from './election.ts'
import { Services } from './services.ts'
import { ClientService } from './client-service.ts'
import { MAX_PEERS_IN_REPORT, type LoadReport, type NodeStatus, type Status } from './schemas.ts'
import { MAX_STREAMS, PROTOCOL_ELECTION, PROTOCOL_JOB, PROTOCOL_LINK, PROTOCOL_SESSION, PROTOCOL_STATUS, VERSION } from './protocols.ts'
import { Links } from './link.ts'
import type { Logger } from './log.ts'
import { EventBus } from './events.ts'
import { Journal, type Recovered } from './journal.ts'
import { Autoscaler, type AutoscaleOptions } from './autoscaler.ts'
import type { NodeLoad, SpawnedMember } from './autoscale-policy.ts'
import { Spawner } from './spawner.ts'

export interface NodeInit {
  /** TCP port on 127.0.0.1 (ignored when `listen` is given). 0 picks a free port. */
  port?: number
  listen?: string[]
  dataDir?: string
  maxJobs?: number
  maxCpu?: number
  maxMem?: number
  langs?: string[]
  /** The operator's limits for jobs on this node (clients may only lower them). */
  limits?: NodeLimitsInit
  /** Election priority: the highest wins, then the highest peer id. */
  priority?: number
  /** Cluster name: nodes of other clusters are ignored (mDNS tag and gossip topic). */
  cluster?: string
  /** Bootstrap peers (multiaddrs), for networks without multicast. */
  peers?: Multiaddr[]
  /** mDNS discovery (default on). */
  mdns?: boolean
  reportIntervalMs?: number
  /**
   * The cluster's pre-shared key. Without one a node only listens on
   * loopback; with one it listens on every interface by default.
   */
  psk?: Uint8Array
  /** Peer id of the master that started this node as an extra worker (autoscaling). */
  spawnedBy?: string
  /** A slot leased to this node for its own jobs goes back after this long unused (default LEASE_IDLE_MS; 0: no leases). */
  leaseIdleMs?: number
  /** The compile cache's bound on disk, in MiB (default 1024). */
  cacheMaxMb?: number
  /** Drain and stop after this long with nothing to do (spawned workers). */
  retireIdleMs?: number
  /** Start extra workers when jobs wait with every node full (acts while master). */
  autoscale?: AutoscaleOptions
  allowUnsandboxed?: boolean
  log: Logger
}

export const DEFAULT_PORT = 7700

/** How long a delivered result stays available for pickup by id. */
export const KEEP_RESULTS_MS = 10 * 60_000
/** For this long after membership changes, reports name the peers their sender hears. */
const PEER_EXCHANGE_MS = 5000
/** How long a silent peer has to answer a ping before its connection is dropped (see checkSilent). */
const SILENT_PING_MS = 10_000
/** A joining node stands for election once no new peer came up for this long (and it heard the master its peers follow)… */
const SETTLE_MS = 400
/** …or after this long at most. */
const SETTLE_MAX_MS = 8000
/** How long the node's own addresses are taken as known (see `addrs`). */
const ADDRS_TTL_MS = 5000
/** A slot the master leased to this node for its own jobs goes back after this long unused. */
const LEASE_IDLE_MS = 2000

export class MeshNode {
  readonly host: Host
  readonly executor: Executor
  readonly entry: Entry
  readonly scheduler: Scheduler
  /** How this node's jobs get a worker (counts placements by way). */
  readonly placement: ClusterPlacement
  readonly worker: Worker
  readonly load: LoadMonitor
  readonly membership: Membership
  readonly gossip: LoadGossip
  readonly discovery: Discovery
  readonly election: ElectionDriver
  readonly services: Services
  /** This node's links to the peers it places jobs with or dispatches to. */
  readonly links: Links
  readonly clients: ClientService
  readonly autoscaler: Autoscaler | undefined
  /** Cluster and job events, for watchers (HTTP gateway, metrics). */
  readonly events = new EventBus()
  readonly init: NodeInit
  readonly cluster: string
  private readonly startedAt = Date.now()
  private readonly maxCpu: number
  private readonly maxMem: number
  private readonly priority: number
  private sweeper: NodeJS.Timeout | undefined
  /** Event-loop lag, measured on the sweeper's ticks (stretches election waits). */
  private readonly lag = new LagGauge()
  private idleTimer: NodeJS.Timeout | undefined
  /** False once the node drains: it takes no new jobs, finishes what it runs. */
  accepting = true
  private idleSince = Date.now()
  /** When a peer last came up or went down (reports name the peers for a while after). */
  private membershipChangedAt = Date.now()
  private retiredResolve: (() => void) | undefined
  /** Resolves when a draining node has finished its work and should stop. */
  readonly retired = new Promise<void>((resolve) => { this.retiredResolve = resolve })
  private readonly log: Logger

  private readonly journal: Journal
  private readonly recovered: Recovered

  private constructor (init: NodeInit, host: Host, executor: Executor, journal: Journal, recovered: Recovered) {
    this.init = init
    this.journal = journal
    this.recovered = recovered
    this.log = init.log
    this.host = host
    // Our own addresses changed: `addrs` reads them afresh.
    host.addEventListener('self:peer:update', () => { this.listenAddrs = undefined })
    this.executor = executor
    this.cluster = init.cluster ?? 'default'
    this.maxCpu = init.maxCpu ?? 100
    this.maxMem = init.maxMem ?? 95
    this.priority = init.priority ?? 0
    const self = host.peerId.toString()
    const reportMs = init.reportIntervalMs ?? 500

    this.load = new LoadMonitor(1000)
    this.worker = new Worker(executor, init.maxJobs ?? 2)
    this.scheduler = new Scheduler(() => this.views())
    this.membership = new Membership(reportMs)
    this.election = new ElectionDriver({
      host,
      self: { priority: this.priority, id: self },
      livePeers: () => this.membership.up.map((m) => m.id),
      lag: () => this.lag.ms,
      onTime: (id) => this.membership.onTime(id, Date.now()),
      seek: (id) => { this.discovery.seek(id) },
      onChange: (c) => { this.onElection(c) },
      log: this.log,
    })
    this.services = new Services({
      scheduler: this.scheduler,
      worker: this.worker,
      accepting: () => this.accepting,
      isMaster: () => this.election.isMaster,
      master: () => this.election.master,
      term: () => this.election.term,
      addrsOf: (id) => this.membership.members.get(id)?.report.addrs ?? [],
    })
    this.scheduler.onWait = () => { this.services.revokeLeases() }
    this.links = new Links(host)
    this.placement = new ClusterPlacement(self, new LocalPlacement(this.scheduler, () => this.election.term, self), this.links, {
      master: () => this.election.master,
      changed: async (signal) => { await this.election.changed(signal) },
    }, init.leaseIdleMs === 0 ? undefined : {
      self,
      idleMs: init.leaseIdleMs ?? LEASE_IDLE_MS,
      // A job resubmitted while it runs elsewhere goes through the master,
      // which sends it to that run.
      usable: (opts) => this.accepting && !(opts.avoid ?? []).includes(self) &&
        this.executor.languages.some((l) => l.name === opts.language) &&
        !this.membership.up.some((m) => m.report.jobs.includes(opts.id)),
    })
    const dispatch = new ClusterDispatch(self, new LocalDispatch(this.worker, self), new RemoteDispatch(this.links, async (id, addrs) => { await this.discovery.learn(id, addrs) }))
    this.entry = new Entry({
      self,
      placement: () => this.placement,
      dispatch: () => dispatch,
      journal,
      onJournalError: (err) => { this.log.error(`journal write failed: ${String(err)}`) },
      onState: (job) => {
        this.events.emit({
          type: 'job', id: job.spec.id, language: job.language, at: Date.now(),
          state: job.state === 'queued' && job.attempts === 0 ? 'accepted' : job.state,
          node: job.result?.node ?? job.worker, status: job.result?.status ?? null,
        })
      },
    })
    this.clients = new ClientService({
      self,
      entry: this.entry,
      status: () => this.status(),
      peers: () => this.membership.up.slice(0, 16).flatMap((m) => m.report.addrs.slice(0, 1)),
      log: this.log,
    })
    this.gossip = new LoadGossip({
      pubsub: host.services.pubsub!,
      cluster: this.cluster,
      intervalMs: () => reportInterval(reportMs, this.membership.up.length + 1),
      makeReport: (joiner) => this.report(joiner),
      // Quiet once settled: while peers join or leave, or no master is
      // known, reports carry news (peers to connect to, terms) at full rate.
      idle: () => !this.busy() && this.election.master !== null && Date.now() - this.membershipChangedAt >= PEER_EXCHANGE_MS,
      onReport: (r) => { this.membership.onReport(r, Date.now()) },
      log: this.log,
    })
    this.discovery = new Discovery({
      host,
      bootstrap: init.peers ?? [],
      log: this.log,
      // Until the master it follows has held for FOCUS_MS, a node dials the highest id it knows only.
      focusUntil: () => this.election.master === null ? Date.now() + FOCUS_MS : this.electionChangedAt + FOCUS_MS,
    })
    this.autoscaler = init.autoscale === undefined ? undefined : this.makeAutoscaler(init.autoscale, init.dataDir!)

    this.membership.on('up', (m) => {
      this.membershipChangedAt = Date.now()
      this.gossip.sendFullNext()
      this.log.info(`peer up ${m.id}`)
      this.events.emit({ type: 'peer', id: m.id, up: true, at: Date.now() })
      this.election.peerUp(m.id, m.report.priority)
      this.scheduler.pump()
    })
    this.membership.on('down', (m) => {
      this.membershipChangedAt = Date.now()
      this.log.info(`peer down ${m.id}`)
      this.events.emit({ type: 'peer', id: m.id, up: false, at: Date.now() })
      this.election.peerDown(m.id)
      if (this.election.isMaster) this.scheduler.workerDown(m.id)
      // A peer whose reports stopped (SIGSTOP, a pulled cable, or just a
      // starved process) may still hold its connection open: drop the links
      // with it, so the jobs dispatched to it are placed again and the slots
      // it was granted are freed now. The connection itself stays: hanging up
      // on every late peer of a loaded cluster made reconnection storms.
      const gone = new Error(`peer ${m.id} went silent`)
      this.links.drop(m.id, gone)
      this.services.dropFrom(m.id, gone)
      void this.checkSilent(m.id)
    })
    this.membership.on('report', (m) => {
      const r = m.report
      this.election.report(m.id, r.priority, r.term, r.isMaster, r.isMaster || r.master == null ? null : { id: r.master, priority: r.masterPriority ?? 0 })
      void this.discovery.learn(m.id, r.addrs)
      for (const p of r.peers ?? []) void this.discovery.learn(p.id, p.addrs)
      if (this.election.isMaster) this.scheduler.pump()
    })
  }

  static async create (init: NodeInit): Promise<MeshNode> {
    const port = init.port ?? DEFAULT_PORT
    const dataDir = init.dataDir ?? join(homedir(), '.meshrun', `node-${port}`)
    await mkdir(dataDir, { recursive: true, mode: 0o700 })
    const executor = await createExecutor({
      dataDir,
      slots: init.maxJobs ?? 2,
      ...(init.langs === undefined ? {} : { langs: init.langs }),
      ...(init.limits === undefined ? {} : { limits: init.limits }),
      allowUnsandboxed: init.allowUnsandboxed ?? false,
      ...(init.cacheMaxMb === undefined ? {} : { cacheMaxMb: init.cacheMaxMb }),
    })
    try {
      const { journal, recovered } = await Journal.open(dataDir, KEEP_RESULTS_MS)
      const privateKey = await loadOrCreateIdentity(dataDir)
      const listen = init.listen ?? [`/ip4/${init.psk === undefined ? '127.0.0.1' : '0.0.0.0'}/tcp/${port}`]
      if (init.psk === undefined) {
        const open = listen.filter((a) => !isLoopback(a))
        if (open.length > 0) throw new OpenWithoutKeyError(`refusing to listen on ${open.join(', ')} without a cluster key: anyone who can connect could run programs here. Make a key with \`meshrun keygen\`, give it to every node and client with --key FILE, or listen on 127.0.0.1 only.`)
      }
      const cluster = init.cluster ?? 'default'
      const host = await createHost({
        privateKey,
        listen,
        gossip: true,
        ...(init.psk === undefined ? {} : { psk: init.psk }),
        ...(init.mdns === false ? {} : { mdnsTag: `meshrun-${cluster}` }),
      })
      return new MeshNode({ ...init, dataDir }, host, executor, journal, recovered)
    } catch (err) {
      await executor.stop()
      throw err
    }
  }

  get id (): string { return this.host.peerId.toString() }
  /**
   * Where this node listens, as strings. Every report and status names them,
   * and building them anew from libp2p's address manager each time was ~1 %
   * of a busy node's CPU: kept for ADDRS_TTL_MS (a wildcard listener's
   * addresses follow the machine's interfaces, which change without an
   * event), or until libp2p says they changed.
   */
  get addrs (): string[] {
    const now = Date.now()
    if (this.listenAddrs === undefined || now - this.listenAddrs.at > ADDRS_TTL_MS) {
      this.listenAddrs = { addrs: this.host.getMultiaddrs().map((a) => a.toString()), at: now }
    }
    return this.listenAddrs.addrs
  }

  private listenAddrs: { addrs: string[], at: number } | undefined

  async start (): Promise<void> {
    void this.load.start()
    const h = this.host
    const counted = (protocol: string): void => { this.inboundStreams[protocol] = (this.inboundStreams[protocol] ?? 0) + 1 }
    await h.handle(PROTOCOL_JOB, (stream) => { counted(PROTOCOL_JOB); void this.clients.onJob(stream) }, { maxInboundStreams: 4096, maxOutboundStreams: MAX_STREAMS })
    await h.handle(PROTOCOL_SESSION, (stream) => { counted(PROTOCOL_SESSION); void this.clients.onSession(stream) }, { maxInboundStreams: 16 })
    await h.handle(PROTOCOL_STATUS, (stream) => { counted(PROTOCOL_STATUS); void this.clients.onStatus(stream) }, { maxInboundStreams: 64 })
    // One link per pair of nodes carries all their jobs; a few spare for a link being replaced.
    await h.handle(PROTOCOL_LINK, (stream, conn) => { counted(PROTOCOL_LINK); void this.services.onLink(stream, conn.remotePeer.toString()) }, { maxInboundStreams: 8, maxOutboundStreams: 8 })
    h.addEventListener('peer:disconnect', (evt) => {
      const id = evt.detail.toString()
      this.membership.onDisconnect(id)
      this.election.peerDown(id)
    })
    this.discovery.start()
    await h.start()
    // A node told of peers (--peer) waits until it has heard them, the
    // peers they name, and the master they follow (no new peer for
    // SETTLE_MS and every named master heard; at most SETTLE_MAX_MS) before
    // it stands for election: standing with a partial view, alone or with a
    // few, only crowns masters that the next peer heard unseats, term after
    // term (30 nodes joining a loaded machine together did that for minutes).
    if ((this.init.peers ?? []).length > 0) {
      await this.election.listen()
      void new Promise<void>((resolve) => {
        let quiet: NodeJS.Timeout | undefined
        let done = false
        const settle = (): void => {
          if (done) return
          done = true
          clearTimeout(quiet)
          clearTimeout(longest)
          resolve()
        }
        const check = (): void => { if (this.mastersHeard()) settle(); else if (!done) quiet = setTimeout(check, SETTLE_MS).unref() }
        const longest = setTimeout(settle, SETTLE_MAX_MS).unref()
        this.membership.on('up', () => {
          if (done) return
          clearTimeout(quiet)
          quiet = setTimeout(check, SETTLE_MS).unref()
        })
      }).then(() => { this.election.begin(true) })
    } else {
      await this.election.start()
    }
    this.gossip.start()
    this.autoscaler?.start()
    const reportMs = this.init.reportIntervalMs ?? 500
    const sweepMs = Math.max(50, reportMs / 2)
    this.sweeper = setInterval(() => {
      const now = Date.now()
      this.lag.tick(now, sweepMs)
      this.membership.sweep(now)
    }, sweepMs)
    // Resume what an earlier run of this node accepted and did not finish.
    for (const result of this.recovered.finished) this.entry.restore(result)
    for (const spec of this.recovered.pending) this.entry.submit(spec)
    if (this.recovered.pending.length > 0) this.log.info(`resumed ${this.recovered.pending.length} unfinished jobs from the journal`)
    if (this.init.retireIdleMs !== undefined) {
      this.idleTimer = setInterval(() => { this.checkIdle() }, Math.min(1000, Math.max(100, this.init.retireIdleMs / 4)))
    }
  }

  /** Every master that a peer heard names (in its report) is heard here too. */
  private mastersHeard (): boolean {
    return this.membership.up.every((m) => m.report.master == null || m.report.master === this.id || this.membership.members.get(m.report.master)?.up === true)
  }

  /** Take no new jobs; finish what runs; then `retired` resolves. */
  drain (reason: string): void {
    if (!this.accepting) return
    this.accepting = false
    this.log.info(`draining: ${reason}`)
    this.events.emit({ type: 'peer', id: this.id, up: true, at: Date.now() })
    this.gossip.publish()
  }

  /** Work in hand. A master with nothing queued or granted is idle too (an orphaned spawned worker may be master). */
  private busy (): boolean {
    const mastering = this.election.isMaster && (this.scheduler.queueLength > 0 || this.scheduler.grants.size > 0)
    return this.worker.running > 0 || this.entry.unfinished.length > 0 || mastering
  }

  private checkIdle (): void {
    const now = Date.now()
    if (this.busy()) { this.idleSince = now; return }
    if (this.accepting && now - this.idleSince >= this.init.retireIdleMs!) {
      this.drain(`idle for ${Math.round((now - this.idleSince) / 1000)} s`)
      this.idleSince = now
      return
    }
    // Drained, and nothing arrived during a grace period: stop.
    if (!this.accepting && now - this.idleSince >= 1000) {
      clearInterval(this.idleTimer)
      this.retiredResolve?.()
    }
  }

  async stop (): Promise<void> {
    await this.autoscaler?.stop()
    clearInterval(this.sweeper)
    clearInterval(this.idleTimer)
    this.entry.stop()
    this.links.closeAll()
    this.discovery.stop()
    this.gossip.stop()
    this.election.stop()
    this.load.stop()
    await this.host.stop()
    await this.executor.stop()
    await this.journal.close()
  }

  private makeAutoscaler (opts: AutoscaleOptions, dataDir: string): Autoscaler {
    const { max, sustainMs, settleMs, joinTimeoutMs, backoffMs, tickMs, ...spawn } = opts
    return new Autoscaler({ max, sustainMs, settleMs, joinTimeoutMs, backoffMs, tickMs }, {
      self: this.id,
      isMaster: () => this.election.isMaster,
      queueLength: () => this.scheduler.queueLength,
      nodes: () => this.loads(),
      spawned: () => this.spawnedMembers(),
      spawner: new Spawner({
        ...spawn,
        dataDir,
        self: this.id,
        peer: (local) => this.addrs.find((a) => isLoopback(a) === local) ?? this.addrs[0]!,
        cluster: this.cluster,
        mdns: this.init.mdns !== false,
      }),
      events: this.events,
      log: this.log,
    })
  }

  /** Every live node's capacity, busy slots as the scheduler counts them. */
  private * loads (): Iterable<NodeLoad> {
    const grants = this.scheduler.grants
    const granted = new Map<string, number>()
    for (const w of grants.values()) granted.set(w, (granted.get(w) ?? 0) + 1)
    for (const v of this.views()) {
      yield { ...v, busy: (granted.get(v.id) ?? 0) + v.jobs.filter((j) => !grants.has(j)).length }
    }
  }

  /** Live members started by autoscaling (any master's). */
  private spawnedMembers (): SpawnedMember[] {
    const out: SpawnedMember[] = []
    for (const m of this.membership.up) if (m.report.spawnedBy != null) out.push({ id: m.id, by: m.report.spawnedBy })
    return out
  }

  /** When this node last changed its view of master or term (ms since the epoch). */
  electionChangedAt = 0
  /** Streams opened to this node since it started, by protocol (regression guards, metrics). */
  readonly inboundStreams: Record<string, number> = {}

  /**
   * A peer went silent and its connection is still open: one ping over it,
   * and if no answer comes within SILENT_PING_MS, hang up (a machine that
   * crashed or lost its cable sends no FIN; discovery dials it afresh once
   * it is back). A late peer that answers keeps its connection.
   */
  private async checkSilent (id: string): Promise<void> {
    const peer = peerIdOf(id)
    if (this.host.getConnections(peer).length === 0) return
    try {
      await this.host.services.ping.ping(peer, { signal: AbortSignal.timeout(SILENT_PING_MS) })
    } catch (err) {
      if (this.membership.members.get(id)?.up === true) return // it spoke meanwhile
      this.log.info(`peer ${id} answers no ping either: hanging up (${String(err)})`)
      for (const c of this.host.getConnections(peer)) c.abort(new Error(`peer ${id} went silent and answers no ping`))
    }
  }

  /** The master named by the last election change (null after stepping down). */
  private followed: string | null = null

  private onElection (c: ElectionChange): void {
    this.electionChangedAt = Date.now()
    const before = this.followed
    this.followed = c.master
    if (before !== null && before !== this.id && before !== c.master && c.master !== null) this.membership.passedOver(before, Date.now())
    this.events.emit({ type: 'election', kind: c.kind, master: c.master, term: c.term, at: Date.now() })
    if (c.kind === 'became-master') {
      this.log.info(`became master (term ${c.term})`)
      this.scheduler.pump()
    } else {
      if (c.kind === 'became-follower') this.log.info(`following master ${c.master} (term ${c.term})`)
      else this.log.info(`stepped down (term ${c.term})`)
      this.scheduler.reset()
      this.services.steppedDown()
    }
    this.gossip.publish()
  }

  private report (joiner: boolean): Omit<LoadReport, 'seq' | 'v' | 'cluster' | 'every'> {
    return {
      id: this.id,
      priority: this.priority,
      term: this.election.term,
      isMaster: this.election.isMaster,
      master: this.election.master,
      ...(this.election.masterPriority ? { masterPriority: this.election.masterPriority } : {}),
      cpu: this.load.cpu,
      mem: this.load.mem,
      running: this.worker.running,
      maxJobs: this.worker.maxJobs,
      maxCpu: this.maxCpu,
      maxMem: this.maxMem,
      accepting: this.accepting,
      spawnedBy: this.init.spawnedBy ?? null,
      queue: this.election.isMaster ? this.scheduler.queueLength : 0,
      languages: this.executor.languages.map((l) => l.name),
      jobs: this.worker.jobs.map((j) => j.id),
      addrs: this.addrs,
      version: VERSION,
      ...(joiner || Date.now() - this.membershipChangedAt < PEER_EXCHANGE_MS ? { peers: this.membership.up.slice(0, MAX_PEERS_IN_REPORT).map((m) => ({ id: m.id, addrs: m.report.addrs.slice(0, 2) })) } : {}),
    }
  }

  private * views (): Iterable<NodeView> {
    yield {
      id: this.id,
      up: true,
      languages: this.executor.languages.map((l) => l.name),
      maxJobs: this.worker.maxJobs,
      running: this.worker.running,
      cpu: this.load.cpu,
      mem: this.load.mem,
      maxCpu: this.maxCpu,
      maxMem: this.maxMem,
      accepting: this.accepting,
      jobs: this.worker.jobs.map((j) => j.id),
    }
    for (const m of this.membership.up) {
      const r = m.report
      yield { id: m.id, up: true, languages: r.languages, maxJobs: r.maxJobs, running: r.running, cpu: r.cpu, mem: r.mem, maxCpu: r.maxCpu, maxMem: r.maxMem, accepting: r.accepting, jobs: r.jobs }
    }
  }

  status (): Status {
    const local = this.localStatus()
    const now = Date.now()
    const master = this.election.master
    const nodes: Status['nodes'] = [{
      id: this.id, role: master === this.id ? 'master' : 'worker', up: true, addrs: local.addrs, cpu: local.cpu, mem: local.mem,
      running: local.running, maxJobs: local.maxJobs, languages: local.languages.map((l) => l.name), lastSeenMs: 0,
      accepting: this.accepting, spawnedBy: this.init.spawnedBy ?? null,
    }]
    for (const m of this.membership.members.values()) {
      const r = m.report
      nodes.push({
        id: m.id, role: master === m.id ? 'master' : 'worker', up: m.up, addrs: r.addrs, cpu: r.cpu, mem: r.mem,
        running: r.running, maxJobs: r.maxJobs, languages: r.languages, lastSeenMs: now - m.lastSeen,
        accepting: r.accepting, spawnedBy: r.spawnedBy ?? null,
      })
    }
    nodes.sort((a, b) => a.id.localeCompare(b.id))
    return {
      self: this.id, cluster: this.cluster, master, term: this.election.term, masterSince: this.electionChangedAt, nodes, local,
      ...(this.autoscaler === undefined ? {} : { autoscale: this.autoscaler.status() }),
    }
  }

  localStatus (): NodeStatus {
    const now = Date.now()
    const queued = this.entry.unfinished.filter((j) => j.state === 'queued')
    return {
      id: this.id,
      version: VERSION,
      addrs: this.addrs,
      languages: this.executor.languages,
      maxJobs: this.worker.maxJobs,
      running: this.worker.running,
      queued: queued.length,
      cpu: this.load.cpu,
      mem: this.load.mem,
      jobs: [
        ...this.worker.jobs.map((j) => ({ id: j.id, language: j.language, stage: j.stage, elapsedMs: now - j.startedAt })),
        ...queued.map((j) => ({ id: j.spec.id, language: j.language, stage: 'queued' as const, elapsedMs: now - j.acceptedAt })),
      ],
      sandbox: this.executor.sandbox,
      uptimeMs: now - this.startedAt,
      streams: { ...this.inboundStreams, [PROTOCOL_ELECTION]: this.election.messagesIn },
      gossip: { published: this.gossip.published, bytes: this.gossip.bytesOut, largest: this.gossip.largest, full: this.gossip.fullPublished },
      placements: { ...this.placement.counts, leases: this.placement.leases },
      cache: this.executor.cache,
    }
  }
}

export class OpenWithoutKeyError extends Error {
  override name = 'OpenWithoutKeyError'
}

function isLoopback (addr: string): boolean {
  return /^\/ip4\/127\.|^\/ip6\/::1\/|^\/dns4?\/localhost\//.test(addr)
}

/** `--peer` values: HOST:PORT or multiaddrs. */
export function parsePeers (values: string[], parse: (s: string) => Multiaddr): Multiaddr[] {
  return values.map((v) => (v.startsWith('/') ? multiaddr(v) : parse(v)))
}
