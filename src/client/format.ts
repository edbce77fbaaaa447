/** Small text formatting shared by the terminal views (jobs, watch). */

/** Columns padded to their widest cell; the last column is not padded. */
export function table (head: string[], rows: string[][]): string {
  const visible = (s: string): number => s.replace(/\x1b\[[0-9;]*m/g, '').length
  const widths = head.map((h, i) => Math.max(visible(h), ...rows.map((r) => visible(r[i] ?? ''))))
  const fmt = (r: string[]): string => r.map((c, i) => c + ' '.repeat(Math.max(0, widths[i]! - visible(c)))).join('  ').trimEnd()
  return [fmt(head), ...rows.map(fmt)].join('\n')
}

/** A peer id shortened to its tail, which is what differs between ids. */
export function short (id: string | null): string {
  if (id === null) return '-'
  return id.length > 12 ? `…${id.slice(-8)}` : id
}

export function duration (ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`
  return `${Math.floor(ms / 60_000)}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`
}

/** A percentage as a bar of `width` cells. */
export function bar (pct: number, width = 10): string {
  const filled = Math.max(0, Math.min(width, Math.round((pct / 100) * width)))
  return '█'.repeat(filled) + '░'.repeat(width - filled)
}

export function clock (t: number): string {
  return new Date(t).toTimeString().slice(0, 8)
}
