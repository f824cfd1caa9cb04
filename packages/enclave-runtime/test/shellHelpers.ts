/**
 * Helpers for the tests of the enclave image and host scripts: running a script, and shellcheck when this
 * machine has it (or can install it from apt without further setup). Nothing here is needed by CI.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..')
export const REPO_ROOT = join(PACKAGE_DIR, '..', '..')
export const ENCLAVE_DIR = join(PACKAGE_DIR, 'enclave')
/** The parent instance's files live in the parent-proxy package, outside the enclave image. */
export const HOST_DIR = join(REPO_ROOT, 'packages', 'parent-proxy', 'host')

/** Whether `command` is on PATH. */
export function hasCommand(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0
}

/** Run a command to completion; stdout, stderr and the exit status. */
export function run(command: string, args: string[], options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}) {
  const result = spawnSync(command, args, {
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 30_000,
  })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, signal: result.signal }
}

/** A running child with its combined output so far and a promise of its exit status. */
export function start(command: string, args: string[], env: Record<string, string> = {}): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString()
  })
  child.stderr!.on('data', (c: Buffer) => {
    out += c.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { child, output: () => out, exited }
}

/** Wait until `output()` matches `pattern`. */
export async function waitFor(output: () => string, pattern: RegExp, ms = 10_000): Promise<RegExpMatchArray> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    const m = output().match(pattern)
    if (m) return m
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`timed out waiting for ${pattern}; output:\n${output()}`)
}

let shellcheck: boolean | undefined
/**
 * Whether shellcheck can run: on PATH already, or installed now with apt-get when this is a root shell with
 * apt-get and package lists (no `apt-get update`: a machine without lists skips). Never required.
 */
export function ensureShellcheck(): boolean {
  if (shellcheck !== undefined) return shellcheck
  shellcheck = hasCommand('shellcheck')
  if (!shellcheck && process.env.CUSTODY_TEST_NO_APT !== '1' && process.getuid?.() === 0 && hasCommand('apt-get')) {
    const install = run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'shellcheck'], {
      env: { DEBIAN_FRONTEND: 'noninteractive' },
      timeoutMs: 120_000,
    })
    shellcheck = install.status === 0 && hasCommand('shellcheck')
  }
  return shellcheck
}
