/**
 * One error class per condition, each with a `name` that tests and callers
 * can check. `Executor.run` never throws for a job's own faults: it turns
 * these into an ExecResult (see executor.ts); `createExecutor` throws them
 * when the node cannot run jobs as configured.
 */

/** The job itself is malformed (file names, sizes, args, limits). → `rejected` */
export class InvalidJobError extends Error {
  override name = 'InvalidJobError'
}

/** The language name is neither a language nor an alias. → `rejected` */
export class UnknownLanguageError extends Error {
  override name = 'UnknownLanguageError'
}

/** The language is known but its toolchain is missing or excluded by --langs. → `rejected` */
export class LanguageUnavailableError extends Error {
  override name = 'LanguageUnavailableError'
}

/** bubblewrap is missing and the operator did not allow unsandboxed execution. */
export class SandboxUnavailableError extends Error {
  override name = 'SandboxUnavailableError'
}

/** The sandbox could not be set up for a job (a node fault, not the job's). → `error` */
export class SandboxSetupError extends Error {
  override name = 'SandboxSetupError'
}

/** The node's limits given at start-up are not usable. */
export class InvalidLimitsError extends Error {
  override name = 'InvalidLimitsError'
}

/** No free uid range could be claimed for the job slots. */
export class UidPoolError extends Error {
  override name = 'UidPoolError'
}

/** The job was aborted through `hooks.signal`. → `error` ("cancelled") */
export class JobCancelledError extends Error {
  override name = 'JobCancelledError'
  constructor (message = 'cancelled') { super(message) }
}

/** `run` was called after (or while) `stop`. → `error` */
export class ExecutorStoppedError extends Error {
  override name = 'ExecutorStoppedError'
  constructor (message = 'executor stopped') { super(message) }
}
