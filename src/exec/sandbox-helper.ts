/**
 * The sandbox helper process (see runner.ts): forked once by the executor
 * with the SandboxConfig as argv[2]; runs stages on request and reports
 * over IPC. It exits when the executor disconnects or dies, and every
 * sandbox it started dies with it (bwrap --die-with-parent).
 */
import { failed, LocalRunner, type FromHelper, type ToHelper } from './runner.ts'
import type { SandboxConfig } from './sandbox.ts'

const config = JSON.parse(process.argv[2] ?? '{}') as SandboxConfig
const runner = new LocalRunner(config)
const aborts = new Map<number, AbortController>()

function send (m: FromHelper): void {
  if (process.connected) process.send!(m)
}

process.on('message', (m: ToHelper) => {
  if (m.type === 'kill') {
    aborts.get(m.id)?.abort()
    return
  }
  const ac = new AbortController()
  aborts.set(m.id, ac)
  void runner.run(m.req, {
    signal: ac.signal,
    onOutput: (stream, text) => { send({ type: 'output', id: m.id, stream, text }) },
  }).catch((err: unknown) => failed(`sandbox helper: ${(err as Error).message}`)).then((outcome) => {
    aborts.delete(m.id)
    send({ type: 'done', id: m.id, outcome: { ...outcome, stdout: '', stderr: '' } })
  })
})

process.on('disconnect', () => {
  for (const ac of aborts.values()) ac.abort()
  void runner.close().finally(() => { setTimeout(() => { process.exit(0) }, aborts.size > 0 ? 200 : 0) })
})

send({ type: 'ready' })
