/**
 * Load gossip: every node publishes its load report on the cluster's topic at
 * a short interval and hears everyone else's. Reports are validated (size,
 * schema, cluster name, and the sender must be the peer the report is about).
 */
import type { GossipSub, Message } from '@libp2p/gossipsub'
import { loadReportSchema, type LoadReport } from './schemas.ts'
import type { Logger } from './log.ts'

export const MAX_REPORT_BYTES = 8 * 1024

export interface LoadGossipInit {
  pubsub: GossipSub
  cluster: string
  intervalMs: number
  makeReport: () => Omit<LoadReport, 'seq' | 'v' | 'cluster'>
  onReport: (report: LoadReport) => void
  log: Logger
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function topicFor (cluster: string): string {
  return `/meshrun/${cluster}/load/1`
}

export class LoadGossip {
  private readonly init: LoadGossipInit
  private readonly topic: string
  private seq = Date.now()
  private timer: NodeJS.Timeout | undefined
  /** Reports published since start, and their bytes (for benchmarks and guards). */
  published = 0
  bytesOut = 0
  /** The largest report published so far, in bytes. */
  largest = 0
  private readonly onMessage = (evt: CustomEvent<Message>): void => { this.receive(evt.detail) }

  constructor (init: LoadGossipInit) {
    this.init = init
    this.topic = topicFor(init.cluster)
  }

  start (): void {
    this.init.pubsub.subscribe(this.topic)
    this.init.pubsub.addEventListener('message', this.onMessage)
    this.timer = setInterval(() => { this.publish() }, this.init.intervalMs)
    this.publish()
  }

  stop (): void {
    clearInterval(this.timer)
    this.init.pubsub.removeEventListener('message', this.onMessage)
    try { this.init.pubsub.unsubscribe(this.topic) } catch {}
  }

  /** Publish now (also called on role changes so peers learn at once). */
  publish (): void {
    const report: LoadReport = { v: 1, cluster: this.init.cluster, seq: ++this.seq, ...this.init.makeReport() }
    const data = encoder.encode(JSON.stringify(report))
    this.published++
    this.bytesOut += data.byteLength
    this.largest = Math.max(this.largest, data.byteLength)
    this.init.pubsub.publish(this.topic, data).catch((err: unknown) => { this.init.log.debug(`gossip publish failed: ${String(err)}`) })
  }

  private receive (msg: Message): void {
    if (msg.topic !== this.topic || msg.type !== 'signed') return
    if (msg.data.byteLength > MAX_REPORT_BYTES) return
    let value: unknown
    try { value = JSON.parse(decoder.decode(msg.data)) } catch { return }
    const parsed = loadReportSchema.safeParse(value)
    if (!parsed.success) {
      this.init.log.debug(`ignored a malformed load report from ${msg.from.toString()}`)
      return
    }
    const report = parsed.data
    if (report.cluster !== this.init.cluster || report.id !== msg.from.toString()) return
    this.init.onReport(report)
  }
}
