/** The programs the benchmarks submit (the same ones the baselines run). */
import { randomUUID } from 'node:crypto'
import type { JobSpec } from '../src/exec/types.ts'

export const PY_HELLO = 'print("hello")\n'
export const C_HELLO = '#include <stdio.h>\nint main(void){ puts("hello"); return 0; }\n'

export function pyHello (): JobSpec {
  return { id: `b-${randomUUID()}`, language: 'python', files: [{ name: 'main.py', content: PY_HELLO }], stdin: '', args: [] }
}

export function cHello (): JobSpec {
  return { id: `b-${randomUUID()}`, language: 'c', files: [{ name: 'main.c', content: C_HELLO }], stdin: '', args: [] }
}

export function pySleep (ms: number, i: number): JobSpec {
  return { id: `b-${randomUUID()}`, language: 'python', files: [{ name: 'main.py', content: `import time\ntime.sleep(${ms / 1000})\nprint(${i})\n` }], stdin: '', args: [] }
}
