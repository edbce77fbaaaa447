/**
 * The execution contract shared by the executor (src/exec), the node
 * (src/node) and clients (src/client). Everything here is plain data that
 * can cross the wire as JSON.
 */
import type { CacheStats } from './cache.ts'

/** Every outcome a job can have. */
export const JOB_STATUSES = [
  'ok',
  'compile_error',
  'runtime_error',
  'time_limit',
  'memory_limit',
  'output_limit',
  'rejected',
  'error',
] as const
export type JobStatus = (typeof JOB_STATUSES)[number]

export type Stage = 'compile' | 'run'
export type OutputStream = 'stdout' | 'stderr'

/** Which limit ended a stage. */
export type LimitKind = 'cpu' | 'wall' | 'memory' | 'output' | 'processes' | 'disk'

export interface SourceFile {
  /** A plain file name or a relative path without `..` (e.g. `util.h`, `pkg/A.java`). */
  name: string
  content: string
  /** How `content` is encoded; default utf8. */
  encoding?: 'utf8' | 'base64'
}

/**
 * Limits a client may ask for. A client can only lower the node's limits,
 * never raise them; whatever is missing takes the node's value.
 */
export interface JobLimits {
  /** Run stage: CPU time and wall-clock time, in ms. */
  timeMs?: number
  /** Run stage: memory in MiB (for Java and JavaScript: the heap). */
  memoryMb?: number
  /** Run stage: stdout + stderr bytes kept before the program is stopped. */
  outputBytes?: number
  /** Run stage: processes and threads. */
  processes?: number
}

export interface JobSpec {
  /** Chosen by the client, so that re-submission is idempotent. */
  id: string
  /** A language name or alias (see languages.ts). */
  language: string
  files: SourceFile[]
  stdin: string
  args: string[]
  limits?: JobLimits
}

/** Fully resolved limits for one stage. */
export interface StageLimits {
  cpuMs: number
  wallMs: number
  memoryMb: number
  processes: number
  outputBytes: number
  /** Bytes the stage may write to its job dir and /tmp. */
  diskBytes: number
  openFiles: number
}

export interface StageResult {
  stdout: string
  stderr: string
  /** Exit code, or null when ended by a signal. */
  code: number | null
  /** Signal name (e.g. SIGKILL), or null. */
  signal: string | null
  wallMs: number
  cpuMs: number | null
  /** Peak memory in KiB where measured. */
  memoryKb: number | null
  /** The limit that ended the stage, if one did. */
  limit: LimitKind | null
  /** True when stdout or stderr was cut at the output limit. */
  truncated: boolean
  /** Compile stage only: the result came from the compile cache. */
  cached?: boolean
}

/** What the executor returns for one job. */
export interface ExecResult {
  status: JobStatus
  /** Human-readable reason for anything but `ok`. */
  message?: string
  compile: StageResult | null
  run: StageResult | null
}

export interface ExecHooks {
  /** Abort: the job is killed and the result's status is `error` ("cancelled"). */
  signal?: AbortSignal
  /** Live output, in order, as the program writes it. */
  onOutput?: (stage: Stage, stream: OutputStream, data: string) => void
  /** A stage begins (compile is skipped, not started, on a cache hit). */
  onStage?: (stage: Stage) => void
}

export interface LanguageInfo {
  name: string
  version: string
  aliases: string[]
  extensions: string[]
  compiled: boolean
}

/** What the sandbox enforces on this node, for `meshrun status`. */
export interface SandboxInfo {
  kind: 'bubblewrap' | 'none'
  /** e.g. ["uid per slot", "pid/net/ipc/uts namespaces", "cgroup memory", "rlimit nproc"] */
  enforced: string[]
  warnings: string[]
}

export interface Executor {
  /** Languages whose toolchains were found on this node (and allowed by --langs). */
  readonly languages: LanguageInfo[]
  readonly sandbox: SandboxInfo
  /** The compile cache: entries and bytes on disk, its bound, evictions so far. */
  readonly cache: CacheStats
  /** Run one job: compile (if needed, through the cache), then run. Never throws for the job's own faults. */
  run(job: JobSpec, hooks?: ExecHooks): Promise<ExecResult>
  /** Kill whatever still runs and release resources. */
  stop(): Promise<void>
}
