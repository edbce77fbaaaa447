/**
 * Who can talk to whom in the simulated network: every pair of live nodes is
 * linked unless the pair was cut. Components (for relayed reports) are
 * cached until the topology changes.
 */
export class Links {
  private readonly cuts = new Set<string>()
  private cache: Map<string, number> | null = null
  private readonly ids: () => Iterable<string>
  private readonly alive: (id: string) => boolean

  constructor(ids: () => Iterable<string>, alive: (id: string) => boolean) {
    this.ids = ids
    this.alive = alive
  }

  /** Call whenever a node starts or crashes. */
  changed(): void {
    this.cache = null
  }

  cut(a: string, b: string): void {
    this.cuts.add(pairKey(a, b))
    this.changed()
  }

  /** Removes the cut between a and b; true if there was one. */
  uncut(a: string, b: string): boolean {
    const had = this.cuts.delete(pairKey(a, b))
    if (had) this.changed()
    return had
  }

  /** Removes every cut; returns the pairs that were cut. */
  healAll(): [string, string][] {
    const pairs = [...this.cuts].map((k) => k.split('|') as [string, string])
    this.cuts.clear()
    this.changed()
    return pairs
  }

  linked(a: string, b: string): boolean {
    return a !== b && this.alive(a) && this.alive(b) && !this.cuts.has(pairKey(a, b))
  }

  /** Live nodes grouped by connectivity. */
  components(): string[][] {
    const groups = new Map<number, string[]>()
    for (const [id, c] of this.componentMap()) groups.set(c, [...(groups.get(c) ?? []), id])
    return [...groups.values()]
  }

  componentOf(id: string): string[] {
    const comp = this.componentMap()
    const c = comp.get(id)
    return [...comp].filter(([, k]) => k === c).map(([n]) => n)
  }

  reachable(a: string, b: string): boolean {
    const comp = this.componentMap()
    return comp.get(a) !== undefined && comp.get(a) === comp.get(b)
  }

  private componentMap(): Map<string, number> {
    if (this.cache !== null) return this.cache
    const comp = new Map<string, number>()
    const all = [...this.ids()]
    let next = 0
    for (const start of all) {
      if (comp.has(start) || !this.alive(start)) continue
      const c = next++
      const stack = [start]
      comp.set(start, c)
      while (stack.length > 0) {
        const a = stack.pop()!
        for (const b of all) {
          if (!comp.has(b) && this.linked(a, b)) {
            comp.set(b, c)
            stack.push(b)
          }
        }
      }
    }
    this.cache = comp
    return comp
  }
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`
}
