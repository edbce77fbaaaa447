/**
 * The entry's side of /meshrun/link: one long-lived stream to each peer it
 * places jobs with (the master) or dispatches jobs to (workers), opened on
 * first use and shared by every job. Opening a stream per job cost three
 * protocol round trips and a dozen extra frames each way; a request on an
 * open link costs one frame.
 *
 * Each request gets a number; the peer's answers name it and go to that
 * request's handler. When the link closes (the peer died, was hung up on,
 * or broke the protocol), every request still waiting on it is told, and the
 * next request opens a new link.
 */
import { peerIdOf } from './peer-ids.ts'
import type { Stream } from '@libp2p/interface'
import type { Host } from './host.ts'
import type { ZodType } from 'zod'
import { Channel } from './wire.ts'
import { PROTOCOL_LINK } from './protocols.ts'
import { linkEventSchema, type LinkEvent, type LinkRequest } from './schemas.ts'

/** A request before it is numbered. */
export type Unnumbered<T> = T extends unknown ? Omit<T, 'r'> : never

interface Waiting<Ev> {
  onEvent: (ev: Ev) => void
  onLost: (err: Error) => void
}

const DIAL_TIMEOUT_MS = 3000

/**
 * One long-lived stream carrying numbered requests, each answered by any
 * number of events naming it (`r`): node to node on /meshrun/link, client to
 * node on /meshrun/session.
 */
export class Session<Ev extends { r: number }, Req extends { r: number }> {
  readonly peer: string
  private readonly ch: Channel<Ev, Req>
  private next = 0
  private readonly waiting = new Map<number, Waiting<Ev>>()
  private closed: Error | null = null

  constructor (peer: string, stream: Stream, events: ZodType<Ev>, onClosed: () => void) {
    this.peer = peer
    this.ch = new Channel(stream, events)
    void this.readLoop().finally(onClosed)
  }

  get open (): boolean { return this.closed === null }

  /**
   * Send a request. Its answers go to `onEvent` until `forget(r)`; if the
   * link closes first, `onLost` is called once instead.
   */
  request (req: Unnumbered<Req>, onEvent: Waiting<Ev>['onEvent'], onLost: Waiting<Ev>['onLost']): number {
    const r = ++this.next
    const closed = this.closed
    if (closed !== null) {
      queueMicrotask(() => { onLost(closed) })
      return r
    }
    this.waiting.set(r, { onEvent, onLost })
    this.ch.write({ ...req, r } as unknown as Req).catch((err: unknown) => { this.fail(err) })
    return r
  }

  /** A message that expects no answer (`done`, `forget`); lost with the session if it closed. */
  post (req: Unnumbered<Req> & { r: number }): void {
    if (this.closed !== null) return
    this.ch.write(req as unknown as Req).catch((err: unknown) => { this.fail(err) })
  }

  forget (r: number): void {
    this.waiting.delete(r)
  }

  close (err = new Error('closed by this side')): void {
    this.fail(err)
  }

  private async readLoop (): Promise<void> {
    try {
      for (;;) {
        const ev = await this.ch.read()
        if (ev === null) break
        // One job's handler failing must not take the others' link down.
        try { this.waiting.get(ev.r)?.onEvent(ev) } catch {}
      }
      this.fail(new Error('the peer closed the stream'))
    } catch (err) {
      this.fail(err)
    }
  }

  private fail (err: unknown): void {
    if (this.closed !== null) return
    const e = err instanceof Error ? err : new Error(String(err))
    this.closed = e
    const lost = [...this.waiting.values()]
    this.waiting.clear()
    this.ch.abort(e)
    for (const w of lost) w.onLost(e)
  }
}

export type LinkSession = Session<LinkEvent, LinkRequest>

/**
 * Open sessions by key (a peer, a node address), one each: opened on first
 * use, shared by every request, replaced on the next use once closed.
 */
export class Sessions<Ev extends { r: number }, Req extends { r: number }> {
  private readonly openStream: (key: string) => Promise<Stream>
  private readonly events: ZodType<Ev>
  private readonly sessions = new Map<string, Promise<Session<Ev, Req>>>()
  /** Sessions opened since start (for guards and benchmarks). */
  opened = 0

  constructor (openStream: (key: string) => Promise<Stream>, events: ZodType<Ev>) {
    this.openStream = openStream
    this.events = events
  }

  async get (key: string, signal?: AbortSignal): Promise<Session<Ev, Req>> {
    let s = this.sessions.get(key)
    if (s !== undefined) {
      const ready = await raceSignal(s, signal)
      if (ready.open) return ready
      if (this.sessions.get(key) === s) this.sessions.delete(key)
    }
    s = this.sessions.get(key)
    if (s === undefined) {
      const opening = (async () => {
        const stream = await this.openStream(key)
        this.opened++
        return new Session<Ev, Req>(key, stream, this.events, () => { if (this.sessions.get(key) === opening) this.sessions.delete(key) })
      })()
      opening.catch(() => { if (this.sessions.get(key) === opening) this.sessions.delete(key) })
      this.sessions.set(key, opening)
      s = opening
    }
    return await raceSignal(s, signal)
  }

  /** Fail the session with this key (its peer went silent, or failed): what waits on it is told at once. */
  drop (key: string, err: Error): void {
    const s = this.sessions.get(key)
    if (s === undefined) return
    this.sessions.delete(key)
    s.then((x) => { x.close(err) }, () => {})
  }

  closeAll (): void {
    for (const s of this.sessions.values()) s.then((x) => { x.close() }, () => {})
    this.sessions.clear()
  }
}

/** This node's open links, one per peer. */
export class Links extends Sessions<LinkEvent, LinkRequest> {
  constructor (host: Host) {
    super(async (peer) => await host.dialProtocol(peerIdOf(peer), PROTOCOL_LINK, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) }), linkEventSchema)
  }
}

async function raceSignal<T> (p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal === undefined) return await p
  signal.throwIfAborted()
  let onAbort: (() => void) | undefined
  try {
    return await Promise.race([p, new Promise<never>((_resolve, reject) => {
      onAbort = () => { reject(signal.reason) }
      signal.addEventListener('abort', onAbort, { once: true })
    })])
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort)
  }
}
