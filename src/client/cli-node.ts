/** `meshrun node`: start a node and keep it running until SIGINT/SIGTERM. */
import { MeshNode, DEFAULT_PORT, parsePeers } from '../node/node.ts'
import { parseNodeAddr } from './addr.ts'
import { createLogger } from '../node/log.ts'
import { UsageError } from './errors.ts'

export interface NodeFlags {
  port?: string
  listen?: string[]
  data?: string
  maxJobs?: string
  maxCpu?: string
  maxMem?: string
  langs?: string
  priority?: string
  cluster?: string
  peer?: string[]
  mdns?: boolean
  unsandboxed?: boolean
}

export async function nodeCommand (flags: NodeFlags): Promise<number> {
  const log = createLogger('meshrun')
  const port = flags.port === undefined ? DEFAULT_PORT : int(flags.port, '--port', 0, 65535)
  const node = await MeshNode.create({
    port,
    ...(flags.listen !== undefined && flags.listen.length > 0 ? { listen: flags.listen } : {}),
    ...(flags.data === undefined ? {} : { dataDir: flags.data }),
    maxJobs: flags.maxJobs === undefined ? 2 : int(flags.maxJobs, '--max-jobs', 1, 1024),
    ...(flags.maxCpu === undefined ? {} : { maxCpu: int(flags.maxCpu, '--max-cpu', 1, 100) }),
    ...(flags.maxMem === undefined ? {} : { maxMem: int(flags.maxMem, '--max-mem', 1, 100) }),
    ...(flags.langs === undefined ? {} : { langs: flags.langs.split(',').map((s) => s.trim()).filter((s) => s !== '') }),
    ...(flags.priority === undefined ? {} : { priority: int(flags.priority, '--priority', -1_000_000, 1_000_000) }),
    ...(flags.cluster === undefined ? {} : { cluster: clusterName(flags.cluster) }),
    peers: parsePeers(flags.peer ?? [], parseNodeAddr),
    mdns: flags.mdns !== false,
    allowUnsandboxed: flags.unsandboxed === true,
    log,
  })
  await node.start()
  const status = node.localStatus()
  // Machine-readable lines on stdout: scripts and tests wait for "ready".
  process.stdout.write(`peer ${node.id}\n`)
  for (const a of node.addrs) process.stdout.write(`listening ${a}\n`)
  process.stdout.write(`languages ${status.languages.map((l) => `${l.name}(${l.version})`).join(' ')}\n`)
  process.stdout.write(`sandbox ${status.sandbox.kind}: ${status.sandbox.enforced.join(', ')}\n`)
  process.stdout.write('ready\n')
  for (const w of status.sandbox.warnings) log.warn(w)
  log.info(`node ${node.id} ready, max ${status.maxJobs} jobs at once`)

  await new Promise<void>((resolve) => {
    const stop = (): void => { resolve() }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  log.info('stopping')
  await node.stop()
  return 0
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
