/** Placement and dispatch inside one process (a node that is its own master and worker). */
import type { JobSpec } from '../exec/types.ts'
import type { PlaceRequest, Scheduler } from './scheduler.ts'
import { BusyError, type Worker } from './worker.ts'
import { MasterLostError, RefusedError, RejectedError, type DispatchHooks, type DispatchLink, type Grant, type PlaceOptions, type PlacementLink } from './links.ts'

export class LocalPlacement implements PlacementLink {
  private readonly scheduler: Scheduler
  private readonly term: () => number
  private readonly self: string

  constructor (scheduler: Scheduler, term: () => number, self: string) {
    this.scheduler = scheduler
    this.term = term
    this.self = self
  }

  async place (opts: PlaceOptions): Promise<Grant> {
    return await new Promise<Grant>((resolve, reject) => {
      let request: PlaceRequest | undefined
      const onAbort = (): void => {
        this.scheduler.cancel(opts.id, request)
        reject(new Error('placement cancelled'))
      }
      if (opts.signal.aborted) { onAbort(); return }
      opts.signal.addEventListener('abort', onAbort, { once: true })
      this.scheduler.enqueue(request = {
        id: opts.id,
        language: opts.language,
        ...(opts.avoid === undefined ? {} : { avoid: opts.avoid }),
        entry: this.self,
        onPosition: opts.onPosition,
        onGrant: (worker) => {
          opts.signal.removeEventListener('abort', onAbort)
          resolve({ worker, term: this.term() })
        },
        onReject: (message) => {
          opts.signal.removeEventListener('abort', onAbort)
          reject(new RejectedError(message))
        },
        onLost: () => {
          opts.signal.removeEventListener('abort', onAbort)
          reject(new MasterLostError('this node stopped being master'))
        },
      })
    })
  }

  done (id: string): void {
    this.scheduler.release(id)
  }
}

export class LocalDispatch implements DispatchLink {
  private readonly worker: Worker
  private readonly self: string

  constructor (worker: Worker, self: string) {
    this.worker = worker
    this.self = self
  }

  async dispatch (job: JobSpec, _grant: Grant, hooks: DispatchHooks): Promise<{ result: import('../exec/types.ts').ExecResult, node: string }> {
    try {
      const result = await this.worker.run(job, {
        onStage: (stage) => { hooks.onStage(stage, this.self) },
        onOutput: hooks.onOutput,
      })
      return { result, node: this.self }
    } catch (err) {
      if (err instanceof BusyError) throw new RefusedError(err.message)
      throw err
    }
  }
}
