/**
 * Election timing. All durations are in milliseconds of the adapter's clock;
 * the state machine never reads a clock, it only asks for timers.
 */
export interface ElectionConfig {
  /**
   * After `start`, how long to listen (peerUp, reports, COORDINATOR) before
   * the first election, so nodes started together do not each crown
   * themselves before they have discovered one another. A node that hears of
   * a higher-ranked master during this time simply follows it.
   */
  readonly startupDelayMs: number
  /** How long a candidate waits for an ANSWER from a higher-ranked peer. */
  readonly answerTimeoutMs: number
  /**
   * ELECTION is re-sent this many times (each after `answerTimeoutMs`) before
   * a node that heard no ANSWER crowns itself; guards against message loss.
   */
  readonly answerRetries: number
  /**
   * After an ANSWER, how long to wait for the COORDINATOR before starting a
   * new election. Should exceed answerTimeoutMs * (answerRetries + 1) plus a
   * round trip, the longest a higher node can take to crown itself.
   */
  readonly coordinatorTimeoutMs: number
  /**
   * How long a node holds back from crowning itself after other peers'
   * reports name a master that outranks it and that it has not heard from
   * directly (it connects to it meanwhile). The same rumour holds it back
   * once: a master it cannot reach in this time is contested as before.
   */
  readonly rumourMs: number
}

/**
 * Tuned for a LAN or loopback (round trips of a few ms): when the master's
 * death is reported, the highest survivor crowns itself at once and the
 * others follow within a round trip; a lost message costs at most one
 * timeout (25–100 ms), so a new master is agreed well within 250 ms. On a
 * loaded machine the adapter (src/node/election.ts) stretches these waits by
 * the process's recent event-loop lag: answers come late there as timers do,
 * and fixed 25/100 ms waits crowned masters on timeouts, term after term.
 */
export const DEFAULT_ELECTION_CONFIG: ElectionConfig = Object.freeze({
  startupDelayMs: 500,
  answerTimeoutMs: 25,
  answerRetries: 2,
  coordinatorTimeoutMs: 100,
  rumourMs: 3000,
})

export class InvalidElectionConfigError extends Error {
  override name = 'InvalidElectionConfigError'
}

/** Fills in defaults and validates; throws InvalidElectionConfigError. */
export function electionConfig(init: Partial<ElectionConfig> = {}): ElectionConfig {
  const c: ElectionConfig = { ...DEFAULT_ELECTION_CONFIG, ...init }
  const check = (key: keyof ElectionConfig, ok: (v: number) => boolean, what: string): void => {
    const v = c[key]
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) {
      throw new InvalidElectionConfigError(`election config: ${key} must be ${what} (got ${String(v)})`)
    }
  }
  check('startupDelayMs', (v) => v >= 0, 'a number >= 0')
  check('answerTimeoutMs', (v) => v > 0, 'a number > 0')
  check('answerRetries', (v) => v >= 0 && Number.isInteger(v), 'an integer >= 0')
  check('coordinatorTimeoutMs', (v) => v > 0, 'a number > 0')
  check('rumourMs', (v) => v >= 0, 'a number >= 0')
  return Object.freeze(c)
}
