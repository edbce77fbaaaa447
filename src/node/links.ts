/**
 * How an entry reaches the master (placement) and a worker (dispatch). A node
 * that is alone uses the local implementations; in a cluster the same calls
 * go over libp2p streams.
 */
import type { ExecResult, JobSpec, OutputStream, Stage } from '../exec/types.ts'

export interface Grant {
  /** Peer id of the worker chosen by the master. */
  worker: string
  /** The master's term when it granted (workers refuse stale terms). */
  term: number
  /**
   * Where the worker listens, as its reports say: a worker that just joined
   * may not be known to the entry yet (not connected, no address to dial).
   */
  addrs?: string[]
  /** On a slot the master leased to this entry: placed without asking it. */
  leased?: boolean
}

export interface PlaceOptions {
  id: string
  language: string
  /** Workers that already failed this job: place it elsewhere if possible. */
  avoid?: string[]
  onPosition: (position: number) => void
  signal: AbortSignal
}

export interface PlacementLink {
  /** Wait until the master grants a worker; rejects with RejectedError if nobody can ever run it. */
  place: (opts: PlaceOptions) => Promise<Grant>
  /** The granted job finished (or its attempt failed): the slot is free again. */
  done: (id: string, failed?: boolean) => void
}

export interface DispatchHooks {
  onStage: (stage: Stage, node: string) => void
  onOutput: (stage: Stage, stream: OutputStream, data: string) => void
  signal: AbortSignal
}

export interface DispatchLink {
  /** Run the job on the granted worker; throws WorkerLostError or BusyError when it should be re-placed. */
  dispatch: (job: JobSpec, grant: Grant, hooks: DispatchHooks) => Promise<{ result: ExecResult, node: string }>
}

export class RejectedError extends Error {
  override name = 'RejectedError'
}

export class WorkerLostError extends Error {
  override name = 'WorkerLostError'
}

/** The master went away (or was not master): ask again once a master is known. */
export class MasterLostError extends Error {
  override name = 'MasterLostError'
}

/** The worker refused the dispatch (busy, stale term, draining): place again. */
export class RefusedError extends Error {
  override name = 'RefusedError'
}
