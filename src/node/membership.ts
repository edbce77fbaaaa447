/**
 * Who is in the cluster, from gossiped load reports and connection events.
 * A peer is up while its reports keep coming; it is down when its last
 * connection closes or its reports stop for `staleMs`.
 */
import type { LoadReport } from './schemas.ts'

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
  private readonly staleMs: number
  private readonly listeners: { [K in keyof MembershipEvents]: Array<MembershipEvents[K]> } = { up: [], down: [], report: [] }

  constructor (staleMs: number) {
    this.staleMs = staleMs
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

  /** The peer's last connection closed. */
  onDisconnect (id: string): void {
    this.markDown(id)
  }

  /** Mark peers whose reports stopped; call a few times per report interval. */
  sweep (now: number): void {
    for (const m of this.members.values()) {
      if (m.up && now - m.lastSeen > this.staleMs) this.markDown(m.id)
    }
  }

  private markDown (id: string): void {
    const m = this.members.get(id)
    if (m === undefined || !m.up) return
    m.up = false
    this.emit('down', m)
  }
}
