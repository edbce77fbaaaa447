/**
 * A job's stdout and stderr are its own: whatever it does to them (make
 * them non-blocking, as a Node.js program killed by a limit leaves them)
 * reaches neither the next job on the same sandbox identity nor the zygote,
 * which must still find the end of every stage.
 */
import { afterAll, beforeAll, expect, test } from 'vitest'
import type { Executor } from '../../src/exec/types.ts'
import { cleanup, job, newExecutor } from './helpers.ts'

let ex: Executor
// One slot, so three identities (slot + 2 spares): six jobs in a row visit each of them.
beforeAll(async () => { ex = await newExecutor({ uidBase: 64700, slots: 1 }) })
afterAll(cleanup)

const FLAGS = '#include <fcntl.h>\n#include <stdio.h>\nint main (void) { printf("%d %d\\n", !!(fcntl(1, F_GETFL) & O_NONBLOCK), !!(fcntl(2, F_GETFL) & O_NONBLOCK)); return 0; }'
const SPOIL = '#include <fcntl.h>\n#include <unistd.h>\nint main (void) { fcntl(1, F_SETFL, O_NONBLOCK); fcntl(2, F_SETFL, O_NONBLOCK); for (;;) pause(); }'

test('a job that leaves its output non-blocking changes nothing for the next jobs', async () => {
  for (let i = 0; i < 6; i++) {
    const r = await ex.run(job('c', SPOIL, { limits: { timeMs: 200 } }))
    expect(r.status).toBe('time_limit')
  }
  // A Node.js program killed by a limit cannot put back the flags it set on its stdio.
  for (let i = 0; i < 6; i++) await ex.run(job('js', 'console.log("x"); for (;;);', { limits: { timeMs: 300 } }))
  for (let i = 0; i < 6; i++) {
    const r = await ex.run(job('c', FLAGS))
    expect(r.run!.stdout).toBe('0 0\n')
  }
})

test('a flood on non-blocking output still ends with output_limit, not a stuck sandbox', async () => {
  const flood = '#include <fcntl.h>\n#include <stdio.h>\nint main (void) { fcntl(1, F_SETFL, O_NONBLOCK); fcntl(2, F_SETFL, O_NONBLOCK); for (;;) { fputs("yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\\n", stdout); fputs("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\\n", stderr); } }'
  const results = await Promise.all(Array.from({ length: 6 }, async () => await ex.run(job('c', flood, { limits: { outputBytes: 65536 } }))))
  for (const r of results) {
    expect(r.status, r.message).toBe('output_limit')
    expect(r.run!.truncated).toBe(true)
  }
})
