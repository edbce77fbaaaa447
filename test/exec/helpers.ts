/**
 * Shared bits for the executor tests: temp dirs that are removed, job
 * builders, and a /proc scan for leftovers.
 */
import { randomUUID } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createExecutor, type ExecutorInit } from '../../src/exec/index.ts'
import type { Executor, JobSpec, SourceFile } from '../../src/exec/types.ts'

const dirs = new Set<string>()
const executors = new Set<Executor>()

export async function tempDir (prefix = 'meshrun-exec-test-'): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix))
  dirs.add(d)
  return d
}

/** Limits small enough to keep hostile tests fast. */
export const TEST_LIMITS: ExecutorInit['limits'] = {
  run: { cpuMs: 3000, wallMs: 3000, diskBytes: 16 * 1024 * 1024 },
  compile: { diskBytes: 16 * 1024 * 1024 },
}

export async function newExecutor (init: Partial<ExecutorInit> = {}): Promise<Executor> {
  const ex = await createExecutor({ dataDir: await tempDir(), slots: 2, limits: TEST_LIMITS, ...init })
  executors.add(ex)
  return ex
}

export async function cleanup (): Promise<void> {
  await Promise.all([...executors].map((e) => e.stop()))
  executors.clear()
  await Promise.all([...dirs].map((d) => rm(d, { recursive: true, force: true })))
  dirs.clear()
}

export function files (...pairs: Array<[string, string]>): SourceFile[] {
  return pairs.map(([name, content]) => ({ name, content }))
}

export function job (language: string, fileList: SourceFile[] | string, extra: Partial<JobSpec> = {}): JobSpec {
  const f = typeof fileList === 'string' ? [{ name: defaultName(language), content: fileList }] : fileList
  return { id: randomUUID(), language, files: f, stdin: '', args: [], ...extra }
}

function defaultName (language: string): string {
  return ({ python: 'main.py', c: 'main.c', cpp: 'main.cpp', java: 'Main.java', js: 'main.js', calc: 'main.calc' } as Record<string, string>)[language] ?? 'main.txt'
}

/** Pids whose command line contains `marker`. */
export async function processesWith (marker: string): Promise<number[]> {
  const out: number[] = []
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue
    try {
      const cmd = (await readFile(`/proc/${e}/cmdline`, 'utf8')).replace(/\0/g, ' ')
      if (cmd.includes(marker)) out.push(Number(e))
    } catch { /* gone */ }
  }
  return out
}

/** Pids running as any uid in [from, to). */
export async function processesOfUids (from: number, to: number): Promise<number[]> {
  const out: number[] = []
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue
    try {
      const m = /\nUid:\s+(\d+)/.exec(await readFile(`/proc/${e}/status`, 'utf8'))
      const uid = Number(m?.[1])
      if (uid >= from && uid < to) out.push(Number(e))
    } catch { /* gone */ }
  }
  return out
}
