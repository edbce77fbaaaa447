/**
 * Autoscaling: while this node is master, start one more worker when jobs
 * have waited with every node full for a while, up to a maximum, one at a
 * time (each must join before the next starts). Spawned workers retire
 * themselves after an idle time (MeshNode's `retireIdleMs`), so scaling down
 * needs no decision here.
 *
 * The rules are the pure `decide` of autoscale-policy.ts, called every tick;
 * this part feeds it, starts workers with a Spawner, and makes every decision
 * visible (log, event bus, status).
 *
 * Adoption: the count toward the maximum is every live member whose report
 * names a `spawnedBy`, whoever started it, so a new master takes over the
 * workers of the one that died. Only this node's own children are stopped
 * when it stops; the others retire when idle.
 */
import {
  DEFAULT_POLICY, decide, everyNodeFull, initPolicy, spawnFailed, spawnStarted,
  type Decision, type NodeLoad, type PolicyConfig, type PolicyState, type SpawnedMember,
} from './autoscale-policy.ts'
import type { Spawner, SpawnedWorker } from './spawner.ts'
import type { EventBus } from './events.ts'
import type { Logger } from './log.ts'
import type { AutoscaleStatus } from './schemas.ts'

export interface AutoscalerComponents {
  self: string
  isMaster: () => boolean
  queueLength: () => number
  /** Every live node, this one included, with its busy slots. */
  nodes: () => Iterable<NodeLoad>
  /** Live members that autoscaling started, and who started each. */
  spawned: () => SpawnedMember[]
  spawner: Spawner
  events: EventBus
  log: Logger
  now?: () => number
}

export interface AutoscalerInit extends Partial<Omit<PolicyConfig, 'max'>> {
  max: number
  tickMs?: number
}

export class Autoscaler {
  private readonly cfg: PolicyConfig
  private readonly c: AutoscalerComponents
  private readonly tickMs: number
  private readonly now: () => number
  private state: PolicyState = initPolicy()
  private timer: NodeJS.Timeout | undefined
  private lastCode = ''
  private last: AutoscaleStatus['lastDecision'] = null
  /** This node's own spawned processes, by peer id when known. */
  private readonly children = new Set<SpawnedWorker>()
  private readonly counts = { spawned: 0, joined: 0, failed: 0 }
  private stopped = false

  constructor (init: AutoscalerInit, components: AutoscalerComponents) {
    this.cfg = {
      max: init.max,
      sustainMs: init.sustainMs ?? DEFAULT_POLICY.sustainMs,
      settleMs: init.settleMs ?? Math.min(DEFAULT_POLICY.settleMs, init.sustainMs ?? DEFAULT_POLICY.sustainMs),
      joinTimeoutMs: init.joinTimeoutMs ?? DEFAULT_POLICY.joinTimeoutMs,
      backoffMs: init.backoffMs ?? DEFAULT_POLICY.backoffMs,
    }
    this.c = components
    this.tickMs = init.tickMs ?? 250
    this.now = components.now ?? Date.now
  }

  start (): void {
    this.c.log.info(`autoscaling: up to ${this.cfg.max} extra workers (${this.c.spawner.kind === 'command' ? 'spawn command' : 'local child processes'}), after ${this.cfg.sustainMs / 1000} s of backlog with every node full`)
    this.timer = setInterval(() => { this.tick() }, this.tickMs)
  }

  async stop (): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    const running = [...this.children].filter((w) => w.running)
    if (running.length > 0) this.c.log.info(`stopping ${running.length} spawned worker(s)`)
    await this.c.spawner.stop()
  }

  status (): AutoscaleStatus {
    const pids = new Map([...this.children].filter((w) => w.running && w.id !== null).map((w) => [w.id!, w.pid]))
    return {
      max: this.cfg.max,
      spawner: this.c.spawner.kind,
      spawned: this.c.spawned().map((m) => ({ id: m.id, by: m.by, adopted: m.by !== this.c.self, pid: pids.get(m.id) ?? null })),
      pending: this.state.pending === null ? 0 : 1,
      lastDecision: this.last,
      counts: { ...this.counts },
    }
  }

  tick (): void {
    if (this.stopped) return
    const now = this.now()
    const { state, decision } = decide(this.c.self, this.cfg, this.state, {
      now,
      isMaster: this.c.isMaster(),
      queue: this.c.queueLength(),
      full: everyNodeFull(this.c.nodes()),
      spawned: this.c.spawned(),
    })
    this.state = state
    this.record(decision, now)
    if (decision.action === 'spawn') void this.spawn(state.pending!.since)
  }

  private record (d: Decision, now: number): void {
    const code = d.action === 'wait' ? d.code : d.action
    if (d.action === 'wait' && code === this.lastCode) return
    this.lastCode = code
    // Waiting with nothing to do is the normal state: logged at debug, and
    // the status keeps showing the last decision that acted or held back.
    const quiet = d.action === 'wait' && (d.code === 'not-master' || d.code === 'no-backlog' || d.code === 'backlog')
    if (!quiet) this.last = { at: now, action: code, reason: d.reason }
    if (d.action === 'joined') this.counts.joined++
    if (d.action === 'abandon') this.counts.failed++
    const line = `autoscale ${code}: ${d.reason}`
    if (quiet) { this.c.log.debug(line); return }
    if (d.action === 'abandon') this.c.log.warn(line)
    else this.c.log.info(line)
    this.c.events.emit({ type: 'autoscale', action: code, reason: d.reason, id: d.action === 'joined' ? d.id : null, at: now })
  }

  private async spawn (since: number): Promise<void> {
    this.counts.spawned++
    let worker: SpawnedWorker
    try {
      worker = await this.c.spawner.spawn()
    } catch (err) {
      this.failed(since, `could not start a worker: ${String(err)}`)
      return
    }
    this.children.add(worker)
    this.state = spawnStarted(this.state, since, worker.id)
    this.c.log.info(`autoscale: started worker ${worker.id ?? '(id known when it joins)'} pid ${worker.pid ?? '?'}, data ${worker.dir}`)
    void worker.exited.then(async ({ code, signal }) => {
      this.children.delete(worker)
      if (this.stopped) return
      const joined = worker.id !== null && this.c.spawned().some((m) => m.id === worker.id)
      const pendingStill = this.state.pending?.since === since
      if (code === 0 && !pendingStill) {
        this.c.log.info(`autoscale: worker ${worker.id ?? `pid ${worker.pid}`} exited (retired)`)
        return
      }
      if (this.c.spawner.kind === 'command' && code === 0) return // the command started the worker and left
      const how = signal === null ? `exit code ${code}` : `signal ${signal}`
      if (pendingStill && !joined) {
        const tail = await this.c.spawner.logTail(worker)
        this.failed(since, `worker ${worker.id ?? `pid ${worker.pid}`} ended (${how}) before joining${tail === '' ? '' : `; its log ends:\n${tail}`}`)
      } else {
        this.c.log.warn(`autoscale: worker ${worker.id ?? `pid ${worker.pid}`} ended (${how})`)
      }
    })
  }

  private failed (since: number, reason: string): void {
    this.state = spawnFailed(this.cfg, this.state, this.now(), since)
    this.counts.failed++
    this.lastCode = 'failed'
    this.last = { at: this.now(), action: 'failed', reason }
    this.c.log.warn(`autoscale failed: ${reason}`)
    this.c.events.emit({ type: 'autoscale', action: 'failed', reason, id: null, at: this.now() })
  }
}

/** What `meshrun node --autoscale …` asks for; the node supplies the rest. */
export interface AutoscaleOptions extends AutoscalerInit {
  /** Idle seconds after which a spawned worker drains and stops. */
  idleRetireS: number
  /** Job flags the workers get (--max-jobs, --langs, limits, …). */
  workerArgs: string[]
  /** `--spawn-cmd`: the operator's command instead of a local child. */
  command?: string
  keyFile?: string
}
