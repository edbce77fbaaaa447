/**
 * From how a sandboxed stage ended to a StageResult and a job status, with
 * a message that names the cause precisely. Pure.
 */
import type { Language } from './languages.ts'
import type { SandboxOutcome } from './sandbox.ts'
import type { JobStatus, LimitKind, StageLimits, StageResult } from './types.ts'

export interface StageFacts {
  /** The stage filled its disk quota (then ENOSPC or EFBIG is the likely cause of its end). */
  diskFull: boolean
  /** The stage's memory limit in KiB, where a cgroup enforces it (its peak is then measured). */
  memoryLimitKb?: number
}

/** Which limit ended the stage, if any. Exit 0 without our kill is never a limit. */
export function limitOf (o: SandboxOutcome, lang: Language, facts: StageFacts): LimitKind | null {
  // Pinned at its memory limit when the clock ran out: the kernel kept
  // reclaiming instead of killing it (a compiler on a loaded machine), and
  // memory, not time, is what the job ran into.
  if ((o.killedFor === 'cpu' || o.killedFor === 'wall') && facts.memoryLimitKb !== undefined && o.memoryKb !== null && o.memoryKb >= facts.memoryLimitKb * 0.98) return 'memory'
  if (o.killedFor === 'cpu' || o.killedFor === 'wall' || o.killedFor === 'output') return o.killedFor
  if (o.truncated) return 'output'
  if (o.code === 0 && o.signal === null) return null
  if (o.oomKilled) return 'memory'
  if (o.signal === 'SIGXCPU') return 'cpu'
  if (o.signal === 'SIGXFSZ') return 'disk'
  if (lang.oomPatterns.some((p) => p.test(o.stderr))) return 'memory'
  if (facts.diskFull) return 'disk'
  if (o.pidsLimitHit) return 'processes'
  return null
}

export function toStageResult (o: SandboxOutcome, limit: LimitKind | null): StageResult {
  return {
    stdout: o.stdout,
    stderr: o.stderr,
    code: o.code,
    signal: o.signal,
    wallMs: o.wallMs,
    cpuMs: o.cpuMs,
    memoryKb: o.memoryKb,
    limit,
    truncated: o.truncated,
  }
}

function seconds (ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`
}

function bytes (n: number): string {
  if (n % (1024 * 1024) === 0) return `${n / 1024 / 1024} MiB`
  if (n % 1024 === 0) return `${n / 1024} KiB`
  return `${n} bytes`
}

/** "CPU time limit of 5 s exceeded", "killed by signal SIGSEGV", "exit code 3"… */
export function describeEnd (r: StageResult, limits: StageLimits): string {
  switch (r.limit) {
    case 'cpu': return `CPU time limit of ${seconds(limits.cpuMs)} exceeded`
    case 'wall': return `wall-clock limit of ${seconds(limits.wallMs)} exceeded`
    case 'memory': return `memory limit of ${limits.memoryMb} MiB exceeded`
    case 'output': return `output limit of ${bytes(limits.outputBytes)} exceeded`
    case 'disk': return `disk limit of ${bytes(limits.diskBytes)} exceeded`
    case 'processes': return `process limit of ${limits.processes} reached` + (r.signal !== null ? ` (killed by signal ${r.signal})` : r.code !== null ? ` (exit code ${r.code})` : '')
    case null: break
  }
  if (r.signal !== null) return `killed by signal ${r.signal}`
  return `exit code ${String(r.code)}`
}

/** The job status for a run stage. */
export function runStatus (r: StageResult): JobStatus {
  switch (r.limit) {
    case 'cpu': case 'wall': return 'time_limit'
    case 'memory': return 'memory_limit'
    case 'output': return 'output_limit'
    case 'disk': case 'processes': return 'runtime_error'
    case null: return r.code === 0 && r.signal === null ? 'ok' : 'runtime_error'
  }
}

/** True when the compile stage succeeded. */
export function compiled (r: StageResult): boolean {
  return r.limit === null && r.code === 0 && r.signal === null
}

/** Compile stages worth caching: the compiler decided (not a limit, not a node fault). */
export function cacheable (r: StageResult): boolean {
  return r.limit === null && r.code !== null && r.signal === null
}
