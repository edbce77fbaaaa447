/**
 * The cluster as seen each second: one status snapshot per tick, handed to
 * listeners (the event streams), and the nodes' CPU and memory kept for the
 * last minutes so a page that just opened can draw its charts at once.
 */
import type { Status } from '../schemas.ts'

export interface LoadSample {
  /** Unix time in ms. */
  t: number
  /** Node id → [cpu %, mem %]. */
  nodes: Record<string, [number, number]>
}

export type TickListener = (status: Status) => void

export class LoadHistory {
  private readonly samples: LoadSample[] = []
  private readonly listeners = new Set<TickListener>()
  private timer: NodeJS.Timeout | undefined
  private readonly read: () => Status
  private readonly everyMs: number
  private readonly keep: number

  constructor (read: () => Status, everyMs = 1000, keepMs = 5 * 60_000) {
    this.read = read
    this.everyMs = everyMs
    this.keep = Math.ceil(keepMs / everyMs)
  }

  start (): void {
    this.tick()
    this.timer = setInterval(() => { this.tick() }, this.everyMs)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
    this.listeners.clear()
  }

  on (fn: TickListener): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  get recent (): readonly LoadSample[] { return this.samples }

  private tick (): void {
    let status: Status
    try { status = this.read() } catch { return }
    const nodes: LoadSample['nodes'] = {}
    for (const n of status.nodes) if (n.up) nodes[n.id] = [round(n.cpu), round(n.mem)]
    this.samples.push({ t: Date.now(), nodes })
    if (this.samples.length > this.keep) this.samples.shift()
    for (const fn of this.listeners) {
      try { fn(status) } catch {}
    }
  }
}

const round = (x: number): number => Math.round(x * 10) / 10
