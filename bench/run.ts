/**
 * `npm run bench [-- --quick] [-- --json] [-- --only dispatch,throughput,cache,failover,scale]`
 * Starts its own nodes on loopback, measures, prints a table with every
 * figure beside the baseline measured in the same run, stops everything.
 */
import { benchDispatch } from './dispatch.ts'
import { benchThroughput } from './throughput.ts'
import { benchCache } from './cache.ts'
import { benchFailover } from './failover.ts'
import { benchScale } from './scale.ts'
import { cleanup, printTable, type Row } from './lib.ts'

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const json = args.includes('--json')
const onlyArg = args.find((a) => a.startsWith('--only'))
const only = onlyArg === undefined ? undefined : (onlyArg.includes('=') ? onlyArg.split('=')[1]! : args[args.indexOf(onlyArg) + 1]!).split(',')
const sections: Array<[string, (quick: boolean) => Promise<{ rows: Row[], data: unknown }>]> = [
  ['dispatch', benchDispatch], ['throughput', benchThroughput], ['cache', benchCache], ['failover', benchFailover], ['scale', benchScale],
]

process.on('SIGINT', () => { void cleanup().then(() => process.exit(130)) })
const rows: Row[] = []
const data: Record<string, unknown> = {}
const started = Date.now()
try {
  for (const [name, run] of sections) {
    if (only !== undefined && !only.includes(name)) continue
    if (!json) process.stderr.write(`bench: ${name}…\n`)
    try {
      const r = await run(quick)
      rows.push(...r.rows)
      data[name] = r.data
      if (!json) for (const row of r.rows) process.stderr.write(`  ${row.metric}: ${row.value} | ${row.baseline} | ${row.ratio}\n`)
    } catch (err) {
      // One section failing must not lose the others: record it and go on.
      const message = err instanceof Error ? err.message : String(err)
      rows.push({ section: name, metric: 'FAILED', value: '', baseline: '', ratio: '', note: message })
      data[name] = { error: message }
      process.stderr.write(`  ${name} failed: ${message}\n`)
      await cleanup()
    }
  }
} finally {
  await cleanup()
}
if (json) {
  process.stdout.write(JSON.stringify({ date: new Date().toISOString(), quick, seconds: (Date.now() - started) / 1000, rows, data }, null, 2) + '\n')
} else {
  console.log(`\nmeshrun benchmarks ${new Date().toISOString().slice(0, 10)}${quick ? ' (quick)' : ''}, ${((Date.now() - started) / 1000).toFixed(0)} s\n`)
  printTable(rows)
}
process.exit(0)
