/**
 * Drives the pure bully state machine (src/election) with libp2p and real
 * timers: election messages travel on /meshrun/election (one small stream
 * per message), peers come and go with membership, reports feed conflicts.
 */
import { peerIdOf } from './peer-ids.ts'
import type { Stream } from '@libp2p/interface'
import { z } from 'zod'
import {
  getMaster, getRole, getTerm, initElection, isMaster, step,
  type ElectionAction, type ElectionConfig, type ElectionEvent, type ElectionMessage, type ElectionState, type Rank, type Role, type TimerName,
} from '../election/index.ts'
import type { Host } from './host.ts'
import { Channel } from './wire.ts'
import { PROTOCOL_ELECTION } from './protocols.ts'
import type { Logger } from './log.ts'

const wireSchema = z.object({
  type: z.enum(['ELECTION', 'ANSWER', 'COORDINATOR']),
  term: z.number().int().nonnegative(),
  priority: z.number().int(),
})
type Wire = z.infer<typeof wireSchema>

/** The most a wait for a peer is stretched by lag (see `lag`). */
const MAX_SLACK_MS = 1500
/** A peer a message could not reach this recently is not given the benefit of the doubt (see the answer timer). */
const UNREACHABLE_MS = 2000

/**
 * How late a periodic timer runs (event-loop lag), from its own ticks: the
 * worst lateness lately, decaying by a fifth per tick. Costs nothing of its
 * own (it rides a timer the node has anyway).
 */
export class LagGauge {
  private last = 0
  private worst = 0

  tick (now: number, every: number): void {
    if (this.last > 0) this.worst = Math.max(now - this.last - every, this.worst * 0.8, 0)
    this.last = now
  }

  get ms (): number { return this.worst }
}

export interface ElectionChange {
  role: Role
  master: string | null
  term: number
  /** What happened, for logs and the event stream. */
  kind: 'became-master' | 'became-follower' | 'stepped-down'
}

export interface ElectionDriverInit {
  host: Host
  self: Rank
  config?: Partial<ElectionConfig>
  /** Peers considered live (for broadcast). */
  livePeers: () => Iterable<string>
  /** How late this process's timers have run lately, in ms (a loaded machine); election waits stretch by it. */
  lag?: () => number
  /** The peer's reports are arriving on time (its last one is recent): it is alive, however slow to answer. */
  onTime?: (peer: string) => boolean
  /** Connect to this peer (a master above us that others' reports name); called once per such report. */
  seek?: (peer: string) => void
  onChange: (change: ElectionChange) => void
  log: Logger
}

export class ElectionDriver {
  private state: ElectionState
  private readonly init: ElectionDriverInit
  private readonly timers = new Map<TimerName, NodeJS.Timeout>()
  /** Bumped when a timer is set or cancelled: a firing deferred past I/O checks it is still the current one. */
  private readonly gens = new Map<TimerName, number>()
  private waiters = new Set<() => void>()
  private stopped = false
  /** Elections this node has seen complete (for metrics). */
  elections = 0
  /** Election messages received (for guards and metrics). */
  messagesIn = 0

  constructor (init: ElectionDriverInit) {
    this.init = init
    this.state = initElection(init.self, init.config)
  }

  get role (): Role { return getRole(this.state) }
  get master (): string | null { return getMaster(this.state) }
  get term (): number { return getTerm(this.state) }
  get isMaster (): boolean { return isMaster(this.state) }

  async start (): Promise<void> {
    await this.listen()
    this.begin()
  }

  /** Take election messages (before standing for election). */
  async listen (): Promise<void> {
    await this.init.host.handle(PROTOCOL_ELECTION, (stream, conn) => { void this.receive(stream, conn.remotePeer.toString()) }, { maxInboundStreams: 256 })
  }

  /**
   * Boot the state machine: after its startup delay it elects, or at once
   * when `settled` (the node already waited to hear its peers and their masters).
   */
  begin (settled = false): void {
    this.feed({ type: 'start', settled })
  }

  stop (): void {
    this.stopped = true
    for (const t of this.timers.values()) clearTimeout(t)
    this.timers.clear()
    this.wake()
  }

  /** Resolves at the next change of master, term or role. */
  async changed (signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw signal.reason
    await new Promise<void>((resolve, reject) => {
      const waiter = (): void => { signal.removeEventListener('abort', onAbort); resolve() }
      // Gone from the list when given up: every remote placement waits here (placement.ts).
      const onAbort = (): void => { this.waiters.delete(waiter); reject(signal.reason) }
      signal.addEventListener('abort', onAbort, { once: true })
      this.waiters.add(waiter)
    })
  }

  peerUp (peer: string, priority: number): void { this.feed({ type: 'peerUp', peer, rank: { priority, id: peer } }) }
  peerDown (peer: string): void { this.feed({ type: 'peerDown', peer }) }
  /** `master`: the master the sender follows, if its report says so for this term. */
  report (from: string, priority: number, term: number, claimsMaster: boolean, master?: Rank | null): void {
    this.feed({ type: 'report', from, rank: { priority, id: from }, term, isMaster: claimsMaster, master: master ?? null })
  }

  /** The master's priority as this node knows it (its own when master), for reports. */
  get masterPriority (): number | undefined {
    const master = getMaster(this.state)
    return master === null ? undefined : master === this.init.self.id ? this.init.self.priority : this.state.peers.get(master)
  }

  private feed (event: ElectionEvent): void {
    if (this.stopped) return
    const { state, actions } = step(this.state, event)
    this.state = state
    for (const a of actions) this.execute(a)
  }

  private execute (a: ElectionAction): void {
    switch (a.type) {
      case 'send': this.send(a.to, a.msg); break
      case 'broadcast':
        for (const peer of this.init.livePeers()) this.send(peer, a.msg)
        break
      case 'setTimer': {
        clearTimeout(this.timers.get(a.name))
        const gen = (this.gens.get(a.name) ?? 0) + 1
        this.gens.set(a.name, gen)
        // Waits for peers stretch by this process's recent lag: on a loaded
        // machine answers come late as timers do, and 30 nodes on two cores
        // crowned a master per timeout, term after term.
        const ms = a.name === 'startup' ? a.ms : a.ms + Math.min(MAX_SLACK_MS, 2 * (this.init.lag?.() ?? 0))
        const t = setTimeout(() => {
          this.timers.delete(a.name)
          // A timer late by a stall runs before the sockets are read: read
          // what already arrived (an ANSWER, a COORDINATOR) before deciding.
          setImmediate(() => {
            if (this.gens.get(a.name) !== gen) return
            if (a.name === 'answer' && this.masterStillHeard()) this.execute(a) // wait on
            else this.feed({ type: 'timer', name: a.name })
          })
        }, ms)
        this.timers.set(a.name, t)
        break
      }
      case 'cancelTimer':
        clearTimeout(this.timers.get(a.name))
        this.timers.delete(a.name)
        this.gens.set(a.name, (this.gens.get(a.name) ?? 0) + 1)
        break
      case 'becameMaster':
        this.elections++
        this.notify({ role: 'master', master: this.init.self.id, term: a.term, kind: 'became-master' })
        break
      case 'becameFollower':
        this.notify({ role: 'follower', master: a.master, term: a.term, kind: 'became-follower' })
        break
      case 'steppedDown':
        this.notify({ role: this.role, master: null, term: a.term, kind: 'stepped-down' })
        break
      case 'seek':
        this.init.seek?.(a.peer)
        break
    }
  }

  private notify (change: ElectionChange): void {
    this.init.onChange(change)
    this.wake()
  }

  /** Resolves every pending `changed`. */
  private wake (): void {
    const waiters = [...this.waiters]
    this.waiters.clear()
    for (const w of waiters) w()
  }

  private send (to: string, msg: ElectionMessage): void {
    const wire: Wire = { ...msg, priority: this.init.self.priority }
    void (async () => {
      const stream = await this.init.host.dialProtocol(peerIdOf(to), PROTOCOL_ELECTION, { signal: AbortSignal.timeout(2000) })
      const ch = new Channel<never, Wire>(stream, z.never())
      await ch.write(wire)
      await ch.close()
    })().catch((err: unknown) => {
      const now = Date.now()
      // Only recent losses matter (masterStillHeard): peers come and go (autoscaled workers with new ids).
      for (const [id, at] of this.unreachable) if (now - at > UNREACHABLE_MS) this.unreachable.delete(id)
      this.unreachable.set(to, now)
      this.init.log.debug(`election message to ${to} lost: ${String(err)}`)
    })
  }

  /** When a message to each peer was last lost (no stream to it, or the write failed). */
  private readonly unreachable = new Map<string, number>()

  /**
   * This node follows a master and is probing it (a lower-ranked
   * candidate's ELECTION made it doubt it), and the master's reports still
   * arrive on time while the probe reached it. A prober elects when no
   * ANSWER comes: the master may be dead and this node not have noticed
   * yet. A master whose reports arrive is alive and only slow (a loaded
   * machine): the prober waits on, until its next report ends the probe or
   * its silence proves the doubt (a probe that could not even be sent
   * proves it at once: a killed master's connection is gone before its
   * reports are missed). On 30 nodes starting on two cores, probes answered
   * late made most elections.
   */
  private masterStillHeard (): boolean {
    const master = getMaster(this.state)
    if (getRole(this.state) !== 'follower' || master === null || this.init.onTime?.(master) !== true) return false
    const lost = this.unreachable.get(master)
    return lost === undefined || Date.now() - lost > UNREACHABLE_MS
  }

  private async receive (stream: Stream, from: string): Promise<void> {
    this.messagesIn++
    const ch = new Channel<Wire, never>(stream, wireSchema, 1024)
    try {
      const wire = await ch.read(AbortSignal.timeout(5000))
      await ch.close()
      if (wire === null) return
      // A message proves the sender alive; its rank travels with it.
      this.feed({ type: 'peerUp', peer: from, rank: { priority: wire.priority, id: from } })
      this.feed({ type: 'message', from, msg: { type: wire.type, term: wire.term } })
    } catch (err) {
      ch.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }
}
