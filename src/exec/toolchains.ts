/**
 * Toolchain detection: resolves each language's tools to real binaries
 * (never a shim, a script or something in node_modules: `python3` on PATH may
 * be a pyenv shim that costs ~100 ms per start), reads their versions, and
 * works out what the sandbox must bind read-only for them beyond /usr.
 * Runs once at start-up, all languages in parallel.
 */
import { execFile } from 'node:child_process'
import { access, constants, open, readdir, readFile, readlink, realpath } from 'node:fs/promises'
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path'
import { LANGUAGES, resolveLanguage, type Language } from './languages.ts'
import { UnknownLanguageError } from './errors.ts'

export interface Toolchain {
  language: Language
  version: string
  /** Tool id → absolute path of the real binary. */
  tools: Record<string, string>
  home?: string
  /** Paths outside /usr the sandbox binds read-only for this toolchain. */
  binds: string[]
}

export interface Detection {
  toolchains: Map<string, Toolchain>
  /** Languages allowed but not usable here, with why. */
  missing: Array<{ name: string; reason: string }>
}

export interface DetectOptions {
  /** Only these languages (names or aliases). Unknown names throw UnknownLanguageError. */
  langs?: readonly string[]
  /** PATH to search for bare tool names; default process.env.PATH. */
  path?: string
}

/** Directories every sandbox binds anyway. */
const COVERED = ['/usr/']

function covered (p: string): boolean {
  return COVERED.some((c) => p.startsWith(c))
}

async function isElfExecutable (file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK)
    const fh = await open(file, 'r')
    try {
      const buf = Buffer.alloc(4)
      const { bytesRead } = await fh.read(buf, 0, 4, 0)
      return bytesRead === 4 && buf.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))
    } finally {
      await fh.close()
    }
  } catch {
    return false
  }
}

async function resolveCandidate (candidate: string, resolved: Record<string, string>, path: string): Promise<string | undefined> {
  let spec = candidate
  const dirRef = /^\{dir\.([\w-]+)\}\/(.+)$/.exec(spec)
  if (dirRef !== null) {
    const base = resolved[dirRef[1]!]
    if (base === undefined) return undefined
    spec = join(dirname(base), dirRef[2]!)
  }
  const paths = isAbsolute(spec)
    ? [spec]
    : path.split(delimiter).filter((d) => d !== '' && isAbsolute(d) && !d.split('/').includes('node_modules')).map((d) => join(d, spec))
  for (const p of paths) {
    let real: string
    try { real = await realpath(p) } catch { continue }
    if (real.split('/').includes('node_modules')) continue
    if (await isElfExecutable(real)) return real
  }
  return undefined
}

function runForVersion (file: string, args: readonly string[]): Promise<string> {
  return new Promise((res, rej) => {
    execFile(file, args, { timeout: 20_000, env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' } }, (err, stdout, stderr) => {
      if (err !== null && stdout === '' && stderr === '') rej(err)
      else res(`${stdout}\n${stderr}`)
    })
  })
}

/** Directories outside /usr that the home's config symlinks point into (e.g. /etc/java-17-openjdk). */
async function configBinds (home: string, dirs: readonly string[]): Promise<string[]> {
  const found = new Set<string>()
  for (const rel of dirs) {
    let entries: string[]
    try { entries = await readdir(join(home, rel)) } catch { continue }
    for (const name of entries) {
      const link = join(home, rel, name)
      let target: string
      try { target = await readlink(link) } catch { continue }
      const abs = resolve(dirname(link), target)
      if (covered(abs) || abs.startsWith(home + '/')) continue
      try { await access(abs) } catch { continue }
      found.add(dirname(abs))
    }
  }
  return topMost([...found])
}

/** Drops paths that lie inside another path of the list. */
export function topMost (paths: readonly string[]): string[] {
  const sorted = [...new Set(paths)].sort()
  return sorted.filter((p) => !sorted.some((q) => q !== p && p.startsWith(q.endsWith('/') ? q : q + '/')))
}

async function detectOne (lang: Language, path: string): Promise<Toolchain | string> {
  const tools: Record<string, string> = {}
  for (const tool of lang.tools) {
    let found: string | undefined
    for (const c of tool.candidates) {
      found = await resolveCandidate(c, tools, path)
      if (found !== undefined) break
    }
    if (found === undefined) return `${tool.id} not found (tried ${tool.candidates.join(', ')})`
    tools[tool.id] = found
  }
  let home: string | undefined
  if (lang.home !== undefined) {
    const base = tools[lang.home.tool]
    if (base !== undefined) {
      home = base
      for (let i = 0; i < lang.home.up; i++) home = dirname(home)
    }
  }
  let version = lang.inProcess === true ? 'builtin' : 'unknown'
  const v = lang.version
  if (v !== undefined) {
    try {
      let text: string
      if (v.file !== undefined) {
        if (home === undefined) throw new Error('no toolchain home')
        text = await readFile(join(home, v.file), 'utf8')
      } else {
        const bin = tools[v.tool ?? '']
        if (bin === undefined) throw new Error(`no tool ${v.tool ?? ''}`)
        text = await runForVersion(bin, v.args ?? [])
      }
      const m = v.pattern.exec(text)
      if (m?.[1] === undefined) return `cannot read the version of ${lang.name}`
      version = m[1]
    } catch (err) {
      return `cannot read the version of ${lang.name}: ${(err as Error).message}`
    }
  }
  const binds: string[] = []
  for (const bin of Object.values(tools)) {
    if (!covered(bin)) binds.push(home ?? dirname(dirname(bin)))
  }
  if (home !== undefined && lang.configLinks !== undefined) binds.push(...await configBinds(home, lang.configLinks))
  return { language: lang, version, tools, ...(home === undefined ? {} : { home }), binds: topMost(binds) }
}

/** Detects the toolchains of every language (or of `langs`). In-process languages are always available. */
export async function detectToolchains (opts: DetectOptions = {}): Promise<Detection> {
  let langs: Language[] = [...LANGUAGES]
  if (opts.langs !== undefined) {
    langs = []
    for (const name of opts.langs) {
      const lang = resolveLanguage(name)
      if (lang === undefined) throw new UnknownLanguageError(`unknown language '${name}' in the language list (known: ${LANGUAGES.map((l) => l.name).join(', ')})`)
      if (!langs.includes(lang)) langs.push(lang)
    }
  }
  const path = opts.path ?? process.env.PATH ?? '/usr/bin:/bin'
  const results = await Promise.all(langs.map(async (lang) => [lang, await detectOne(lang, path)] as const))
  const toolchains = new Map<string, Toolchain>()
  const missing: Detection['missing'] = []
  for (const [lang, r] of results) {
    if (typeof r === 'string') missing.push({ name: lang.name, reason: r })
    else toolchains.set(lang.name, r)
  }
  return { toolchains, missing }
}
