import { type ChildProcess, spawn } from 'node:child_process'
import { connect } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { CliIo } from '../src/commands/cliIo.js'

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
export const binPath = join(repoRoot, 'packages', 'cli', 'src', 'bin.ts')

/** A CliIo that records what a command writes. */
export function captureIo(overrides: Partial<CliIo> = {}): CliIo & { out: () => string; err: () => string } {
  let out = ''
  let err = ''
  return {
    stdout: (t) => {
      out += t
    },
    stderr: (t) => {
      err += t
    },
    env: {},
    cwd: repoRoot,
    stdinIsTTY: true,
    readStdin: async () => '',
    onSignal: () => () => {},
    exit: (code) => {
      throw new Error(`exit(${code})`)
    },
    out: () => out,
    err: () => err,
    ...overrides,
  }
}

export type CustodyProcess = { child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | null> }

/** `custody <args>` as a real process (node + tsx on the sources). */
/** Runs in the repository root, where tsx resolves: pass absolute paths. */
export function spawnCustody(args: string[], { env = {}, input }: { env?: Record<string, string | undefined>; input?: string } = {}): CustodyProcess {
  const child = spawn(process.execPath, ['--conditions=@enclave-custody/source', '--import', 'tsx', binPath, ...args], {
    cwd: repoRoot,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString()
  })
  child.stderr!.on('data', (c: Buffer) => {
    err += c.toString()
  })
  child.stdin!.end(input ?? '')
  const exited = new Promise<number | null>((r) => child.once('exit', (code, signal) => r(code ?? (signal ? -1 : null))))
  return { child, stdout: () => out, stderr: () => err, exited }
}

/** Run `custody <args>` to completion. */
export async function runCustody(args: string[], options: Parameters<typeof spawnCustody>[1] = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawnCustody(args, options)
  const code = await p.exited
  return { code, stdout: p.stdout(), stderr: p.stderr() }
}

export async function until(check: () => boolean | Promise<boolean>, ms: number, what = 'condition'): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what} not met within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function isListening(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolvePromise(true)
    })
    socket.once('error', () => resolvePromise(false))
  })
}
