/**
 * Limits: which one wins (node defaults ← the operator's node limits ← the
 * client's JobLimits, where a client can only lower), and validation of a
 * JobSpec against the node's bounds.
 */
import type { JobLimits, JobSpec, StageLimits } from './types.ts'
import { InvalidLimitsError } from './errors.ts'

const KiB = 1024
const MiB = 1024 * KiB

/** Bounds on the job itself (what the client sends), checked by `validateJob`. */
export interface JobBounds {
  maxFiles: number
  /** Total decoded size of all files. */
  maxSourceBytes: number
  maxStdinBytes: number
  maxArgs: number
  /** Total bytes of all arguments. */
  maxArgBytes: number
}

export interface NodeLimits {
  compile: StageLimits
  run: StageLimits
  job: JobBounds
}

/** What an operator may set (any subset); see `resolveLimits`. */
export interface NodeLimitsInit {
  compile?: Partial<StageLimits>
  run?: Partial<StageLimits>
  job?: Partial<JobBounds>
}

export const DEFAULT_LIMITS: NodeLimits = Object.freeze({
  compile: Object.freeze({ cpuMs: 30_000, wallMs: 30_000, memoryMb: 1024, processes: 128, outputBytes: 256 * KiB, diskBytes: 128 * MiB, openFiles: 512 }),
  run: Object.freeze({ cpuMs: 5_000, wallMs: 5_000, memoryMb: 256, processes: 64, outputBytes: 1 * MiB, diskBytes: 64 * MiB, openFiles: 256 }),
  job: Object.freeze({ maxFiles: 64, maxSourceBytes: 1 * MiB, maxStdinBytes: 4 * MiB, maxArgs: 64, maxArgBytes: 64 * KiB }),
})

const STAGE_KEYS = ['cpuMs', 'wallMs', 'memoryMb', 'processes', 'outputBytes', 'diskBytes', 'openFiles'] as const
const JOB_KEYS = ['maxFiles', 'maxSourceBytes', 'maxStdinBytes', 'maxArgs', 'maxArgBytes'] as const

function positive (v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0
}

function operatorValue (where: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback
  if (!positive(v)) throw new InvalidLimitsError(`limit ${where} must be a positive number, got ${String(v)}`)
  return Math.floor(v)
}

function lower (node: number, client: unknown): number {
  return positive(client) ? Math.max(1, Math.min(node, Math.floor(client))) : node
}

/**
 * The one place that decides which limit wins. The operator's values replace
 * the defaults (up or down); the client's JobLimits can only lower the run
 * stage: `timeMs` lowers both CPU and wall time, `memoryMb`, `outputBytes`
 * and `processes` lower theirs. Throws InvalidLimitsError for an operator
 * value that is not a positive number; invalid client values are caught by
 * `validateJob` and ignored here.
 */
export function resolveLimits (operator?: NodeLimitsInit, client?: JobLimits, defaults: NodeLimits = DEFAULT_LIMITS): NodeLimits {
  const stage = (name: 'compile' | 'run'): StageLimits => {
    const op = operator?.[name] ?? {}
    const out = {} as StageLimits
    for (const k of STAGE_KEYS) out[k] = operatorValue(`${name}.${k}`, op[k], defaults[name][k])
    return out
  }
  const compile = stage('compile')
  const run = stage('run')
  const job = {} as JobBounds
  for (const k of JOB_KEYS) job[k] = operatorValue(`job.${k}`, operator?.job?.[k], defaults.job[k])
  if (client !== undefined && client !== null && typeof client === 'object') {
    run.cpuMs = lower(run.cpuMs, client.timeMs)
    run.wallMs = lower(run.wallMs, client.timeMs)
    run.memoryMb = lower(run.memoryMb, client.memoryMb)
    run.outputBytes = lower(run.outputBytes, client.outputBytes)
    run.processes = lower(run.processes, client.processes)
  }
  return { compile, run, job }
}

/** A path segment: starts with a letter, digit or underscore; then also `.`, `-`, `+`. */
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/
const BASE64 = /^[A-Za-z0-9+/\r\n]*={0,2}[\r\n]*$/
const MAX_NAME = 255
const MAX_DEPTH = 8

function fileNameProblem (name: unknown): string | undefined {
  if (typeof name !== 'string' || name === '') return 'a file has no name'
  const shown = JSON.stringify(name.length > 80 ? name.slice(0, 80) + '…' : name)
  if (name.length > MAX_NAME) return `file name ${shown} is longer than ${MAX_NAME} characters`
  if (name.startsWith('/')) return `file name ${shown} is an absolute path`
  const parts = name.split('/')
  if (parts.includes('..')) return `file name ${shown} contains '..'`
  if (parts.length > MAX_DEPTH) return `file name ${shown} is nested deeper than ${MAX_DEPTH} levels`
  for (const p of parts) {
    if (!SEGMENT.test(p)) return `file name ${shown} has characters other than letters, digits, '_', '.', '-', '+' (or a part that starts with '.', '-' or '+', or is empty)`
  }
  return undefined
}

function sizeOf (content: string, encoding: 'utf8' | 'base64'): number {
  if (encoding === 'utf8') return Buffer.byteLength(content, 'utf8')
  const clean = content.replace(/[\r\n]/g, '')
  return Math.floor(clean.length * 3 / 4) - (clean.endsWith('==') ? 2 : clean.endsWith('=') ? 1 : 0)
}

/**
 * Checks a job against the node's bounds. Returns a message saying what is
 * wrong (for a `rejected` result), or undefined when the job is acceptable.
 * Safe on any input (the job may come straight off the network).
 */
export function validateJob (job: JobSpec, bounds: JobBounds = DEFAULT_LIMITS.job): string | undefined {
  if (job === null || typeof job !== 'object') return 'the job is not an object'
  if (typeof job.id !== 'string' || job.id === '' || job.id.length > 256) return 'the job id must be a string of 1 to 256 characters'
  if (typeof job.language !== 'string' || job.language === '') return 'the job names no language'
  if (!Array.isArray(job.files) || job.files.length === 0) return 'the job has no files'
  if (job.files.length > bounds.maxFiles) return `the job has ${job.files.length} files; at most ${bounds.maxFiles} are allowed`
  const names = new Set<string>()
  let total = 0
  for (const f of job.files) {
    if (f === null || typeof f !== 'object') return 'a file is not an object'
    const problem = fileNameProblem(f.name)
    if (problem !== undefined) return problem
    if (names.has(f.name)) return `file name ${JSON.stringify(f.name)} appears twice`
    names.add(f.name)
    if (typeof f.content !== 'string') return `file ${JSON.stringify(f.name)} has no content string`
    const encoding = f.encoding ?? 'utf8'
    if (encoding !== 'utf8' && encoding !== 'base64') return `file ${JSON.stringify(f.name)} has an unknown encoding ${JSON.stringify(encoding)}`
    if (encoding === 'base64' && !BASE64.test(f.content)) return `file ${JSON.stringify(f.name)} is not valid base64`
    total += sizeOf(f.content, encoding)
    if (total > bounds.maxSourceBytes) return `the files exceed the source size limit of ${bounds.maxSourceBytes} bytes`
  }
  // A name may not be both a file and a directory (`a` and `a/b.c`).
  for (const name of names) {
    const parts = name.split('/')
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/')
      if (names.has(dir)) return `${JSON.stringify(dir)} is both a file and a directory`
    }
  }
  if (typeof job.stdin !== 'string') return 'stdin must be a string'
  if (Buffer.byteLength(job.stdin, 'utf8') > bounds.maxStdinBytes) return `stdin exceeds the limit of ${bounds.maxStdinBytes} bytes`
  if (!Array.isArray(job.args)) return 'args must be an array of strings'
  if (job.args.length > bounds.maxArgs) return `the job has ${job.args.length} arguments; at most ${bounds.maxArgs} are allowed`
  let argBytes = 0
  for (const a of job.args) {
    if (typeof a !== 'string') return 'args must be an array of strings'
    if (a.includes('\0')) return 'an argument contains a NUL character'
    argBytes += Buffer.byteLength(a, 'utf8') + 1
  }
  if (argBytes > bounds.maxArgBytes) return `the arguments exceed the limit of ${bounds.maxArgBytes} bytes`
  if (job.limits !== undefined && job.limits !== null) {
    if (typeof job.limits !== 'object') return 'limits must be an object'
    for (const k of ['timeMs', 'memoryMb', 'outputBytes', 'processes'] as const) {
      const v = job.limits[k]
      if (v !== undefined && !positive(v)) return `limit ${k} must be a positive number`
    }
  }
  return undefined
}
