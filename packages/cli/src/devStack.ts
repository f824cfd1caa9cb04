import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { createRuntime, type Logger, silentLogger, startEnclaveServer, startParentProxy } from '@enclave-custody/enclave-runtime'
import { type Anvil, startAnvil } from './anvil.js'

export type DevStackOptions = {
  /** Everything the stack persists lives here. */
  dataDir: string
  /** Start anvil too. @default true */
  anvil?: boolean
  /** @default 11155111 */
  chainId?: number
  /** Progress lines ("starting anvil…"). */
  onProgress?: (line: string) => void
  logger?: Logger
}

export type DevStack = {
  proxyUrl: string
  enclavePort: number
  anvil?: Anvil
  /** Stop everything that was started, in reverse order. Safe to call twice. */
  close(): Promise<void>
}

/**
 * The local stack: the enclave runtime on a loopback TCP port (the stand-in for vsock), the parent
 * proxy in front of it, and optionally anvil. Whatever starts is stopped by `close()`, also when a
 * later step fails.
 */
export async function startDevStack({ dataDir, anvil: withAnvil = true, chainId = 11155111, onProgress = () => {}, logger = silentLogger }: DevStackOptions): Promise<DevStack> {
  const stops: (() => Promise<void>)[] = []
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    for (const stop of stops.reverse()) await stop().catch(() => {})
  }
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 })
    let anvil: Anvil | undefined
    if (withAnvil) {
      onProgress(`starting anvil (chain id ${chainId})`)
      anvil = await startAnvil({ chainId })
      stops.push(anvil.stop)
    }
    onProgress('starting enclave runtime')
    const handler = await createRuntime({ dataDir: join(dataDir, 'enclave'), logger })
    const server = await startEnclaveServer({ handler, port: 0, logger })
    stops.push(server.close)
    onProgress('starting parent proxy')
    const proxy = await startParentProxy({ enclave: { host: server.host, port: server.port }, logger })
    stops.push(proxy.close)
    return { proxyUrl: proxy.url, enclavePort: server.port, anvil, close }
  } catch (e) {
    await close()
    throw e
  }
}
