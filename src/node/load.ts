/** Samples this machine's CPU and memory use (systeminformation) at a fixed interval. */
import si from 'systeminformation'

export class LoadMonitor {
  cpu = 0
  mem = 0
  private timer: NodeJS.Timeout | undefined
  private readonly intervalMs: number

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
    try {
      const [load, mem] = await Promise.all([si.currentLoad(), si.mem()])
      this.cpu = round1(load.currentLoad)
      this.mem = round1(100 * mem.active / mem.total)
    } catch {
      // keep the last sample
    }
  }
}

function round1 (x: number): number {
  return Math.round(x * 10) / 10
}
