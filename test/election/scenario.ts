/**
 * Readable election scenarios, after etcd/raft's testdata: a file is a list
 * of blocks separated by blank lines; a block is one or more commands, then
 * `----` and the output they must produce: the role notifications that
 * happened meanwhile (`<ms> <node> becameMaster term=1`) and whatever the
 * commands print. `#` lines are comments. Run with REWRITE=1 to regenerate
 * the expected outputs after a deliberate change, then review the diff.
 *
 * Commands:
 *   net seed=N delay=LO-HI drop=P detect=MS connect=MS report=MS   (before nodes; drop also later)
 *   config startupDelayMs=MS answerTimeoutMs=MS …                  (before nodes)
 *   nodes ID[=PRIORITY] …
 *   start all|ID…   crash ID…   restart ID…   suspect NODE PEER
 *   cut A B   isolate A   partition A B | C D   heal
 *   run MS
 *   settle [within=MS]   run until each component follows its highest node (fails after MS, default 2000)
 *   agree                print each component's agreement
 *   state                print every node's role, term and master
 *   inject FROM TO TYPE TERM   deliver a hand-made message, print the actions
 */
import type { ElectionConfig, ElectionMessage } from '../../src/election/index.ts'
import { formatAction, Sim, type SimOptions } from './sim.ts'

export interface Block {
  comments: string[]
  commands: string[]
  expected: string[] | null
}

export function parseScenario(text: string): Block[] {
  const blocks: Block[] = []
  for (const chunk of text.split(/\n\s*\n/)) {
    const lines = chunk.split('\n').filter((l) => l.trim() !== '')
    if (lines.length === 0) continue
    const sep = lines.indexOf('----')
    const head = sep === -1 ? lines : lines.slice(0, sep)
    blocks.push({
      comments: head.filter((l) => l.startsWith('#')),
      commands: head.filter((l) => !l.startsWith('#')),
      expected: sep === -1 ? null : lines.slice(sep + 1),
    })
  }
  return blocks
}

export function formatScenario(blocks: { comments: string[]; commands: string[]; output: string[] }[]): string {
  return blocks
    .map((b) => [...b.comments, ...b.commands, ...(b.commands.length > 0 ? ['----', ...b.output] : [])].join('\n'))
    .join('\n\n') + '\n'
}

/** Executes scenarios one command at a time, collecting output. */
export class ScenarioRunner {
  private sim: Sim | null = null
  private net: SimOptions = {}
  private config: Partial<ElectionConfig> = {}

  /** Runs a block's commands; returns the notifications and printed lines. */
  block(commands: string[]): string[] {
    const out: string[] = []
    for (const cmd of commands) {
      const mark = this.sim?.trace.length ?? 0
      const printed = this.command(cmd)
      const trace = this.sim?.trace.slice(mark) ?? []
      out.push(...trace.filter((l) => / (became|stepped)/.test(l)), ...printed)
    }
    return out
  }

  private get s(): Sim {
    if (this.sim === null) throw new Error('scenario: no nodes yet')
    return this.sim
  }

  private command(line: string): string[] {
    const [cmd = '', ...args] = line.trim().split(/\s+/)
    const kv = Object.fromEntries(args.filter((a) => a.includes('=')).map((a) => a.split('=') as [string, string]))
    const sim = this.sim
    switch (cmd) {
      case 'net': {
        const [lo, hi] = (kv.delay ?? '').split('-').map(Number)
        if (sim !== null && kv.drop !== undefined) sim.setDrop(Number(kv.drop))
        else this.net = {
          ...this.net,
          ...(kv.seed && { seed: Number(kv.seed) }), ...(kv.drop && { drop: Number(kv.drop) }),
          ...(lo !== undefined && hi !== undefined && { minDelayMs: lo, maxDelayMs: hi }),
          ...(kv.detect && { detectMs: Number(kv.detect) }), ...(kv.connect && { connectMs: Number(kv.connect) }),
          ...(kv.report && { reportIntervalMs: Number(kv.report) }),
        }
        return []
      }
      case 'config':
        this.config = { ...this.config, ...Object.fromEntries(Object.entries(kv).map(([k, v]) => [k, Number(v)])) }
        return []
      case 'nodes': {
        this.sim ??= new Sim({ ...this.net, config: this.config })
        for (const a of args) {
          const [id = '', p = '0'] = a.split('=')
          this.sim.add(id, Number(p))
        }
        return []
      }
      case 'start': return this.s.start(...(args[0] === 'all' ? [...this.s.nodes.keys()] : args)), []
      case 'crash': return args.forEach((a) => this.s.crash(a)), []
      case 'restart': return args.forEach((a) => this.s.restart(a)), []
      case 'suspect': return this.s.suspect(arg(args, 0), arg(args, 1)), []
      case 'cut': return this.s.cut(arg(args, 0), arg(args, 1)), []
      case 'isolate': return this.s.isolate(arg(args, 0)), []
      case 'partition': return this.s.partition(...args.join(' ').split('|').map((g) => g.trim().split(/\s+/))), []
      case 'heal': return this.s.heal(), []
      case 'run': return this.s.run(Number(arg(args, 0))), []
      case 'settle': {
        const within = Number(kv.within ?? 2000)
        const ms = this.s.runUntil(() => this.s.convergedOnTop(), within)
        if (ms === null) throw new Error(`scenario: no convergence within ${within} ms\n${this.s.describe()}`)
        return []
      }
      case 'agree':
        return this.s.components().map((g) => {
          const a = this.s.agreement(g)
          return `${[...g].sort().join(' ')}: ${a === null ? 'no agreement' : `master=${a.master} term=${a.term}`}`
        })
      case 'state': return this.s.describe().split('\n').slice(1).map((l) => l.trim())
      case 'inject': {
        const msg = { type: arg(args, 2), term: Number(arg(args, 3)) } as ElectionMessage
        return this.s.inject(arg(args, 0), arg(args, 1), msg).map((a) => `${arg(args, 1)} ${formatAction(a)}`)
      }
      default:
        throw new Error(`scenario: unknown command ${JSON.stringify(line)}`)
    }
  }
}

function arg(args: string[], i: number): string {
  const a = args[i]
  if (a === undefined) throw new Error(`scenario: missing argument ${i + 1}`)
  return a
}
