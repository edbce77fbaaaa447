/**
 * Logging with pino: JSON lines on stderr, or readable lines when stderr is a
 * terminal (pino-pretty, synchronous, no worker thread). Level from
 * MESHRUN_LOG (debug, info, warn, error, silent).
 */
import { pino } from 'pino'
import pretty from 'pino-pretty'

export interface Logger {
  debug: (msg: string) => void
  info: (msg: string) => void
  warn: (msg: string) => void
  error: (msg: string) => void
}

export function createLogger (name: string, level = process.env.MESHRUN_LOG ?? 'info', json = !process.stderr.isTTY): Logger {
  const dest = json
    ? pino.destination({ fd: 2, sync: true })
    : pretty({ destination: 2, sync: true, colorize: true, ignore: 'pid,hostname,name', translateTime: 'HH:MM:ss.l' })
  const log = pino({ name, level }, dest)
  // Logging never throws into the caller: a node whose stderr went away (its
  // `meshrun up` parent died: EPIPE) must still stop cleanly when told to.
  const safe = (f: (m: string) => void) => (m: string): void => { try { f(m) } catch { /* nowhere to write */ } }
  return {
    debug: safe((m) => { log.debug(m) }),
    info: safe((m) => { log.info(m) }),
    warn: safe((m) => { log.warn(m) }),
    error: safe((m) => { log.error(m) }),
  }
}
