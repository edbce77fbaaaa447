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

/** A line cut to `width` visible characters (colour codes kept, not counted). */
export function clip (line: string, width: number): string {
  let out = ''
  let seen = 0
  for (let i = 0; i < line.length; i++) {
    const esc = /^\x1b\[[0-9;]*m/.exec(line.slice(i, i + 16))
    if (esc !== null) { out += esc[0]; i += esc[0].length - 1; continue }
    if (seen >= width) continue
    out += line[i]
    seen++
  }
  return out
}

/** `/ip4/127.0.0.1/tcp/7700/p2p/…` as `127.0.0.1:7700`; anything else as it is. */
export function hostPort (addr: string): string {
  const m = /^\/(?:ip4|dns|dns4)\/([^/]+)\/tcp\/(\d+)/.exec(addr) ?? /^\/ip6\/([^/]+)\/tcp\/(\d+)/.exec(addr)
  if (m === null) return addr
  return addr.startsWith('/ip6/') ? `[${m[1]}]:${m[2]}` : `${m[1]}:${m[2]}`
}
