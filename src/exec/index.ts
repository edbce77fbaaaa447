/**
 * meshrun's execution layer: compiles and runs untrusted programs in a
 * bubblewrap sandbox, one job per slot, with a compile cache.
 *
 * @example
 * ```ts
 * import { createExecutor } from './exec/index.ts'
 *
 * const executor = await createExecutor({ dataDir: '/var/lib/meshrun', slots: 2 })
 * const result = await executor.run({
 *   id: 'job-1', language: 'python', stdin: '', args: [],
 *   files: [{ name: 'main.py', content: 'print("hi")' }],
 * })
 * // result.status === 'ok', result.run.stdout === 'hi\n'
 * await executor.stop()
 * ```
 *
 * Files: languages.ts (the language table), toolchains.ts (detection),
 * limits.ts (which limit wins, job validation), sandbox.ts (what a stage
 * runs in, the script that starts it), seccomp.ts (the syscall filter, as
 * raw BPF), zygote.ts (the per-identity process that starts stages),
 * cgroups.ts, uids.ts, workspace.ts and identities.ts
 * (what a stage runs as and in), output.ts (capped output), cache.ts
 * (compile cache), outcome.ts (status mapping), calc-runner.ts (calc,
 * in-process), pool.ts (slots), executor.ts (the job lifecycle).
 */
export { createExecutor, type ExecutorInit } from './executor.ts'
export { LANGUAGES, languageForFile, resolveLanguage, type Language } from './languages.ts'
export { DEFAULT_LIMITS, resolveLimits, validateJob, type JobBounds, type NodeLimits, type NodeLimitsInit } from './limits.ts'
export { detectToolchains, type Toolchain } from './toolchains.ts'
export {
  ExecutorStoppedError, InvalidJobError, InvalidLimitsError, JobCancelledError, LanguageUnavailableError,
  SandboxSetupError, SandboxUnavailableError, UidPoolError, UnknownLanguageError,
} from './errors.ts'
export * from './types.ts'
