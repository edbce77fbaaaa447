/** A node's libp2p peer id, as a string. */
export type PeerId = string

/**
 * How strongly a node claims the master role. The higher rank wins: first
 * the operator-configured priority, then the peer id (plain code-unit string
 * comparison, so every node orders ids the same way, whatever its locale).
 */
export interface Rank {
  readonly priority: number
  readonly id: PeerId
}

/** > 0 when `a` outranks `b`, < 0 when `b` outranks `a`, 0 when they are equal. */
export function compareRank(a: Rank, b: Rank): number {
  if (a.priority !== b.priority) return a.priority > b.priority ? 1 : -1
  if (a.id === b.id) return 0
  return a.id > b.id ? 1 : -1
}
