/**
 * calc jobs: run in the node process by `evaluateCalc` (calc.ts), which is
 * pure, synchronous and bounded (linear in the program and stdin, output
 * capped), so it needs no toolchain and no sandbox. Its exit codes map to
 * statuses like a sandboxed language's: a syntax error is found before
 * anything runs (`compile_error`), a math error ends the run
 * (`runtime_error`), the output cap gives `output_limit`.
 */
import { CALC_EXIT, evaluateCalc } from './calc.ts'
import { describeEnd } from './outcome.ts'
import type { ExecHooks, ExecResult, JobSpec, StageLimits, StageResult } from './types.ts'

export function runCalc (job: JobSpec, limits: StageLimits, hooks: ExecHooks): ExecResult {
  if (hooks.signal?.aborted === true) return { status: 'error', message: 'cancelled', compile: null, run: null }
  const file = job.files[0]!
  const source = file.encoding === 'base64' ? Buffer.from(file.content, 'base64').toString('utf8') : file.content
  const t0 = performance.now()
  const r = evaluateCalc(source, job.stdin, { maxOutputBytes: limits.outputBytes, filename: file.name })
  const wallMs = Math.round((performance.now() - t0) * 10) / 10
  const outputLimit = r.code === CALC_EXIT.limit && /output limit exceeded/.test(r.stderr)
  const stage: StageResult = {
    stdout: r.stdout, stderr: r.stderr, code: r.code, signal: null, wallMs, cpuMs: wallMs, memoryKb: null,
    limit: outputLimit ? 'output' : null, truncated: outputLimit,
  }
  // Synchronous: the stage is known once it is over.
  if (r.code === CALC_EXIT.syntax) {
    hooks.onStage?.('compile')
    if (r.stderr !== '') hooks.onOutput?.('compile', 'stderr', r.stderr)
    return { status: 'compile_error', message: 'syntax error', compile: { ...stage, cached: false }, run: null }
  }
  hooks.onStage?.('run')
  if (r.stdout !== '') hooks.onOutput?.('run', 'stdout', r.stdout)
  if (r.stderr !== '') hooks.onOutput?.('run', 'stderr', r.stderr)
  if (r.code === CALC_EXIT.ok) return { status: 'ok', compile: null, run: stage }
  if (outputLimit) return { status: 'output_limit', message: describeEnd(stage, limits), compile: null, run: stage }
  return { status: 'runtime_error', message: `exit code ${r.code}`, compile: null, run: stage }
}
