import { type ChildProcess, spawn } from 'node:child_process'
import { createServer } from 'node:net'

export type RunningProcess = { child: ChildProcess; output: () => string; exited: Promise<number | null> }

const started: ChildProcess[] = []

/**
 * Run a TypeScript entry point in a child Node process, the way the package's bin would run once built
 * (`--conditions=@enclave-custody/source` resolves workspace packages to their sources). stdout and stderr are collected.
 */
export function runTs(script: string, args: string[] = [], env: Record<string, string> = {}): RunningProcess {
  const child = spawn(process.execPath, ['--conditions=@enclave-custody/source', '--import', 'tsx', script, ...args], {
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  started.push(child)
  let out = ''
  const collect = (c: Buffer) => {
    out += c.toString()
  }
  child.stdout!.on('data', collect)
  child.stderr!.on('data', collect)
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { child, output: () => out, exited }
}

/** SIGKILL whatever `runTs` started and is still running (call from afterAll). */
export function killStarted(): void {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
}

/** Wait until `output()` matches `pattern`; the error shows the output so far. */
export async function waitForOutput(output: () => string, pattern: RegExp, ms = 20_000): Promise<RegExpMatchArray> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    const m = output().match(pattern)
    if (m) return m
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${pattern}; output:\n${output()}`)
}

/** Wait until `check()` holds. */
export async function until(check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** A TCP port that was free a moment ago on loopback. */
export async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as { port: number }).port
  await new Promise((r) => s.close(r))
  return port
}

/** Whether a process is still alive. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
