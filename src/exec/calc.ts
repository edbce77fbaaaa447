/**
 * calc: meshrun's built-in arithmetic language, run in-process.
 *
 * A hand-written lexer, a recursive-descent parser and a tree-walking
 * evaluator. Source text is never handed to the JavaScript engine, and the
 * module imports nothing: it is pure and synchronous.
 *
 * Grammar (EBNF; `sep` is `;` or a newline; newlines inside parentheses are
 * ignored, so a bracketed expression may span lines; `#` starts a comment):
 *
 *   program    = { sep } [ statement { sep { sep } statement } ] { sep } ;
 *   statement  = NAME "=" expr            (* assignment: prints nothing *)
 *              | expr ;                   (* prints its value on a line *)
 *   expr       = term { ("+" | "-") term } ;
 *   term       = unary { ("*" | "/" | "//" | "%") unary } ;
 *   unary      = ("-" | "+") unary | power ;
 *   power      = postfix [ ("^" | "**") unary ] ;    (* right-assoc *)
 *   postfix    = primary { "!" } ;                  (* factorial *)
 *   primary    = NUMBER | NAME | NAME "(" [ expr { "," expr } ] ")"
 *              | "(" expr ")" ;
 *   NUMBER     = digits [ "." digits ] [ ("e" | "E") [ "+" | "-" ] digits ]
 *              | "." digits [ exponent ] ;   (* digits may use "_": 1_000 *)
 *   NAME       = letter_or_underscore { letter_or_underscore | digit } ;
 *
 * So `-2^2` is -4, `2^3^2` is 512, `2^-1` is 0.5, `7 - 2 - 1` is 4 and
 * `2^3!` is 64.
 *
 * Built-ins: constants pi, e, tau; functions sqrt cbrt abs sign floor ceil
 * trunc round(x[, digits]) min max sum avg/mean count hypot gcd lcm
 * fact/factorial pow exp ln log(x[, base=10]) log2 log10 sin cos tan asin
 * acos atan atan2 sinh cosh tanh asinh acosh atanh. Stdin: input() reads the
 * next number (whitespace- or comma-separated); inputs() expands to all the
 * remaining ones inside a variadic call, e.g. `sum(inputs())`. Variables and
 * functions live in separate namespaces; constants cannot be assigned.
 *
 * Numbers are exact integers (BigInt, at most MAX_INT_BITS bits) or doubles.
 * Integer + - * // % and ^ (with a non-negative exponent) stay exact; `/`
 * is exact when the division is, otherwise it gives a double. A double with
 * an integral value within ±2^53 turns back into an exact integer. Doubles
 * print with at most 15 significant digits (so 0.1+0.2 prints 0.3).
 * `%` and `//` floor (the result of `%` has the sign of the divisor).
 *
 * Errors: syntax errors (exit code 1) are found before anything runs; math
 * errors (exit code 2: division by zero, unknown name, domain error, number
 * too large, bad input) stop the program, keeping the output so far; the
 * output limit ends it with exit code 3. Messages carry line:column, the
 * source line and a caret.
 *
 * Hostile input: nesting deeper than `maxDepth` is a syntax error (no stack
 * overflow: left-assoc chains are evaluated iteratively); integers are
 * bounded and their size is checked before any costly power; output is
 * bounded; every pass is linear in the size of the program and of stdin.
 */

// ---------------------------------------------------------------------------
// Limits and public types

export const CALC_DEFAULTS = {
  /** Nesting of parentheses, unary signs, powers and calls. */
  maxDepth: 200,
  /** Bytes of stdout before the program is stopped. */
  maxOutputBytes: 1 << 20,
} as const

/** Integers must stay below 2^MAX_INT_BITS in magnitude (about 1233 digits). */
export const MAX_INT_BITS = 4096
const INT_LIMIT = 1n << BigInt(MAX_INT_BITS)
/** Most decimal digits an integer literal can have before it is surely too large. */
const MAX_INT_DIGITS = Math.ceil(MAX_INT_BITS * Math.log10(2)) + 1

export const CALC_EXIT = { ok: 0, syntax: 1, math: 2, limit: 3 } as const

export interface CalcOptions {
  maxDepth?: number
  maxOutputBytes?: number
  /** Shown before line:column in error messages (e.g. `main.calc`). */
  filename?: string
}

export interface CalcResult {
  stdout: string
  stderr: string
  code: number
}

/** An exact integer (bigint) or a double (number, never integral within ±2^53, never NaN/Infinity). */
export type CalcValue = bigint | number

export type BinaryOp = '+' | '-' | '*' | '/' | '//' | '%' | '^'

/** Every node carries the [start, end) offsets of its source text (for a binary node: its operator; for a call: its name). */
export type Expr =
  | { type: 'number'; raw: string; value: CalcValue | null; start: number; end: number }
  | { type: 'name'; name: string; start: number; end: number }
  | { type: 'unary'; op: '+' | '-' | '!'; operand: Expr; start: number; end: number }
  | { type: 'binary'; op: BinaryOp; left: Expr; right: Expr; start: number; end: number }
  | { type: 'call'; name: string; args: Expr[]; start: number; end: number }

export type Statement =
  | { type: 'assign'; name: string; value: Expr; start: number; end: number }
  | { type: 'print'; expr: Expr; start: number; end: number }

export interface Program {
  statements: Statement[]
}

// ---------------------------------------------------------------------------
// Errors

export type CalcErrorKind = 'syntax' | 'math' | 'limit'

const ERROR_NAMES = { syntax: 'CalcSyntaxError', math: 'CalcMathError', limit: 'CalcLimitError' } as const
const ERROR_LABELS = { syntax: 'syntax error', math: 'math error', limit: 'limit exceeded' } as const

/** A syntax, math or limit error at a place in the program. */
export class CalcError extends Error {
  override readonly name: string
  readonly kind: CalcErrorKind
  /** 1 for syntax, 2 for math, 3 for limit errors. */
  readonly exitCode: number
  /** 0-based [start, end) offsets in the program text. */
  readonly start: number
  readonly end: number
  /** 1-based line and column (in UTF-16 code units) of `start`. */
  readonly line: number
  readonly column: number
  /** The offending source line with a caret under the error (two lines). */
  readonly excerpt: string

  constructor(kind: CalcErrorKind, message: string, source: string, start: number, end: number) {
    super(message)
    this.name = ERROR_NAMES[kind]
    this.kind = kind
    this.exitCode = CALC_EXIT[kind]
    this.start = start
    this.end = Math.max(start, end)
    let line = 1
    let lineStart = 0
    for (let i = 0; i < start && i < source.length; i++) {
      if (source.charCodeAt(i) === 10) {
        line++
        lineStart = i + 1
      }
    }
    this.line = line
    this.column = start - lineStart + 1
    this.excerpt = makeExcerpt(source, lineStart, start, this.end, line)
  }

  /** `file:2:7: math error: division by zero`, then the excerpt. */
  format(filename?: string): string {
    const where = `${filename ? `${filename}:` : ''}${this.line}:${this.column}`
    return `${where}: ${ERROR_LABELS[this.kind]}: ${this.message}\n${this.excerpt}\n`
  }
}

const EXCERPT_WIDTH = 100

function makeExcerpt(source: string, lineStart: number, start: number, end: number, line: number): string {
  let lineEnd = source.indexOf('\n', lineStart)
  if (lineEnd < 0) lineEnd = source.length
  let text = source.slice(lineStart, lineEnd)
  if (text.endsWith('\r')) text = text.slice(0, -1)
  let caretAt = start - lineStart
  let caretLen = Math.max(1, Math.min(end, lineStart + text.length) - start)
  if (text.length > EXCERPT_WIDTH) {
    const from = Math.max(0, Math.min(caretAt - 40, text.length - EXCERPT_WIDTH))
    const to = Math.min(text.length, from + EXCERPT_WIDTH)
    const head = from > 0 ? '...' : ''
    text = head + text.slice(from, to) + (to < text.length ? '...' : '')
    caretAt = caretAt - from + head.length
    caretLen = Math.max(1, Math.min(caretLen, to - from - (caretAt - head.length)))
  }
  caretLen = Math.min(caretLen, 60)
  // Keep the terminal safe: control characters (but tabs) become '?', one for one.
  text = text.replace(/[\u0000-\u0008\u000a-\u001f\u007f]/g, '?')
  const pad = text.slice(0, caretAt).replace(/[^\t]/g, ' ').padEnd(caretAt, ' ')
  const gutter = String(line)
  return ` ${gutter} | ${text}\n ${' '.repeat(gutter.length)} | ${pad}^${'~'.repeat(caretLen - 1)}`
}

/** A math error without a position yet; the evaluator adds the node's. */
class Fault extends Error {}

function quote(s: string): string {
  return `'${s.length > 40 ? `${s.slice(0, 37)}...` : s}'`
}

// ---------------------------------------------------------------------------
// Lexer

type TokenType = 'number' | 'name' | 'op' | '(' | ')' | ',' | '=' | ';' | 'newline' | 'eof'

interface Token {
  type: TokenType
  text: string
  start: number
  end: number
}

const CH_0 = 48
const CH_9 = 57

function isDigit(c: number): boolean {
  return c >= CH_0 && c <= CH_9
}

function isNameStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95
}

function isNameChar(c: number): boolean {
  return isNameStart(c) || isDigit(c)
}

/** Produces tokens on demand; newlines inside parentheses are skipped. */
class Lexer {
  private readonly src: string
  private i: number
  private parens = 0
  private lastEnd = 0

  constructor(src: string) {
    this.src = src
    this.i = src.charCodeAt(0) === 0xfeff ? 1 : 0
  }

  private error(message: string, start: number, end: number): CalcError {
    return new CalcError('syntax', message, this.src, start, end)
  }

  next(): Token {
    const src = this.src
    const n = src.length
    while (this.i < n) {
      const start = this.i
      const c = src.charCodeAt(start)
      if (c === 10) {
        this.i++
        if (this.parens === 0) return this.token('newline', start, start + 1)
        continue
      }
      if (c === 32 || c === 9 || c === 13 || c === 11 || c === 12 || c === 0xa0 || c === 0xfeff) {
        this.i++
        continue
      }
      if (c === 35) {
        // '#': comment to the end of the line
        const nl = src.indexOf('\n', start)
        this.i = nl < 0 ? n : nl
        continue
      }
      if (isDigit(c) || (c === 46 && isDigit(src.charCodeAt(start + 1)))) return this.number(start)
      if (isNameStart(c)) {
        let j = start + 1
        while (j < n && isNameChar(src.charCodeAt(j))) j++
        this.i = j
        return this.token('name', start, j)
      }
      switch (c) {
        case 43: // +
        case 45: // -
        case 37: // %
        case 94: // ^
        case 33: // ! (postfix factorial)
          this.i++
          return this.token('op', start, start + 1)
        case 42: // * or **
        case 47: {
          // / or //
          const len = src.charCodeAt(start + 1) === c ? 2 : 1
          this.i += len
          return this.token('op', start, start + len)
        }
        case 40:
          this.i++
          this.parens++
          return this.token('(', start, start + 1)
        case 41:
          this.i++
          if (this.parens > 0) this.parens--
          return this.token(')', start, start + 1)
        case 44:
          this.i++
          return this.token(',', start, start + 1)
        case 59:
          this.i++
          return this.token(';', start, start + 1)
        case 61:
          this.i++
          return this.token('=', start, start + 1)
      }
      const cp = src.codePointAt(start) ?? c
      const shown = cp < 32 || cp === 127 ? `\\u${cp.toString(16).padStart(4, '0')}` : String.fromCodePoint(cp)
      throw this.error(`unexpected character '${shown}'`, start, start + (cp > 0xffff ? 2 : 1))
    }
    return { type: 'eof', text: '', start: this.lastEnd, end: this.lastEnd }
  }

  private token(type: TokenType, start: number, end: number): Token {
    this.lastEnd = end
    return { type, text: this.src.slice(start, end), start, end }
  }

  private number(start: number): Token {
    const src = this.src
    let j = start
    const digits = (): void => {
      while (isDigit(src.charCodeAt(j)) || src.charCodeAt(j) === 95) j++
    }
    digits()
    if (src.charCodeAt(j) === 46 && isDigit(src.charCodeAt(j + 1))) {
      j++
      digits()
    }
    const e = src.charCodeAt(j)
    if (e === 101 || e === 69) {
      let k = j + 1
      const sign = src.charCodeAt(k)
      if (sign === 43 || sign === 45) k++
      if (isDigit(src.charCodeAt(k))) {
        j = k
        digits()
      }
    }
    // An '_' must sit between two digits.
    for (let k = start; k < j; k++) {
      if (src.charCodeAt(k) === 95 && !(isDigit(src.charCodeAt(k - 1)) && isDigit(src.charCodeAt(k + 1)))) {
        throw this.error(`invalid number ${quote(src.slice(start, j))}: '_' must separate digits`, start, j)
      }
    }
    const after = src.charCodeAt(j)
    if (isNameStart(after)) {
      let k = j
      while (isNameChar(src.charCodeAt(k))) k++
      const num = src.slice(start, j)
      const word = src.slice(j, k)
      throw this.error(
        `missing operator between ${quote(num)} and ${quote(word)} (for a product write ${num}*${word})`,
        j,
        k,
      )
    }
    if (after === 46) {
      let k = j
      while (k < src.length && (isNameChar(src.charCodeAt(k)) || src.charCodeAt(k) === 46)) k++
      throw this.error(`invalid number ${quote(src.slice(start, k))}`, start, k)
    }
    this.i = j
    return this.token('number', start, j)
  }
}

// ---------------------------------------------------------------------------
// Numbers

const TOO_LARGE = `number too large (integers must stay below 2^${MAX_INT_BITS}, about 1e${Math.floor(MAX_INT_BITS * Math.log10(2))})`
const FLOAT_TOO_LARGE = 'number too large (beyond the floating-point range of about 1.8e308)'

function checkInt(n: bigint): bigint {
  if (n >= INT_LIMIT || n <= -INT_LIMIT) throw new Fault(TOO_LARGE)
  return n
}

/** A double back into a CalcValue: integral values within ±2^53 become exact integers. */
function fromFloat(x: number): CalcValue {
  if (Number.isNaN(x)) throw new Fault('domain error: the result is not a real number')
  if (!Number.isFinite(x)) throw new Fault(FLOAT_TOO_LARGE)
  if (Number.isInteger(x) && Math.abs(x) <= Number.MAX_SAFE_INTEGER) return BigInt(x)
  return x
}

function toFloat(v: CalcValue): number {
  if (typeof v === 'number') return v
  const x = Number(v)
  if (!Number.isFinite(x)) throw new Fault(FLOAT_TOO_LARGE)
  return x
}

function bitLength(n: bigint): number {
  return n === 0n ? 0 : (n < 0n ? -n : n).toString(2).length
}

function absBig(n: bigint): bigint {
  return n < 0n ? -n : n
}

function isZero(v: CalcValue): boolean {
  return v === 0n || v === 0
}

/** x * 2^k without intermediate overflow/underflow of 2^k. */
function scaleByPow2(x: number, k: number): number {
  while (k > 1000) {
    x *= 2 ** 1000
    k -= 1000
  }
  while (k < -1000) {
    x *= 2 ** -1000
    k += 1000
  }
  return x * 2 ** k
}

/** a / b as a double, for integers of any (bounded) size; b !== 0. */
function ratio(a: bigint, b: bigint): number {
  const x = absBig(a)
  const y = absBig(b)
  const neg = a < 0n !== b < 0n
  let r: number
  if (x <= BigInt(Number.MAX_SAFE_INTEGER) && y <= BigInt(Number.MAX_SAFE_INTEGER)) {
    r = Number(x) / Number(y)
  } else {
    // Scale so that the integer quotient has about 64 significant bits.
    const shift = 64 + bitLength(y) - bitLength(x)
    const q = shift >= 0 ? (x << BigInt(shift)) / y : x / (y << BigInt(-shift))
    r = scaleByPow2(Number(q), -shift)
  }
  return neg ? -r : r
}

/** Parses an unsigned literal without '_' (already validated). null when it is too large. */
function literalValue(text: string): CalcValue | null {
  let ePos = -1
  for (let k = 0; k < text.length; k++) {
    const c = text.charCodeAt(k)
    if (c === 101 || c === 69) {
      ePos = k
      break
    }
  }
  const mant = ePos < 0 ? text : text.slice(0, ePos)
  const dot = mant.indexOf('.')
  const intPart = dot < 0 ? mant : mant.slice(0, dot)
  const frac = dot < 0 ? '' : mant.slice(dot + 1)
  let digits = intPart + frac
  let lead = 0
  while (lead < digits.length && digits.charCodeAt(lead) === CH_0) lead++
  let trail = digits.length
  while (trail > lead && digits.charCodeAt(trail - 1) === CH_0) trail--
  if (lead === trail) return 0n
  const trailingZeros = digits.length - trail
  digits = digits.slice(lead, trail)
  // exponent, clamped: anything beyond ±1e9 is surely out of range
  let exp = 0
  if (ePos >= 0) {
    let k = ePos + 1
    let sign = 1
    if (text[k] === '+' || text[k] === '-') {
      if (text[k] === '-') sign = -1
      k++
    }
    while (k < text.length && text.charCodeAt(k) === CH_0) k++
    const expDigits = text.slice(k)
    exp = expDigits.length > 9 ? sign * 1e10 : sign * Number(expDigits || '0')
  }
  // value = digits * 10^scale
  const scale = exp - frac.length + trailingZeros
  if (scale >= 0) {
    if (digits.length + scale > MAX_INT_DIGITS) return null
    const v = BigInt(digits) * 10n ** BigInt(scale)
    return v >= INT_LIMIT ? null : v
  }
  const x = Number(text)
  if (!Number.isFinite(x)) return null
  return Number.isInteger(x) && Math.abs(x) <= Number.MAX_SAFE_INTEGER ? BigInt(x) : x
}

/** Formats a value the way calc prints it. */
export function formatValue(v: CalcValue): string {
  if (typeof v === 'bigint') return v.toString()
  if (Number.isInteger(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER) return String(v + 0) // -0 → 0
  const r = Number(v.toPrecision(15))
  const a = Math.abs(r)
  if (a === 0) return '0'
  if (a >= 1e15 || a < 1e-6) return r.toExponential()
  return String(r)
}

// ---------------------------------------------------------------------------
// Arithmetic (throws Fault)

function neg(a: CalcValue): CalcValue {
  return typeof a === 'bigint' ? -a : -a
}

function add(a: CalcValue, b: CalcValue): CalcValue {
  if (typeof a === 'bigint' && typeof b === 'bigint') return checkInt(a + b)
  return fromFloat(toFloat(a) + toFloat(b))
}

function sub(a: CalcValue, b: CalcValue): CalcValue {
  if (typeof a === 'bigint' && typeof b === 'bigint') return checkInt(a - b)
  return fromFloat(toFloat(a) - toFloat(b))
}

function mul(a: CalcValue, b: CalcValue): CalcValue {
  if (typeof a === 'bigint' && typeof b === 'bigint') return checkInt(a * b)
  return fromFloat(toFloat(a) * toFloat(b))
}

function div(a: CalcValue, b: CalcValue): CalcValue {
  if (isZero(b)) throw new Fault('division by zero')
  if (typeof a === 'bigint' && typeof b === 'bigint') return a % b === 0n ? a / b : fromFloat(ratio(a, b))
  return fromFloat(toFloat(a) / toFloat(b))
}

function floorDiv(a: CalcValue, b: CalcValue): CalcValue {
  if (isZero(b)) throw new Fault('division by zero')
  if (typeof a === 'bigint' && typeof b === 'bigint') {
    const q = a / b
    return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q
  }
  return fromFloat(Math.floor(toFloat(a) / toFloat(b)))
}

function mod(a: CalcValue, b: CalcValue): CalcValue {
  if (isZero(b)) throw new Fault('division by zero (modulo by zero)')
  if (typeof a === 'bigint' && typeof b === 'bigint') {
    const r = a % b
    return r !== 0n && r < 0n !== b < 0n ? r + b : r
  }
  const x = toFloat(a)
  const y = toFloat(b)
  let r = x % y
  if (r !== 0 && r < 0 !== y < 0) r += y
  return fromFloat(r)
}

function pow(a: CalcValue, b: CalcValue): CalcValue {
  if (typeof a === 'bigint' && typeof b === 'bigint') {
    if (a === 1n) return 1n
    if (a === -1n) return b % 2n === 0n ? 1n : -1n
    if (a === 0n) {
      if (b < 0n) throw new Fault('division by zero (0 to a negative power)')
      return b === 0n ? 1n : 0n
    }
    if (b >= 0n) {
      // |a| >= 2, so |a|^b >= 2^(floor(log2|a|) * b): refuse before computing.
      const log2Floor = BigInt(bitLength(a) - 1)
      if (b * log2Floor >= BigInt(MAX_INT_BITS)) throw new Fault(TOO_LARGE)
      return checkInt(a ** b)
    }
    // Negative exponent: a tiny double (huge |a| just gives 0).
    const base = Number(a)
    return fromFloat(base ** Number(b))
  }
  const x = toFloat(a)
  const y = toFloat(b)
  if (x === 0 && y < 0) throw new Fault('division by zero (0 to a negative power)')
  if (x < 0 && !Number.isInteger(y)) throw new Fault('domain error: a negative number to a fractional power')
  return fromFloat(x ** y)
}

const BINARY: Record<BinaryOp, (a: CalcValue, b: CalcValue) => CalcValue> = {
  '+': add,
  '-': sub,
  '*': mul,
  '/': div,
  '//': floorDiv,
  '%': mod,
  '^': pow,
}

function isqrt(n: bigint): bigint {
  if (n < 2n) return n
  let x = 1n << BigInt((bitLength(n) >> 1) + 1)
  for (;;) {
    const y = (x + n / x) >> 1n
    if (y >= x) return x
    x = y
  }
}

/** Natural log of a positive value, also for integers beyond the double range. */
function lnOf(v: CalcValue, fname: string): number {
  if (v <= 0) throw new Fault(`domain error: ${fname}() needs a positive number, got ${formatValue(v)}`)
  if (typeof v === 'bigint') {
    const bits = bitLength(v)
    if (bits > 1000) {
      const shift = bits - 64
      return Math.log(Number(v >> BigInt(shift))) + shift * Math.LN2
    }
  }
  return Math.log(Number(v))
}

function logBase(v: CalcValue, base: number, fname: string): number {
  const ln = lnOf(v, fname)
  if (v <= Number.MAX_VALUE) {
    const x = Number(v)
    if (base === 10) return Math.log10(x)
    if (base === 2) return Math.log2(x)
  }
  return ln / Math.log(base)
}

// ---------------------------------------------------------------------------
// Built-in functions and constants

interface Builtin {
  min: number
  max: number
  impl: (args: CalcValue[], io: Io) => CalcValue
}

const CONSTANTS = new Map<string, CalcValue>([
  ['pi', Math.PI],
  ['e', Math.E],
  ['tau', 2 * Math.PI],
])

function unaryFloat(name: string, fn: (x: number) => number): Builtin {
  return {
    min: 1,
    max: 1,
    impl: (args) => {
      const x = args[0]!
      const r = fn(toFloat(x))
      if (Number.isNaN(r)) throw new Fault(`domain error: ${name}() is not defined for ${formatValue(x)}`)
      return fromFloat(r)
    },
  }
}

function intArg(v: CalcValue, fname: string): bigint {
  if (typeof v !== 'bigint') throw new Fault(`domain error: ${fname}() needs whole numbers, got ${formatValue(v)}`)
  return v
}

function gcd2(a: bigint, b: bigint): bigint {
  a = absBig(a)
  b = absBig(b)
  while (b !== 0n) [a, b] = [b, a % b]
  return a
}

function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x)
}

function roundTo(v: CalcValue, digits: CalcValue): CalcValue {
  const d = intArg(digits, 'round')
  if (d >= 0n) {
    if (typeof v === 'bigint') return v
    return fromFloat(Number(v.toFixed(Number(d > 100n ? 100n : d))))
  }
  const k = -d
  if (typeof v === 'bigint') {
    if (k > BigInt(MAX_INT_DIGITS)) return 0n
    const p = 10n ** k
    const q = absBig(v) / p
    const r = absBig(v) % p
    const m = (r * 2n >= p ? q + 1n : q) * p
    return checkInt(v < 0n ? -m : m)
  }
  if (k > 400n) return 0n
  const p = 10 ** Number(k)
  return fromFloat(roundHalfAway(v / p) * p)
}

function compare(a: CalcValue, b: CalcValue): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** inputs() may only appear as an argument of these (it expands to every remaining stdin number). */
const SPREAD_HINT = 'sum, avg, min, max, count, hypot, gcd or lcm'

const FUNCTIONS = new Map<string, Builtin>([
  [
    'sqrt',
    {
      min: 1,
      max: 1,
      impl: ([x]) => {
        if (x! < 0) throw new Fault(`domain error: sqrt() of a negative number (${formatValue(x!)})`)
        if (typeof x === 'bigint') {
          const r = isqrt(x)
          if (r * r === x) return r
          return x <= Number.MAX_VALUE ? fromFloat(Math.sqrt(Number(x))) : fromFloat(Number(r))
        }
        return fromFloat(Math.sqrt(x!))
      },
    },
  ],
  ['cbrt', unaryFloat('cbrt', Math.cbrt)],
  ['abs', { min: 1, max: 1, impl: ([x]) => (typeof x === 'bigint' ? absBig(x) : Math.abs(x!)) }],
  [
    'sign',
    { min: 1, max: 1, impl: ([x]) => (x! > 0 ? 1n : x! < 0 ? -1n : 0n) },
  ],
  ['floor', { min: 1, max: 1, impl: ([x]) => (typeof x === 'bigint' ? x : fromFloat(Math.floor(x!))) }],
  ['ceil', { min: 1, max: 1, impl: ([x]) => (typeof x === 'bigint' ? x : fromFloat(Math.ceil(x!))) }],
  ['trunc', { min: 1, max: 1, impl: ([x]) => (typeof x === 'bigint' ? x : fromFloat(Math.trunc(x!))) }],
  [
    'round',
    {
      min: 1,
      max: 2,
      impl: ([x, d]) => {
        if (d !== undefined) return roundTo(x!, d)
        return typeof x === 'bigint' ? x : fromFloat(roundHalfAway(x!))
      },
    },
  ],
  [
    'min',
    { min: 1, max: Infinity, impl: (a) => a.reduce((m, v) => (compare(v, m) < 0 ? v : m)) },
  ],
  [
    'max',
    { min: 1, max: Infinity, impl: (a) => a.reduce((m, v) => (compare(v, m) > 0 ? v : m)) },
  ],
  ['sum', { min: 0, max: Infinity, impl: (a) => a.reduce<CalcValue>((s, v) => add(s, v), 0n) }],
  [
    'avg',
    { min: 1, max: Infinity, impl: (a) => div(a.reduce<CalcValue>((s, v) => add(s, v), 0n), BigInt(a.length)) },
  ],
  [
    'mean',
    { min: 1, max: Infinity, impl: (a) => div(a.reduce<CalcValue>((s, v) => add(s, v), 0n), BigInt(a.length)) },
  ],
  ['count', { min: 0, max: Infinity, impl: (a) => BigInt(a.length) }],
  [
    'hypot',
    { min: 1, max: Infinity, impl: (a) => fromFloat(Math.hypot(...a.map(toFloat))) },
  ],
  [
    'gcd',
    { min: 1, max: Infinity, impl: (a) => a.map((v) => intArg(v, 'gcd')).reduce(gcd2, 0n) },
  ],
  [
    'lcm',
    {
      min: 1,
      max: Infinity,
      impl: (a) =>
        a
          .map((v) => intArg(v, 'lcm'))
          .reduce((l, v) => (l === 0n || v === 0n ? 0n : checkInt(absBig(l * v) / gcd2(l, v))), 1n),
    },
  ],
  [
    'fact',
    {
      min: 1,
      max: 1,
      impl: ([x]) => factorial(x!),
    },
  ],
  ['factorial', { min: 1, max: 1, impl: ([x]) => factorial(x!) }],
  ['pow', { min: 2, max: 2, impl: ([x, y]) => pow(x!, y!) }],
  ['exp', unaryFloat('exp', Math.exp)],
  ['ln', { min: 1, max: 1, impl: ([x]) => fromFloat(lnOf(x!, 'ln')) }],
  ['log2', { min: 1, max: 1, impl: ([x]) => fromFloat(logBase(x!, 2, 'log2')) }],
  ['log10', { min: 1, max: 1, impl: ([x]) => fromFloat(logBase(x!, 10, 'log10')) }],
  [
    'log',
    {
      min: 1,
      max: 2,
      impl: ([x, b]) => {
        if (b === undefined) return fromFloat(logBase(x!, 10, 'log'))
        if (b <= 0 || b === 1n) throw new Fault(`domain error: log() base must be positive and not 1, got ${formatValue(b)}`)
        return fromFloat(b === 2n || b === 10n ? logBase(x!, Number(b), 'log') : lnOf(x!, 'log') / lnOf(b, 'log'))
      },
    },
  ],
  ['sin', unaryFloat('sin', Math.sin)],
  ['cos', unaryFloat('cos', Math.cos)],
  ['tan', unaryFloat('tan', Math.tan)],
  ['asin', unaryFloat('asin', Math.asin)],
  ['acos', unaryFloat('acos', Math.acos)],
  ['atan', unaryFloat('atan', Math.atan)],
  ['sinh', unaryFloat('sinh', Math.sinh)],
  ['cosh', unaryFloat('cosh', Math.cosh)],
  ['tanh', unaryFloat('tanh', Math.tanh)],
  ['asinh', unaryFloat('asinh', Math.asinh)],
  ['acosh', unaryFloat('acosh', Math.acosh)],
  ['atanh', unaryFloat('atanh', Math.atanh)],
  ['atan2', { min: 2, max: 2, impl: ([y, x]) => fromFloat(Math.atan2(toFloat(y!), toFloat(x!))) }],
  ['input', { min: 0, max: 0, impl: (_a, io) => io.next() }],
  [
    'inputs',
    {
      min: 0,
      max: 0,
      impl: () => {
        throw new Fault(`inputs() can only be used as an argument of ${SPREAD_HINT}`)
      },
    },
  ],
])

function factorial(x: CalcValue): CalcValue {
  if (typeof x !== 'bigint' || x < 0n) {
    throw new Fault(`domain error: factorial needs a whole number >= 0, got ${formatValue(x)}`)
  }
  let r = 1n
  for (let i = 2n; i <= x; i++) r = checkInt(r * i) // stops within a few hundred steps
  return r
}

/** The names calc knows: functions and constants (for docs and tooling). */
export const CALC_FUNCTIONS: readonly string[] = [...FUNCTIONS.keys()]
export const CALC_CONSTANTS: readonly string[] = [...CONSTANTS.keys()]

// ---------------------------------------------------------------------------
// Parser

function lineCol(source: string, offset: number): string {
  let line = 1
  let lineStart = 0
  for (let i = 0; i < offset; i++) {
    if (source.charCodeAt(i) === 10) {
      line++
      lineStart = i + 1
    }
  }
  return `${line}:${offset - lineStart + 1}`
}

function describe(t: Token): string {
  switch (t.type) {
    case 'number':
      return `number ${quote(t.text)}`
    case 'name':
      return `name ${quote(t.text)}`
    case 'newline':
      return 'end of line'
    case 'eof':
      return 'end of input'
    default:
      return quote(t.text)
  }
}

class Parser {
  private readonly src: string
  private readonly lexer: Lexer
  private readonly maxDepth: number
  private tok: Token
  private ahead: Token | null = null
  private depth = 0

  constructor(src: string, maxDepth: number) {
    this.src = src
    this.maxDepth = maxDepth
    this.lexer = new Lexer(src)
    this.tok = this.lexer.next()
  }

  private error(message: string, start: number, end: number): CalcError {
    return new CalcError('syntax', message, this.src, start, end)
  }

  private peek2(): Token {
    this.ahead ??= this.lexer.next()
    return this.ahead
  }

  private advance(): Token {
    const t = this.tok
    if (this.ahead) {
      this.tok = this.ahead
      this.ahead = null
    } else {
      this.tok = this.lexer.next()
    }
    return t
  }

  /** A method, not a property test, so that TypeScript does not keep a narrowing across advance(). */
  private at(type: TokenType): boolean {
    return this.tok.type === type
  }

  private isOp(...ops: string[]): boolean {
    return this.tok.type === 'op' && ops.includes(this.tok.text)
  }

  parseProgram(): Program {
    const statements: Statement[] = []
    for (;;) {
      while (this.tok.type === 'newline' || this.tok.type === ';') this.advance()
      if (this.tok.type === 'eof') return { statements }
      statements.push(this.parseStatement())
      const t = this.tok
      if (t.type === 'newline' || t.type === ';' || t.type === 'eof') continue
      throw this.unexpectedAfterExpression(t)
    }
  }

  private unexpectedAfterExpression(t: Token): CalcError {
    if (t.type === '=') {
      return this.error("the left side of '=' must be a variable name", t.start, t.end)
    }
    if (t.type === ')') return this.error("unmatched ')'", t.start, t.end)
    if (t.type === 'number' || t.type === 'name' || t.type === '(') {
      return this.error(
        `missing operator before ${describe(t)} (implicit multiplication is not supported: use '*')`,
        t.start,
        t.end,
      )
    }
    return this.error(`unexpected ${describe(t)}`, t.start, t.end)
  }

  private parseStatement(): Statement {
    const first = this.tok
    if (first.type === 'name' && this.peek2().type === '=') {
      this.advance()
      this.advance()
      if (CONSTANTS.has(first.text)) {
        throw this.error(`cannot assign to ${quote(first.text)}: it is a constant`, first.start, first.end)
      }
      const value = this.parseExpr()
      return { type: 'assign', name: first.text, value, start: first.start, end: first.end }
    }
    const expr = this.parseExpr()
    return { type: 'print', expr, start: first.start, end: this.tok.start }
  }

  private parseExpr(): Expr {
    let left = this.parseTerm()
    while (this.isOp('+', '-')) {
      const op = this.advance()
      const right = this.parseTerm()
      left = { type: 'binary', op: op.text as BinaryOp, left, right, start: op.start, end: op.end }
    }
    return left
  }

  private parseTerm(): Expr {
    let left = this.parseUnary()
    while (this.isOp('*', '/', '//', '%')) {
      const op = this.advance()
      const right = this.parseUnary()
      left = { type: 'binary', op: op.text as BinaryOp, left, right, start: op.start, end: op.end }
    }
    return left
  }

  /** Every recursion of the parser passes through here, so this is where depth is bounded. */
  private parseUnary(): Expr {
    if (++this.depth > this.maxDepth) {
      throw this.error(
        `expression nested too deeply (more than ${this.maxDepth} levels)`,
        this.tok.start,
        this.tok.end,
      )
    }
    let result: Expr
    if (this.isOp('+', '-')) {
      const op = this.advance()
      const operand = this.parseUnary()
      result = { type: 'unary', op: op.text as '+' | '-', operand, start: op.start, end: op.end }
    } else {
      result = this.parsePower()
    }
    this.depth--
    return result
  }

  private parsePower(): Expr {
    const base = this.parsePostfix()
    if (this.isOp('^', '**')) {
      const op = this.advance()
      const exponent = this.parseUnary()
      return { type: 'binary', op: '^', left: base, right: exponent, start: op.start, end: op.end }
    }
    return base
  }

  private parsePostfix(): Expr {
    let expr = this.parsePrimary()
    // A chain of '!' nests like the other operators, so it counts towards the depth.
    for (let n = 1; this.isOp('!'); n++) {
      if (this.depth + n > this.maxDepth) {
        throw this.error(`expression nested too deeply (more than ${this.maxDepth} levels)`, this.tok.start, this.tok.end)
      }
      const op = this.advance()
      expr = { type: 'unary', op: '!', operand: expr, start: op.start, end: op.end }
    }
    return expr
  }

  private parsePrimary(): Expr {
    const t = this.tok
    switch (t.type) {
      case 'number': {
        this.advance()
        return { type: 'number', raw: t.text, value: literalValue(t.text.replaceAll('_', '')), start: t.start, end: t.end }
      }
      case 'name': {
        this.advance()
        if (!this.at('(')) return { type: 'name', name: t.text, start: t.start, end: t.end }
        const open = this.advance()
        const args: Expr[] = []
        if (!this.at(')')) {
          for (;;) {
            args.push(this.parseExpr())
            if (this.at(',')) {
              this.advance()
              continue
            }
            if (this.at(')')) break
            throw this.error(
              `expected ',' or ')' in the call of ${quote(t.text)} (opened at ${lineCol(this.src, open.start)}), but found ${describe(this.tok)}`,
              this.tok.start,
              this.tok.end,
            )
          }
        }
        this.advance()
        return { type: 'call', name: t.text, args, start: t.start, end: t.end }
      }
      case '(': {
        this.advance()
        const inner = this.parseExpr()
        if (!this.at(')')) {
          throw this.error(
            `expected ')' to close the '(' at ${lineCol(this.src, t.start)}, but found ${describe(this.tok)}`,
            this.tok.start,
            this.tok.end,
          )
        }
        this.advance()
        return inner
      }
      default:
        throw this.error(`expected a number, a name or '(' but found ${describe(t)}`, t.start, t.end)
    }
  }
}

/** Parses a whole program; throws CalcError (kind 'syntax') on the first syntax error. */
export function parse(source: string, options: { maxDepth?: number } = {}): Program {
  return new Parser(source, options.maxDepth ?? CALC_DEFAULTS.maxDepth).parseProgram()
}

// ---------------------------------------------------------------------------
// Evaluator

const STDIN_NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/

/** Numbers on stdin, whitespace- or comma-separated, read lazily. */
class Io {
  private readonly text: string
  private words: string[] | null = null
  private i = 0

  constructor(text: string) {
    this.text = text
  }

  private all(): string[] {
    this.words ??= this.text.split(/[\s,]+/).filter((w) => w !== '')
    return this.words
  }

  next(): CalcValue {
    const words = this.all()
    if (this.i >= words.length) {
      throw new Fault(`no more input: stdin has ${words.length} number${words.length === 1 ? '' : 's'}`)
    }
    return this.convert(words[this.i++]!, this.i)
  }

  rest(): CalcValue[] {
    const words = this.all()
    const out: CalcValue[] = []
    while (this.i < words.length) out.push(this.convert(words[this.i++]!, this.i))
    return out
  }

  private convert(word: string, index: number): CalcValue {
    if (!STDIN_NUMBER.test(word)) throw new Fault(`stdin word ${index} is not a number: ${quote(word)}`)
    const negative = word.startsWith('-')
    const v = literalValue(word.replace(/^[+-]/, ''))
    if (v === null) throw new Fault(`stdin word ${index}: ${TOO_LARGE}`)
    return negative ? neg(v) : v
  }
}

class Machine {
  private readonly src: string
  private readonly io: Io
  private readonly maxOutput: number
  private readonly vars = new Map<string, CalcValue>()
  private readonly out: string[] = []
  private outLen = 0

  constructor(src: string, stdin: string, maxOutput: number) {
    this.src = src
    this.io = new Io(stdin)
    this.maxOutput = maxOutput
  }

  stdout(): string {
    return this.out.join('')
  }

  private fail(kind: CalcErrorKind, message: string, node: { start: number; end: number }): CalcError {
    return new CalcError(kind, message, this.src, node.start, node.end)
  }

  run(program: Program): void {
    for (const st of program.statements) {
      if (st.type === 'assign') {
        this.vars.set(st.name, this.evaluate(st.value))
      } else {
        this.print(formatValue(this.evaluate(st.expr)) + '\n', st)
      }
    }
  }

  private print(line: string, st: Statement): void {
    if (this.outLen + line.length > this.maxOutput) {
      this.out.push(line.slice(0, this.maxOutput - this.outLen))
      this.outLen = this.maxOutput
      throw this.fail('limit', `output limit exceeded (${this.maxOutput} bytes)`, st)
    }
    this.out.push(line)
    this.outLen += line.length
  }

  private evaluate(node: Expr): CalcValue {
    switch (node.type) {
      case 'number':
        if (node.value === null) throw this.fail('math', TOO_LARGE, node)
        return node.value
      case 'name': {
        const v = this.vars.get(node.name) ?? CONSTANTS.get(node.name)
        if (v !== undefined) return v
        const hint = FUNCTIONS.has(node.name) ? ` (${node.name} is a function: call it as ${node.name}(...))` : ''
        throw this.fail('math', `unknown variable ${quote(node.name)}${hint}`, node)
      }
      case 'unary': {
        const v = this.evaluate(node.operand)
        if (node.op === '-') return neg(v)
        if (node.op === '+') return v
        try {
          return factorial(v)
        } catch (e) {
          if (e instanceof Fault) throw this.fail('math', e.message, node)
          throw e
        }
      }
      case 'binary':
        return this.evalBinary(node)
      case 'call':
        return this.evalCall(node)
    }
  }

  /** Walks the left spine iteratively, so `1+1+...+1` never recurses deeply. */
  private evalBinary(node: Expr & { type: 'binary' }): CalcValue {
    const spine: (Expr & { type: 'binary' })[] = []
    let cur: Expr = node
    while (cur.type === 'binary') {
      spine.push(cur)
      cur = cur.left
    }
    let acc = this.evaluate(cur)
    for (let i = spine.length - 1; i >= 0; i--) {
      const b = spine[i]!
      const right = this.evaluate(b.right)
      try {
        acc = BINARY[b.op](acc, right)
      } catch (e) {
        if (e instanceof Fault) throw this.fail('math', e.message, b)
        throw e
      }
    }
    return acc
  }

  private evalCall(node: Expr & { type: 'call' }): CalcValue {
    const fn = FUNCTIONS.get(node.name)
    if (fn === undefined) {
      const hint = this.vars.has(node.name) || CONSTANTS.has(node.name) ? ` (${node.name} is a variable; use '*' to multiply)` : ''
      throw this.fail('math', `unknown function ${quote(node.name)}${hint}`, node)
    }
    const args: CalcValue[] = []
    for (const arg of node.args) {
      if (fn.max === Infinity && arg.type === 'call' && arg.name === 'inputs' && arg.args.length === 0) {
        try {
          for (const v of this.io.rest()) args.push(v)
        } catch (e) {
          if (e instanceof Fault) throw this.fail('math', e.message, arg)
          throw e
        }
      } else {
        args.push(this.evaluate(arg))
      }
    }
    if (args.length < fn.min || args.length > fn.max) {
      const want =
        fn.min === fn.max
          ? `${fn.min} argument${fn.min === 1 ? '' : 's'}`
          : fn.max === Infinity
            ? `at least ${fn.min} argument${fn.min === 1 ? '' : 's'}`
            : `${fn.min} to ${fn.max} arguments`
      throw this.fail('math', `${node.name}() takes ${want}, got ${args.length}`, node)
    }
    try {
      return fn.impl(args, this.io)
    } catch (e) {
      if (e instanceof Fault) throw this.fail('math', e.message, node)
      throw e
    }
  }
}

/**
 * Runs a calc program. When `source` has no statements (empty, blank or only
 * comments), `stdin` is the program instead. Never throws.
 */
export function evaluateCalc(source: string, stdin: string, options: CalcOptions = {}): CalcResult {
  const maxDepth = options.maxDepth ?? CALC_DEFAULTS.maxDepth
  const maxOutput = options.maxOutputBytes ?? CALC_DEFAULTS.maxOutputBytes
  let text = typeof source === 'string' ? source : ''
  let input = typeof stdin === 'string' ? stdin : ''
  let filename = options.filename
  let machine: Machine | null = null
  try {
    let program = parse(text, { maxDepth })
    if (program.statements.length === 0) {
      text = input
      input = ''
      filename = '<stdin>'
      program = parse(text, { maxDepth })
    }
    machine = new Machine(text, input, maxOutput)
    machine.run(program)
    return { stdout: machine.stdout(), stderr: '', code: CALC_EXIT.ok }
  } catch (e) {
    const stdout = machine?.stdout() ?? ''
    if (e instanceof CalcError) return { stdout, stderr: e.format(filename), code: e.exitCode }
    // Not expected; but a calc program must never take the host down.
    const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e)
    return { stdout, stderr: `calc: internal error: ${message}\n`, code: CALC_EXIT.limit }
  }
}
