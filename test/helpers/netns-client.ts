/**
 * Runs inside a test's network namespace: submits N sleeper jobs to a node
 * and prints the results as one JSON line. Usage:
 *   node test/helpers/netns-client.ts HOST:PORT N MS PREFIX [KEYFILE]
 */
import { MeshClient } from '../../src/client/client.ts'
import { loadClusterKey } from '../../src/node/cluster-key.ts'
import { sleeper } from './cluster.ts'

const [addr, n, ms, prefix, keyFile] = process.argv.slice(2)
const client = await MeshClient.connect({ node: addr!, ...(keyFile === undefined ? {} : { psk: await loadClusterKey(keyFile) }) })
const jobs = Array.from({ length: Number(n) }, (_, i) => sleeper(i, Number(ms), `${prefix}-${i}`))
const results = await Promise.all(jobs.map(async (j) => await client.run(j).catch((err: unknown) => ({ id: j.id, status: 'client-error', message: String(err) }))))
process.stdout.write(JSON.stringify(results) + '\n')
await client.close()
process.exit(0)
