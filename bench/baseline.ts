/**
 * The baselines: the same program in the same sandbox (the executor's own
 * stage script: rlimits, setpriv to an unprivileged uid, bwrap with every
 * namespace) started by a bare child_process spawn; and the program with no
 * sandbox at all.
 */
import { execFileSync, spawn } from 'node:child_process'
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { detectToolchains } from '../src/exec/toolchains.ts'
import { stageScript, type SandboxConfig } from '../src/exec/sandbox.ts'
import { DEFAULT_LIMITS } from '../src/exec/limits.ts'

/** A uid outside the executors' pools (64000 + a few dozen). */
const UID = 65_432

export interface Baseline {
  /** Shell script that runs the program in the sandbox. */
  sandboxed: string
  /** argv that runs it with no sandbox, in `box`. */
  direct: string[]
  box: string
}

export async function prepareBaselines (dir: string): Promise<{ python: Baseline, c: Baseline }> {
  const det = await detectToolchains({ langs: ['python', 'c'] })
  const py = det.toolchains.get('python')!.tools.python!
  const cc = det.toolchains.get('c')!.tools.cc!
  const binds = [...new Set([...det.toolchains.values()].flatMap((t) => t.binds))]
  const root = process.getuid?.() === 0
  const config: SandboxConfig = {
    bwrap: '/usr/bin/bwrap',
    setpriv: root ? '/usr/bin/setpriv' : null,
    cgroups: { memory: null, pids: null, cpuacct: null, cpu: null, memsw: false },
    tmpfsWorkspaces: false,
    roBinds: binds,
  }
  const l = DEFAULT_LIMITS.run
  const limits = {
    cpuMs: l.cpuMs, wallMs: l.wallMs, outputBytes: l.outputBytes, processes: l.processes + 2, openFiles: l.openFiles,
    fileBytes: l.diskBytes, memoryBytes: l.memoryMb * 1024 * 1024, addressSpaceBytes: l.memoryMb * 1024 * 1024, shmBytes: 16 * 1024 * 1024,
  }
  const make = async (name: string, argv: string[], setup: (box: string) => Promise<void>): Promise<Baseline> => {
    const box = join(dir, `${name}-box`)
    const tmp = join(dir, `${name}-tmp`)
    await mkdir(box, { recursive: true })
    await mkdir(tmp, { recursive: true })
    await setup(box)
    if (root) for (const d of [box, tmp]) await chown(d, UID, UID)
    await chmod(dir, 0o755)
    const script = join(dir, `${name}.sh`)
    await writeFile(script, stageScript(config, { uid: root ? UID : -1, box, tmp, stdinFile: null, limits, argv }))
    return { sandboxed: script, direct: argv[0]!.startsWith('./') ? [join(box, argv[0]!), ...argv.slice(1)] : argv.map((a) => (a === 'main.py' ? join(box, a) : a)), box }
  }
  const python = await make('python', [py, '-B', 'main.py'], async (box) => { await writeFile(join(box, 'main.py'), 'print("hello")\n') })
  const c = await make('c', ['./a.out'], async (box) => {
    await writeFile(join(box, 'main.c'), '#include <stdio.h>\nint main(void){ puts("hello"); return 0; }\n')
    execFileSync(cc, ['-O2', '-o', join(box, 'a.out'), join(box, 'main.c')])
  })
  return { python, c }
}

/** One run; resolves with its wall time in ms. fd 3 is where the sandbox says "started". */
export async function timeRun (argv: string[], cwd?: string): Promise<number> {
  const t0 = performance.now()
  await new Promise<void>((resolve, reject) => {
    const p = spawn(argv[0]!, argv.slice(1), { cwd, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] })
    let out = ''
    p.stdout!.on('data', (d: Buffer) => { out += d.toString() })
    p.stderr!.resume()
    p.stdio[3]?.on('error', () => {})
    ;(p.stdio[3] as NodeJS.ReadableStream | null)?.resume()
    p.on('error', reject)
    p.on('exit', (code) => { code === 0 && out === 'hello\n' ? resolve() : reject(new Error(`baseline run failed (${code}): ${out}`)) })
  })
  return performance.now() - t0
}
