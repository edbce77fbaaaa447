/**
 * Load gossip: every node publishes its load report on the cluster's topic at
 * a short interval and hears everyone else's.
 *
 * Every node connects to every other (discovery dials each peer it learns
 * of), so a report published to all topic peers (gossipsub's flood publish)
 * reaches everyone directly, and nothing is relayed: a report is heard only
 * from its author. That is what lets reports go unsigned (gossipsub's
 * StrictNoSign, set in host.ts): the connection a report arrives on is
 * Noise-authenticated, so the validator takes a report only from the node it
 * arrives from (reports leave their author's id out; one that names anyone
 * else is refused). A signature per report (and its check at every
 * receiver, with the copies relaying added) was the largest single cost of
 * an idle node, and worse for a loaded one. While membership changes, and
 * for a peer that just connected, full reports name the peers their sender
 * hears (`peers`), so nodes that joined through different bootstrap peers
 * learn of each other and connect.
 *
 * Bytes: an idle node's light report is ~50 bytes of JSON (the fields not
 * at their idle values), and gossipsub's envelope (topic, protobuf framing)
 * ~30 more; Noise and yamux add 30 per message. Every node sends one to
 * every other, so these bytes are what an idle node costs the network.
 * Gossip about messages (IHAVE to peers outside the mesh, IDONTWANT for
 * large ones) is turned off in host.ts: each report reaches every peer
 * directly, and a lost one is replaced by the next an interval later.
 */
import { TopicValidatorResult, type GossipSub, type Message, type SubscriptionChangeData } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { IDLE_REPORT, STATIC_REPORT_KEYS, wireReportSchema, type LoadReport, type WireReport } from './schemas.ts'
import type { Logger } from './log.ts'

export const MAX_REPORT_BYTES = 16 * 1024
/** At most one report out of turn per this long for peers that just subscribed; later joiners wait for the next (see onSubscription). */
export const JOINER_GAP_MS = 250
const JOINER_RETRY_MS = 50
const JOINER_RETRIES = 5
/**
 * One report in this many is full (with the static parts: languages,
 * limits, addresses…); the others are light. A full report also goes out at
 * once when those parts change and to every peer that joins, so the
 * periodic one makes up for a lost one: light reports from a peer whose
 * full report is missing are ignored until the next. While the cluster
 * forms, that happens (30 nodes started at once on two cores, with a full
 * report every 10 instead of 4, had not agreed on a master after 90 s: peers
 * unknown for 30 s, and elections each time one turned up); once a node is
 * idle and settled (see LoadGossipInit.idle), every FULL_EVERY_SETTLED-th
 * report is enough, and it is most of an idle node's bytes.
 */
export const FULL_EVERY = 4
export const FULL_EVERY_SETTLED = 10

/**
 * The report interval for a cluster of `size` nodes: `base` (500 ms) up to
 * 10 nodes, then growing so that each node hears about REPORTS_PER_S reports
 * a second whatever the size (at most 2 s). Every report costs each receiver
 * decryption and parsing: at a fixed 500 ms, 30 nodes on
 * two cores spent all their CPU listening to each other. The price: a silent
 * node is noticed after 4 intervals, 2 s up to 10 nodes, 6 s at 30.
 */
export function reportInterval (base: number, size: number): number {
  return Math.round(Math.max(base, Math.min(MAX_INTERVAL_MS, 1000 * size / REPORTS_PER_S)))
}
const REPORTS_PER_S = 20
const MAX_INTERVAL_MS = 2000

/**
 * An idle node (nothing running, queued or in hand) reports every
 * IDLE_EVERY intervals; work arriving brings the next report within an
 * interval, as role changes bring one at once. Its reports
 * still state the interval: receivers mark it down after the same silence
 * (4 intervals, see membership.ts), so a stopped idle node is found as
 * fast as before, with 2 intervals of slack for a late report instead of 3.
 * Half the reports of an idle cluster was half its CPU.
 */
export const IDLE_EVERY = 2
/**
 * An idle follower whose last report said so (see `quietReport`) reports
 * every QUIET_EVERY intervals, and receivers give it as many times more
 * silence before marking it down (`silenceFactor`): 8 intervals, 4 s in a
 * cluster of up to 10. Only the master's silence starts an election (the
 * SIGSTOP target is about it) and a busy node's puts jobs on hold, so those
 * stay as they were; a stopped idle follower is found 2 s later. Each node
 * of an idle cluster then hears ~half as many reports (one from the master
 * per IDLE_EVERY intervals, one from each follower per QUIET_EVERY), and
 * sends half as many.
 */
export const QUIET_EVERY = 4

/** A report that says its sender is an idle follower: nothing running, queued or in hand, not the master. */
export function quietReport (r: Pick<LoadReport, 'isMaster' | 'running' | 'queue' | 'jobs'>): boolean {
  return !r.isMaster && r.running === 0 && r.queue === 0 && r.jobs.length === 0
}

/** How many times the usual silence (4 intervals) a receiver allows after this report. */
export function silenceFactor (r: Pick<LoadReport, 'isMaster' | 'running' | 'queue' | 'jobs'>): number {
  return quietReport(r) ? QUIET_EVERY / IDLE_EVERY : 1
}

export interface LoadGossipInit {
  pubsub: GossipSub
  cluster: string
  /** The interval before the next report (asked again each time). */
  intervalMs: () => number
  /** `joiner`: this report goes out for a peer that just subscribed (it should name the peers heard). */
  makeReport: (joiner: boolean) => Omit<LoadReport, 'seq' | 'v' | 'cluster' | 'every'>
  /**
   * Nothing running, queued or in hand here, a master known and no peer
   * joined or left lately: reports may go out at half the rate (IDLE_EVERY;
   * QUIET_EVERY for a follower), and fewer of them full (FULL_EVERY_SETTLED).
   */
  idle: () => boolean
  /** A report, received from the node it describes. */
  onReport: (report: LoadReport) => void
  log: Logger
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function topicFor (cluster: string): string {
  return `/meshrun/${cluster}/load/3`
}

export class LoadGossip {
  private readonly init: LoadGossipInit
  private readonly topic: string
  /**
   * Grows with every report, and across restarts (the clock, in µs-sized
   * steps); the random part keeps two nodes started in the same millisecond
   * apart: their idle reports would be the same bytes, and gossipsub takes
   * a message it has seen (same id) for a duplicate.
   */
  private seq = Date.now() * 1000 + Math.floor(Math.random() * 1000)
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  /** Each peer's last full report (light ones are completed from it), and when it last reported. */
  private readonly fulls = new Map<string, { report: LoadReport, at: number }>()
  /** The static parts last sent, reports since, and whether the next must be full anyway. */
  private lastStatic = ''
  private sinceFull = 0
  private fullNext = true
  /** Reports published since start, and their bytes (for benchmarks and guards). */
  published = 0
  bytesOut = 0
  /** The largest report published so far, in bytes. */
  largest = 0
  /** Full reports among them. */
  fullPublished = 0
  /** The last report published said its sender was an idle follower (quietReport). */
  private quiet = false

  constructor (init: LoadGossipInit) {
    this.init = init
    this.topic = topicFor(init.cluster)
  }

  start (): void {
    this.init.pubsub.topicValidators.set(this.topic, (source, msg) => this.validate(source, msg))
    this.init.pubsub.addEventListener('subscription-change', this.onSubscription)
    this.init.pubsub.subscribe(this.topic)
    this.publish()
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
    clearTimeout(this.joinerTimer)
    this.init.pubsub.removeEventListener('subscription-change', this.onSubscription)
    this.init.pubsub.topicValidators.delete(this.topic)
    try { this.init.pubsub.unsubscribe(this.topic) } catch {}
  }

  /**
   * Publish now (also called on role changes so peers learn at once); the
   * next one follows an interval later. `reached` gets the peers it went to.
   */
  publish (joiner = false, reached?: (ids: Set<string>) => void): void {
    if (this.stopped) return
    clearTimeout(this.timer)
    const every = this.init.intervalMs()
    this.arm(every, 1)
    const report: LoadReport = { v: 1, cluster: this.init.cluster, seq: ++this.seq, every, ...this.init.makeReport(joiner) }
    this.quiet = quietReport(report)
    // Light reports leave out what rarely changes; a full one goes out when
    // it changed, every FULL_EVERY reports, and when a peer joins.
    // A new term makes a full report too: it names the master of that term
    // (receivers take a light report's master only when its term is the
    // full one's, see validate).
    const stat = JSON.stringify([...STATIC_REPORT_KEYS.map((k) => report[k]), report.term])
    const full = this.fullNext || stat !== this.lastStatic || ++this.sinceFull >= (this.init.idle() ? FULL_EVERY_SETTLED : FULL_EVERY)
    if (full) {
      this.fullPublished++
      this.lastStatic = stat
      this.sinceFull = 0
      this.fullNext = false
    }
    // Light reports leave out the static parts and the peers heard (a
    // joiner gets a full one first); neither carries fields at their idle
    // values (receivers fill them in).
    const sent: Record<string, unknown> = { ...report }
    delete sent.id
    if (!full) {
      for (const k of STATIC_REPORT_KEYS) delete sent[k]
      delete sent.peers
    }
    for (const [k, idle] of Object.entries(IDLE_REPORT)) {
      const v = sent[k]
      if (v === idle || (Array.isArray(idle) && Array.isArray(v) && v.length === 0)) delete sent[k]
    }
    const data = encoder.encode(JSON.stringify(sent))
    this.published++
    this.bytesOut += data.byteLength
    this.largest = Math.max(this.largest, data.byteLength)
    this.init.pubsub.publish(this.topic, data)
      .then((r) => { reached?.(new Set(r.recipients.map((p) => p.toString()))) })
      .catch((err: unknown) => { this.init.log.debug(`gossip publish failed: ${String(err)}`) })
  }

  /**
   * The next report in an interval; an idle node lets IDLE_EVERY − 1
   * intervals pass without one, an idle follower whose last report said so
   * QUIET_EVERY − 1 (receivers judge its silence by that report).
   */
  private arm (every: number, passed: number): void {
    this.timer = setTimeout(() => {
      if (passed < (this.quiet ? QUIET_EVERY : IDLE_EVERY) && this.init.idle()) this.arm(every, passed + 1)
      else this.publish()
    }, every)
  }

  /**
   * A peer subscribed to the topic (it just connected): it knows nothing of
   * us yet, and light reports are useless to it, so a full one naming the
   * peers we hear (its way to the rest of the cluster) goes out now, or
   * JOINER_GAP_MS after the last one that went out for a joiner (one report
   * serves all who joined meanwhile). Every report goes to every peer: when 30 nodes joined
   * at once, a full report per joiner from each node to all was a cost
   * growing with the cube of the cluster, and it held two cores for a minute.
   */
  private readonly onSubscription = (evt: CustomEvent<SubscriptionChangeData>): void => {
    if (!evt.detail.subscriptions.some((s) => s.subscribe && s.topic === this.topic)) return
    this.joiners.set(evt.detail.peerId.toString(), 0)
    this.fullNext = true
    this.forJoiners(JOINER_GAP_MS)
  }

  /** Peers that subscribed and have not had a full report yet, with the tries so far. */
  private readonly joiners = new Map<string, number>()
  private joinerTimer: NodeJS.Timeout | undefined
  private lastForJoiner = 0

  /**
   * A full report for the joiners, `gap` after the last one. A joiner's
   * subscription can arrive before our own stream to it is open; gossipsub
   * then leaves it out, so it is tried again shortly (JOINER_RETRIES times).
   */
  private forJoiners (gap: number): void {
    if (this.joinerTimer !== undefined || this.joiners.size === 0 || this.stopped) return
    const go = (): void => {
      this.joinerTimer = undefined
      this.lastForJoiner = Date.now()
      const waiting = [...this.joiners]
      this.publish(true, (reached) => {
        for (const [id, tries] of waiting) {
          if (reached.has(id) || tries >= JOINER_RETRIES) this.joiners.delete(id)
          else if (this.joiners.get(id) === tries) this.joiners.set(id, tries + 1)
        }
        this.forJoiners(JOINER_RETRY_MS)
      })
    }
    const wait = this.lastForJoiner + gap - Date.now()
    if (wait <= 0) go()
    else this.joinerTimer = setTimeout(go, wait)
  }

  /** A peer joined: send it our full report with the next one. */
  sendFullNext (): void {
    this.fullNext = true
  }

  private prune (now: number): void {
    for (const [id, f] of this.fulls) {
      if (now - f.at > FORGET_FULL_MS) this.fulls.delete(id)
    }
  }

  /**
   * Reads a report and hands it on. Never Accept: gossipsub would relay it,
   * and reports are only taken from their author (see the top of this file).
   */
  private validate (source: PeerId, msg: Message): TopicValidatorResult {
    if (msg.data.byteLength > MAX_REPORT_BYTES || msg.type !== 'unsigned') return TopicValidatorResult.Reject
    let value: unknown
    try { value = JSON.parse(decoder.decode(msg.data)) } catch { return TopicValidatorResult.Reject }
    const parsed = wireReportSchema.safeParse(value)
    const author = source.toString()
    if (!parsed.success || (parsed.data.cluster !== undefined && parsed.data.cluster !== this.init.cluster) || (parsed.data.id !== undefined && parsed.data.id !== author)) {
      this.init.log.debug(`ignored a malformed or relayed load report from ${author}`)
      return TopicValidatorResult.Reject
    }
    const wire = { ...parsed.data, id: author }
    let report: LoadReport
    const now = Date.now()
    if (isFull(wire)) {
      report = wire
      const known = this.fulls.get(wire.id)
      if (known === undefined) this.prune(now)
      if (known === undefined || wire.seq > known.report.seq) this.fulls.set(wire.id, { report: wire, at: now })
    } else {
      // A light report of a peer whose full report has not come yet: its next full one will.
      const full = this.fulls.get(wire.id)
      if (full === undefined) return TopicValidatorResult.Ignore
      full.at = now
      const merged: Record<string, unknown> = { ...wire }
      for (const k of STATIC_REPORT_KEYS) merged[k] = full.report[k]
      // The full report of this term was lost: whom it follows now is unknown.
      if (wire.term !== full.report.term) merged.master = null
      report = merged as LoadReport
    }
    this.init.onReport(report)
    return TopicValidatorResult.Ignore
  }
}

/** Peers silent this long are forgotten (autoscaled workers come and go with new ids). */
const FORGET_FULL_MS = 10 * 60_000

function isFull (r: WireReport): r is LoadReport {
  return STATIC_REPORT_KEYS.every((k) => k === 'spawnedBy' || k === 'master' || k === 'masterPriority' || k === 'every' || r[k] !== undefined)
}
