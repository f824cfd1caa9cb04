import { type ChildProcess, spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

export type Anvil = {
  rpcUrl: string
  chainId: number
  process: ChildProcess
  /** The process that stops anvil when this one dies (undefined when it could not be started). */
  watchdogPid?: number | undefined
  stop(): Promise<void>
}

/** Path of the anvil binary shipped by the `@foundry-rs/anvil` npm package for this platform. */
export function anvilBinary(): string {
  const require = createRequire(import.meta.url)
  const wrapper = dirname(require.resolve('@foundry-rs/anvil/package.json'))
  const arch = process.arch === 'x64' ? 'amd64' : process.arch
  const platformPkg = `@foundry-rs/anvil-${process.platform}-${arch}`
  const pkgDir = dirname(createRequire(join(wrapper, 'package.json')).resolve(`${platformPkg}/package.json`))
  return join(pkgDir, 'bin', process.platform === 'win32' ? 'anvil.exe' : 'anvil')
}

/**
 * The watchdog of an anvil: a tiny node process whose standard input is a pipe from this process. The pipe
 * closes when this process dies, however it dies (SIGKILL too: the kernel closes its descriptors), and
 * the watchdog then stops anvil (SIGTERM, SIGKILL after 2 s). It leaves by itself when anvil is gone, and
 * ignores the terminal's SIGINT so that a Ctrl-C followed by a kill -9 of a stuck parent still stops anvil.
 */
const WATCHDOG = `
const pid = Number(process.argv[1])
const alive = () => { try { process.kill(pid, 0); return true } catch { return false } }
process.on('SIGINT', () => {})
const stop = () => {
  try { process.kill(pid, 'SIGTERM') } catch {}
  const end = Date.now() + 2000
  const poll = setInterval(() => {
    if (!alive()) process.exit(0)
    if (Date.now() > end) { try { process.kill(pid, 'SIGKILL') } catch {} process.exit(0) }
  }, 50)
}
process.stdin.on('data', () => {})
process.stdin.on('end', stop)
process.stdin.on('error', stop)
setInterval(() => { if (!alive()) process.exit(0) }, 1000).unref()
`

/** Start the watchdog of `child` (see WATCHDOG); `undefined` when it cannot be spawned (anvil then runs unguarded). */
function watch(child: ChildProcess): ChildProcess | undefined {
  if (child.pid === undefined) return undefined
  const watchdog = spawn(process.execPath, ['-e', WATCHDOG, String(child.pid)], { stdio: ['pipe', 'ignore', 'ignore'], env: { PATH: process.env.PATH ?? '' } })
  watchdog.on('error', () => {})
  watchdog.stdin!.on('error', () => {})
  // Neither the pipe nor the process keeps this process alive.
  watchdog.unref()
  ;(watchdog.stdin as unknown as { unref?: () => void }).unref?.()
  return watchdog
}

/**
 * Start a real anvil node on a loopback port and wait until it listens. A watchdog process stops anvil when
 * this process dies, even by SIGKILL (see WATCHDOG).
 * @param options - `chainId`: chain id of the node, default 11155111 (Sepolia); `port`: TCP port on 127.0.0.1,
 *   default 0 (a free port); `blockTime`: seconds between blocks, default none (a block per transaction).
 */
export async function startAnvil({ chainId = 11155111, blockTime, port = 0 }: { chainId?: number; blockTime?: number; port?: number } = {}): Promise<Anvil> {
  const args = ['--host', '127.0.0.1', '--port', String(port), '--chain-id', String(chainId)]
  if (blockTime) args.push('--block-time', String(blockTime))
  const child = spawn(anvilBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const watchdog = watch(child)
  child.once('exit', () => watchdog?.kill('SIGTERM'))
  let err = ''
  child.stderr!.on('data', (chunk: Buffer) => {
    err = (err + chunk.toString()).slice(-400)
  })
  const rpcUrl = await new Promise<string>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error('anvil did not start within 20 s')), 20_000)
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const m = /Listening on (127\.0\.0\.1:\d+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(`http://${m[1]}`)
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      const reason = /error[^\n]*/i.exec(`${out}\n${err}`)?.[0]?.trim()
      reject(new Error(`anvil exited with code ${code} before listening${reason ? `: ${reason.slice(0, 200)}` : ''}`))
    })
    child.once('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
  }).catch(async (e: unknown) => {
    await stopChild(child)
    throw e
  })
  child.stdout!.resume()
  child.stderr!.resume()
  return {
    rpcUrl,
    chainId,
    process: child,
    watchdogPid: watchdog?.pid,
    stop: () => stopChild(child),
  }
}

/** SIGTERM a child and wait for it to exit (SIGKILL after 3 s). */
export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 3_000)
    child.once('exit', () => {
      clearTimeout(kill)
      resolve()
    })
    child.kill('SIGTERM')
  })
}
