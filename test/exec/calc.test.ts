import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import {
  CALC_DEFAULTS,
  CALC_EXIT,
  CalcError,
  evaluateCalc,
  formatValue,
  parse,
} from '../../src/exec/calc.ts'

/** Runs a program and returns stdout lines (expects success). */
function lines(source: string, stdin = ''): string[] {
  const r = evaluateCalc(source, stdin)
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  return r.stdout.split('\n').slice(0, -1)
}

/** The printed value of a single expression. */
function value(expr: string): string {
  const out = lines(expr)
  expect(out).toHaveLength(1)
  return out[0]!
}

describe('calc: precedence and associativity', () => {
  it.each([
    ['1 + 2 * 3', '7'],
    ['(1 + 2) * 3', '9'],
    ['10 - 4 - 3', '3'], // left-assoc
    ['100 / 10 / 5', '2'], // left-assoc
    ['2 * 3 % 4', '2'], // same level, left to right
    ['2 ^ 3 ^ 2', '512'], // right-assoc
    ['2 ** 3 ** 2', '512'],
    ['(2 ^ 3) ^ 2', '64'],
    ['-2 ^ 2', '-4'], // unary minus binds looser than ^
    ['(-2) ^ 2', '4'],
    ['2 ^ -1', '0.5'], // a sign in the exponent
    ['-2 ^ -2', '-0.25'],
    ['2 * -3', '-6'],
    ['2 - -3', '5'],
    ['- - 3', '3'],
    ['+3', '3'],
    ['-3 * 2 ^ 2', '-12'],
    ['2 + 3 * 4 ^ 2 / 8', '8'],
    ['7 // 2', '3'],
    ['-7 // 2', '-4'], // floor division
    ['-7 % 3', '2'], // result has the sign of the divisor
    ['7 % -3', '-2'],
    ['5.5 % 2', '1.5'],
    ['5!', '120'],
    ['2 ^ 3!', '64'], // postfix binds tighter than ^
    ['-3!', '-6'],
    ['3! ^ 2', '36'],
    ['1 +\t2', '3'],
  ])('%s = %s', (expr, expected) => {
    expect(value(expr)).toBe(expected)
  })

  it('builds the expected tree', () => {
    const program = parse('-2^3^4')
    const st = program.statements[0]!
    expect(st.type).toBe('print')
    if (st.type !== 'print') return
    const e = st.expr
    expect(e.type).toBe('unary')
    if (e.type !== 'unary') return
    expect(e.operand).toMatchObject({ type: 'binary', op: '^', right: { type: 'binary', op: '^' } })
  })
})

describe('calc: numbers and formatting', () => {
  it.each([
    ['20', '20'],
    ['4 * 5.0', '20'], // integral results print as integers
    ['0.1 + 0.2', '0.3'], // no float noise
    ['1 / 3', '0.333333333333333'],
    ['2 / 3', '0.666666666666667'],
    ['10 / 4', '2.5'],
    ['10 / 5', '2'],
    ['1e3', '1000'],
    ['1.5e3', '1500'],
    ['2.5e-3', '0.0025'],
    ['.5', '0.5'],
    ['1_000_000 * 3', '3000000'],
    ['0.000001', '0.000001'],
    ['1e-7', '1e-7'],
    ['1.5 * 1e20', '1.5e+20'],
    ['sqrt(2) * 1e15', '1.4142135623731e+15'],
    ['-0.0', '0'],
    ['3.0', '3'],
  ])('%s prints %s', (expr, expected) => {
    expect(value(expr)).toBe(expected)
  })

  it('keeps big integers exact', () => {
    expect(value('2^100')).toBe('1267650600228229401496703205376')
    expect(value('2^64 + 1')).toBe('18446744073709551617')
    expect(value('9007199254740993 * 3')).toBe('27021597764222979')
    expect(value('30!')).toBe('265252859812191058636308480000000')
    expect(value('(2^100 + 2) / 2')).toBe('633825300114114700748351602689')
    expect(value('2^100 / 2^99')).toBe('2')
    expect(value('2^200 % 1000007')).toBe(String(2n ** 200n % 1000007n))
    expect(value('-(2^70) // 3')).toBe(String(-(2n ** 70n) / 3n - 1n))
    expect(value('1e30')).toBe('1' + '0'.repeat(30))
    expect(value('sqrt(2^100)')).toBe('1125899906842624')
  })

  it('divides big integers into decimals when not exact', () => {
    expect(value('(2^100 + 1) / 2^90')).toBe('1024')
    expect(value('1 / (2^70 + 1)')).toBe('8.470329472543e-22')
    expect(value('2^4000 / (2^3999 + 1)')).toBe('2')
  })

  it('formats values', () => {
    expect(formatValue(5n)).toBe('5')
    expect(formatValue(-5n)).toBe('-5')
    expect(formatValue(0.1 + 0.2)).toBe('0.3')
    expect(formatValue(-0)).toBe('0')
    expect(formatValue(1 / 3)).toBe('0.333333333333333')
  })
})

describe('calc: programs, variables and functions', () => {
  it('prints one line per expression statement, none for assignments', () => {
    expect(lines('x = 3\ny = x ^ 2; y + 1\nx * y')).toEqual(['10', '27'])
  })

  it('skips comments, blank lines and empty statements', () => {
    expect(lines('# header\n\n1 + 1  # two\n;;\n  \n2 * 2;')).toEqual(['2', '4'])
  })

  it('lets a parenthesised expression span lines', () => {
    expect(lines('(1 +\n 2)\nmax(1,\n  5,\n  3)')).toEqual(['3', '5'])
  })

  it('accepts CRLF line ends and a BOM', () => {
    expect(lines('\ufeff1+1\r\n2*3\r\n')).toEqual(['2', '6'])
  })

  it('reassigns variables', () => {
    expect(lines('x = 1; x = x + 1; x = x * 10; x')).toEqual(['20'])
  })

  it('has constants', () => {
    expect(lines('pi\ne\ntau / 2 - pi')).toEqual(['3.14159265358979', '2.71828182845905', '0'])
  })

  it.each([
    ['sqrt(16)', '4'],
    ['sqrt(2)', '1.4142135623731'],
    ['cbrt(27)', '3'],
    ['abs(-3)', '3'],
    ['abs(-2.5)', '2.5'],
    ['sign(-7)', '-1'],
    ['floor(-2.5)', '-3'],
    ['ceil(2.1)', '3'],
    ['trunc(-2.7)', '-2'],
    ['round(2.5)', '3'],
    ['round(-2.5)', '-3'],
    ['round(3.14159, 2)', '3.14'],
    ['round(1250, -2)', '1300'],
    ['min(3, 1, 2)', '1'],
    ['max(1, 2.5)', '2.5'],
    ['sum(1, 2, 3)', '6'],
    ['avg(1, 2)', '1.5'],
    ['count(7, 8, 9)', '3'],
    ['hypot(3, 4)', '5'],
    ['gcd(12, 18)', '6'],
    ['lcm(4, 6)', '12'],
    ['fact(20)', '2432902008176640000'],
    ['pow(2, 10)', '1024'],
    ['exp(0)', '1'],
    ['ln(e)', '1'],
    ['log(1000)', '3'],
    ['log(8, 2)', '3'],
    ['log2(1024)', '10'],
    ['log10(2^4000)', '1204.11998265592'], // beyond the double range
    ['sin(pi / 2)', '1'],
    ['cos(0)', '1'],
    ['tan(pi / 4)', '1'],
    ['atan2(1, 1) * 4', '3.14159265358979'],
    ['sqrt (9)', '3'], // a space before '(' is fine
  ])('%s = %s', (expr, expected) => {
    expect(value(expr)).toBe(expected)
  })

  it('keeps variables and functions in separate namespaces', () => {
    expect(lines('max = 2; max(max, 3) * max')).toEqual(['6'])
  })
})

describe('calc: stdin', () => {
  it('runs stdin as the program when the source is empty or only comments', () => {
    expect(evaluateCalc('', '1+2\n3*4\n')).toEqual({ stdout: '3\n12\n', stderr: '', code: 0 })
    expect(evaluateCalc('# nothing here\n\n', '2^10').stdout).toBe('1024\n')
    expect(evaluateCalc('  \n ; \n', '5').stdout).toBe('5\n')
    expect(evaluateCalc('', '')).toEqual({ stdout: '', stderr: '', code: 0 })
  })

  it('names <stdin> in errors of a program read from stdin', () => {
    const r = evaluateCalc('', '1 +\n')
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^<stdin>:1:4: syntax error/)
  })

  it('reads numbers with input() and inputs()', () => {
    expect(lines('sum(inputs())', '1 2 3\n4')).toEqual(['10'])
    expect(lines('a = input(); b = input()\na * b\ncount(inputs())', '6 7\n8, 9')).toEqual(['42', '2'])
    expect(lines('sum(inputs())', '-1, +2.5 1e3 .5')).toEqual(['1002'])
    expect(lines('sum(inputs()); count(inputs())', '')).toEqual(['0', '0'])
  })

  it('reports bad or missing input as a math error', () => {
    expect(evaluateCalc('sum(inputs())', '1 x 3')).toMatchObject({ code: 2, stderr: expect.stringContaining("stdin word 2 is not a number: 'x'") })
    expect(evaluateCalc('input()\ninput()', '5')).toMatchObject({
      code: 2,
      stdout: '5\n',
      stderr: expect.stringContaining('no more input'),
    })
    expect(evaluateCalc('max(inputs())', '')).toMatchObject({ code: 2, stderr: expect.stringContaining('max() takes at least 1 argument, got 0') })
    expect(evaluateCalc('inputs() + 1', '1')).toMatchObject({ code: 2, stderr: expect.stringContaining('inputs() can only be used as an argument') })
  })
})

/** Runs a failing program and returns the parsed error header. */
function failure(source: string, stdin = '') {
  const r = evaluateCalc(source, stdin)
  const m = /^(\d+):(\d+): (syntax error|math error|limit exceeded): (.*)\n/.exec(r.stderr)
  expect(m, r.stderr).not.toBeNull()
  return { code: r.code, stdout: r.stdout, stderr: r.stderr, line: Number(m![1]), column: Number(m![2]), label: m![3], message: m![4]! }
}

describe('calc: errors', () => {
  it.each([
    ['1 +', 1, 4, /expected a number, a name or '\(' but found end of input/],
    ['1 +\n2', 1, 4, /found end of line/],
    ['(1 + 2', 1, 7, /expected '\)' to close the '\(' at 1:1/],
    ['(1 + 2\n3', 2, 1, /expected '\)' to close the '\(' at 1:1, but found number '3'/],
    ['1 + 2)', 1, 6, /unmatched '\)'/],
    ['1 2', 1, 3, /missing operator before number '2'/],
    ['2pi', 1, 2, /missing operator between '2' and 'pi'/],
    ['x = 1\ny = @', 2, 5, /unexpected character '@'/],
    ['1__0', 1, 1, /invalid number '1__0'/],
    ['5.', 1, 1, /invalid number '5.'/],
    ['1.2.3', 1, 1, /invalid number '1.2.3'/],
    ['max(1,)', 1, 7, /found '\)'/],
    ['max(1 2)', 1, 7, /expected ',' or '\)' in the call of 'max'/],
    ['1 = 2', 1, 3, /left side of '=' must be a variable name/],
    ['pi = 3', 1, 1, /cannot assign to 'pi': it is a constant/],
    ['1 * * 2', 1, 5, /found '\*'/],
  ])('syntax error in %j at %i:%i', (source, line, column, message) => {
    const f = failure(source)
    expect(f).toMatchObject({ code: CALC_EXIT.syntax, label: 'syntax error', line, column })
    expect(f.message).toMatch(message)
  })

  it.each([
    ['1 / 0', 1, 3, /^division by zero$/],
    ['x = 2\ny = x - x\n10 / y', 3, 4, /^division by zero$/],
    ['5 % 0', 1, 3, /division by zero/],
    ['5 // 0.0', 1, 3, /division by zero/],
    ['0 ^ -1', 1, 3, /division by zero/],
    ['y + 1', 1, 1, /^unknown variable 'y'$/],
    ['sqrt + 1', 1, 1, /unknown variable 'sqrt' \(sqrt is a function/],
    ['foo(1)', 1, 1, /^unknown function 'foo'$/],
    ['x = 2; x(3)', 1, 8, /unknown function 'x' \(x is a variable/],
    ['sqrt(-1)', 1, 1, /domain error: sqrt\(\) of a negative number/],
    ['ln(0)', 1, 1, /domain error: ln\(\) needs a positive number/],
    ['log(-5)', 1, 1, /domain error/],
    ['log(5, 1)', 1, 1, /domain error: log\(\) base/],
    ['asin(2)', 1, 1, /domain error: asin\(\) is not defined for 2/],
    ['(-8) ^ 0.5', 1, 6, /domain error: a negative number to a fractional power/],
    ['(-1)!', 1, 5, /domain error: factorial needs a whole number >= 0/],
    ['2.5!', 1, 4, /domain error: factorial/],
    ['gcd(1.5, 2)', 1, 1, /domain error: gcd\(\) needs whole numbers/],
    ['sqrt(1, 2)', 1, 1, /sqrt\(\) takes 1 argument, got 2/],
    ['atan2(1)', 1, 1, /atan2\(\) takes 2 arguments, got 1/],
    ['exp(1000)', 1, 1, /number too large/],
    ['1e308 * 10.5', 1, 7, /number too large/],
  ])('math error in %j at %i:%i', (source, line, column, message) => {
    const f = failure(source)
    expect(f).toMatchObject({ code: CALC_EXIT.math, label: 'math error', line, column })
    expect(f.message).toMatch(message)
  })

  it('shows the source line with a caret under the error', () => {
    const r = evaluateCalc('x = 1\ny = x / (x - 1)\n', '')
    expect(r.stderr).toBe(['2:7: math error: division by zero', ' 2 | y = x / (x - 1)', '   |       ^', ''].join('\n'))
    const u = evaluateCalc('total + 1', '')
    expect(u.stderr).toContain('\n 1 | total + 1\n   | ^~~~~\n')
  })

  it('aligns the caret after tabs and shows a window of a long line', () => {
    const r = evaluateCalc('x\t+  @', '')
    expect(r.stderr).toContain('\n 1 | x\t+  @\n   |  \t   ^\n')
    const long = evaluateCalc('1' + '+1'.repeat(5000) + '+@', '')
    const excerpt = long.stderr.split('\n')[1]!
    expect(excerpt.length).toBeLessThan(130)
    expect(excerpt).toContain('+@')
  })

  it('includes a file name when given one', () => {
    expect(evaluateCalc('1/0', '', { filename: 'main.calc' }).stderr).toMatch(/^main\.calc:1:2: math error: division by zero\n/)
  })

  it('keeps the output of earlier statements and stops at the first error', () => {
    const f = failure('1 + 1\n2 * 3\nnope\n4')
    expect(f).toMatchObject({ code: 2, stdout: '2\n6\n', line: 3, column: 1 })
  })

  it('finds syntax errors before running anything', () => {
    const f = failure('1 + 1\n2 *\n3')
    expect(f).toMatchObject({ code: 1, stdout: '', line: 2 })
  })

  it('throws CalcError from parse()', () => {
    let caught: unknown
    try {
      parse('1 +\n')
    } catch (e) {
      caught = e
    }
    expect(caught).toBeInstanceOf(CalcError)
    expect(caught).toMatchObject({ name: 'CalcSyntaxError', kind: 'syntax', exitCode: 1, line: 1, column: 4 })
  })
})

describe('calc: hostile input', () => {
  it('bounds nesting depth with a clean error', () => {
    const ok = '('.repeat(150) + '1' + ')'.repeat(150)
    expect(value(ok)).toBe('1')
    for (const source of [
      '('.repeat(100_000) + '1' + ')'.repeat(100_000),
      '-'.repeat(100_000) + '1',
      '2^'.repeat(100_000) + '2',
      '3' + '!'.repeat(100_000),
      'abs('.repeat(100_000) + '1' + ')'.repeat(100_000),
    ]) {
      const f = failure(source)
      expect(f.code).toBe(1)
      expect(f.message).toBe(`expression nested too deeply (more than ${CALC_DEFAULTS.maxDepth} levels)`)
      expect(f.stderr.length).toBeLessThan(500)
    }
  })

  it('evaluates long flat chains without recursion', () => {
    expect(value('1' + '+1'.repeat(200_000))).toBe('200001')
    expect(value('2' + '*1'.repeat(200_000))).toBe('2')
    expect(value('1' + '-1'.repeat(200_000))).toBe('-199999')
  })

  it('refuses huge numbers quickly', () => {
    const t0 = Date.now()
    for (const source of ['9^9^9', '2^4096', '10^10^10', '2^(2^4000)', '(10^100)!', 'fact(10^1000)', '1e99999999999999', '1' + '0'.repeat(100_000), '99^99^99^99']) {
      const f = failure(source)
      expect(f.code, source).toBe(2)
      expect(f.message, source).toMatch(/^number too large/)
    }
    expect(failure('9^9^9').column).toBe(2) // the outer '^'
    expect(Date.now() - t0).toBeLessThan(2000)
    // the largest allowed integer is fine
    const [max] = lines('(2^4095 - 1) * 2 + 1')
    expect(max).toBe(String(2n ** 4096n - 1n))
    expect(failure('(2^4095 - 1) * 2 + 2').message).toMatch(/^number too large/)
    expect(value('1.5e-99999999999999')).toBe('0')
  })

  it('bounds the output', () => {
    const r = evaluateCalc('x = 2^4000\n' + 'x\n'.repeat(10_000), '', { maxOutputBytes: 100_000 })
    expect(r.code).toBe(CALC_EXIT.limit)
    expect(r.stdout.length).toBe(100_000)
    expect(r.stderr).toContain('limit exceeded: output limit exceeded (100000 bytes)')
    const d = evaluateCalc('2^4000\n'.repeat(2000), '')
    expect(d.code).toBe(3)
    expect(d.stdout.length).toBe(CALC_DEFAULTS.maxOutputBytes)
  })

  it('runs in time linear in the input', () => {
    const time = (n: number): number => {
      const source = 'x = 7\n' + 'x * 3 + (x - 1) / 2 % 5; y = sqrt(x) ^ 2\n'.repeat(n)
      const t0 = performance.now()
      const r = evaluateCalc(source, '')
      expect(r.code).toBe(0)
      return performance.now() - t0
    }
    time(2000) // warm up
    const small = time(10_000)
    const big = time(80_000)
    expect(big).toBeLessThan(Math.max(small, 5) * 8 * 4)
    const t0 = performance.now()
    expect(lines('sum(inputs())', '1 '.repeat(300_000))).toEqual(['300000'])
    expect(performance.now() - t0).toBeLessThan(5000)
  })

  it('gives prototype names no meaning', () => {
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
      expect(failure(`${name} + 1`).message).toBe(`unknown variable '${name}'`)
      expect(failure(`${name}(1)`).message).toBe(`unknown function '${name}'`)
    }
    expect(lines('__proto__ = 4; __proto__ * 2')).toEqual(['8'])
  })

  it('shows control characters harmlessly', () => {
    const r = evaluateCalc('1 + \u001b[31m', '')
    expect(r.code).toBe(1)
    expect(r.stderr).not.toContain('\u001b')
  })

  it('never throws, whatever it is given', () => {
    const junk = ['', '\u0000', ')))', '(((', '=', '==', '1e', '_', '#', '\n\n\n', '1;;;', '*', '!', '2^^2', 'a=', '=1', ',', 'f(', '1 + ' + '('.repeat(300)]
    for (const s of junk) {
      const r = evaluateCalc(s, s)
      expect([0, 1, 2, 3]).toContain(r.code)
    }
  })

  it('does not reference eval or the Function constructor, and imports nothing', () => {
    const path = fileURLToPath(new URL('../../src/exec/calc.ts', import.meta.url))
    const text = readFileSync(path, 'utf8')
    expect(text).not.toMatch(/\beval\s*\(/)
    expect(text).not.toMatch(/\beval\b/)
    expect(text).not.toMatch(/\bFunction\b/)
    expect(text).not.toMatch(/\bglobalThis\b|\brequire\s*\(|\bimport\s*\(/)
    expect(text).not.toMatch(/^\s*import\s/m)
  })
})
