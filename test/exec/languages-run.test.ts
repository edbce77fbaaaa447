/**
 * Every language through the real sandbox and real toolchains: output,
 * stdin, args, multi-file programs, and how failures are named.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { Executor } from '../../src/exec/types.ts'
import { cleanup, files, job, newExecutor } from './helpers.ts'

let ex: Executor
beforeAll(async () => { ex = await newExecutor() })
afterAll(cleanup)

const STDIN_ARGS: Record<string, [string, string]> = {
  python: ['main.py', 'import sys\nprint(sum(int(x) for x in sys.stdin.read().split()), sys.argv[1:])'],
  c: ['main.c', '#include <stdio.h>\nint main(int c, char **v) { int x, s = 0; while (scanf("%d", &x) == 1) s += x; printf("%d [%s, %s]\\n", s, v[1], v[2]); return 0; }'],
  cpp: ['main.cpp', '#include <iostream>\nint main(int c, char **v) { int x, s = 0; while (std::cin >> x) s += x; std::cout << s << " [" << v[1] << ", " << v[2] << "]\\n"; }'],
  java: ['Main.java', 'import java.util.*;\npublic class Main { public static void main(String[] a) { Scanner in = new Scanner(System.in); int s = 0; while (in.hasNextInt()) s += in.nextInt(); System.out.println(s + " " + Arrays.toString(a)); } }'],
  js: ['main.js', 'const s = require("fs").readFileSync(0, "utf8").split(/\\s+/).filter(Boolean).reduce((a, b) => a + Number(b), 0)\nconsole.log(s, process.argv.slice(2))'],
}
const EXPECTED: Record<string, string> = {
  python: "10 ['a b', 'ü']\n",
  c: '10 [a b, ü]\n',
  cpp: '10 [a b, ü]\n',
  java: '10 [a b, ü]\n',
  js: "10 [ 'a b', 'ü' ]\n",
}

describe('each language reads stdin and args', () => {
  test.each(Object.keys(STDIN_ARGS))('%s', async (lang) => {
    const [name, content] = STDIN_ARGS[lang]!
    const r = await ex.run(job(lang, files([name, content]), { stdin: '1 2 3\n4', args: ['a b', 'ü'] }))
    expect(r.status, JSON.stringify(r)).toBe('ok')
    expect(r.run!.stdout).toBe(EXPECTED[lang])
    expect(r.run!.code).toBe(0)
  })

  test('calc runs in-process', async () => {
    const r = await ex.run(job('calc', 'x = 6\nx * 7\n2^100'))
    expect(r.status).toBe('ok')
    expect(r.run!.stdout).toBe('42\n1267650600228229401496703205376\n')
    expect(r.compile).toBeNull()
    expect((await ex.run(job('calc', '1 +'))).status).toBe('compile_error')
    expect((await ex.run(job('calc', '1/0'))).status).toBe('runtime_error')
  })

  test('languages report their versions', () => {
    const names = ex.languages.map((l) => l.name)
    expect(names).toEqual(expect.arrayContaining(['python', 'c', 'cpp', 'java', 'js', 'calc']))
    for (const l of ex.languages) expect(l.version).toMatch(/\d|builtin/)
  })
})

describe('multi-file programs', () => {
  test('C: a header and a second translation unit', async () => {
    const r = await ex.run(job('c', files(
      ['main.c', '#include <stdio.h>\n#include "util.h"\nint main(void) { printf("%d\\n", twice(21)); return 0; }'],
      ['util.h', 'int twice(int x);'],
      ['util.c', '#include "util.h"\nint twice(int x) { return 2 * x; }'],
    )))
    expect(r.status, JSON.stringify(r)).toBe('ok')
    expect(r.run!.stdout).toBe('42\n')
  })

  test('Java: the main class uses another class, whatever the file order', async () => {
    const r = await ex.run(job('java', files(
      ['Greeter.java', 'public class Greeter { String greet(String n) { return "Hello, " + n + "!"; } }'],
      ['app.java', 'public class App { public static void main(String[] a) { System.out.println(new Greeter().greet("world")); } }'],
    )))
    expect(r.status, JSON.stringify(r)).toBe('ok')
    expect(r.run!.stdout).toBe('Hello, world!\n')
  })

  test('Python and JS: the first file is the entry point', async () => {
    const py = await ex.run(job('python', files(['main.py', 'import helper\nprint(helper.f())'], ['helper.py', 'def f(): return "py ok"'])))
    expect(py.run?.stdout).toBe('py ok\n')
    const js = await ex.run(job('js', files(['main.js', 'console.log(require("./lib/helper.js")())'], ['lib/helper.js', 'module.exports = () => "js ok"'])))
    expect(js.run?.stdout).toBe('js ok\n')
  })
})

describe('failures are named precisely', () => {
  test.each([
    ['c', 'int main( { return 0; }'],
    ['cpp', 'int main() { return "x"; }'],
    ['python', 'print("unclosed"'],
    ['js', 'console.log({ a: 1'],
    ['java', 'public class Main { public static void main(String[] a) { int x = "s"; } }'],
  ])('%s syntax/type error → compile_error', async (lang, src) => {
    const r = await ex.run(job(lang, src))
    expect(r.status).toBe('compile_error')
    expect(r.compile!.code).not.toBe(0)
    expect(r.compile!.stderr.length).toBeGreaterThan(0)
    expect(r.run).toBeNull()
  })

  test('C: exit code and signal → runtime_error', async () => {
    const exit3 = await ex.run(job('c', 'int main(void) { return 3; }'))
    expect(exit3.status).toBe('runtime_error')
    expect(exit3.run!.code).toBe(3)
    expect(exit3.message).toBe('exit code 3')
    const segv = await ex.run(job('c', 'int main(void) { volatile int *p = 0; return *p; }'))
    expect(segv.status).toBe('runtime_error')
    expect(segv.run!.signal).toBe('SIGSEGV')
    expect(segv.run!.code).toBeNull()
    expect(segv.message).toBe('killed by signal SIGSEGV')
    const abrt = await ex.run(job('c', '#include <stdlib.h>\nint main(void) { abort(); }'))
    expect(abrt.run!.signal).toBe('SIGABRT')
  })

  test('Python: an exception → runtime_error with the traceback', async () => {
    const r = await ex.run(job('python', 'raise ValueError("boom")'))
    expect(r.status).toBe('runtime_error')
    expect(r.run!.stderr).toContain('ValueError: boom')
  })

  test('the second submission of the same C source is a cache hit', async () => {
    const src = `#include <stdio.h>\nint main(void) { puts("cached ${Date.now()}"); return 0; }`
    const stages: string[] = []
    const first = await ex.run(job('c', src), { onStage: (s) => stages.push(s) })
    expect(first.compile!.cached).toBe(false)
    expect(stages).toEqual(['compile', 'run'])
    stages.length = 0
    const second = await ex.run(job('c', src), { onStage: (s) => stages.push(s) })
    expect(second.status).toBe('ok')
    expect(second.compile!.cached).toBe(true)
    expect(stages).toEqual(['run'])
    expect(second.run!.stdout).toBe(first.run!.stdout)
    // Compile errors are cached too.
    const bad = 'int main( {'
    expect((await ex.run(job('c', bad))).compile!.cached).toBe(false)
    const again = await ex.run(job('c', bad))
    expect(again.status).toBe('compile_error')
    expect(again.compile!.cached).toBe(true)
  })

  test('concurrent identical jobs share the cache safely', async () => {
    const src = `#include <stdio.h>\nint main(void) { puts("same ${Date.now()}"); return 0; }`
    const rs = await Promise.all([1, 2, 3].map(() => ex.run(job('c', src))))
    for (const r of rs) {
      expect(r.status).toBe('ok')
      expect(r.run!.stdout).toMatch(/^same/)
    }
  })

  test('live output arrives through onOutput', async () => {
    const seen: string[] = []
    const r = await ex.run(job('python', 'import sys\nprint("out")\nprint("err", file=sys.stderr)'), { onOutput: (stage, stream, data) => seen.push(`${stage}/${stream}/${data}`) })
    expect(r.status).toBe('ok')
    expect(seen).toEqual(expect.arrayContaining(['run/stdout/out\n', 'run/stderr/err\n']))
  })
})

describe('Python checks syntax in the run stage\'s sandbox', () => {
  test('a syntax error in any file is a compile_error and nothing runs; repeating it is answered from the cache', async () => {
    const spec = files(['main.py', 'open("/tmp/ran", "w").write("x")\nimport helper\n'], ['helper.py', `def f(:\n    pass  # ${Math.random()}\n`])
    const r = await ex.run(job('python', spec))
    expect(r.status).toBe('compile_error')
    expect(r.compile!.stderr).toMatch(/helper\.py.*\n[\s\S]*SyntaxError/)
    expect(r.run).toBeNull()
    const again = await ex.run(job('python', spec))
    expect(again).toMatchObject({ status: 'compile_error', compile: { cached: true }, run: null })
  })

  test('sources that passed once are not checked again; the program sees a plain `python3 main.py`', async () => {
    const spec = files(['main.py', `import sys\nprint(__name__, sys.argv, sys.flags.isolated)  # ${Math.random()}\n`])
    const first = await ex.run(job('python', spec, { args: ['--', 'x'] }))
    const second = await ex.run(job('python', spec, { args: ['--', 'x'] }))
    expect(first.compile!.cached).toBe(false)
    expect(second.compile!.cached).toBe(true)
    for (const r of [first, second]) expect(r.run!.stdout).toBe("__main__ ['main.py', '--', 'x'] 0\n")
  })

  test('a program that exits with the check\'s code and plants a link to a host file gets its own exit code, not the file', async () => {
    const r = await ex.run(job('python', `import os\nos.symlink("/etc/shadow", "/tmp/.meshrun-check")\nos._exit(97)  # ${Math.random()}\n`))
    expect(r.status).toBe('runtime_error')
    expect(r.run!.code).toBe(97)
    expect(JSON.stringify(r)).not.toMatch(/root:/)
  })
})
