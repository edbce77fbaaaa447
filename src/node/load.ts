/**
 * Samples this machine's CPU and memory use at a fixed interval.
 *
 * Memory comes from systeminformation (it reads /proc/meminfo without
 * blocking). CPU is the busy share of the kernel's per-core tick counters
 * between two samples (`os.cpus()`): systeminformation's `currentLoad` runs
 * `sh -c 'cat /proc/stat | grep cpu'` synchronously on every call, which
 * blocked the event loop for ~7 ms a second on every node.
 */
import { cpus } from 'node:os'
import si from 'systeminformation'

export class LoadMonitor {
  cpu = 0
  mem = 0
  private timer: NodeJS.Timeout | undefined
  private readonly intervalMs: number
  private last = ticks()

  constructor (intervalMs = 1000) {
    this.intervalMs = intervalMs
  }

  async start (): Promise<void> {
    await this.sample()
    this.timer = setInterval(() => { void this.sample() }, this.intervalMs)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
  }

  private async sample (): Promise<void> {
    const now = ticks()
    const total = now.total - this.last.total
    if (total > 0) this.cpu = round1(100 * (now.busy - this.last.busy) / total)
    this.last = now
    try {
      const mem = await si.mem()
      this.mem = round1(100 * mem.active / mem.total)
    } catch {
      // keep the last sample
    }
  }
}

/** The machine's CPU ticks since boot: all of them, and the busy ones (not idle, not waiting on I/O). */
function ticks (): { total: number, busy: number } {
  let total = 0
  let idle = 0
  for (const c of cpus()) {
    const t = c.times
    total += t.user + t.nice + t.sys + t.idle + t.irq
    idle += t.idle
  }
  return { total, busy: total - idle }
}

function round1 (x: number): number {
  return Math.min(100, Math.max(0, Math.round(x * 10) / 10))
}
