/**
 * `meshrun up -n N`: a local cluster of N nodes on consecutive ports, for
 * trying things out. Each node bootstraps from the first (--peer), so no
 * multicast is needed; Ctrl-C stops them all.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { UsageError } from './errors.ts'
import { STOP_WITH_STDIN } from './cli-node.ts'

export interface UpFlags {
  n: string
  port: string
  maxJobs?: string
  cluster?: string
  dataRoot?: string
  key?: string
}

const COLORS = [36, 33, 35, 32, 34, 31]

export async function upCommand (flags: UpFlags): Promise<number> {
  const n = Number(flags.n)
  const port = Number(flags.port)
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new UsageError(`-n takes a whole number from 1 to 64, got '${flags.n}'`)
  if (!Number.isInteger(port) || port < 1 || port + n - 1 > 65535) throw new UsageError(`--port out of range: '${flags.port}'`)
  const bin = join(fileURLToPath(import.meta.url), '..', '..', '..', 'bin', 'meshrun.js')
  const children: ChildProcess[] = []
  let stopping = false
  let stoppingAt = 0
  // The first signal stops the nodes cleanly; another one a second later (a
  // second Ctrl-C) kills them. One Ctrl-C may arrive twice (from the
  // terminal and from bin/meshrun.js, which passes signals on). Either way
  // this process waits for the nodes: dying first would leave a node running
  // with nobody to stop it.
  const stopAll = (): void => {
    if (stopping && Date.now() - stoppingAt < 1000) return
    for (const c of children) c.kill(stopping ? 'SIGKILL' : 'SIGTERM')
    if (!stopping) stoppingAt = Date.now()
    stopping = true
  }
  process.on('SIGINT', stopAll)
  process.on('SIGTERM', stopAll)

  for (let i = 0; i < n; i++) {
    const p = port + i
    const args = [bin, 'node', '--port', String(p), '--no-mdns']
    if (i > 0) args.push('--peer', `127.0.0.1:${port}`)
    if (flags.maxJobs !== undefined) args.push('--max-jobs', flags.maxJobs)
    if (flags.cluster !== undefined) args.push('--cluster', flags.cluster)
    if (flags.dataRoot !== undefined) args.push('--data', join(flags.dataRoot, `node-${p}`))
    if (flags.key !== undefined) args.push('--key', flags.key)
    // The node stops when its stdin closes: if `up` is killed outright
    // (SIGKILL, a crash), the kernel closes the pipe and no node outlives it.
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, [STOP_WITH_STDIN]: '1' } })
    children.push(child)
    const tag = `\x1b[${COLORS[i % COLORS.length]}m[node ${p}]\x1b[0m `
    for (const s of [child.stdout!, child.stderr!]) {
      createInterface({ input: s }).on('line', (line) => { process.stdout.write(tag + line + '\n') })
    }
    child.on('exit', (code, sig) => {
      process.stdout.write(`${tag}exited (${code ?? sig})\n`)
      if (!stopping) stopAll()
    })
  }
  process.stdout.write(`started ${n} nodes on 127.0.0.1:${port}-${port + n - 1}; try: meshrun run --node 127.0.0.1:${port} examples/python/hello.py  (Ctrl-C stops them)\n`)
  await Promise.all(children.map(async (c) => await new Promise((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) resolve(null)
    else c.on('exit', resolve)
  })))
  return 0
}
