/** A min-heap of timed items; ties break by insertion order, so runs are deterministic. */
export class TimeQueue<T> {
  private heap: { at: number; seq: number; item: T }[] = []
  private seq = 0

  get size(): number {
    return this.heap.length
  }

  push(at: number, item: T): void {
    const h = this.heap
    h.push({ at, seq: this.seq++, item })
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.less(i, p)) break
      this.swap(i, p)
      i = p
    }
  }

  peekTime(): number | undefined {
    return this.heap[0]?.at
  }

  pop(): { at: number; item: T } | undefined {
    const h = this.heap
    const top = h[0]
    const last = h.pop()
    if (top === undefined || last === undefined) return undefined
    if (h.length > 0) {
      h[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < h.length && this.less(l, m)) m = l
        if (r < h.length && this.less(r, m)) m = r
        if (m === i) break
        this.swap(i, m)
        i = m
      }
    }
    return { at: top.at, item: top.item }
  }

  private less(a: number, b: number): boolean {
    const x = this.heap[a]!
    const y = this.heap[b]!
    return x.at < y.at || (x.at === y.at && x.seq < y.seq)
  }

  private swap(a: number, b: number): void {
    const h = this.heap
    const t = h[a]!
    h[a] = h[b]!
    h[b] = t
  }
}
