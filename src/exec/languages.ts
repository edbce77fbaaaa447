/**
 * The language table: one row of data per language. Adding a language is
 * adding a row (and, if its toolchain lives outside /usr, nothing else:
 * toolchains.ts binds what it resolves).
 *
 * Commands are argv templates, expanded by `expandCommand`:
 *   {tool.ID}   absolute path of a detected tool (toolchains.ts)
 *   {memoryMb}  the stage's memory limit in MiB (the heap, for runtimes with `heap`)
 *   {entry}     the entry file (the job's first file)
 *   {mainClass} Java: the class declaring `public static void main`
 *   {sources}   (whole element) every job file with one of `compile.sources`' extensions
 *   {args}      (whole element) the job's arguments
 * Commands run with the job dir as working directory, so paths are relative.
 *
 * Everything here is pure: no detection, no I/O.
 */
import type { SourceFile } from './types.ts'

export interface ToolSpec {
  /** Referenced as {tool.ID}. */
  id: string
  /**
   * Tried in order: absolute paths, `{dir.ID}/name` (beside an already
   * resolved tool), or a bare name looked up in PATH. Only real ELF binaries
   * count (no shims, no scripts, nothing in node_modules).
   */
  candidates: string[]
}

export interface VersionSpec {
  /** Read from a file under the toolchain home (no process), e.g. the JDK's `release`. */
  file?: string
  /** Or run this tool with these args and read stdout+stderr. */
  tool?: string
  args?: string[]
  /** First capture group is the version. */
  pattern: RegExp
}

export interface Language {
  name: string
  aliases: string[]
  /** Extensions (with the dot) that belong to this language, for `languageForFile`. */
  extensions: string[]
  /** Runs inside the node process (calc): no toolchain, no sandbox. */
  inProcess?: boolean
  tools: ToolSpec[]
  version?: VersionSpec
  /** The toolchain home: `up` directories above the resolved tool. */
  home?: { tool: string; up: number }
  /** Directories under the home whose symlinks point at config elsewhere (bound read-only). */
  configLinks?: string[]
  compile?: {
    argv: string[]
    /** Extensions of the files passed as {sources}. */
    sources: string[]
    /** Files the compile leaves for the run stage (cached): names or `**\/*.ext`. */
    artefacts: string[]
    /** True when the stage only checks syntax (python, js). */
    checkOnly?: boolean
    /**
     * A check-only language may do its check at the start of the run stage,
     * in the same sandbox (one sandbox start per job instead of two): this
     * command checks, then execs the program. A failed check exits with
     * CHECK_FAILED_EXIT and leaves its diagnostics in $TMPDIR/CHECK_FILE.
     */
    inline?: { argv: string[] }
  }
  run: { argv: string[] }
  entry: 'first' | 'java-main'
  /** Java: a file declaring a public top-level type is written as `<Type>.java`, as javac demands. */
  layout?: 'java-public-type'
  /** Runtimes sized by a heap flag: the memory cgroup gets the heap plus this. */
  memoryOverheadMb: number
  /** Processes/threads the runtime itself needs on top of the job's allowance. */
  extraProcesses: number
  /** RLIMIT_AS can bound it (not for the JVM or V8, which reserve gigabytes). */
  addressSpaceLimit: boolean
  /** Messages by which the runtime reports running out of memory (stderr). */
  oomPatterns: RegExp[]
}

/** Fewer threads and a faster start: one GC thread, one CPU's worth of compiler threads, no hsperfdata file. */
const JVM_FLAGS = ['-XX:+UseSerialGC', '-XX:ActiveProcessorCount=1', '-XX:-UsePerfData', '-Xshare:auto']

/** Syntax-checks every file given (compile(), nothing runs); prints errors like the interpreter. */
const PY_CHECK = [
  'import sys, traceback',
  'bad = 0',
  'for f in sys.argv[1:]:',
  '    try:',
  '        with open(f, "rb") as h: compile(h.read(), f, "exec", dont_inherit=True)',
  '    except (SyntaxError, ValueError) as e:',
  '        sys.stderr.write("".join(traceback.format_exception_only(type(e), e))); bad = 1',
  'sys.exit(bad)',
].join('\n')

/** Exit code of an inline check that failed (see `compile.inline`). */
export const CHECK_FAILED_EXIT = 97
/** Where an inline check leaves its diagnostics, in the job's /tmp. */
export const CHECK_FILE = '.meshrun-check'

/**
 * Python's inline check: argv is `<sources…> -- <program argv…>`. Checks the
 * sources like PY_CHECK; on a syntax error writes the diagnostics to
 * $TMPDIR/CHECK_FILE and exits CHECK_FAILED_EXIT; otherwise replaces itself
 * with the program (a fresh interpreter: the program sees exactly what
 * `python3 main.py` would).
 */
const PY_CHECK_THEN_EXEC = [
  'import os, sys, traceback',
  'a = sys.argv[1:]',
  'i = a.index("--")',
  'errors = []',
  'for f in a[:i]:',
  '    try:',
  '        with open(f, "rb") as h: compile(h.read(), f, "exec", dont_inherit=True)',
  '    except (SyntaxError, ValueError) as e:',
  '        errors.append("".join(traceback.format_exception_only(type(e), e)))',
  'if errors:',
  `    with open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "${CHECK_FILE}"), "w") as h: h.write("".join(errors))`,
  `    os._exit(${CHECK_FAILED_EXIT})`,
  'os.execv(a[i + 1], a[i + 1:])',
].join('\n')

const C_FLAGS = ['-O2', '-pipe', '-I.', '-fdiagnostics-color=never', '-fmax-errors=20']

export const LANGUAGES: readonly Language[] = [
  {
    name: 'python',
    aliases: ['py', 'python3', 'py3'],
    extensions: ['.py'],
    tools: [{ id: 'python', candidates: ['/usr/bin/python3', '/usr/local/bin/python3', 'python3'] }],
    version: { tool: 'python', args: ['--version'], pattern: /Python (\S+)/ },
    compile: {
      argv: ['{tool.python}', '-I', '-S', '-B', '-c', PY_CHECK, '{sources}'],
      sources: ['.py'],
      artefacts: [],
      checkOnly: true,
      inline: { argv: ['{tool.python}', '-I', '-S', '-B', '-c', PY_CHECK_THEN_EXEC, '{sources}', '--', '{tool.python}', '-B', '{entry}', '{args}'] },
    },
    run: { argv: ['{tool.python}', '-B', '{entry}', '{args}'] },
    entry: 'first',
    memoryOverheadMb: 0,
    extraProcesses: 0,
    addressSpaceLimit: true,
    oomPatterns: [/^MemoryError\b/m],
  },
  {
    name: 'c',
    aliases: ['gcc', 'c17'],
    extensions: ['.c', '.h'],
    tools: [{ id: 'cc', candidates: ['/usr/bin/gcc', 'gcc'] }],
    version: { tool: 'cc', args: ['-dumpfullversion'], pattern: /(\d+(?:\.\d+)*)/ },
    compile: { argv: ['{tool.cc}', '-std=gnu17', ...C_FLAGS, '-o', 'a.out', '{sources}', '-lm'], sources: ['.c'], artefacts: ['a.out'] },
    run: { argv: ['./a.out', '{args}'] },
    entry: 'first',
    memoryOverheadMb: 0,
    extraProcesses: 0,
    addressSpaceLimit: true,
    oomPatterns: [],
  },
  {
    name: 'cpp',
    aliases: ['c++', 'cxx', 'g++', 'cpp17'],
    extensions: ['.cpp', '.cc', '.cxx', '.c++', '.hpp', '.hh', '.hxx'],
    tools: [{ id: 'cxx', candidates: ['/usr/bin/g++', 'g++'] }],
    version: { tool: 'cxx', args: ['-dumpfullversion'], pattern: /(\d+(?:\.\d+)*)/ },
    compile: { argv: ['{tool.cxx}', '-std=gnu++17', ...C_FLAGS, '-o', 'a.out', '{sources}', '-lm'], sources: ['.cpp', '.cc', '.cxx', '.c++'], artefacts: ['a.out'] },
    run: { argv: ['./a.out', '{args}'] },
    entry: 'first',
    memoryOverheadMb: 0,
    extraProcesses: 0,
    addressSpaceLimit: true,
    oomPatterns: [/std::bad_alloc/],
  },
  {
    name: 'java',
    aliases: ['jdk'],
    extensions: ['.java'],
    tools: [
      { id: 'java', candidates: ['/usr/bin/java', 'java'] },
      { id: 'javac', candidates: ['{dir.java}/javac', '/usr/bin/javac', 'javac'] },
    ],
    home: { tool: 'java', up: 2 },
    version: { file: 'release', pattern: /JAVA_VERSION="([^"]+)"/ },
    configLinks: ['conf', 'conf/security', 'lib', 'lib/security'],
    compile: {
      argv: ['{tool.javac}', '-J-Xmx{memoryMb}m', ...[...JVM_FLAGS, '-XX:TieredStopAtLevel=1'].map((f) => `-J${f}`), '-encoding', 'UTF-8', '-proc:none', '-d', '.', '{sources}'],
      sources: ['.java'],
      artefacts: ['**/*.class'],
    },
    run: { argv: ['{tool.java}', '-Xmx{memoryMb}m', ...JVM_FLAGS, '-cp', '.', '{mainClass}', '{args}'] },
    entry: 'java-main',
    layout: 'java-public-type',
    memoryOverheadMb: 128,
    extraProcesses: 32,
    addressSpaceLimit: false,
    // Not "unable to create native thread": that is the process limit (the pids cgroup says so).
    oomPatterns: [/java\.lang\.OutOfMemoryError(?!: unable to create (?:new )?native thread)/],
  },
  {
    name: 'js',
    aliases: ['javascript', 'node', 'nodejs'],
    extensions: ['.js', '.mjs', '.cjs'],
    tools: [{ id: 'node', candidates: ['/usr/bin/node', '/usr/local/bin/node', 'node', 'nodejs'] }],
    version: { tool: 'node', args: ['--version'], pattern: /v?(\d+\.\d+\.\d+)/ },
    compile: { argv: ['{tool.node}', '--check', '{entry}'], sources: ['.js', '.mjs', '.cjs'], artefacts: [], checkOnly: true },
    run: { argv: ['{tool.node}', '--max-old-space-size={memoryMb}', '{entry}', '{args}'] },
    entry: 'first',
    memoryOverheadMb: 128,
    extraProcesses: 16,
    addressSpaceLimit: false,
    oomPatterns: [/JavaScript heap out of memory/, /Reached heap limit/],
  },
  {
    name: 'calc',
    aliases: ['calculator'],
    extensions: ['.calc'],
    inProcess: true,
    tools: [],
    run: { argv: [] },
    entry: 'first',
    memoryOverheadMb: 0,
    extraProcesses: 0,
    addressSpaceLimit: false,
    oomPatterns: [],
  },
]

const byName = new Map<string, Language>()
for (const lang of LANGUAGES) {
  for (const key of [lang.name, ...lang.aliases]) byName.set(key.toLowerCase(), lang)
}

/** The language for a name or alias (case-insensitive), or undefined. */
export function resolveLanguage (nameOrAlias: string): Language | undefined {
  if (typeof nameOrAlias !== 'string') return undefined
  return byName.get(nameOrAlias.trim().toLowerCase())
}

/** The language name for a file name, by its extension (`a.py` → `python`), or undefined. */
export function languageForFile (fileName: string): string | undefined {
  const base = fileName.slice(fileName.lastIndexOf('/') + 1)
  const dot = base.lastIndexOf('.')
  if (dot <= 0) return undefined
  const ext = base.slice(dot).toLowerCase()
  return LANGUAGES.find((l) => l.extensions.includes(ext))?.name
}

function hasExtension (name: string, exts: readonly string[]): boolean {
  const lower = name.toLowerCase()
  return exts.some((e) => lower.endsWith(e))
}

/** The files a compile stage takes as {sources}, in job order. */
export function compileSources (lang: Language, files: readonly SourceFile[]): string[] {
  if (lang.compile === undefined) return []
  const exts = lang.compile.sources
  return files.filter((f) => hasExtension(f.name, exts)).map((f) => f.name)
}

/** Blanks comments, strings and char literals so a regex scan sees only code. */
function javaCodeOnly (src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'/g, (m) => m.replace(/[^\n]/g, ' '))
}

const JAVA_MAIN = /\b(?:public\s+(?:final\s+)?static|static\s+(?:final\s+)?public)\s+(?:final\s+)?void\s+main\s*\(/

/**
 * The class to run for a Java job: the class that declares
 * `public static void main` (the first file's if several do), with its
 * package; nested classes as Outer$Inner. Falls back to the first file's name.
 */
export function javaMainClass (files: readonly SourceFile[]): string {
  const javaFiles = files.filter((f) => hasExtension(f.name, ['.java']))
  for (const file of javaFiles) {
    const code = javaCodeOnly(decoded(file))
    const main = JAVA_MAIN.exec(code)
    if (main === null) continue
    const pkg = /^\s*package\s+([\w.$]+)\s*;/m.exec(code)?.[1]
    // Walk class declarations and braces up to main to find the enclosing class.
    const stack: Array<{ name: string; depth: number }> = []
    let depth = 0
    let pending: string | null = null
    const token = /\b(?:class|interface|enum|record)\s+([A-Za-z_$][\w$]*)|[{}]/g
    for (let m = token.exec(code); m !== null && m.index < main.index; m = token.exec(code)) {
      if (m[1] !== undefined) pending = m[1]
      else if (m[0] === '{') {
        depth++
        if (pending !== null) { stack.push({ name: pending, depth }); pending = null }
      } else {
        if (stack.length > 0 && stack[stack.length - 1]!.depth === depth) stack.pop()
        depth--
      }
    }
    if (stack.length === 0) continue
    const name = stack.map((s) => s.name).join('$')
    return pkg === undefined ? name : `${pkg}.${name}`
  }
  const first = javaFiles[0]?.name ?? files[0]?.name ?? 'Main'
  return first.replace(/\.java$/i, '').replace(/\//g, '.')
}

const JAVA_PUBLIC_TYPE = /\bpublic\s+(?:(?:final|abstract|sealed|non-sealed|strictfp|static)\s+)*(?:class|interface|enum|record|@interface)\s+([A-Za-z_$][\w$]*)/g

function decoded (f: SourceFile): string {
  return f.encoding === 'base64' ? Buffer.from(f.content, 'base64').toString('utf8') : f.content
}

/** The public top-level type a Java file declares, if any. */
export function javaPublicType (source: string): string | undefined {
  const code = javaCodeOnly(source)
  let depth = 0
  let last = 0
  for (const m of code.matchAll(JAVA_PUBLIC_TYPE)) {
    for (const ch of code.slice(last, m.index)) {
      if (ch === '{') depth++
      else if (ch === '}') depth--
    }
    last = m.index
    if (depth === 0) return m[1]
  }
  return undefined
}

/**
 * The files as they are written to the job dir. Java: `hello.java` holding
 * `public class Hello` becomes `Hello.java` (same directory), unless that
 * name is taken. Other languages: unchanged.
 */
export function layoutFiles (lang: Language, files: readonly SourceFile[]): SourceFile[] {
  if (lang.layout !== 'java-public-type') return [...files]
  const names = new Set(files.map((f) => f.name))
  return files.map((f) => {
    if (!hasExtension(f.name, ['.java'])) return f
    const type = javaPublicType(decoded(f))
    if (type === undefined) return f
    const slash = f.name.lastIndexOf('/')
    const want = `${f.name.slice(0, slash + 1)}${type}.java`
    if (want === f.name || names.has(want)) return f
    names.add(want)
    return { ...f, name: want }
  })
}

export interface CommandContext {
  tools: Readonly<Record<string, string>>
  memoryMb: number
  files: readonly SourceFile[]
  args?: readonly string[]
}

/** Expands an argv template (see the top of this file). */
export function expandCommand (lang: Language, template: readonly string[], ctx: CommandContext): string[] {
  const out: string[] = []
  let mainClass: string | undefined
  for (const part of template) {
    if (part === '{sources}') { out.push(...compileSources(lang, ctx.files)); continue }
    if (part === '{args}') { out.push(...(ctx.args ?? [])); continue }
    out.push(part.replace(/\{(tool\.[\w-]+|memoryMb|entry|mainClass)\}/g, (_m, key: string) => {
      if (key === 'memoryMb') return String(ctx.memoryMb)
      if (key === 'entry') return ctx.files[0]?.name ?? ''
      if (key === 'mainClass') return (mainClass ??= javaMainClass(ctx.files))
      const tool = ctx.tools[key.slice('tool.'.length)]
      if (tool === undefined) throw new Error(`language ${lang.name}: no tool for {${key}}`)
      return tool
    }))
  }
  return out
}
