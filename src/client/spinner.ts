/** A one-line progress indicator on a terminal: spinner, state and elapsed time. */
const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']

export class Spinner {
  private readonly out: NodeJS.WriteStream
  private readonly started = Date.now()
  private timer: NodeJS.Timeout | undefined
  private frame = 0
  private shown = false
  private paused = false
  text = 'connecting'

  constructor (out: NodeJS.WriteStream) {
    this.out = out
  }

  start (): void {
    this.timer = setInterval(() => { this.draw() }, 80)
    this.draw()
  }

  /** Hide while output is written; `resume` only redraws at the start of a line. */
  clear (): void {
    if (this.shown) this.out.write('\r\x1b[K')
    this.shown = false
  }

  pause (): void { this.clear(); this.paused = true }
  resume (): void { this.paused = false }

  stop (): void {
    clearInterval(this.timer)
    this.clear()
  }

  elapsed (): string {
    return `${((Date.now() - this.started) / 1000).toFixed(1)}s`
  }

  private draw (): void {
    if (this.paused) return
    this.frame = (this.frame + 1) % FRAMES.length
    this.out.write(`\r\x1b[K\x1b[36m${FRAMES[this.frame]}\x1b[0m ${this.text} \x1b[2m${this.elapsed()}\x1b[0m`)
    this.shown = true
  }
}
