/**
 * The Piston-compatible API of a real node over a real socket: every
 * language, aliases, clients that send no JSON content type, compile and
 * runtime errors in Piston's shapes, and bad requests answered with 400.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { httpUrl, startNode, stopAll, type NodeProc } from '../helpers/procs.ts'

let node: NodeProc
let base: string

beforeAll(async () => {
  node = await startNode(['--http', '0', '--http-body-limit', '256k', '--max-jobs', '2'])
  base = httpUrl(node)
})

afterAll(async () => { await stopAll() })

async function execute (body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<{ status: number, body: any }> {
  const res = await fetch(new URL('api/v2/execute', base), { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) })
  return { status: res.status, body: await res.json() }
}

test('GET /api/v2/runtimes lists every language with its version and aliases', async () => {
  const res = await fetch(new URL('api/v2/runtimes', base))
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^application\/json/)
  const runtimes = await res.json() as Array<{ language: string, version: string, aliases: string[] }>
  expect(runtimes.map((r) => r.language).sort()).toEqual(['c', 'calc', 'cpp', 'java', 'js', 'python'])
  const python = runtimes.find((r) => r.language === 'python')!
  expect(python.version).toMatch(/^3\.\d+/)
  expect(python.aliases).toContain('py')
})

describe('POST /api/v2/execute runs every language', () => {
  const hello: Array<[string, string, string, string, string?]> = [
    ['python', 'py', 'main.py', 'print("Hello, world!")'],
    ['c', 'c', 'main.c', '#include <stdio.h>\nint main(void){puts("Hello, world!");return 0;}'],
    ['cpp', 'c++', 'main.cpp', '#include <iostream>\nint main(){std::cout<<"Hello, world!"<<std::endl;}'],
    ['java', 'java', 'Main.java', 'public class Main { public static void main(String[] a) { System.out.println("Hello, world!"); } }'],
    ['js', 'javascript', 'main.js', 'console.log("Hello, world!")'],
    ['calc', 'calculator', 'main.calc', '6 * 7', '42\n'],
  ]
  test.each(hello)('%s (as %s)', async (language, alias, name, content, expected = 'Hello, world!\n') => {
    const { status, body } = await execute({ language: alias, version: '*', files: [{ name, content }], stdin: '', args: [] })
    expect(status, JSON.stringify(body)).toBe(200)
    expect(body.language).toBe(language)
    expect(typeof body.version).toBe('string')
    expect(body.run).toMatchObject({ stdout: expected, stderr: '', output: expected, code: 0, signal: null, status: null, message: null })
    expect(typeof body.run.wall_time).toBe('number')
    if (['c', 'cpp', 'java'].includes(language)) expect(body.compile).toMatchObject({ code: 0, status: null })
    else expect(body.compile).toBeUndefined()
  })
})

test('a body without a JSON content type, a nameless file, stdin and args (Piston\'s own example)', async () => {
  const { status, body } = await execute(
    JSON.stringify({ language: 'js', version: '15.10.0', files: [{ content: 'const fs = require("fs"); console.log(process.argv.slice(2).join(","), fs.readFileSync(0, "utf8").trim())' }], stdin: 'from stdin\n', args: ['1', '2', '3'], compile_timeout: 10000, run_timeout: 3000, compile_memory_limit: -1, run_memory_limit: -1 }),
    {},
  )
  expect(status, JSON.stringify(body)).toBe(200)
  expect(body.run.stdout).toBe('1,2,3 from stdin\n')
})

test('a compile error: compile and run both carry the compiler\'s verdict', async () => {
  const { status, body } = await execute({ language: 'c', version: '*', files: [{ name: 'bad.c', content: 'int main( { return 0; }' }] })
  expect(status).toBe(200)
  expect(body.compile).toMatchObject({ code: 1, status: 'RE', message: 'Exited with error status 1' })
  expect(body.compile.stderr).toMatch(/error/)
  expect(body.run).toEqual(body.compile)
})

test('a Python syntax error is a run-stage error, as Piston reports it', async () => {
  const { body } = await execute({ language: 'python', version: '*', files: [{ content: 'print(' }] })
  expect(body.compile).toBeUndefined()
  expect(body.run).toMatchObject({ code: 1, status: 'RE' })
  expect(body.run.stderr).toMatch(/SyntaxError/)
})

test('runtime errors: RE for an exit code, SG for a signal, TO for a timeout', async () => {
  const [exit, signal, timeout] = await Promise.all([
    execute({ language: 'python', version: '*', files: [{ content: 'import sys\nprint("before")\nsys.exit(3)' }] }),
    execute({ language: 'c', version: '*', files: [{ content: '#include <stdlib.h>\nint main(void){abort();}' }] }),
    execute({ language: 'python', version: '*', files: [{ content: 'while True: pass' }], run_timeout: 500 }),
  ])
  expect(exit.body.run).toMatchObject({ stdout: 'before\n', code: 3, signal: null, status: 'RE', message: 'Exited with error status 3' })
  expect(signal.body.run).toMatchObject({ code: null, signal: 'SIGABRT', status: 'SG', message: 'Caught fatal signal 6' })
  expect(timeout.body.run).toMatchObject({ code: null, signal: 'SIGKILL', status: 'TO' })
  expect(timeout.body.run.wall_time).toBeLessThan(3000)
})

describe('bad requests are answered 400 with a message', () => {
  const cases: Array<[string, unknown, string | RegExp]> = [
    ['no language', { version: '*', files: [] }, 'language is required as a string'],
    ['no version', { language: 'python', files: [] }, 'version is required as a string'],
    ['files not an array', { language: 'python', version: '*', files: 'print(1)' }, 'files is required as an array'],
    ['content not a string', { language: 'python', version: '*', files: [{ name: 'a.py' }] }, 'files[0].content is required as a string'],
    ['unknown language', { language: 'cobol', version: '*', files: [{ content: '' }] }, 'cobol-* runtime is unknown'],
    ['no files', { language: 'python', version: '*', files: [] }, 'files must include at least one utf8 encoded file'],
    ['a limit that is not a number', { language: 'python', version: '*', files: [{ content: '' }], run_timeout: '1s' }, 'If specified, run_timeout must be a number'],
    ['a file name with ..', { language: 'python', version: '*', files: [{ name: '../x.py', content: '' }] }, /contains '\.\.'/],
    ['not JSON', '{"language": ', /not valid JSON/],
    ['an empty body', '', /no body/],
  ]
  test.each(cases)('%s', async (_what, body, message) => {
    const res = await execute(body)
    expect(res.status).toBe(400)
    expect(res.body.message).toMatch(message)
  })

  test('a body over the configured limit is answered 413', async () => {
    const res = await execute({ language: 'python', version: '*', files: [{ content: '#'.repeat(300 * 1024) }] })
    expect(res.status).toBe(413)
    expect(res.body.message).toMatch(/larger than the limit/)
  })
})
