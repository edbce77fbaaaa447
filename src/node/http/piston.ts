/**
 * Piston v2 compatibility, as pure functions: a Piston `/api/v2/execute`
 * request becomes a meshrun JobSpec, a meshrun JobResult becomes Piston's
 * response, and the cluster's languages become Piston's runtime list.
 * Messages and status codes are Piston's own (engineer-man/piston
 * api/src/api/v2.js and job.js), so existing clients work unchanged.
 *
 * Where meshrun differs, on purpose:
 * - any `version` is accepted (`*`, `3.x`, or a version another Piston
 *   had): a cluster has one toolchain per language, and the response names
 *   the version that ran;
 * - `compile_timeout`, `compile_cpu_time` and `compile_memory_limit` are
 *   checked but not applied: the compile stage runs within the node's limits;
 *   `run_timeout`/`run_cpu_time` and `run_memory_limit` can only lower the
 *   node's (a larger value is capped, not refused);
 * - a file without a name, or a first file whose extension is not the
 *   language's, is given one (compilers choose by extension).
 */
import { constants } from 'node:os'
import { LANGUAGES, resolveLanguage, type Language } from '../../exec/languages.ts'
import type { JobLimits, JobSpec, SourceFile, StageResult } from '../../exec/types.ts'
import type { JobResult } from '../schemas.ts'

export interface PistonRuntime {
  language: string
  version: string
  aliases: string[]
  runtime?: string
}

export interface PistonStage {
  stdout: string
  stderr: string
  output: string
  code: number | null
  signal: string | null
  message: string | null
  /** RE (runtime error), SG (signal), TO (timeout), OL/EL (stdout/stderr length), XX (internal). */
  status: 'RE' | 'SG' | 'TO' | 'OL' | 'EL' | 'XX' | null
  /** Peak memory in bytes, where measured. */
  memory: number | null
  cpu_time: number | null
  wall_time: number | null
}

export interface PistonResponse {
  language: string
  version: string
  run: PistonStage
  compile?: PistonStage
}

/** A request Piston itself would answer with 400 and `{ message }`. */
export class PistonRequestError extends Error {
  override name = 'PistonRequestError'
}

/** The languages available somewhere in the cluster, with this node's versions where known. */
export function pistonRuntimes (available: Iterable<string>, versions: ReadonlyMap<string, string>): PistonRuntime[] {
  const names = new Set(available)
  return LANGUAGES.filter((l) => names.has(l.name)).map((l) => ({
    language: l.name,
    version: versions.get(l.name) ?? '0.0.0',
    aliases: [...l.aliases],
  }))
}

const ENCODINGS = ['utf8', 'base64', 'hex'] as const
const LIMIT_FIELDS = ['compile_timeout', 'run_timeout', 'compile_cpu_time', 'run_cpu_time', 'compile_memory_limit', 'run_memory_limit'] as const
const MiB = 1024 * 1024

/**
 * Validates a Piston execute request (in Piston's order, with its messages)
 * and turns it into a JobSpec. `available` are the canonical names of the
 * languages some live node runs. Throws PistonRequestError.
 */
export function pistonToJob (body: unknown, id: string, available: ReadonlySet<string>): { spec: JobSpec, language: Language } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new PistonRequestError('the request body must be a JSON object')
  const b = body as Record<string, unknown>
  const { language, version, files } = b
  if (typeof language !== 'string' || language === '') throw new PistonRequestError('language is required as a string')
  if (typeof version !== 'string' || version === '') throw new PistonRequestError('version is required as a string')
  if (!Array.isArray(files)) throw new PistonRequestError('files is required as an array')
  for (const [i, file] of files.entries()) {
    if (file === null || typeof file !== 'object' || typeof (file as { content?: unknown }).content !== 'string') {
      throw new PistonRequestError(`files[${i}].content is required as a string`)
    }
  }
  const lang = resolveLanguage(language)
  if (lang === undefined || !available.has(lang.name)) throw new PistonRequestError(`${language}-${version} runtime is unknown`)
  const typed = files as Array<{ name?: unknown, content: string, encoding?: unknown }>
  for (const [i, f] of typed.entries()) {
    if (f.encoding !== undefined && !(ENCODINGS as readonly unknown[]).includes(f.encoding)) {
      throw new PistonRequestError(`files[${i}].encoding must be one of ${ENCODINGS.join(', ')}`)
    }
    if (f.name !== undefined && typeof f.name !== 'string') throw new PistonRequestError(`files[${i}].name must be a string`)
  }
  if (!typed.some((f) => f.encoding === undefined || f.encoding === 'utf8')) {
    throw new PistonRequestError('files must include at least one utf8 encoded file')
  }
  for (const name of LIMIT_FIELDS) {
    const v = b[name]
    if (v === undefined || v === null || v === 0) continue
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new PistonRequestError(`If specified, ${name} must be a number`)
    if (v < 0 && !name.endsWith('memory_limit')) throw new PistonRequestError(`${name} must be non-negative`)
  }
  const { stdin, args } = b
  if (stdin !== undefined && stdin !== null && typeof stdin !== 'string') throw new PistonRequestError('stdin must be a string')
  if (args !== undefined && args !== null && (!Array.isArray(args) || !args.every((a) => typeof a === 'string'))) {
    throw new PistonRequestError('args must be an array of strings')
  }

  const limits: JobLimits = {}
  const times = [b.run_timeout, b.run_cpu_time].filter((v): v is number => typeof v === 'number' && v > 0)
  if (times.length > 0) limits.timeMs = Math.max(1, Math.ceil(Math.min(...times)))
  const mem = b.run_memory_limit
  if (typeof mem === 'number' && mem > 0) limits.memoryMb = Math.max(1, Math.ceil(mem / MiB))

  const spec: JobSpec = {
    id,
    language: lang.name,
    files: nameFiles(lang, typed.map(toSourceFile)),
    stdin: typeof stdin === 'string' ? stdin : '',
    args: Array.isArray(args) ? args as string[] : [],
    ...(Object.keys(limits).length > 0 ? { limits } : {}),
  }
  return { spec, language: lang }
}

function toSourceFile (f: { name?: unknown, content: string, encoding?: unknown }): SourceFile {
  const name = typeof f.name === 'string' ? f.name : ''
  if (f.encoding === 'hex') return { name, content: Buffer.from(f.content, 'hex').toString('base64'), encoding: 'base64' }
  return f.encoding === 'base64' ? { name, content: f.content, encoding: 'base64' } : { name, content: f.content }
}

/** Piston picks a random name for a nameless file; compilers here choose by extension, so give one that fits. */
function nameFiles (lang: Language, files: SourceFile[]): SourceFile[] {
  const ext = lang.extensions[0] ?? ''
  const taken = new Set(files.map((f) => f.name))
  return files.map((f, i) => {
    let name = f.name
    if (name === '') name = i === 0 ? `main${ext}` : `file${i}${ext}`
    else if (i === 0 && !lang.extensions.some((e) => name.toLowerCase().endsWith(e))) name = `${name}${ext}`
    if (name !== f.name && taken.has(name)) name = `file${i}_${name}`
    return { ...f, name }
  })
}

const signalNumber = (name: string): number | undefined => (constants.signals as Record<string, number>)[name]
/** Linux names some signals twice; Piston uses the usual name. */
const SIGNAL_ALIASES: Record<string, string> = { SIGIOT: 'SIGABRT', SIGPOLL: 'SIGIO', SIGCLD: 'SIGCHLD', SIGUNUSED: 'SIGSYS' }

/** One stage in Piston's shape; `events` is the stage's output in the order it was written, when known. */
export function pistonStage (r: StageResult, interleaved?: string): PistonStage {
  const combined = interleaved ?? r.stdout + r.stderr
  let status: PistonStage['status'] = null
  let message: string | null = null
  let signal = r.signal === null ? null : SIGNAL_ALIASES[r.signal] ?? r.signal
  if (r.limit === 'cpu' || r.limit === 'wall') {
    status = 'TO'
    message = r.limit === 'cpu' ? 'Time limit exceeded' : 'Time limit exceeded (wall clock)'
    signal = 'SIGKILL'
  } else if (r.limit === 'output') {
    const stderrOverflow = r.stderr.length > r.stdout.length
    status = stderrOverflow ? 'EL' : 'OL'
    message = stderrOverflow ? 'stderr length exceeded' : 'stdout length exceeded'
    signal = 'SIGKILL'
  } else if (r.limit === 'memory') {
    status = 'SG'
    message = 'Memory limit exceeded'
    signal ??= 'SIGKILL'
  } else if (signal !== null) {
    status = 'SG'
    message = `Caught fatal signal ${signalNumber(signal) ?? signal}`
  } else if (r.code !== 0) {
    status = 'RE'
    message = `Exited with error status ${r.code ?? 'unknown'}`
  }
  if (r.limit === 'processes' || r.limit === 'disk') message = `${message ?? 'Stopped'} (${r.limit === 'disk' ? 'disk' : 'process'} limit reached)`
  return {
    stdout: r.stdout,
    stderr: r.stderr,
    output: combined,
    code: signal === null ? r.code : null,
    signal,
    message,
    status,
    memory: r.memoryKb === null ? null : r.memoryKb * 1024,
    cpu_time: r.cpuMs,
    wall_time: r.wallMs,
  }
}

const internal = (message: string): PistonStage => ({
  stdout: '', stderr: '', output: '', code: null, signal: null, message, status: 'XX', memory: null, cpu_time: null, wall_time: null,
})

/**
 * Piston's response for a finished job. Languages whose compile stage only
 * checks syntax (python, js) have no compile stage in Piston: their syntax
 * errors appear as the run stage's, as Piston's interpreter would report them.
 * When compilation fails, `run` repeats `compile` (as Piston does).
 */
export function pistonResponse (result: JobResult, version: string, output: { compile?: string, run?: string } = {}): PistonResponse {
  const lang = resolveLanguage(result.language)
  const compiled = lang?.compile !== undefined && lang.compile.checkOnly !== true
  const compile = result.compile === null ? undefined : pistonStage(result.compile, output.compile)
  let run = result.run === null ? undefined : pistonStage(result.run, output.run)
  if (run === undefined) run = compile ?? internal(result.message ?? result.status)
  if (result.status === 'error' && run.status === null) run = { ...run, status: 'XX', message: result.message ?? 'internal error' }
  const response: PistonResponse = { language: result.language, version, run }
  if (compiled && compile !== undefined) response.compile = compile
  return response
}
