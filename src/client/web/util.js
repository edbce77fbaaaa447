// Small helpers shared by the page's modules.

/** fetch JSON; a non-2xx answer throws an Error with the server's message. */
export async function api (path, opts = {}) {
  const res = await fetch(path, { ...opts, headers: { 'content-type': 'application/json', ...(opts.headers ?? {}) } })
  const body = await res.json().catch(() => ({}))
  if (!res.ok) throw new Error(body.message ?? `${res.status} ${res.statusText}`)
  return body
}

/** A peer id by its tail, which is the part that differs. */
export const short = (id) => (id ? `…${id.slice(-8)}` : '—')

export function ms (n) {
  if (n == null) return '—'
  if (n < 1000) return `${Math.round(n)} ms`
  if (n < 60_000) return `${(n / 1000).toFixed(n < 10_000 ? 2 : 1)} s`
  return `${Math.floor(n / 60_000)} m ${Math.round((n % 60_000) / 1000)} s`
}

export const clock = (t) => new Date(t).toLocaleTimeString([], { hour12: false })

/** el('div', { class: 'x', onclick }, 'text', child) */
export function el (tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v)
    else if (k === 'dataset') Object.assign(node.dataset, v)
    else node.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children.flat()) if (c != null && c !== false) node.append(c)
  return node
}

/** CSS class of a job status or state. */
export function statusClass (s) {
  if (s === 'ok') return 'ok'
  if (s === 'time_limit' || s === 'memory_limit' || s === 'output_limit') return 'limit'
  if (s === 'queued' || s === 'running' || s === 'accepted') return s
  return 'bad'
}

export const statusText = (s) => (s ?? '').replace('_', ' ')
