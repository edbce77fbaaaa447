/** `meshrun node`: start a node and keep it running until SIGINT/SIGTERM. */
import { MeshNode, DEFAULT_PORT, parsePeers } from '../node/node.ts'
import type { NodeLimitsInit } from '../exec/index.ts'
import { parseNodeAddr } from './addr.ts'
import { pskFrom } from './key.ts'
import { createLogger, type Logger } from '../node/log.ts'
import { UsageError } from './errors.ts'
import { startGateway, type Gateway } from '../node/http/index.ts'
import { isLoopback } from '../node/http/auth.ts'
import { keyFileFrom } from '../node/cluster-key.ts'
import { SPAWNED_PRIORITY } from '../node/spawner.ts'
import { weighNode } from '../exec/cgroups.ts'
import type { AutoscaleOptions } from '../node/autoscaler.ts'
import { resolve } from 'node:path'

export interface NodeFlags {
  port?: string
  listen?: string[]
  data?: string
  maxJobs?: string
  maxCpu?: string
  maxMem?: string
  langs?: string
  leaseIdle?: string
  cacheMax?: string
  priority?: string
  cluster?: string
  peer?: string[]
  mdns?: boolean
  unsandboxed?: boolean
  key?: string
  timeLimit?: string
  memoryLimit?: string
  outputLimit?: string
  processLimit?: string
  diskLimit?: string
  sourceLimit?: string
  http?: string
  httpHost?: string
  httpToken?: string
  httpBodyLimit?: string
  autoscale?: string
  spawnCmd?: string
  idleRetire?: string
  autoscaleAfter?: string
  spawnedBy?: string
  retireIdle?: string
}

/**
 * Set by `meshrun up` for its nodes: stop when stdin closes (up is gone,
 * however it died). Read once and removed, so that nothing this node starts
 * (an autoscaled worker) inherits it.
 */
export const STOP_WITH_STDIN = 'MESHRUN_STOP_WITH_STDIN'
/** A stop signal repeated within this long is the same request (see nodeCommand). */
const REPEAT_SIGNAL_MS = 1000

export async function nodeCommand (flags: NodeFlags): Promise<number> {
  const log = createLogger('meshrun')
  const stop = stopSignals(log)
  const stopWithStdin = process.env[STOP_WITH_STDIN] === '1'
  delete process.env[STOP_WITH_STDIN]
  const port = flags.port === undefined ? DEFAULT_PORT : int(flags.port, '--port', 0, 65535)
  const http = httpOptions(flags)
  const maxJobs = flags.maxJobs === undefined ? 2 : int(flags.maxJobs, '--max-jobs', 1, 1024)
  const node = await MeshNode.create({
    port,
    ...(flags.listen !== undefined && flags.listen.length > 0 ? { listen: flags.listen } : {}),
    ...(flags.data === undefined ? {} : { dataDir: flags.data }),
    maxJobs,
    ...(flags.maxCpu === undefined ? {} : { maxCpu: int(flags.maxCpu, '--max-cpu', 1, 100) }),
    ...(flags.maxMem === undefined ? {} : { maxMem: int(flags.maxMem, '--max-mem', 1, 100) }),
    ...(flags.langs === undefined ? {} : { langs: flags.langs.split(',').map((s) => s.trim()).filter((s) => s !== '') }),
    ...(flags.leaseIdle === undefined ? {} : { leaseIdleMs: int(flags.leaseIdle, '--lease-idle', 0, 3_600_000) }),
    ...(flags.cacheMax === undefined ? {} : { cacheMaxMb: int(flags.cacheMax, '--cache-max', 1, 16 * 1024 * 1024) }),
    // A spawned worker ranks below every node an operator starts: it never becomes master while one lives.
    priority: flags.priority === undefined ? (flags.spawnedBy === undefined ? 0 : SPAWNED_PRIORITY) : int(flags.priority, '--priority', -1_000_000, 1_000_000),
    ...(flags.cluster === undefined ? {} : { cluster: clusterName(flags.cluster) }),
    peers: parsePeers(flags.peer ?? [], parseNodeAddr),
    mdns: flags.mdns !== false,
    allowUnsandboxed: flags.unsandboxed === true,
    limits: limitsFrom(flags),
    ...await pskFrom(flags.key),
    ...(flags.spawnedBy === undefined ? {} : { spawnedBy: peerIdFlag(flags.spawnedBy) }),
    ...(flags.retireIdle === undefined ? {} : { retireIdleMs: seconds(flags.retireIdle, '--retire-idle') * 1000 }),
    ...autoscaleFrom(flags),
    log,
  })
  // The node's own CPU weight: as much as its jobs together (cgroups.ts, root only).
  const unweigh = await weighNode(maxJobs)
  await node.start()
  let gateway: Gateway | undefined
  if (http !== undefined) {
    try {
      gateway = await startGateway(node, { ...http, log })
    } catch (err) {
      await node.stop()
      await unweigh?.()
      throw err
    }
  }
  const status = node.localStatus()
  // Machine-readable lines on stdout: scripts and tests wait for "ready".
  process.stdout.write(`peer ${node.id}\n`)
  for (const a of node.addrs) process.stdout.write(`listening ${a}\n`)
  process.stdout.write(`languages ${status.languages.map((l) => `${l.name}(${l.version})`).join(' ')}\n`)
  process.stdout.write(`sandbox ${status.sandbox.kind}: ${status.sandbox.enforced.join(', ')}\n`)
  if (gateway !== undefined) process.stdout.write(`http ${gateway.url}\n`)
  process.stdout.write('ready\n')
  for (const w of status.sandbox.warnings) log.warn(w)
  if (flags.key === undefined && process.env.MESHRUN_KEY_FILE === undefined) {
    log.warn('no cluster key: listening on loopback only. To open the cluster to the LAN safely: `meshrun keygen ~/.meshrun/cluster.key`, copy the file to every machine, and start every node (and client) with `--key ~/.meshrun/cluster.key` — it then listens on all interfaces and only key holders can connect.')
  }
  log.info(`node ${node.id} ready, max ${status.maxJobs} jobs at once`)

  // Until a signal, or (a spawned worker) until it has drained after its
  // idle time, or (started by `meshrun up`) until its stdin closes.
  const why = await new Promise<string>((resolve) => {
    stop.wait(resolve)
    void node.retired.then(() => { resolve('retired') })
    if (stopWithStdin) {
      const gone = (): void => { resolve('stdin closed: the `meshrun up` that started it is gone') }
      process.stdin.once('end', gone).once('error', gone).once('close', gone).resume()
    }
  })
  log.info(why === 'retired' ? 'retiring: drained after its idle time, stopping' : `stopping (${why})`)
  // An open stdin would keep the process alive once the node has stopped.
  if (stopWithStdin) process.stdin.destroy()
  await gateway?.stop()
  await node.stop()
  await unweigh?.()
  return 0
}

/** The autoscaler's options from --autoscale and its companions, and the job flags its workers get. */
function autoscaleFrom (flags: NodeFlags): { autoscale?: AutoscaleOptions } {
  if (flags.autoscale === undefined) {
    if ((flags.spawnCmd ?? flags.idleRetire ?? flags.autoscaleAfter) !== undefined) throw new UsageError('--spawn-cmd, --idle-retire and --autoscale-after need --autoscale MAX')
    return {}
  }
  if (flags.spawnCmd?.trim() === '') throw new UsageError('--spawn-cmd needs a command')
  const keyFile = keyFileFrom(flags.key)
  const pass: Array<[string, string | undefined]> = [
    ['--max-jobs', flags.maxJobs], ['--max-cpu', flags.maxCpu], ['--max-mem', flags.maxMem], ['--langs', flags.langs],
    ['--time-limit', flags.timeLimit], ['--memory-limit', flags.memoryLimit], ['--output-limit', flags.outputLimit],
    ['--process-limit', flags.processLimit], ['--disk-limit', flags.diskLimit], ['--source-limit', flags.sourceLimit],
    ['--cache-max', flags.cacheMax],
  ]
  return {
    autoscale: {
      max: int(flags.autoscale, '--autoscale', 1, 256),
      idleRetireS: flags.idleRetire === undefined ? 30 : seconds(flags.idleRetire, '--idle-retire'),
      ...(flags.autoscaleAfter === undefined ? {} : { sustainMs: seconds(flags.autoscaleAfter, '--autoscale-after') * 1000 }),
      workerArgs: [
        ...pass.flatMap(([flag, value]) => (value === undefined ? [] : [flag, value])),
        ...(flags.unsandboxed === true ? ['--unsandboxed'] : []),
      ],
      ...(flags.spawnCmd === undefined ? {} : { command: flags.spawnCmd }),
      ...(keyFile === undefined ? {} : { keyFile: resolve(keyFile) }),
    },
  }
}

/** Seconds, fractions allowed (0.1 to a day). */
function seconds (text: string, flag: string): number {
  const n = Number(text)
  if (!Number.isFinite(n) || n < 0.1 || n > 86_400) throw new UsageError(`${flag} takes seconds from 0.1 to 86400, got '${text}'`)
  return n
}

function peerIdFlag (text: string): string {
  if (!/^[A-Za-z0-9]{16,128}$/.test(text)) throw new UsageError(`--spawned-by takes a peer id, got '${text}'`)
  return text
}

/** The gateway's options from --http*, checked before the node starts. */
function httpOptions (flags: NodeFlags): { port: number, host: string, token?: string, bodyLimit?: number } | undefined {
  const others = flags.httpHost ?? flags.httpToken ?? flags.httpBodyLimit
  if (flags.http === undefined) {
    if (others !== undefined) throw new UsageError('--http-host, --http-token and --http-body-limit need --http PORT')
    return undefined
  }
  const host = flags.httpHost ?? '127.0.0.1'
  const token = flags.httpToken ?? process.env.MESHRUN_HTTP_TOKEN
  if (token !== undefined && token.length < 8) throw new UsageError('--http-token must be at least 8 characters')
  if (token === undefined && !isLoopback(host)) throw new UsageError(`--http-host ${host} is not a loopback address: it needs --http-token (or MESHRUN_HTTP_TOKEN)`)
  return {
    port: int(flags.http, '--http', 0, 65535),
    host,
    ...(token === undefined ? {} : { token }),
    ...(flags.httpBodyLimit === undefined ? {} : { bodyLimit: size(flags.httpBodyLimit, '--http-body-limit') }),
  }
}

/** 8388608, 512k, 8m (KiB and MiB). */
function size (text: string, flag: string): number {
  const m = /^(\d+)\s*([kKmM]?)i?[bB]?$/.exec(text.trim())
  const n = m === null ? NaN : Number(m[1]) * (m[2]?.toLowerCase() === 'm' ? 1024 * 1024 : m[2]?.toLowerCase() === 'k' ? 1024 : 1)
  if (!Number.isSafeInteger(n) || n < 1024 || n > 1024 * 1024 * 1024) throw new UsageError(`${flag} takes a size from 1k to 1024m, got '${text}'`)
  return n
}

function int (text: string, flag: string, min: number, max: number): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} takes a whole number from ${min} to ${max}, got '${text}'`)
  return n
}

function clusterName (name: string): string {
  if (!/^[A-Za-z0-9_-]{1,48}$/.test(name)) throw new UsageError(`--cluster takes 1 to 48 letters, digits, - or _, got '${name}'`)
  return name
}

/** The operator's job limits (run stage; sources per job). */
function limitsFrom (flags: NodeFlags): NodeLimitsInit {
  const run: NodeLimitsInit['run'] = {}
  if (flags.timeLimit !== undefined) run.cpuMs = run.wallMs = int(flags.timeLimit, '--time-limit', 10, 24 * 3600_000)
  if (flags.memoryLimit !== undefined) run.memoryMb = int(flags.memoryLimit, '--memory-limit', 8, 1024 * 1024)
  if (flags.outputLimit !== undefined) run.outputBytes = int(flags.outputLimit, '--output-limit', 1024, 1 << 30)
  if (flags.processLimit !== undefined) run.processes = int(flags.processLimit, '--process-limit', 1, 100_000)
  if (flags.diskLimit !== undefined) run.diskBytes = int(flags.diskLimit, '--disk-limit', 1, 1024 * 1024) * 1024 * 1024
  const job: NodeLimitsInit['job'] = {}
  if (flags.sourceLimit !== undefined) job.maxSourceBytes = int(flags.sourceLimit, '--source-limit', 1024, 64 << 20)
  return { run, job }
}

/**
 * SIGINT and SIGTERM stop the node cleanly (its job dirs unmounted, its
 * cgroups removed, its jobs' ends journalled). The handlers go in first
 * thing: a signal that came before them (during start-up, or a moment
 * after "ready", which a supervisor may act on at once) killed the node
 * on the spot, leaving its mounts and cgroups behind; one that comes
 * before the node is up now stops it as soon as it is. The same signal
 * again at once is the same request: Ctrl-C reaches every process of the
 * terminal's group, and under a Node older than 22 bin/meshrun.js (in that
 * group) passes it on too; a service manager may signal the whole group.
 * A repeat a second or more later means "now": the node exits without
 * cleaning up (its next start does).
 */
function stopSignals (log: Logger): { wait: (resolve: (signal: string) => void) => void } {
  let first = 0
  let early: string | undefined
  let waiting: ((signal: string) => void) | undefined
  const onSignal = (signal: NodeJS.Signals): void => {
    const now = Date.now()
    if (first === 0) {
      first = now
      if (waiting !== undefined) waiting(signal)
      else early = signal
      return
    }
    if (now - first < REPEAT_SIGNAL_MS) return
    log.warn(`${signal} again while stopping: exiting now`)
    process.exit(signal === 'SIGINT' ? 130 : 143)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return {
    wait: (resolve) => {
      if (early !== undefined) resolve(early)
      else waiting = resolve
    },
  }
}
