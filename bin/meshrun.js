#!/usr/bin/env node
// Launcher. meshrun needs Node >= 22 (libp2p 3). When started by an older
// Node (the system one on some machines), re-run with the Node 24 binary that
// the `node` devDependency installs, so `./bin/meshrun.js` just works.
// This file must stay plain JavaScript that Node 18+ can run.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import module from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const major = Number(process.versions.node.split('.')[0])

// A node runs for days: cap V8's young generation at 4 MiB per semi-space
// (the default grows it to 16 MiB as messages come in). Idle nodes then hold
// ~120–135 MiB from 3 to 30 nodes instead of ~150–181 MiB, at no measurable
// CPU cost (side by side, idle and under load). V8 reads the flag only at
// start-up, so the launcher replaces itself (same pid, same stdio) with a
// Node started with it.
const SEMI_SPACE = '--max-semi-space-size'
if (major >= 22 && process.argv[2] === 'node' && typeof process.execve === 'function' &&
    !process.execArgv.some((a) => a.startsWith(SEMI_SPACE)) && !(process.env.NODE_OPTIONS ?? '').includes(SEMI_SPACE)) {
  process.execve(process.execPath, [process.execPath, `${SEMI_SPACE}=4`, ...process.execArgv, ...process.argv.slice(1)], process.env)
}

if (major >= 22) {
  // Keep V8's compiled code on disk (in the system's temporary directory;
  // NODE_DISABLE_COMPILE_CACHE=1 turns it off): most of a start is loading
  // ~1,000 modules, and a node is then ready with ~0.95 s of CPU instead of
  // ~1.35 s; 30 nodes booting together on two cores took 35–45 s.
  try { module.enableCompileCache?.() } catch {}
  // In a checkout run the TypeScript sources directly (Node strips types);
  // an installed package ships the compiled dist/ only.
  const src = join(root, 'src', 'client', 'main.ts')
  const entry = existsSync(src) ? src : join(root, 'dist', 'client', 'main.js')
  await import(pathToFileURL(entry).href)
} else {
  const candidates = [
    join(root, 'node_modules', 'node', 'bin', 'node'),
    join(root, 'node_modules', '.bin', 'node'),
  ]
  const node = candidates.find((p) => existsSync(p))
  if (node === undefined) {
    process.stderr.write(`meshrun needs Node.js >= 22 (this is ${process.version}); run \`npm ci\` to install the bundled Node 24, or install Node >= 22.\n`)
    process.exit(70)
  }
  const child = spawn(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' })
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => { child.kill(sig) })
  }
  child.on('exit', (code, signal) => {
    if (signal !== null) process.kill(process.pid, signal)
    else process.exit(code ?? 1)
  })
}
