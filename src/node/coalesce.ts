/**
 * Fewer, larger TCP writes. Noise hands the TCP connection each encrypted
 * frame as two chunks (a 2-byte length, then the ciphertext) and @libp2p/tcp
 * writes every chunk with its own `socket.write`, so one small message
 * through yamux and Noise was 2 to 4 write(2) calls, ~67 per job across the
 * cluster (measured with strace), each one a trip through the loopback
 * stack that wakes the reader. Here every connection's socket is corked
 * from its first write in a tick until `process.nextTick`: all a tick's
 * frames leave in one writev(2). Nothing waits longer than the current
 * tick, and back-pressure is untouched (a corked socket still returns false
 * past its high-water mark, and drains after the uncork).
 *
 * The wrapper sits between libp2p and @libp2p/tcp: it hands the transport an
 * upgrader that corks each connection (dialled or accepted) before upgrading
 * it. It relies on two things of @libp2p/tcp 11 that its types do not
 * promise: the connection's `socket` and its `sendData`; without them a
 * connection is simply left as it is.
 */
import { Socket } from 'node:net'
import type { MultiaddrConnection, Transport, Upgrader } from '@libp2p/interface'

type SendData = (data: unknown) => { sentBytes: number, canSendMore: boolean }

let coalesced = 0
/** How many connections of this process coalesce their writes (for the regression test). */
export function coalescedConnections (): number {
  return coalesced
}

/** Corks a connection's socket from its first write in a tick to the end of the tick. */
export function coalesceWrites (maConn: MultiaddrConnection): boolean {
  const conn = maConn as MultiaddrConnection & { socket?: unknown, sendData?: SendData }
  const socket = conn.socket
  const sendData = conn.sendData
  if (!(socket instanceof Socket) || typeof sendData !== 'function') return false
  let corked = false
  const uncork = (): void => {
    corked = false
    socket.uncork()
  }
  conn.sendData = (data) => {
    if (!corked) {
      corked = true
      socket.cork()
      process.nextTick(uncork)
    }
    return sendData.call(conn, data)
  }
  coalesced++
  return true
}

function corkingUpgrader (upgrader: Upgrader): Upgrader {
  return new Proxy(upgrader, {
    get (target, prop, receiver) {
      if (prop === 'upgradeInbound' || prop === 'upgradeOutbound') {
        const upgrade = target[prop].bind(target)
        return async (maConn: MultiaddrConnection, opts: Parameters<typeof upgrade>[1]) => {
          coalesceWrites(maConn)
          return await upgrade(maConn, opts)
        }
      }
      const v: unknown = Reflect.get(target, prop, receiver)
      return typeof v === 'function' ? v.bind(target) : v
    },
  })
}

/** Wraps a transport factory (e.g. `tcp()`) so that its connections coalesce their writes. */
export function coalescing<C> (factory: (components: C) => Transport): (components: C) => Transport {
  return (components) => {
    const transport = factory(components)
    return new Proxy(transport, {
      get (target, prop, receiver) {
        if (prop === 'dial') {
          return async (ma: Parameters<Transport['dial']>[0], options: Parameters<Transport['dial']>[1]) =>
            await target.dial(ma, { ...options, upgrader: corkingUpgrader(options.upgrader) })
        }
        if (prop === 'createListener') {
          return (options: Parameters<Transport['createListener']>[0]) =>
            target.createListener({ ...options, upgrader: corkingUpgrader(options.upgrader) })
        }
        const v: unknown = Reflect.get(target, prop, receiver)
        return typeof v === 'function' ? v.bind(target) : v
      },
    })
  }
}
