/**
 * Everything a node observes that a watcher (web page, SSE stream, metrics,
 * logs) may want, as one tagged union on one bus.
 */
import type { JobStatus } from '../exec/types.ts'

export type MeshEvent =
  | { type: 'election', kind: 'became-master' | 'became-follower' | 'stepped-down', master: string | null, term: number, at: number }
  | { type: 'peer', id: string, up: boolean, at: number }
  | { type: 'job', id: string, language: string, state: 'accepted' | 'queued' | 'running' | 'done', node: string | null, status: JobStatus | null, at: number }
  /** A scaling decision of this node's autoscaler (`action`: spawn, joined, failed, abandon, or why it waits). */
  | { type: 'autoscale', action: string, reason: string, id: string | null, at: number }

export type MeshEventListener = (event: MeshEvent) => void

export class EventBus {
  private readonly listeners = new Set<MeshEventListener>()
  /** The most recent events, for late subscribers (a page that just opened). */
  readonly recent: MeshEvent[] = []
  private readonly keep: number

  constructor (keep = 200) {
    this.keep = keep
  }

  on (fn: MeshEventListener): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  emit (event: MeshEvent): void {
    this.recent.push(event)
    if (this.recent.length > this.keep) this.recent.shift()
    for (const fn of this.listeners) {
      try { fn(event) } catch {}
    }
  }
}
