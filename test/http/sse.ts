/** Reads a server-sent-event stream over fetch, for tests. */

export interface SseEvent { event: string, data: any }

/**
 * Collects events from `url` until `until` returns true for one (inclusive)
 * or the stream ends; gives up after `timeoutMs`.
 */
export async function readSse (url: string, until: (e: SseEvent, all: SseEvent[]) => boolean, timeoutMs = 20_000, headers: Record<string, string> = {}): Promise<SseEvent[]> {
  const ctl = new AbortController()
  const timer = setTimeout(() => { ctl.abort() }, timeoutMs)
  const events: SseEvent[] = []
  try {
    const res = await fetch(url, { signal: ctl.signal, headers: { accept: 'text/event-stream', ...headers } })
    if (!res.ok || res.body === null) throw new Error(`${url} answered ${res.status}: ${await res.text()}`)
    const decoder = new TextDecoder()
    let buf = ''
    for await (const chunk of res.body) {
      buf += decoder.decode(chunk as Uint8Array, { stream: true })
      let cut
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, cut)
        buf = buf.slice(cut + 2)
        let event = 'message'
        const data: string[] = []
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim()
          else if (line.startsWith('data:')) data.push(line.slice(5).trimStart())
        }
        if (data.length === 0) continue
        const e = { event, data: JSON.parse(data.join('\n')) }
        events.push(e)
        if (until(e, events)) return events
      }
    }
    return events
  } catch (err) {
    if (ctl.signal.aborted) throw new Error(`no matching event from ${url} within ${timeoutMs} ms; got ${events.map((e) => e.event).join(', ')}`)
    throw err
  } finally {
    clearTimeout(timer)
    ctl.abort()
  }
}
