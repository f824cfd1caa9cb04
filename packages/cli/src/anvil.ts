import { type ChildProcess, spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

export type Anvil = { rpcUrl: string; chainId: number; process: ChildProcess; stop(): Promise<void> }

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
 * Start a real anvil node on a free loopback port and wait until it listens.
 * @param chainId chain id of the node. @default 11155111 (Sepolia)
 */
export async function startAnvil({ chainId = 11155111, blockTime }: { chainId?: number; blockTime?: number } = {}): Promise<Anvil> {
  const args = ['--host', '127.0.0.1', '--port', '0', '--chain-id', String(chainId)]
  if (blockTime) args.push('--block-time', String(blockTime))
  const child = spawn(anvilBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] })
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
      reject(new Error(`anvil exited with code ${code} before listening`))
    })
    child.once('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
  })
  child.stdout!.resume()
  child.stderr!.resume()
  return {
    rpcUrl,
    chainId,
    process: child,
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
