/** The Piston mapping as pure functions: requests in, responses out. */
import { describe, expect, test } from 'vitest'
import { PistonRequestError, pistonResponse, pistonRuntimes, pistonStage, pistonToJob } from '../../src/node/http/piston.ts'
import type { StageResult } from '../../src/exec/types.ts'
import type { JobResult } from '../../src/node/schemas.ts'

const ALL = new Set(['python', 'c', 'cpp', 'java', 'js', 'calc'])
const stage = (over: Partial<StageResult> = {}): StageResult => ({
  stdout: '', stderr: '', code: 0, signal: null, wallMs: 10, cpuMs: 5, memoryKb: 100, limit: null, truncated: false, ...over,
})
const result = (over: Partial<JobResult>): JobResult => ({
  status: 'ok', compile: null, run: stage(), id: 'j', language: 'python', node: 'n', entry: 'n', queuedMs: 0, totalMs: 1, attempts: 1, ...over,
})
const refused = (body: unknown): string => {
  try {
    pistonToJob(body, 'id', ALL)
  } catch (err) {
    expect(err).toBeInstanceOf(PistonRequestError)
    return (err as Error).message
  }
  throw new Error('accepted')
}

describe('requests', () => {
  test('aliases resolve and any version is accepted', () => {
    for (const [alias, name] of [['py', 'python'], ['c++', 'cpp'], ['javascript', 'js'], ['node', 'js'], ['gcc', 'c']]) {
      const { spec } = pistonToJob({ language: alias, version: '*', files: [{ content: 'x' }] }, 'id', ALL)
      expect(spec.language).toBe(name)
    }
    expect(pistonToJob({ language: 'python', version: '3.10.0', files: [{ content: 'x' }] }, 'id', ALL).spec.language).toBe('python')
  })

  test('Piston\'s messages, in Piston\'s order', () => {
    expect(refused({})).toBe('language is required as a string')
    expect(refused({ language: 'py' })).toBe('version is required as a string')
    expect(refused({ language: 'py', version: '*' })).toBe('files is required as an array')
    expect(refused({ language: 'py', version: '*', files: [{ name: 'a.py' }] })).toBe('files[0].content is required as a string')
    expect(refused({ language: 'cobol', version: '1.0', files: [] })).toBe('cobol-1.0 runtime is unknown')
    expect(refused({ language: 'py', version: '*', files: [] })).toBe('files must include at least one utf8 encoded file')
    expect(refused({ language: 'py', version: '*', files: [{ content: 'x' }], run_timeout: 'soon' })).toBe('If specified, run_timeout must be a number')
    expect(refused({ language: 'py', version: '*', files: [{ content: 'x' }], run_timeout: -5 })).toBe('run_timeout must be non-negative')
    expect(refused([1, 2])).toBe('the request body must be a JSON object')
  })

  test('a language no live node offers is unknown', () => {
    expect(() => pistonToJob({ language: 'java', version: '*', files: [{ content: 'x' }] }, 'id', new Set(['python']))).toThrow('java-* runtime is unknown')
  })

  test('files get names that fit the language; hex becomes base64', () => {
    const { spec } = pistonToJob({ language: 'c', version: '*', files: [{ content: 'int main(){}' }, { name: 'util.h', content: '' }, { content: '' }, { name: 'x.bin', content: '6869', encoding: 'hex' }] }, 'id', ALL)
    expect(spec.files.map((f) => f.name)).toEqual(['main.c', 'util.h', 'file2.c', 'x.bin'])
    expect(spec.files[3]).toEqual({ name: 'x.bin', content: Buffer.from('hi').toString('base64'), encoding: 'base64' })
    const named = pistonToJob({ language: 'python', version: '*', files: [{ name: 'prog', content: '' }] }, 'id', ALL)
    expect(named.spec.files[0]!.name).toBe('prog.py')
  })

  test('run limits lower the node\'s; -1 memory means no limit', () => {
    const a = pistonToJob({ language: 'py', version: '*', files: [{ content: '' }], run_timeout: 3000, run_cpu_time: 1500, run_memory_limit: 64 * 1024 * 1024 }, 'id', ALL)
    expect(a.spec.limits).toEqual({ timeMs: 1500, memoryMb: 64 })
    const b = pistonToJob({ language: 'py', version: '*', files: [{ content: '' }], compile_memory_limit: -1, run_memory_limit: -1 }, 'id', ALL)
    expect(b.spec.limits).toBeUndefined()
  })
})

describe('responses', () => {
  test('status codes: RE, SG, TO, OL, EL', () => {
    expect(pistonStage(stage({ code: 2 }))).toMatchObject({ status: 'RE', message: 'Exited with error status 2', code: 2, signal: null })
    expect(pistonStage(stage({ code: null, signal: 'SIGSEGV' }))).toMatchObject({ status: 'SG', message: 'Caught fatal signal 11', code: null, signal: 'SIGSEGV' })
    expect(pistonStage(stage({ code: null, signal: 'SIGKILL', limit: 'wall' }))).toMatchObject({ status: 'TO', signal: 'SIGKILL', code: null })
    expect(pistonStage(stage({ code: null, signal: 'SIGXCPU', limit: 'cpu' }))).toMatchObject({ status: 'TO', message: 'Time limit exceeded' })
    expect(pistonStage(stage({ stdout: 'xxxx', limit: 'output', truncated: true }))).toMatchObject({ status: 'OL', message: 'stdout length exceeded' })
    expect(pistonStage(stage({ stderr: 'xxxx', limit: 'output', truncated: true }))).toMatchObject({ status: 'EL', message: 'stderr length exceeded' })
    expect(pistonStage(stage({ code: null, signal: 'SIGKILL', limit: 'memory' }))).toMatchObject({ status: 'SG', signal: 'SIGKILL' })
    expect(pistonStage(stage({ stdout: 'a', stderr: 'b' }))).toMatchObject({ status: null, message: null, output: 'ab', memory: 102400, cpu_time: 5, wall_time: 10 })
    expect(pistonStage(stage({ stdout: 'a', stderr: 'b' }), 'ba').output).toBe('ba')
  })

  test('a compiled language has a compile stage; a failed compile is repeated as run', () => {
    const failed = pistonResponse(result({ status: 'compile_error', language: 'c', compile: stage({ code: 1, stderr: 'error' }), run: null }), '12')
    expect(failed.compile).toMatchObject({ status: 'RE', stderr: 'error' })
    expect(failed.run).toEqual(failed.compile)
    const ok = pistonResponse(result({ language: 'cpp', compile: stage(), run: stage({ stdout: 'hi' }) }), '12')
    expect(ok).toMatchObject({ language: 'cpp', version: '12', compile: { status: null }, run: { stdout: 'hi', code: 0 } })
  })

  test('python and js have no compile stage: a syntax error is the run stage\'s', () => {
    const r = pistonResponse(result({ status: 'compile_error', compile: stage({ code: 1, stderr: 'SyntaxError' }), run: null }), '3.11')
    expect(r.compile).toBeUndefined()
    expect(r.run).toMatchObject({ status: 'RE', code: 1, stderr: 'SyntaxError' })
    expect(pistonResponse(result({ compile: stage(), run: stage() }), '3.11').compile).toBeUndefined()
  })

  test('an internal error is XX', () => {
    expect(pistonResponse(result({ status: 'error', message: 'cancelled', run: stage({ code: null, signal: 'SIGKILL' }) }), '1').run.status).toBe('SG')
    expect(pistonResponse(result({ status: 'error', message: 'boom', run: stage() }), '1').run).toMatchObject({ status: 'XX', message: 'boom' })
  })

  test('runtimes: the cluster\'s languages, with versions and aliases', () => {
    const r = pistonRuntimes(['python', 'cpp'], new Map([['python', '3.11.2']]))
    expect(r).toEqual([
      { language: 'python', version: '3.11.2', aliases: ['py', 'python3', 'py3'] },
      { language: 'cpp', version: '0.0.0', aliases: ['c++', 'cxx', 'g++', 'cpp17'] },
    ])
  })
})
