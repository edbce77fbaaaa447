/**
 * A deterministic simulated network for the election state machine, in the
 * spirit of etcd/raft's test network: a fake clock, a delivery queue with
 * random delay and loss from a seeded PRNG, crash/restart, and link cuts.
 *
 * Each node has a tiny adapter like the real one: a failure detector that
 * feeds peerUp when a connection opens (or a report arrives from a peer it
 * thought gone) and peerDown when a connection closes (or, for a peer heard
 * of only through relayed reports, when those stop), periodic load reports
 * relayed through the node's connected component (as gossipsub would; or,
 * with `relayReports: false`, only to linked peers, as meshrun's are), and
 * timers on the fake clock. Direct messages need a direct link. A report
 * names the master its sender follows.
 */
import {
  compareRank,
  initElection,
  step,
  type ElectionAction,
  type ElectionConfig,
  type ElectionEvent,
  type ElectionMessage,
  type ElectionState,
  type Rank,
  type TimerName,
} from '../../src/election/index.ts'
import { Links } from './links.ts'
import { TimeQueue } from './queue.ts'
import { prng } from '../helpers/prng.ts'

export interface SimOptions {
  seed?: number
  /** Delivery delay of a message or report, uniform in [min, max] ms. */
  minDelayMs?: number
  maxDelayMs?: number
  /** Probability that a message (or one copy of a report) is lost. */
  drop?: number
  /** From a link coming up to peerUp on both ends. */
  connectMs?: number
  /** From a link going down (crash, cut) to peerDown on the surviving ends. */
  detectMs?: number
  reportIntervalMs?: number
  /** A peer with no direct link is down after this many report intervals of silence. */
  staleReports?: number
  /** Reports reach the sender's whole component (true, the default) or only the peers linked to it. */
  relayReports?: boolean
  config?: Partial<ElectionConfig>
}

type Item =
  | { kind: 'msg'; from: string; fromInc: number; to: string; toInc: number; msg: ElectionMessage }
  | { kind: 'report'; from: string; fromInc: number; to: string; toInc: number; term: number; isMaster: boolean; master: Rank | null }
  | { kind: 'timer'; node: string; inc: number; name: TimerName; token: number }
  | { kind: 'link'; node: string; inc: number; peer: string }
  | { kind: 'tick'; node: string; inc: number }

export interface SimNode {
  readonly id: string
  readonly priority: number
  alive: boolean
  /** Bumped at every (re)start; stale deliveries to or from an old incarnation are dropped. */
  inc: number
  state: ElectionState
  /** The adapter's view: peers it believes live, with the incarnation it saw. */
  view: Map<string, number>
  /** Last time a report from each peer arrived. */
  heard: Map<string, number>
  timers: Map<TimerName, number>
  /** Notifications (becameMaster, becameFollower, steppedDown) with their times. */
  history: { at: number; action: ElectionAction }[]
}

export interface Agreement {
  master: string
  term: number
}

export class Sim {
  now = 0
  readonly nodes = new Map<string, SimNode>()
  readonly trace: string[] = []
  readonly stats = { sent: 0, dropped: 0, delivered: 0, seeks: 0 }
  private readonly o: Required<Omit<SimOptions, 'config' | 'seed'>> & { config: Partial<ElectionConfig> }
  private readonly rand: () => number
  private readonly queue = new TimeQueue<Item>()
  private readonly links = new Links(() => this.nodes.keys(), (id) => this.nodes.get(id)?.alive === true)
  private tokens = 0
  private events = 0
  /** Guard against livelock: a run that processes more events than this throws. */
  maxEvents = 2_000_000

  constructor(opts: SimOptions = {}) {
    this.rand = prng(opts.seed ?? 1)
    this.o = {
      minDelayMs: opts.minDelayMs ?? 1,
      maxDelayMs: opts.maxDelayMs ?? 5,
      drop: opts.drop ?? 0,
      connectMs: opts.connectMs ?? 2,
      detectMs: opts.detectMs ?? 1,
      reportIntervalMs: opts.reportIntervalMs ?? 100,
      staleReports: opts.staleReports ?? 3,
      relayReports: opts.relayReports ?? true,
      config: opts.config ?? {},
    }
  }

  // --- cluster control ---------------------------------------------------------

  add(id: string, priority = 0): SimNode {
    if (this.nodes.has(id)) throw new Error(`sim: node ${id} exists`)
    const n: SimNode = {
      id, priority, alive: false, inc: 0, state: initElection({ id, priority }, this.o.config),
      view: new Map(), heard: new Map(), timers: new Map(), history: [],
    }
    this.nodes.set(id, n)
    return n
  }

  /** Boots (or reboots, after a crash) nodes with a fresh state: term 0, no peers. */
  start(...ids: string[]): void {
    for (const id of ids) {
      const n = this.node(id)
      if (n.alive) throw new Error(`sim: ${id} is already running`)
      n.alive = true
      n.inc += 1
      n.state = initElection({ id, priority: n.priority }, this.o.config)
      n.view.clear()
      n.heard.clear()
      n.timers.clear()
      this.links.changed()
      this.log(id, 'start')
      this.feed(n, { type: 'start' })
      this.queue.push(this.now + Math.floor(this.rand() * this.o.reportIntervalMs), { kind: 'tick', node: id, inc: n.inc })
      for (const other of this.nodes.values()) {
        if (this.linked(id, other.id)) this.checkLinkBothWays(id, other.id, this.o.connectMs)
      }
    }
  }

  crash(id: string): void {
    const n = this.node(id)
    if (!n.alive) return
    n.alive = false
    n.timers.clear()
    this.links.changed()
    this.log(id, 'crash')
    for (const other of this.live()) this.checkLink(other.id, id, this.o.detectMs)
  }

  restart(id: string): void {
    this.crash(id)
    this.start(id)
  }

  cut(a: string, b: string): void {
    this.links.cut(a, b)
    this.checkLinkBothWays(a, b, this.o.detectMs)
  }

  isolate(id: string): void {
    for (const other of this.nodes.keys()) if (other !== id) this.cut(id, other)
  }

  /** Cuts every link between different groups. */
  partition(...groups: string[][]): void {
    groups.forEach((g, i) => {
      for (const h of groups.slice(i + 1)) for (const a of g) for (const b of h) this.cut(a, b)
    })
  }

  /** Links a pair that was cut (a connection between two nodes that had not met). */
  join(a: string, b: string): void {
    if (this.links.uncut(a, b)) this.checkLinkBothWays(a, b, this.o.connectMs)
  }

  heal(): void {
    for (const [a, b] of this.links.healAll()) this.checkLinkBothWays(a, b, this.o.connectMs)
  }

  /** `node`'s failure detector gives up on `peer` now (its peers may take longer to notice). */
  suspect(node: string, peer: string): void {
    const n = this.node(node)
    if (n.alive && n.view.has(peer)) this.peerDown(n, peer)
  }

  setDrop(p: number): void {
    this.o.drop = p
  }

  /** Delivers a hand-made message to `to` right now (bypassing the network). */
  inject(from: string, to: string, msg: ElectionMessage): readonly ElectionAction[] {
    return this.feed(this.node(to), { type: 'message', from, msg })
  }

  // --- running -------------------------------------------------------------------

  run(ms: number): void {
    const end = this.now + ms
    for (;;) {
      const at = this.queue.peekTime()
      if (at === undefined || at > end) break
      this.process()
    }
    this.now = end
  }

  /** Runs until `pred` holds; returns the simulated ms it took, or null after `maxMs`. */
  runUntil(pred: () => boolean, maxMs: number): number | null {
    const start = this.now
    const end = start + maxMs
    if (pred()) return 0
    for (;;) {
      const at = this.queue.peekTime()
      if (at === undefined || at > end) {
        this.now = end
        return null
      }
      this.process()
      if (pred()) return this.now - start
    }
  }

  // --- queries -------------------------------------------------------------------

  node(id: string): SimNode {
    const n = this.nodes.get(id)
    if (n === undefined) throw new Error(`sim: no node ${id}`)
    return n
  }

  live(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.alive)
  }

  linked(a: string, b: string): boolean {
    return this.links.linked(a, b)
  }

  /** Live nodes grouped by connectivity. */
  components(): string[][] {
    return this.links.components()
  }

  /** The highest-ranked of `ids`. */
  top(ids: string[]): string {
    const ranks = ids.map((id): Rank => ({ id, priority: this.node(id).priority }))
    const best = ranks.reduce((a, b) => (compareRank(a, b) >= 0 ? a : b))
    return best.id
  }

  /** All of `ids` are live and agree: one master, every other follows it at its term. */
  agreement(ids: string[]): Agreement | null {
    const masters = ids.filter((id) => this.node(id).alive && this.node(id).state.role === 'master')
    if (masters.length !== 1) return null
    const master = masters[0]!
    const term = this.node(master).state.term
    for (const id of ids) {
      const s = this.node(id).state
      if (!this.node(id).alive || s.term !== term || s.master !== master) return null
    }
    return { master, term }
  }

  /** Every connected component agrees on a master. */
  converged(): boolean {
    return this.components().every((g) => this.agreement(g) !== null)
  }

  /** Every component's master is its highest-ranked node. */
  convergedOnTop(): boolean {
    return this.components().every((g) => this.agreement(g)?.master === this.top(g))
  }

  describe(): string {
    const rows = [...this.nodes.values()].map((n) => {
      const s = n.state
      const what = n.alive ? `${s.role} term=${s.term} master=${s.master ?? '-'} wait=${s.waiting ?? '-'}` : 'down'
      return `  ${n.id}(p${n.priority}): ${what}`
    })
    return `t=${this.now}\n${rows.join('\n')}`
  }

  // --- internals ------------------------------------------------------------------

  private process(): void {
    const next = this.queue.pop()
    if (next === undefined) return
    if (++this.events > this.maxEvents) throw new Error(`sim: more than ${this.maxEvents} events; a storm?\n${this.describe()}`)
    this.now = next.at
    const it = next.item
    switch (it.kind) {
      case 'msg': return this.deliverMsg(it)
      case 'report': return this.deliverReport(it)
      case 'timer': return this.fireTimer(it)
      case 'link': return this.recheckLink(it.node, it.inc, it.peer)
      case 'tick': return this.tick(it.node, it.inc)
    }
  }

  private feed(n: SimNode, ev: ElectionEvent): readonly ElectionAction[] {
    const r = step(n.state, ev)
    n.state = r.state
    for (const a of r.actions) this.execute(n, a)
    return r.actions
  }

  private execute(n: SimNode, a: ElectionAction): void {
    switch (a.type) {
      case 'send': return this.sendMsg(n.id, a.to, a.msg)
      case 'broadcast':
        for (const to of n.view.keys()) this.sendMsg(n.id, to, a.msg)
        return
      case 'setTimer': {
        const token = ++this.tokens
        n.timers.set(a.name, token)
        this.queue.push(this.now + a.ms, { kind: 'timer', node: n.id, inc: n.inc, name: a.name, token })
        return
      }
      case 'cancelTimer':
        n.timers.delete(a.name)
        return
      case 'seek': // connections come and go as the test says
        this.stats.seeks++
        return
      default:
        n.history.push({ at: this.now, action: a })
        this.log(n.id, formatAction(a))
    }
  }

  private delay(): number {
    const { minDelayMs: lo, maxDelayMs: hi } = this.o
    return lo + Math.floor(this.rand() * (hi - lo + 1))
  }

  private lost(): boolean {
    return this.o.drop > 0 && this.rand() < this.o.drop
  }

  private sendMsg(from: string, to: string, msg: ElectionMessage): void {
    this.stats.sent++
    if (!this.nodes.has(to) || !this.linked(from, to) || this.lost()) {
      this.stats.dropped++
      return
    }
    const item: Item = { kind: 'msg', from, fromInc: this.node(from).inc, to, toInc: this.node(to).inc, msg }
    this.queue.push(this.now + this.delay(), item)
  }

  private current(id: string, inc: number): SimNode | null {
    const n = this.node(id)
    return n.alive && n.inc === inc ? n : null
  }

  private deliverMsg(it: Extract<Item, { kind: 'msg' }>): void {
    const to = this.current(it.to, it.toInc)
    if (to === null || this.current(it.from, it.fromInc) === null || !this.linked(it.from, it.to)) return
    this.stats.delivered++
    this.feed(to, { type: 'message', from: it.from, msg: it.msg })
  }

  private deliverReport(it: Extract<Item, { kind: 'report' }>): void {
    const to = this.current(it.to, it.toInc)
    const from = this.current(it.from, it.fromInc)
    if (to === null || from === null || !(this.o.relayReports ? this.links.reachable(it.from, it.to) : this.linked(it.from, it.to))) return
    to.heard.set(it.from, this.now)
    const rank = { id: from.id, priority: from.priority }
    const seen = to.view.get(from.id)
    if (seen !== from.inc) {
      if (seen !== undefined) this.peerDown(to, from.id)
      to.view.set(from.id, from.inc)
      this.feed(to, { type: 'peerUp', peer: from.id, rank })
    }
    this.feed(to, { type: 'report', from: from.id, rank, term: it.term, isMaster: it.isMaster, master: it.master })
  }

  private fireTimer(it: Extract<Item, { kind: 'timer' }>): void {
    const n = this.current(it.node, it.inc)
    if (n === null || n.timers.get(it.name) !== it.token) return
    n.timers.delete(it.name)
    this.feed(n, { type: 'timer', name: it.name })
  }

  private tick(id: string, inc: number): void {
    const n = this.current(id, inc)
    if (n === null) return
    const { term, role } = n.state
    const m = role === 'follower' ? n.state.master : null
    const master = m === null ? null : { id: m, priority: this.node(m).priority }
    const audience = this.o.relayReports ? this.links.componentOf(id) : [...this.nodes.keys()].filter((to) => this.linked(id, to))
    for (const to of audience) {
      if (to === id || this.lost()) continue
      const item: Item = { kind: 'report', from: id, fromInc: inc, to, toInc: this.node(to).inc, term, isMaster: role === 'master', master }
      this.queue.push(this.now + this.delay(), item)
    }
    const staleMs = this.o.staleReports * this.o.reportIntervalMs
    for (const peer of [...n.view.keys()]) {
      if (!this.linked(id, peer) && this.now - (n.heard.get(peer) ?? -Infinity) > staleMs) this.peerDown(n, peer)
    }
    this.queue.push(this.now + this.o.reportIntervalMs, { kind: 'tick', node: id, inc })
  }

  private checkLink(node: string, peer: string, after: number): void {
    const n = this.node(node)
    if (n.alive) this.queue.push(this.now + after, { kind: 'link', node, inc: n.inc, peer })
  }

  private checkLinkBothWays(a: string, b: string, after: number): void {
    this.checkLink(a, b, after)
    this.checkLink(b, a, after)
  }

  /** The connection between node and peer opened or closed: update the adapter's view. */
  private recheckLink(node: string, inc: number, peer: string): void {
    const n = this.current(node, inc)
    if (n === null) return
    const want = this.linked(node, peer) ? this.node(peer).inc : undefined
    const seen = n.view.get(peer)
    if (want === seen) return
    if (seen !== undefined) this.peerDown(n, peer)
    if (want !== undefined) {
      n.view.set(peer, want)
      this.feed(n, { type: 'peerUp', peer, rank: { id: peer, priority: this.node(peer).priority } })
    }
  }

  private peerDown(n: SimNode, peer: string): void {
    n.view.delete(peer)
    n.heard.delete(peer)
    this.feed(n, { type: 'peerDown', peer })
  }

  private log(node: string, text: string): void {
    this.trace.push(`${this.now} ${node} ${text}`)
  }
}

/** `becameFollower master=n2 term=3`, `send to=n1 COORDINATOR term=2`, … */
export function formatAction(a: ElectionAction): string {
  const { type, ...rest } = a
  const parts = Object.entries(rest).map(([k, v]) =>
    typeof v === 'object' && v !== null && 'type' in v ? `${String(v.type)} term=${String(v.term)}` : `${k}=${String(v)}`,
  )
  return [type, ...parts].join(' ')
}
