import { describe, expect, test } from 'vitest'
import { InvalidLimitsError } from '../../src/exec/errors.ts'
import { DEFAULT_LIMITS, resolveLimits, validateJob } from '../../src/exec/limits.ts'
import { files, job } from './helpers.ts'

describe('resolveLimits', () => {
  test('defaults', () => {
    const l = resolveLimits()
    expect(l.run).toEqual(DEFAULT_LIMITS.run)
    expect(l.run.cpuMs).toBe(5000)
    expect(l.run.memoryMb).toBe(256)
    expect(l.compile.wallMs).toBeGreaterThanOrEqual(30_000)
  })

  test('the operator replaces defaults, up or down', () => {
    const l = resolveLimits({ run: { memoryMb: 1024, cpuMs: 2000 } })
    expect(l.run.memoryMb).toBe(1024)
    expect(l.run.cpuMs).toBe(2000)
    expect(l.run.wallMs).toBe(DEFAULT_LIMITS.run.wallMs)
  })

  test('a client can only lower', () => {
    const l = resolveLimits({ run: { memoryMb: 128 } }, { memoryMb: 4096, timeMs: 1500, outputBytes: 10, processes: 1e9 })
    expect(l.run.memoryMb).toBe(128)
    expect(l.run.cpuMs).toBe(1500)
    expect(l.run.wallMs).toBe(1500)
    expect(l.run.outputBytes).toBe(10)
    expect(l.run.processes).toBe(DEFAULT_LIMITS.run.processes)
    expect(l.compile).toEqual(DEFAULT_LIMITS.compile)
  })

  test('bad operator values throw', () => {
    expect(() => resolveLimits({ run: { cpuMs: -1 } })).toThrow(InvalidLimitsError)
    expect(() => resolveLimits({ job: { maxFiles: Number.NaN } })).toThrow(/job.maxFiles/)
  })
})

describe('validateJob', () => {
  test('a good job passes', () => {
    expect(validateJob(job('c', files(['main.c', 'x'], ['lib/util.h', 'y'], ['a-b_c.1+2.c', 'z'])))).toBeUndefined()
  })

  test.each([
    ['/etc/passwd', 'absolute'], ['../x.c', "'..'"], ['a/../b.c', "'..'"], ['.hidden', 'characters'],
    ['a b.c', 'characters'], ['a//b.c', 'characters'], ['-rf', 'characters'], ['x\u0000.c', 'characters'],
  ])('rejects the file name %j', (name, why) => {
    expect(validateJob(job('c', files([name, 'x'])))).toContain(why)
  })

  test('rejects duplicates, file/dir clashes, no files, oversized sources', () => {
    expect(validateJob(job('c', files(['a.c', ''], ['a.c', ''])))).toMatch(/twice/)
    expect(validateJob(job('c', files(['a', ''], ['a/b.c', ''])))).toMatch(/both a file and a directory/)
    expect(validateJob(job('c', []))).toMatch(/no files/)
    expect(validateJob(job('c', files(['a.c', 'x'.repeat(1024 * 1024 + 1)])))).toMatch(/source size limit/)
    expect(validateJob(job('c', files(['a.c', 'x'.repeat(100)])), { ...DEFAULT_LIMITS.job, maxSourceBytes: 99 })).toMatch(/source size limit/)
  })

  test('rejects bad stdin, args, limits and shapes', () => {
    expect(validateJob(job('c', 'x', { stdin: 'x'.repeat(DEFAULT_LIMITS.job.maxStdinBytes + 1) }))).toMatch(/stdin/)
    expect(validateJob(job('c', 'x', { args: ['a\u0000'] }))).toMatch(/NUL/)
    expect(validateJob(job('c', 'x', { args: Array(1000).fill('a') }))).toMatch(/arguments/)
    expect(validateJob(job('c', 'x', { limits: { timeMs: 0 } }))).toMatch(/timeMs/)
    expect(validateJob(job('c', files(['a.c', 'not base64!']).map((f) => ({ ...f, encoding: 'base64' as const }))))).toMatch(/base64/)
    expect(validateJob(null as never)).toMatch(/not an object/)
    expect(validateJob({ id: 'x', language: 'c', files: [{ name: 'a.c' }], stdin: '', args: [] } as never)).toMatch(/content/)
  })
})
