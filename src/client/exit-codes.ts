/**
 * How `meshrun run` exits. A program that ran passes its own exit code
 * through (128 + N when killed by signal N, as shells do); outcomes where the
 * program did not run to its end get codes of their own.
 */
import { constants } from 'node:os'
import type { JobResult } from '../node/schemas.ts'

export const EXIT = {
  ok: 0,
  error: 119,
  rejected: 120,
  compile_error: 121,
  output_limit: 122,
  memory_limit: 123,
  time_limit: 124,
  /** The node could not be reached, or the conversation broke. */
  unreachable: 125,
  /** Bad command-line usage. */
  usage: 2,
} as const

export function exitCodeFor (result: JobResult): number {
  switch (result.status) {
    case 'ok': return 0
    case 'runtime_error': {
      const run = result.run
      if (run?.code !== null && run?.code !== undefined) return run.code === 0 ? 1 : run.code
      const sig = run?.signal === null || run?.signal === undefined ? undefined : (constants.signals as Record<string, number>)[run.signal]
      return sig === undefined ? 1 : 128 + sig
    }
    default: return EXIT[result.status]
  }
}
