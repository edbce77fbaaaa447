/** Compile cache: the first submission of a C and a Java program against repeated ones. */
import { randomUUID } from 'node:crypto'
import { MeshClient } from '../src/client/client.ts'
import type { JobSpec } from '../src/exec/types.ts'
import { fmt, startNode, stopNodes, summarize, type Row } from './lib.ts'

export async function benchCache (quick: boolean): Promise<{ rows: Row[], data: Record<string, number> }> {
  const node = await startNode()
  const client = await MeshClient.connect({ node: node.addr })
  const rows: Row[] = []
  const data: Record<string, number> = {}
  const repeats = quick ? 5 : 10
  try {
    const tag = randomUUID().replace(/-/g, '')
    const programs: Array<[string, () => JobSpec]> = [
      ['c', () => ({ id: randomUUID(), language: 'c', files: [{ name: 'main.c', content: `#include <stdio.h>\n/* ${tag} */\nint main(void){ puts("hello"); return 0; }\n` }], stdin: '', args: [] })],
      ['java', () => ({ id: randomUUID(), language: 'java', files: [{ name: 'Main.java', content: `// ${tag}\npublic class Main { public static void main(String[] a) { System.out.println("hello"); } }\n` }], stdin: '', args: [] })],
    ]
    for (const [name, make] of programs) {
      const t0 = performance.now()
      const first = await client.run(make())
      const firstMs = performance.now() - t0
      if (first.compile?.cached === true) throw new Error('first submission was a cache hit')
      const again: number[] = []
      for (let i = 0; i < repeats; i++) {
        const t = performance.now()
        const r = await client.run(make())
        again.push(performance.now() - t)
        if (r.compile?.cached !== true) throw new Error('repeated submission missed the cache')
      }
      const s = summarize(again)
      data[`${name}First`] = firstMs
      data[`${name}Repeat`] = s.p50
      rows.push({ section: 'compile cache', metric: `${name}: repeat p50 vs first`, value: fmt(s.p50), baseline: `${fmt(firstMs)} first`, ratio: `${(firstMs / s.p50).toFixed(1)}× faster` })
    }
  } finally {
    await client.close()
    await stopNodes([node])
  }
  return { rows, data }
}
