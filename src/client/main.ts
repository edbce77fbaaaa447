/** The `meshrun` command line (commander). */
import { Command, Option } from 'commander'
import { VERSION } from '../node/protocols.ts'
import { defaultNode } from './addr.ts'
import { EXIT } from './exit-codes.ts'
import { UsageError, describeError } from './errors.ts'

const collect = (value: string, previous: string[]): string[] => [...previous, value]
const KEY_HELP = 'the cluster\'s key file (default $MESHRUN_KEY_FILE)'

// Commands load their modules when run: `meshrun run` need not load the node.

const program = new Command('meshrun')
  .description('A peer-to-peer cluster that compiles and runs programs')
  .version(VERSION)
  .showHelpAfterError()

program.command('node')
  .description('start a node (prints its peer id and addresses, then "ready")')
  .option('--port <n>', 'TCP port on 127.0.0.1 (0 picks a free one)', '7700')
  .option('--listen <multiaddr>', 'listen on this multiaddr instead (repeatable)', collect, [])
  .option('--data <dir>', 'data dir: identity, compile cache, journal (default ~/.meshrun/node-PORT)')
  .option('--max-jobs <n>', 'jobs run at once on this node', '2')
  .option('--max-cpu <pct>', 'take no new job while the machine\'s CPU use is at or above this (default 100: no cap)')
  .option('--max-mem <pct>', 'take no new job while memory use is at or above this (default 95)')
  .option('--langs <list>', 'only offer these languages (comma-separated)')
  .option('--cache-max <mb>', 'the compile cache holds at most this much on disk; the least recently used entries go (default 1024)')
  .option('--lease-idle <ms>', 'a slot of this node the master leased to it for its own jobs goes back after this long unused (default 2000; 0: no leases)')
  .option('--priority <n>', 'election priority: the highest live node is master (default 0; spawned workers -1000000)')
  .option('--cluster <name>', 'cluster name: nodes only join nodes of the same name', 'default')
  .option('--peer <addr>', 'bootstrap peer, HOST:PORT or multiaddr (repeatable; for networks without multicast)', collect, [])
  .option('--no-mdns', 'do not discover peers by mDNS')
  .option('--http <port>', 'serve the web page, HTTP API and /metrics on this port (0 picks a free one)')
  .option('--http-host <addr>', 'address for --http (default 127.0.0.1; any other needs --http-token)')
  .option('--http-token <token>', 'bearer token every HTTP request must carry (default $MESHRUN_HTTP_TOKEN)')
  .option('--http-body-limit <size>', 'largest HTTP request body, in bytes or with k/m (default 8m)')
  .addOption(new Option('--unsandboxed', 'run jobs without bubblewrap when it is missing (DANGEROUS)').hideHelp())
  .option('--key <file>', `${KEY_HELP}; without one the node listens on loopback only`)
  .option('--time-limit <ms>', 'most CPU and wall time a program may run (default 5000)')
  .option('--memory-limit <mb>', 'most memory a program may use, MiB (default 256)')
  .option('--output-limit <bytes>', 'most stdout+stderr a program may write (default 1 MiB)')
  .option('--process-limit <n>', 'most processes and threads a program may have (default 64)')
  .option('--disk-limit <mb>', 'most a program may write to its job dir and /tmp, MiB (default 64)')
  .option('--source-limit <bytes>', 'largest total source size of a job (default 1 MiB)')
  .option('--autoscale <max>', 'while master, start up to MAX extra workers when jobs wait with every node full')
  .option('--spawn-cmd <command>', 'with --autoscale: start a worker with this /bin/sh command (env MESHRUN_PEER, MESHRUN_CLUSTER, MESHRUN_KEY_FILE, MESHRUN_SPAWNED_BY, MESHRUN_RETIRE_IDLE, …) instead of a local child process')
  .option('--idle-retire <s>', 'with --autoscale: a spawned worker idle this long drains and stops (default 30)')
  .option('--autoscale-after <s>', 'with --autoscale: how long jobs must wait with every node full before a worker is started (default 3)')
  .addOption(new Option('--spawned-by <peer-id>', 'this node was started by that master\'s autoscaler').hideHelp())
  .addOption(new Option('--retire-idle <s>', 'drain and stop after this long idle').hideHelp())
  .action(async (opts) => { process.exitCode = await (await import('./cli-node.ts')).nodeCommand(opts) })

program.command('run')
  .description('run a program on the cluster and stream its output')
  .argument('[files...]', 'source files or a directory; the first file is the entry point')
  .option('--node <addr>', 'node to submit to: HOST:PORT or a multiaddr', defaultNode())
  .option('--lang <language>', 'language (default: from the first file\'s extension)')
  .option('-e, --expr <expression>', 'a calc expression to evaluate instead of files')
  .option('--stdin <file>', 'feed this file (or - for this process\'s stdin) to the program; a file redirected to stdin (< input.txt) is fed without it')
  .option('--arg <x>', 'argument for the program (repeatable)', collect, [])
  .option('--time-limit <ms>', 'run-time limit in ms (may only lower the node\'s)')
  .option('--memory-limit <mb>', 'memory limit in MiB (may only lower the node\'s)')
  .option('--id <id>', 'job id (re-submitting an id attaches to that job)')
  .option('--json', 'print one JSON result object instead of streaming')
  .option('--key <file>', KEY_HELP)
  .action(async (files: string[], opts) => { process.exitCode = await (await import('./cli-run.ts')).runCommand(files, opts) })

program.command('status')
  .description('show a node\'s view: peer id, languages, load, jobs')
  .option('--node <addr>', 'node to ask: HOST:PORT or a multiaddr', defaultNode())
  .option('--json', 'print JSON')
  .option('--key <file>', KEY_HELP)
  .action(async (opts) => { process.exitCode = await (await import('./cli-status.ts')).statusCommand(opts) })

program.command('jobs')
  .description('list the jobs running and waiting in the cluster (or, with --http, a node\'s recent jobs)')
  .option('--node <addr>', 'node to ask: HOST:PORT or a multiaddr', defaultNode())
  .option('--http <url>', 'ask this node\'s HTTP gateway instead: recent jobs with their results')
  .option('--token <token>', 'bearer token for --http (default $MESHRUN_HTTP_TOKEN)')
  .option('--json', 'print JSON')
  .option('--key <file>', KEY_HELP)
  .action(async (opts) => { process.exitCode = await (await import('./cli-jobs.ts')).jobsCommand(opts) })

program.command('watch')
  .description('a live view of the cluster in the terminal (Ctrl-C to stop)')
  .option('--node <addr>', 'node to ask: HOST:PORT or a multiaddr', defaultNode())
  .option('--interval <ms>', 'refresh period', '1000')
  .option('--count <n>', 'draw this many frames, then stop')
  .option('--key <file>', KEY_HELP)
  .action(async (opts) => { process.exitCode = await (await import('./cli-watch.ts')).watchCommand(opts) })

program.command('up')
  .description('start a local cluster of N nodes on consecutive ports (Ctrl-C stops them)')
  .requiredOption('-n <count>', 'number of nodes')
  .option('--port <n>', 'first port', '7700')
  .option('--max-jobs <n>', 'jobs run at once on each node')
  .option('--cluster <name>', 'cluster name')
  .option('--data-root <dir>', 'parent of the nodes\' data dirs (default ~/.meshrun)')
  .option('--key <file>', KEY_HELP)
  .action(async (opts) => { process.exitCode = await (await import('./cli-up.ts')).upCommand(opts) })

program.command('keygen')
  .description('write a new cluster key (libp2p pre-shared key); give the same file to every node and client')
  .argument('[file]', 'where to write it', '~/.meshrun/cluster.key')
  .action(async (file: string) => {
    const { writeClusterKey, DEFAULT_KEY_FILE } = await import('../node/cluster-key.ts')
    const path = file === '~/.meshrun/cluster.key' ? DEFAULT_KEY_FILE : file
    await writeClusterKey(path)
    process.stdout.write(`wrote ${path}\nstart every node with --key ${path} (or MESHRUN_KEY_FILE=${path}); clients need it too\n`)
  })

// libp2p's timers are unref'd: while a command waits on one (a dial under
// load, a timeout), nothing else may hold the event loop, and Node would end
// the process mid-await (exit 13). Hold it until the command is done.
const keepAlive = setInterval(() => {}, 1 << 30)
try {
  await program.parseAsync(process.argv)
} catch (err) {
  process.stderr.write(`meshrun: ${describeError(err)}\n`)
  const name = (err as Error)?.name
  process.exitCode = err instanceof UsageError || name === 'ClusterKeyError' || name === 'OpenWithoutKeyError' ? EXIT.usage : name === 'ConnectError' ? EXIT.unreachable : EXIT.error
}
clearInterval(keepAlive)
// Background timers of libp2p must not keep a finished command alive.
if (process.argv[2] !== 'node' && process.argv[2] !== 'up') setImmediate(() => process.exit())
