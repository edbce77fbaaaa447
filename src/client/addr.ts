/** Node addresses as users write them: a multiaddr, or HOST:PORT for short. */
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { isIP } from 'node:net'

export const DEFAULT_NODE = '127.0.0.1:7700'

export class AddressError extends Error {
  override name = 'AddressError'
}

export function parseNodeAddr (text: string): Multiaddr {
  const s = text.trim()
  if (s.startsWith('/')) {
    try { return multiaddr(s) } catch (err) { throw new AddressError(`not a valid multiaddr: ${s} (${String(err)})`) }
  }
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(s) ?? /^()()(\d{1,5})$/.exec(s)
  if (m === null) throw new AddressError(`expected HOST:PORT or a multiaddr, got '${s}'`)
  const host = m[1] ?? (m[2] === '' ? '127.0.0.1' : m[2]!)
  const port = Number(m[3])
  if (port < 1 || port > 65535) throw new AddressError(`port out of range in '${s}'`)
  const kind = isIP(host)
  const proto = kind === 4 ? 'ip4' : kind === 6 ? 'ip6' : 'dns'
  return multiaddr(`/${proto}/${host}/tcp/${port}`)
}

/** The node a command talks to: --node, else $MESHRUN_NODE, else the local default. */
export function defaultNode (): string {
  return process.env.MESHRUN_NODE ?? DEFAULT_NODE
}
