/**
 * The master's job queue and placement. Pure logic: it is told about the
 * nodes it may place on (their gossiped load and launch-time limits) and
 * about jobs to place; it answers with grants. No sockets, no timers.
 *
 * Placement: capability first (the node has the language), then admission by
 * the node's own limits (--max-jobs, --max-cpu, --max-mem, counting the
 * grants this master has made and that are not finished yet), then the best
 * load score. Jobs nobody can take now wait in FIFO order.
 */

export interface NodeView {
  id: string
  up: boolean
  /** Languages the node can run (canonical names). */
  languages: readonly string[]
  maxJobs: number
  /** Jobs the node reports running (its own count, from gossip). */
  running: number
  /** CPU and memory use in percent, and the node's admission caps. */
  cpu: number
  mem: number
  maxCpu: number
  maxMem: number
  /** False while a node drains (takes no new jobs). */
  accepting: boolean
  /** Ids of the jobs the node reports running (gossip). */
  jobs: readonly string[]
}

export interface PlaceRequest {
  id: string
  language: string
  /** Workers that already failed this job (unreachable, gone): not chosen again while another can take it. */
  avoid?: readonly string[]
  /** The node that asked (preferred among equally loaded nodes). */
  entry: string
  onPosition: (position: number) => void
  onGrant: (worker: string) => void
  onReject: (message: string) => void
  /** This node stopped being master before granting: ask the new master. */
  onLost: () => void
}

interface Queued {
  req: PlaceRequest
  lastPosition: number
  sentAt: number
  /** Times a job further back that came in on the chosen node went first. */
  skipped: number
  /** When it was queued. */
  at: number
}

export class Scheduler {
  private readonly queue: Queued[] = []
  /** job id → worker id, for grants not yet released. */
  private readonly granted = new Map<string, string>()
  /** Jobs released lately: a worker's report may still list them for a moment. */
  private readonly released = new Map<string, number>()
  /** When each node was last granted a job (a counter): equal candidates take turns. */
  private readonly lastGrant = new Map<string, number>()
  private grants_ = 0
  private readonly views: () => Iterable<NodeView>
  private readonly now: () => number

  constructor (views: () => Iterable<NodeView>, now: () => number = Date.now) {
    this.views = views
    this.now = now
  }

  get queueLength (): number { return this.queue.length }
  get grants (): ReadonlyMap<string, string> { return this.granted }

  /** Grants outstanding on a worker. */
  load (worker: string): number {
    let n = 0
    for (const w of this.granted.values()) if (w === worker) n++
    return n
  }

  /**
   * Queue a job for placement. A job that no live node can run at all is
   * rejected at once. `front` puts it ahead of the queue (a re-placed orphan).
   */
  enqueue (req: PlaceRequest, front = false): void {
    // The same job asked for again (a client re-submitted it through another
    // entry): a granted job sends the newcomer to the same worker, where it
    // attaches to the run; a queued one waits beside the first and is granted
    // with it.
    const grantedTo = this.granted.get(req.id)
    if (grantedTo !== undefined) {
      req.onGrant(grantedTo)
      return
    }
    const views = [...this.views()].filter((v) => v.up)
    // Already running somewhere (its entry died, or a master changed): send
    // the new entry to that run instead of starting the program again.
    const runningOn = views.find((v) => v.jobs.includes(req.id))
    if (runningOn !== undefined) {
      this.granted.set(req.id, runningOn.id)
      req.onGrant(runningOn.id)
      return
    }
    if (!views.some((v) => v.languages.includes(req.language))) {
      req.onReject(`no live node can run ${req.language}`)
      return
    }
    const item = { req, lastPosition: -1, sentAt: 0, skipped: 0, at: this.now() }
    if (front) this.queue.unshift(item)
    else this.queue.push(item)
    this.pump()
    // Still waiting: not granted (with it, the requests for its id were).
    if (!this.granted.has(req.id)) this.onWait()
  }

  /** Called when a job has to wait (set by the node: slots leased to entries go back). */
  onWait: () => void = () => {}

  /** Forget a queued request (its entry went away). */
  cancel (id: string, req?: PlaceRequest): void {
    const i = this.queue.findIndex((q) => q.req.id === id && (req === undefined || q.req === req))
    if (i >= 0) this.queue.splice(i, 1)
    this.pump()
  }

  /** A granted job finished (or its attempt failed): free its slot. */
  release (id: string): void {
    this.released.set(id, this.now())
    if (this.granted.delete(id)) this.pump()
  }

  /**
   * A slot leased to its own node runs another job there (see services.ts):
   * the slot stays taken, under the new job's id. A job already granted
   * elsewhere (submitted twice at once) keeps the slot under the old id.
   */
  rekey (from: string, to: string): boolean {
    const worker = this.granted.get(from)
    if (worker === undefined || this.granted.has(to)) return false
    this.granted.delete(from)
    this.released.set(from, this.now())
    this.granted.set(to, worker)
    return true
  }

  /** A worker is gone: free its grants and return the affected job ids. */
  workerDown (worker: string): string[] {
    const lost: string[] = []
    for (const [job, w] of this.granted) {
      if (w === worker) { this.granted.delete(job); lost.push(job) }
    }
    this.pump()
    return lost
  }

  /**
   * Busy slots per node: the grants this master made, plus the jobs a node
   * reports running that this master did not grant (granted by a previous
   * master, or running for an entry that died) — except those just released,
   * which a report may still list for a moment.
   */
  private busy (views: NodeView[]): Map<string, number> {
    const now = this.now()
    for (const [id, at] of this.released) if (now - at > RELEASE_MEMORY_MS) this.released.delete(id)
    const taken = new Map<string, number>()
    for (const w of this.granted.values()) taken.set(w, (taken.get(w) ?? 0) + 1)
    for (const v of views) {
      for (const job of v.jobs) {
        if (this.granted.has(job) || this.released.has(job)) continue
        taken.set(v.id, (taken.get(v.id) ?? 0) + 1)
      }
    }
    return taken
  }

  /** This node is no longer master: hand every queued job back, forget grants. */
  reset (): void {
    const queued = this.queue.splice(0)
    this.granted.clear()
    for (const q of queued) q.req.onLost()
  }

  /**
   * The first queued job after `i` that came in on `node`, may run there and
   * was queued within LOCAL_WINDOW_MS of the job at `i`. (An entry sends a
   * burst of requests in one write: the queue holds them in blocks, one
   * entry's after another's.)
   */
  private localFor (node: NodeView, i: number): number {
    const since = this.queue[i]!.at
    for (let j = i + 1; j < this.queue.length && j <= i + LOCAL_SCAN; j++) {
      const { req, at } = this.queue[j]!
      if (req.entry === node.id && at - since <= LOCAL_WINDOW_MS && node.languages.includes(req.language) && !(req.avoid ?? []).includes(node.id)) return j
    }
    return -1
  }

  /** Grant the queued job at `at` on `node`; returns where the pump goes on (`i`, moved if jobs before it left). */
  private grant (at: number, node: NodeView, taken: Map<string, number>, i: number): number {
    const [item] = this.queue.splice(at, 1)
    const { req } = item!
    if (at < i) i--
    this.granted.set(req.id, node.id)
    this.lastGrant.set(node.id, ++this.grants_)
    taken.set(node.id, (taken.get(node.id) ?? 0) + 1)
    req.onGrant(node.id)
    // Requests for the same job go to the same run.
    for (let j = this.queue.length - 1; j >= 0; j--) {
      const twin = this.queue[j]!
      if (twin.req.id !== req.id) continue
      this.queue.splice(j, 1)
      if (j < i) i--
      twin.req.onGrant(node.id)
    }
    return i
  }

  /** Try to place queued jobs; call whenever load or membership changes. */
  pump (): void {
    const views = [...this.views()].filter((v) => v.up)
    const taken = this.busy(views)

    // With every slot taken (a long queue), there is nothing to look at.
    const open = (v: NodeView): boolean => v.accepting && (taken.get(v.id) ?? 0) < v.maxJobs
    for (let i = 0; i < this.queue.length && views.some(open);) {
      const item = this.queue[i]!
      const capable = views.filter((v) => v.languages.includes(item.req.language))
      const avoid = item.req.avoid ?? []
      const preferred = capable.filter((v) => !avoid.includes(v.id))
      // Nodes where the job's attempt was lost come last, not never: a job
      // waiting for the others while one of them sits free never moved.
      const best = pickBest(preferred, taken, this.lastGrant, item.req.entry) ?? pickBest(capable, taken, this.lastGrant, item.req.entry)
      if (best === undefined) {
        i++
        continue
      }
      // A job that came in on that node and was queued about as early takes
      // the slot instead (no hop to a worker, for it or its output); each
      // job is passed over so at most LOCAL_SKIPS times.
      const local = best.id === item.req.entry || item.skipped >= LOCAL_SKIPS ? -1 : this.localFor(best, i)
      if (local >= 0) item.skipped++
      i = this.grant(local >= 0 ? local : i, best, taken, i)
    }
    // Every grant moves every queued job up one place: telling each of them
    // each time is O(n²) messages for a long queue (see positionEvery).
    const now = this.now()
    this.queue.forEach((item, i) => {
      const position = i + 1
      if (item.lastPosition === position) return
      if (item.lastPosition !== -1 && now - item.sentAt < positionEvery(position)) return
      item.lastPosition = position
      item.sentAt = now
      item.req.onPosition(position)
    })
  }
}

export const RELEASE_MEMORY_MS = 3000
/** A job queued this much later than the first may go first on the node it came in on (see pump)... */
export const LOCAL_WINDOW_MS = 1000
/** ...but no job is passed over so more than this many times... */
export const LOCAL_SKIPS = 8
/** ...and the search looks this far back in the queue at most. */
const LOCAL_SCAN = 1000
/** CPU points the entry's own node is preferred by (see pickBest). */
export const ENTRY_CPU_BONUS = 10
export const POSITION_EVERY_MS = 1000

/**
 * How often a queued job hears of its new place: the first three places
 * every quarter second, then every second, and further back less often
 * (every 8 s at place 400). Each update is a message to the entry and one
 * to the client: in a burst of 400 jobs on 3 nodes, sent every second (and
 * at once near the front), they were nearly half of all the messages.
 */
export function positionEvery (position: number): number {
  return position <= 3 ? POSITION_EVERY_MS / 4 : POSITION_EVERY_MS * Math.max(1, position / 50)
}

/**
 * Over its `--max-cpu` or `--max-mem`. A CPU cap of 100 % (the default) is
 * no cap: a machine merely busy (both cores running sandboxes as they
 * start) still takes jobs up to `--max-jobs`. Counted as a cap, it held
 * back the orphans of a failover (50 jobs restarting at once on two cores)
 * until the next load sample: ~1 s, in one failover run of ten.
 */
export function overCap (v: Pick<NodeView, 'cpu' | 'mem' | 'maxCpu' | 'maxMem'>): boolean {
  return (v.maxCpu < 100 && v.cpu >= v.maxCpu) || v.mem >= v.maxMem
}

/**
 * Admission, then the least loaded node (fewest busy slots, then CPU, the
 * entry's own node preferred), then the one that waited longest since its
 * last grant.
 */
function pickBest (capable: NodeView[], taken: Map<string, number>, lastGrant: ReadonlyMap<string, number>, entry: string): NodeView | undefined {
  let best: NodeView | undefined
  let bestScore = Infinity
  let bestLast = Infinity
  for (const v of capable) {
    if (!v.accepting) continue
    const busy = taken.get(v.id) ?? 0
    if (busy >= v.maxJobs) continue
    // A node over its CPU or memory cap takes no new job unless it runs none
    // of ours: load from outside meshrun must not lock a node out for good.
    if (busy > 0 && overCap(v)) continue
    // The entry counts as 10 CPU points less busy (less than a slot): the
    // job needs no hop to a worker there, and the entry may keep the slot.
    // Nodes sample their CPU at different moments, and a job or two one
    // at a time is not worth moving over a few points.
    const score = busy / v.maxJobs + (v.id === entry ? Math.max(0, v.cpu - ENTRY_CPU_BONUS) : v.cpu) / 1000
    // Within half a CPU point (nodes on one machine all report its CPU), the
    // node that waited longest since its last grant: jobs that come together
    // spread instead of all going to one node.
    const last = lastGrant.get(v.id) ?? 0
    if (score < bestScore - 0.0005 || (score <= bestScore + 0.0005 && last < bestLast)) { best = v; bestScore = Math.min(score, bestScore); bestLast = last }
  }
  return best
}
