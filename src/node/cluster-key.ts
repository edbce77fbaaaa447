/**
 * The private cluster key: a libp2p pre-shared key (pnet). Peers without the
 * same key cannot complete a connection at all, so outsiders can neither
 * join nor submit. `meshrun keygen` writes one; every node and client of the
 * cluster is given the same file (--key FILE or $MESHRUN_KEY_FILE).
 */
import { readFile, writeFile, mkdir, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { homedir } from 'node:os'
import { generateKey } from '@libp2p/pnet'

export class ClusterKeyError extends Error {
  override name = 'ClusterKeyError'
}

export const DEFAULT_KEY_FILE = join(homedir(), '.meshrun', 'cluster.key')

/** The key file named by a flag, else by $MESHRUN_KEY_FILE, else none. */
export function keyFileFrom (flag: string | undefined): string | undefined {
  return flag ?? (process.env.MESHRUN_KEY_FILE === '' ? undefined : process.env.MESHRUN_KEY_FILE)
}

export async function loadClusterKey (file: string): Promise<Uint8Array> {
  let data: Buffer
  try {
    data = await readFile(file)
  } catch (err: any) {
    throw new ClusterKeyError(`cannot read the cluster key ${file}: ${err?.message ?? err}`)
  }
  const text = data.toString('utf8')
  if (!/^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\s*$/i.test(text)) {
    throw new ClusterKeyError(`${file} is not a cluster key (make one with: meshrun keygen ${file})`)
  }
  const info = await stat(file)
  if ((info.mode & 0o077) !== 0) {
    throw new ClusterKeyError(`${file} is readable by other users (mode ${(info.mode & 0o777).toString(8)}): chmod 600 ${file}`)
  }
  return new Uint8Array(data)
}

/** Write a new key; never overwrites one that exists. */
export async function writeClusterKey (file: string): Promise<void> {
  const key = new Uint8Array(95)
  generateKey(key)
  await mkdir(dirname(file), { recursive: true, mode: 0o700 })
  try {
    await writeFile(file, key, { mode: 0o600, flag: 'wx' })
  } catch (err: any) {
    if (err?.code === 'EEXIST') throw new ClusterKeyError(`${file} exists already; remove it first to make a new key (every node and client must then get the new one)`)
    throw err
  }
}
