import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { formatScenario, parseScenario, ScenarioRunner } from './scenario.ts'

const dir = join(import.meta.dirname, 'testdata')
const rewrite = process.env.REWRITE === '1'

for (const file of readdirSync(dir).filter((f) => f.endsWith('.txt')).sort()) {
  test(`scenario ${file}`, () => {
    const path = join(dir, file)
    const blocks = parseScenario(readFileSync(path, 'utf8'))
    const runner = new ScenarioRunner()
    const done = blocks.map((b) => {
      const output = b.commands.length > 0 ? runner.block(b.commands) : []
      if (!rewrite) expect(output, `${file}: ${b.commands.join('; ')}`).toEqual(b.expected ?? [])
      return { ...b, output }
    })
    if (rewrite) writeFileSync(path, formatScenario(done))
  })
}
