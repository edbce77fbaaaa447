/**
 * The executor: validates a job, takes a slot and a sandbox identity,
 * compiles through the cache, runs, and names the outcome. A job moves
 * through guarded phases; clean-up always runs in `finally`.
 */
import { access, constants, mkdir, open, rename, statfs, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { runCalc } from './calc-runner.ts'
import { CompileCache, DEFAULT_CACHE_MAX_MB, type CacheStats } from './cache.ts'
import {
  ExecutorStoppedError, InvalidJobError, InvalidLimitsError, JobCancelledError, LanguageUnavailableError, SandboxSetupError,
  SandboxUnavailableError, UnknownLanguageError,
} from './errors.ts'
import { Identities, type Identity } from './identities.ts'
import { CHECK_FAILED_EXIT, CHECK_FILE, compileSources, expandCommand, LANGUAGES, layoutFiles, resolveLanguage, type Language } from './languages.ts'
import { resolveLimits, validateJob, type NodeLimits, type NodeLimitsInit } from './limits.ts'
import { cacheable, compiled, describeEnd, limitOf, runStatus, toStageResult } from './outcome.ts'
import { Pool } from './pool.ts'
import { seccompArch, seccompProgram } from './seccomp.ts'
import { describeSandbox, stageScript, type SandboxConfig, type SandboxLimits, type SandboxOutcome } from './sandbox.ts'
import { detectToolchains, topMost, type Toolchain } from './toolchains.ts'
import type { ExecHooks, ExecResult, Executor, JobSpec, LanguageInfo, OutputStream, SandboxInfo, SourceFile, Stage, StageLimits, StageResult } from './types.ts'

export interface ExecutorInit {
  /** The node's data dir: the compile cache lives in `<dataDir>/cache`. */
  dataDir: string
  /** Jobs run at once; more wait in FIFO order. */
  slots: number
  /** Only these languages (names or aliases); default: every language whose toolchain is found. */
  langs?: string[]
  /** The operator's limits (see limits.ts for the defaults). */
  limits?: NodeLimitsInit
  /** Run jobs without bubblewrap when it is missing (loudly reported in `sandbox.warnings`). */
  allowUnsandboxed?: boolean
  /** First uid for job slots (root only); default 64000. */
  uidBase?: number
  /** Path of bwrap; default: looked for in /usr/bin, /usr/local/bin, /bin. */
  bwrapPath?: string
  /** The compile cache's bound on disk, in MiB (default DEFAULT_CACHE_MAX_MB). */
  cacheMaxMb?: number
}

const BWRAP_CANDIDATES = ['/usr/bin/bwrap', '/usr/local/bin/bwrap', '/bin/bwrap']
const SETPRIV_CANDIDATES = ['/usr/bin/setpriv', '/bin/setpriv']
const MiB = 1024 * 1024
const SANDBOX_PROCESSES = 2 // bwrap's monitor and the pid-1 shell
const SHM_BYTES = 16 * MiB
/** strerror texts of ENOSPC, EFBIG and EDQUOT as programs print them. */
const DISK_ERRORS = /No space left on device|File too large|Disk quota exceeded|\bENOSPC\b|\bEFBIG\b/i

async function findExecutable (candidates: readonly string[]): Promise<string | null> {
  for (const p of candidates) {
    try { await access(p, constants.X_OK); return p } catch { /* next */ }
  }
  return null
}

type Phase = 'waiting' | 'preparing' | 'compiling' | 'running' | 'done'
const NEXT: Record<Phase, readonly Phase[]> = {
  waiting: ['preparing', 'done'],
  preparing: ['compiling', 'running', 'done'],
  compiling: ['running', 'done'],
  running: ['done'],
  done: [],
}

/** One job's progress; a transition out of order is a bug and throws. */
class JobRun {
  phase: Phase = 'waiting'
  compile: StageResult | null = null
  run: StageResult | null = null
  readonly id: string
  constructor (id: string) { this.id = id }
  to (next: Phase): void {
    if (!NEXT[this.phase].includes(next)) throw new Error(`job ${this.id}: ${this.phase} → ${next}`)
    this.phase = next
  }
}

/** The caller's callbacks, so that one that throws cannot break a job (or the node). */
function guarded (hooks: ExecHooks): ExecHooks {
  const out: ExecHooks = {}
  if (hooks.signal !== undefined) out.signal = hooks.signal
  const { onOutput, onStage } = hooks
  if (onOutput !== undefined) out.onOutput = (stage, stream, data) => { try { onOutput(stage, stream, data) } catch { /* the caller's fault */ } }
  if (onStage !== undefined) out.onStage = (stage) => { try { onStage(stage) } catch { /* the caller's fault */ } }
  return out
}

function rejected (message: string): ExecResult {
  return { status: 'rejected', message, compile: null, run: null }
}

class MeshExecutor implements Executor {
  readonly languages: LanguageInfo[]
  readonly sandbox: SandboxInfo
  get cache (): CacheStats { return this.compileCache.stats() }
  private readonly toolchains: Map<string, Toolchain>
  private readonly missing: Map<string, string>
  private readonly limitsInit: NodeLimitsInit | undefined
  private readonly nodeLimits: NodeLimits
  private readonly config: SandboxConfig
  private readonly ids: Identities
  private readonly slots: Pool<number>
  private readonly compileCache: CompileCache
  private readonly stopper = new AbortController()
  private readonly active = new Set<Promise<ExecResult>>()
  private stopping: Promise<void> | null = null

  constructor (parts: {
    toolchains: Map<string, Toolchain>, missing: Map<string, string>, limitsInit: NodeLimitsInit | undefined, nodeLimits: NodeLimits,
    sandboxConfig: SandboxConfig, identities: Identities, slots: number, cache: CompileCache, warnings: string[],
  }) {
    this.toolchains = parts.toolchains
    this.missing = parts.missing
    this.limitsInit = parts.limitsInit
    this.nodeLimits = parts.nodeLimits
    this.config = parts.sandboxConfig
    this.ids = parts.identities
    this.slots = new Pool(Array.from({ length: parts.slots }, (_, i) => i))
    this.compileCache = parts.cache
    const info = describeSandbox(parts.sandboxConfig)
    this.sandbox = { ...info, warnings: [...parts.warnings, ...info.warnings] }
    this.languages = LANGUAGES.filter((l) => this.toolchains.has(l.name)).map((l) => ({
      name: l.name,
      version: this.toolchains.get(l.name)!.version,
      aliases: [...l.aliases],
      extensions: [...l.extensions],
      compiled: l.compile !== undefined && l.compile.checkOnly !== true,
    }))
  }

  run (job: JobSpec, hooks: ExecHooks = {}): Promise<ExecResult> {
    const p = this.runJob(job, guarded(hooks))
    this.active.add(p)
    void p.finally(() => { this.active.delete(p) })
    return p
  }

  /** Checks that this node can take the job; throws the reason (→ `rejected`). */
  private admit (job: JobSpec): { lang: Language; tc: Toolchain } {
    const problem = validateJob(job, this.nodeLimits.job)
    if (problem !== undefined) throw new InvalidJobError(problem)
    const lang = resolveLanguage(job.language)
    if (lang === undefined) throw new UnknownLanguageError(`unknown language '${job.language}' (known: ${LANGUAGES.map((l) => l.name).join(', ')})`)
    const tc = this.toolchains.get(lang.name)
    if (tc === undefined) {
      const why = this.missing.get(lang.name)
      throw new LanguageUnavailableError(`language ${lang.name} is not available on this node${why === undefined ? ' (excluded by --langs)' : `: ${why}`}`)
    }
    if (lang.compile !== undefined && lang.compile.checkOnly !== true && compileSources(lang, job.files).length === 0) {
      throw new InvalidJobError(`a ${lang.name} job needs at least one ${lang.compile.sources.join('/')} file`)
    }
    return { lang, tc }
  }

  private async runJob (job: JobSpec, hooks: ExecHooks): Promise<ExecResult> {
    if (this.stopping !== null) return { status: 'error', message: new ExecutorStoppedError().message, compile: null, run: null }
    let admitted: { lang: Language; tc: Toolchain }
    try {
      admitted = this.admit(job)
    } catch (err) {
      return rejected((err as Error).message)
    }
    const { lang, tc } = admitted
    const limits = resolveLimits(this.limitsInit, job.limits)
    if (lang.inProcess === true) return runCalc(job, limits.run, hooks)
    const files = layoutFiles(lang, job.files)

    const signal = hooks.signal === undefined ? this.stopper.signal : AbortSignal.any([hooks.signal, this.stopper.signal])
    const state = new JobRun(job.id)
    let slot: number | undefined
    let id: Identity | undefined
    try {
      slot = await this.slots.acquire(signal)
      id = await this.ids.acquire(signal)
      state.to('preparing')
      await id.workspace.prepare(id.uid, files)
      // An inline check is skipped when these sources passed it before (the cache says so).
      let inline = lang.compile?.inline
      let checkKey: string | undefined
      if (inline !== undefined) {
        checkKey = this.compileCache.key({ language: lang.name, version: tc.version, command: expandCommand(lang, lang.compile!.argv, { tools: tc.tools, memoryMb: limits.compile.memoryMb, files }), files })
        const hit = await this.compileCache.get(checkKey)
        if (hit !== undefined) {
          state.compile = { ...hit.result, wallMs: 0, cpuMs: 0, memoryKb: null, cached: true }
          if (!compiled(state.compile)) return { status: 'compile_error', message: 'syntax check failed', compile: state.compile, run: null }
          inline = undefined
        }
      }
      if (lang.compile !== undefined && lang.compile.inline === undefined) {
        state.to('compiling')
        state.compile = await this.compile(lang, tc, files, limits, id, hooks, signal)
        if (!compiled(state.compile)) {
          const what = lang.compile.checkOnly === true ? 'syntax check failed' : 'compilation failed'
          const message = state.compile.limit === null ? what : `${what}: ${describeEnd(state.compile, limits.compile)}`
          return { status: 'compile_error', message, compile: state.compile, run: null }
        }
      }
      state.to('running')
      const argv = expandCommand(lang, inline?.argv ?? lang.run.argv, { tools: tc.tools, memoryMb: limits.run.memoryMb, files, args: job.args })
      hooks.onStage?.('run')
      const outcome = await this.stage('run', lang, argv, limits.run, job.stdin, id, hooks, signal)
      if (inline !== undefined && checkKey !== undefined) {
        const diagnostics = outcome.code === CHECK_FAILED_EXIT ? await readCheckFile(join(id.workspace.tmp, CHECK_FILE)) : null
        const failed = diagnostics !== null
        // A stage that ended on its own passed the check (or failed it, above); one killed
        // (a limit, a signal) may have died in the check itself: then nothing is known.
        if (failed || (outcome.signal === null && outcome.code !== null)) {
          const check: StageResult = { stdout: '', stderr: diagnostics ?? '', code: failed ? 1 : 0, signal: null, wallMs: 0, cpuMs: null, memoryKb: null, limit: null, truncated: false }
          await this.compileCache.put(checkKey, check, id.workspace.box, [])
          state.compile = { ...check, cached: false }
        }
        if (failed) {
          state.compile = { ...state.compile!, wallMs: outcome.wallMs, cpuMs: outcome.cpuMs, memoryKb: outcome.memoryKb }
          return { status: 'compile_error', message: 'syntax check failed', compile: state.compile, run: null }
        }
      }
      state.run = toStageResult(outcome, limitOf(outcome, lang, { diskFull: await this.diskFull(id, outcome, limits.run), ...this.memoryFact(lang, limits.run) }))
      const status = runStatus(state.run)
      return status === 'ok'
        ? { status, compile: state.compile, run: state.run }
        : { status, message: describeEnd(state.run, limits.run), compile: state.compile, run: state.run }
    } catch (err) {
      if (err instanceof JobCancelledError || signal.aborted) {
        const message = this.stopper.signal.aborted ? new ExecutorStoppedError().message : 'cancelled'
        return { status: 'error', message, compile: state.compile, run: state.run }
      }
      const message = err instanceof SandboxSetupError ? err.message : `internal error: ${(err as Error).message ?? String(err)}`
      return { status: 'error', message, compile: state.compile, run: state.run }
    } finally {
      if (state.phase !== 'done') state.to('done')
      // Recycling removes the job dir, then checks that nothing of the job
      // is left before the identity serves again (in the background).
      if (id !== undefined) this.ids.recycle(id)
      if (slot !== undefined) this.slots.release(slot)
    }
  }

  /** Compile through the cache. */
  private async compile (lang: Language, tc: Toolchain, files: SourceFile[], limits: NodeLimits, id: Identity, hooks: ExecHooks, signal: AbortSignal): Promise<StageResult> {
    const spec = lang.compile!
    const argv = expandCommand(lang, spec.argv, { tools: tc.tools, memoryMb: limits.compile.memoryMb, files })
    const key = this.compileCache.key({ language: lang.name, version: tc.version, command: argv, files })
    const hit = await this.compileCache.get(key)
    if (hit !== undefined) {
      try {
        await this.compileCache.restore(hit, id.workspace.box, id.uid)
        return { ...hit.result, wallMs: 0, cpuMs: 0, memoryKb: null, cached: true }
      } catch {
        // Evicted (or damaged) under us: compile as if it had never been cached.
        await this.compileCache.forget(key)
      }
    }
    hooks.onStage?.('compile')
    const outcome = await this.stage('compile', lang, argv, limits.compile, null, id, hooks, signal)
    const result: StageResult = { ...toStageResult(outcome, limitOf(outcome, lang, { diskFull: await this.diskFull(id, outcome, limits.compile), ...this.memoryFact(lang, limits.compile) })), cached: false }
    if (cacheable(result)) await this.compileCache.put(key, result, id.workspace.box, spec.artefacts)
    return result
  }

  /** One sandboxed stage; turns an abort or a sandbox failure into an exception. */
  private async stage (stage: Stage, lang: Language, argv: string[], limits: StageLimits, stdin: string | null, id: Identity, hooks: ExecHooks, signal: AbortSignal): Promise<SandboxOutcome> {
    const sandboxLimits = this.sandboxLimits(lang, limits)
    const script = stageScript(this.config, {
      uid: id.uid,
      box: id.workspace.box,
      tmp: id.workspace.tmp,
      stdinFile: stdin === null ? null : id.workspace.stdin,
      limits: sandboxLimits,
      argv,
    })
    const outcome = await id.zygote.run({
      script,
      stdin,
      limits: sandboxLimits,
      bwrap: this.config.bwrap !== null,
      signal,
      ...(hooks.onOutput === undefined ? {} : { onOutput: (stream: OutputStream, text: string) => { hooks.onOutput!(stage, stream, text) } }),
    })
    if (outcome.killedFor === 'abort') throw new JobCancelledError()
    if (outcome.setupFailed !== null) throw new SandboxSetupError(`sandbox failure in the ${stage} stage: ${outcome.setupFailed}`)
    return outcome
  }

  /** The stage's memory limit for limitOf, where a memory cgroup enforces (and measures) it. */
  private memoryFact (lang: Language, l: StageLimits): { memoryLimitKb?: number } {
    return this.ids.cgroups.memory === null ? {} : { memoryLimitKb: (l.memoryMb + lang.memoryOverheadMb) * 1024 }
  }

  private sandboxLimits (lang: Language, l: StageLimits): SandboxLimits {
    const memoryMb = l.memoryMb + lang.memoryOverheadMb
    const cgroupMemory = this.ids.cgroups.memory !== null
    return {
      cpuMs: l.cpuMs,
      wallMs: l.wallMs,
      outputBytes: l.outputBytes,
      processes: l.processes + lang.extraProcesses + SANDBOX_PROCESSES,
      openFiles: l.openFiles,
      fileBytes: l.diskBytes,
      memoryBytes: memoryMb * MiB,
      // RLIMIT_AS only where no memory cgroup does better (and never for the JVM or V8).
      addressSpaceBytes: !cgroupMemory && lang.addressSpaceLimit ? (memoryMb + 64) * MiB : null,
      shmBytes: Math.min(SHM_BYTES, l.diskBytes),
    }
  }

  /**
   * Whether a failed stage used up its disk quota: the tmpfs is (nearly)
   * full or holds as much as the quota (a file stopped by RLIMIT_FSIZE).
   * Without tmpfs job dirs, the program's own ENOSPC/EFBIG message decides.
   */
  private async diskFull (id: Identity, o: SandboxOutcome, limits: StageLimits): Promise<boolean> {
    if (o.code === 0 && o.signal === null) return false
    if (!this.ids.tmpfs) return DISK_ERRORS.test(o.stderr)
    try {
      const s = await statfs(id.workspace.root)
      const free = s.bavail * s.bsize
      const used = (s.blocks - s.bfree) * s.bsize
      return free < 64 * 1024 || s.ffree < 16 || used >= limits.diskBytes - 64 * 1024
    } catch {
      return false
    }
  }

  stop (): Promise<void> {
    this.stopping ??= (async () => {
      this.stopper.abort()
      await Promise.allSettled([...this.active])
      await this.ids.close(new ExecutorStoppedError())
    })()
    return this.stopping
  }
}

/**
 * Detects toolchains and the sandbox, claims uids, sets up cgroups and job
 * dirs, and returns a ready executor. Throws SandboxUnavailableError when
 * bubblewrap is missing (or does not work) and `allowUnsandboxed` is not
 * set, UnknownLanguageError for an unknown name in `langs`, and
 * InvalidLimitsError for unusable limits.
 */
export async function createExecutor (init: ExecutorInit): Promise<Executor> {
  if (!Number.isInteger(init.slots) || init.slots < 1) throw new InvalidLimitsError(`slots must be a positive integer, got ${String(init.slots)}`)
  const dataDir = resolve(init.dataDir)
  const nodeLimits = resolveLimits(init.limits)
  const root = process.getuid?.() === 0
  const [detection, bwrapPath, setprivPath] = await Promise.all([
    detectToolchains(init.langs === undefined ? {} : { langs: init.langs }),
    findExecutable(init.bwrapPath === undefined ? BWRAP_CANDIDATES : [init.bwrapPath]),
    findExecutable(SETPRIV_CANDIDATES),
  ])
  if (root && setprivPath === null) throw new SandboxUnavailableError('setpriv (util-linux) is not installed: it is needed to run jobs under their own unprivileged uid')
  const warnings: string[] = []
  if (bwrapPath === null) {
    if (init.allowUnsandboxed !== true) {
      throw new SandboxUnavailableError('bubblewrap (bwrap) is not installed: refusing to run untrusted jobs (install it with `apt-get install bubblewrap`, or pass --allow-unsandboxed to run them without a sandbox)')
    }
  }
  await mkdir(dataDir, { recursive: true })
  const identities = await Identities.create({
    count: init.slots + Math.max(2, init.slots),
    slots: init.slots,
    uidBase: init.uidBase ?? 64000,
    setpriv: setprivPath,
    // The stage's quota, plus the sources (and artefacts of their size) and the stdin file.
    workspaceBytes: Math.max(nodeLimits.compile.diskBytes, nodeLimits.run.diskBytes) + 2 * nodeLimits.job.maxSourceBytes + nodeLimits.job.maxStdinBytes,
    dataDir,
  })
  try {
    warnings.push(...identities.warnings)
    const roBinds = topMost([...detection.toolchains.values()].flatMap((t) => t.binds))
    const seccomp = bwrapPath === null ? null : await writeSeccompFilter(dataDir, warnings)
    let config: SandboxConfig = { bwrap: bwrapPath, setpriv: root ? setprivPath : null, cgroups: identities.cgroups, tmpfsWorkspaces: identities.tmpfs, roBinds, seccomp }
    if (bwrapPath !== null) {
      let failure = await smokeTest(config, identities)
      if (failure !== null && seccomp !== null && await smokeTest({ ...config, seccomp: null }, identities) === null) {
        // bwrap works, the filter does not (a kernel without seccomp?): run without it, loudly.
        warnings.push(`the seccomp filter could not be installed (${failure})`)
        config = { ...config, seccomp: null }
        failure = null
      }
      if (failure !== null) {
        if (init.allowUnsandboxed !== true) throw new SandboxUnavailableError(`bubblewrap does not work here (${failure}): refusing to run untrusted jobs (or pass --allow-unsandboxed)`)
        warnings.push(`bubblewrap does not work here: ${failure}`)
        config = { ...config, bwrap: null, seccomp: null }
      }
    }
    const cache = new CompileCache(join(dataDir, 'cache'), (init.cacheMaxMb ?? DEFAULT_CACHE_MAX_MB) * MiB)
    void cache.load()
    return new MeshExecutor({
      toolchains: detection.toolchains,
      missing: new Map(detection.missing.map((m) => [m.name, m.reason])),
      limitsInit: init.limits,
      nodeLimits,
      sandboxConfig: config,
      identities,
      slots: init.slots,
      cache,
      warnings,
    })
  } catch (err) {
    await identities.close(err as Error)
    throw err
  }
}

/**
 * Writes the seccomp program for this machine's architecture into the data
 * dir (readable by the node only; the stage script opens it before dropping
 * privileges). Returns its path, or null (with a warning) when there is no
 * syscall table for this architecture.
 */
async function writeSeccompFilter (dataDir: string, warnings: string[]): Promise<string | null> {
  const arch = seccompArch()
  if (arch === null) {
    warnings.push(`seccomp.ts has no syscall table for ${process.arch}`)
    return null
  }
  const file = join(dataDir, 'seccomp.bpf')
  // Written aside and renamed: a node that restarts never lets a stage read half a program.
  await writeFile(`${file}.${process.pid}`, seccompProgram(arch), { mode: 0o600 })
  await rename(`${file}.${process.pid}`, file)
  return file
}

/** The smoke test's command: succeeds only if the seccomp filter is in force when it should be. */
function smokeCommand (config: SandboxConfig): string {
  if ((config.seccomp ?? null) === null) return 'exit 0'
  return 'while read -r k v; do [ "$k" = Seccomp: ] && { [ "$v" = 2 ] && exit 0; echo "seccomp mode $v" >&2; exit 1; }; done </proc/self/status; echo "no Seccomp line in /proc/self/status" >&2; exit 1'
}

/** Starts one trivial sandbox, so a broken bwrap (or filter) shows at start-up, not on every job. */
async function smokeTest (config: SandboxConfig, identities: Identities): Promise<string | null> {
  const id = await identities.acquire()
  try {
    await id.workspace.prepare(id.uid, [])
    const limits: SandboxLimits = { cpuMs: 5000, wallMs: 10_000, outputBytes: 65536, processes: 16, openFiles: 64, fileBytes: MiB, memoryBytes: 256 * MiB, addressSpaceBytes: null, shmBytes: MiB }
    const script = stageScript(config, { uid: id.uid, box: id.workspace.box, tmp: id.workspace.tmp, stdinFile: null, limits, argv: ['/bin/sh', '-c', smokeCommand(config)] })
    const o = await id.zygote.run({ script, stdin: null, limits, bwrap: config.bwrap !== null })
    if (o.setupFailed !== null) return o.setupFailed
    if (o.code !== 0) return `a trivial command ended with ${o.signal ?? `exit code ${String(o.code)}`}: ${o.stderr.trim()}`
    return null
  } finally {
    identities.recycle(id)
  }
}

/** Diagnostics an inline check left in the job's /tmp (see languages.ts), at most 64 KiB; null if there are none. */
async function readCheckFile (path: string): Promise<string | null> {
  let h
  try {
    // The job wrote it: never follow a link it may have put there instead.
    h = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch {
    return null
  }
  try {
    if (!(await h.stat()).isFile()) return null
    const buf = Buffer.alloc(64 * 1024)
    const { bytesRead } = await h.read(buf, 0, buf.length, 0)
    return buf.subarray(0, bytesRead).toString('utf8')
  } finally {
    await h.close()
  }
}
