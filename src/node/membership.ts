/**
 * Who is in the cluster, from gossiped load reports and connection events.
 * A peer is up while its reports keep coming; it is down when its last
 * connection closes or its reports stop for `staleMs` (the node then drops
 * its links with it, so a silent peer's jobs are placed again at once).
 */
import type { LoadReport } from './schemas.ts'
import { silenceFactor } from './gossip.ts'

export interface Member {
  id: string
  report: LoadReport
  lastSeen: number
  up: boolean
}

export interface MembershipEvents {
  up: (m: Member) => void
  down: (m: Member) => void
  report: (m: Member) => void
}

export class Membership {
  readonly members = new Map<string, Member>()
  /** A peer is down after this many of its report intervals without a report. */
  private readonly missed: number
  /** The interval assumed for a peer whose reports do not say theirs. */
  private readonly defaultEvery: number
  private readonly listeners: { [K in keyof MembershipEvents]: Array<MembershipEvents[K]> } = { up: [], down: [], report: [] }

  constructor (defaultEvery: number, missed = 4) {
    this.defaultEvery = defaultEvery
    this.missed = missed
  }

  /** How long this peer may stay silent before it is down (longer after a report that says it is an idle follower: see gossip.ts). */
  staleMs (m: Member): number {
    return this.missed * (m.report.every ?? this.defaultEvery) * silenceFactor(m.report)
  }

  /** The peer is up and its last report is recent (within 3/4 of the silence allowed): its reports arrive on time. */
  onTime (id: string, now: number): boolean {
    const m = this.members.get(id)
    return m !== undefined && m.up && now - m.lastSeen < this.staleMs(m) * 3 / 4
  }

  on<K extends keyof MembershipEvents>(event: K, fn: MembershipEvents[K]): void {
    this.listeners[event].push(fn)
  }

  private emit<K extends keyof MembershipEvents>(event: K, m: Member): void {
    for (const fn of this.listeners[event]) (fn as (m: Member) => void)(m)
  }

  get up (): Member[] {
    return [...this.members.values()].filter((m) => m.up)
  }

  /** A report arrived; older sequence numbers (reordered gossip) are ignored. Senders start their
   * sequence at their start time in ms, so a restarted peer is never mistaken for a stale one. */
  onReport (report: LoadReport, now: number): void {
    const known = this.members.get(report.id)
    // Only a newer report counts: gossip may deliver a dead peer's last
    // reports after its connection closed, and they must not revive it.
    if (known !== undefined && report.seq <= known.report.seq) return
    const member: Member = { id: report.id, report, lastSeen: now, up: true }
    this.members.set(report.id, member)
    if (known === undefined || !known.up) this.emit('up', member)
    this.emit('report', member)
  }

  /**
   * The cluster elected a new master past this peer, our master until now:
   * unless its reports still arrive on time (a master deposed by a
   * higher-ranked node is still a good worker), it is down now, not when
   * our own sweep finds its silence: a node that follows the new master on
   * its COORDINATOR, before it noticed the old one stop, otherwise kept the
   * jobs it had sent there waiting up to a second longer.
   */
  passedOver (id: string, now: number): void {
    if (!this.onTime(id, now)) this.markDown(id)
  }

  /** The peer's last connection closed. */
  onDisconnect (id: string): void {
    this.markDown(id)
  }

  private lastSweep = 0

  /**
   * Mark peers whose reports stopped; call a few times per report interval.
   * After a stall of this node's own event loop (a loaded machine), timers
   * run before the reports waiting in the sockets are read: that round only
   * catches up, so a late sweep never marks a live peer down.
   */
  sweep (now: number): void {
    const stalled = this.lastSweep > 0 && now - this.lastSweep > this.missed * this.defaultEvery / 2
    this.lastSweep = now
    if (stalled) {
      for (const m of this.members.values()) if (m.up) m.lastSeen = Math.max(m.lastSeen, now - this.staleMs(m) / 2)
      return
    }
    for (const m of this.members.values()) {
      if (m.up && now - m.lastSeen > this.staleMs(m)) this.markDown(m.id)
    }
  }

  private markDown (id: string): void {
    const m = this.members.get(id)
    if (m === undefined || !m.up) return
    m.up = false
    this.emit('down', m)
  }
}
