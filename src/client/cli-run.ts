/** `meshrun run`: submit a program, stream its output, exit with its exit code. */
import { fstatSync, readFileSync } from 'node:fs'
import { readFile, readdir, stat } from 'node:fs/promises'
import { basename, join, relative } from 'node:path'
import { randomUUID } from 'node:crypto'
import { languageForFile } from '../exec/languages.ts'
import type { JobSpec, SourceFile } from '../exec/types.ts'
import type { JobEvent, JobResult } from '../node/schemas.ts'
import { MeshClient } from './client.ts'
import { pskFrom } from './key.ts'
import { Spinner } from './spinner.ts'
import { EXIT, exitCodeFor } from './exit-codes.ts'
import { UsageError, describeError } from './errors.ts'

export interface RunFlags {
  node: string
  lang?: string
  expr?: string
  stdin?: string
  arg: string[]
  timeLimit?: string
  memoryLimit?: string
  id?: string
  json?: boolean
  key?: string
}

export async function runCommand (paths: string[], flags: RunFlags): Promise<number> {
  const job = await buildJob(paths, flags)
  const client = await MeshClient.connect({ node: flags.node, ...await pskFrom(flags.key) })
  const tty = flags.json !== true && process.stderr.isTTY
  const spinner = tty ? new Spinner(process.stderr) : undefined
  const streamed = { compile: false, run: false }
  let lastNewline = true
  const write = (out: NodeJS.WriteStream, data: string): void => {
    spinner?.pause()
    out.write(data)
    lastNewline = data.endsWith('\n')
    if (lastNewline) spinner?.resume()
  }
  const onEvent = (e: JobEvent): void => {
    if (spinner !== undefined) {
      if (e.t === 'accepted') spinner.text = e.attached ? `attached to ${e.id}` : 'accepted'
      if (e.t === 'queued') spinner.text = `queued, position ${e.position}`
      if (e.t === 'started') spinner.text = `${e.stage === 'compile' ? 'compiling' : 'running'} on ${short(e.node)}`
    }
    if (e.t === 'output' && flags.json !== true) {
      streamed[e.stage] = true
      write(e.stage === 'run' && e.stream === 'stdout' ? process.stdout : process.stderr, e.data)
    }
  }
  spinner?.start()
  let result: JobResult
  try {
    result = await client.run(job, {
      onEvent,
      onFailover: ({ from, to, error }) => {
        if (spinner !== undefined) spinner.text = `${from} lost; continuing on ${to}`
        else if (flags.json !== true) process.stderr.write(`meshrun: lost ${from} (${error}); continuing on ${to}\n`)
      },
    })
  } finally {
    spinner?.stop()
    await client.close()
  }
  if (flags.json === true) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n')
    return exitCodeFor(result)
  }
  // A cached compile stage has no live output: show what the compiler said.
  if (!streamed.compile && result.compile !== null) {
    process.stderr.write(result.compile.stdout + result.compile.stderr)
  }
  if (!streamed.run && result.run !== null) {
    process.stdout.write(result.run.stdout)
    process.stderr.write(result.run.stderr)
    lastNewline = (result.run.stdout + result.run.stderr).endsWith('\n') || result.run.stdout + result.run.stderr === ''
  }
  if (tty) {
    if (!lastNewline) process.stderr.write('\n')
    process.stderr.write(summary(result) + '\n')
  } else if (result.status !== 'ok') {
    process.stderr.write(`meshrun: ${result.status}${result.message === undefined ? '' : `: ${result.message}`}\n`)
  }
  return exitCodeFor(result)
}

function summary (r: JobResult): string {
  const mark = r.status === 'ok' ? '\x1b[32m✓\x1b[0m' : '\x1b[31m✗\x1b[0m'
  const parts = [r.status.replace('_', ' ')]
  if (r.message !== undefined) parts.push(r.message)
  parts.push(r.language, `node ${short(r.node)}`)
  if (r.compile !== null) parts.push(r.compile.cached === true ? 'compile cached' : `compile ${Math.round(r.compile.wallMs)} ms`)
  if (r.run !== null) parts.push(`run ${Math.round(r.run.wallMs)} ms`)
  if (r.queuedMs > 50) parts.push(`queued ${r.queuedMs} ms`)
  return `${mark} \x1b[2m${parts.join(' · ')}\x1b[0m`
}

function short (peer: string): string {
  return peer.length > 12 ? `…${peer.slice(-6)}` : peer
}

export async function buildJob (paths: string[], flags: RunFlags): Promise<JobSpec> {
  let files: SourceFile[]
  if (flags.expr !== undefined) {
    if (paths.length > 0) throw new UsageError('give either -e EXPR or files, not both')
    files = [{ name: 'main.calc', content: flags.expr }]
  } else {
    if (paths.length === 0) throw new UsageError('no program given: name one or more files, a directory, or use -e EXPR')
    files = await readSources(paths)
  }
  const language = flags.lang ?? (flags.expr !== undefined ? 'calc' : languageForFile(files[0]!.name))
  if (language === undefined) {
    throw new UsageError(`cannot tell the language of ${files[0]!.name} from its extension: use --lang (python, c, cpp, java, js, calc)`)
  }
  const limits: JobSpec['limits'] = {}
  if (flags.timeLimit !== undefined) limits.timeMs = positiveInt(flags.timeLimit, '--time-limit')
  if (flags.memoryLimit !== undefined) limits.memoryMb = positiveInt(flags.memoryLimit, '--memory-limit')
  return {
    id: flags.id ?? randomUUID(),
    language,
    files,
    stdin: await readStdin(flags.stdin),
    args: flags.arg,
    ...(Object.keys(limits).length > 0 ? { limits } : {}),
  }
}

function positiveInt (text: string, flag: string): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} takes a positive whole number, got '${text}'`)
  return n
}

/**
 * The program's stdin: `--stdin FILE`, `--stdin -` (this process's stdin),
 * or, without the flag, a file the shell redirected to this process's stdin
 * (`meshrun run prog.py < input.txt`): that is finite and meant for the
 * program. A pipe or a terminal is read only with `--stdin -`: a caller that
 * leaves a pipe open (Node's execFile does) would wait forever.
 */
async function readStdin (source: string | undefined): Promise<string> {
  if (source === undefined) {
    let redirected = false
    try { redirected = fstatSync(0).isFile() } catch {}
    return redirected ? readFileSync(0, 'utf8') : ''
  }
  if (source === '-') {
    const chunks: Buffer[] = []
    for await (const c of process.stdin) chunks.push(c as Buffer)
    return Buffer.concat(chunks).toString('utf8')
  }
  return await readFile(source, 'utf8').catch((err) => { throw new UsageError(`cannot read stdin file: ${describeError(err)}`) })
}

/**
 * Files are sent under their base names; a directory sends every file in it
 * (relative names), its entry point first: main.* or Main.java when present.
 */
async function readSources (paths: string[]): Promise<SourceFile[]> {
  const files: SourceFile[] = []
  for (const p of paths) {
    const info = await stat(p).catch((err) => { throw new UsageError(`cannot read ${p}: ${describeError(err)}`) })
    if (info.isDirectory()) {
      const inDir = await listDir(p)
      if (inDir.length === 0) throw new UsageError(`directory ${p} holds no files`)
      inDir.sort((a, b) => entryRank(a) - entryRank(b) || a.localeCompare(b))
      for (const f of inDir) files.push({ name: relative(p, f), content: await readFile(f, 'utf8') })
    } else {
      files.push({ name: basename(p), content: await readFile(p, 'utf8') })
    }
  }
  const seen = new Set<string>()
  for (const f of files) {
    if (seen.has(f.name)) throw new UsageError(`two files are named ${f.name}`)
    seen.add(f.name)
  }
  return files
}

function entryRank (path: string): number {
  return /^main\.[a-z+]+$/i.test(basename(path)) ? 0 : 1
}

async function listDir (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue
    const full = join(dir, e.name)
    if (e.isDirectory()) out.push(...await listDir(full))
    else if (e.isFile() && e.name !== 'README.md') out.push(full)
  }
  return out
}

export { EXIT }
