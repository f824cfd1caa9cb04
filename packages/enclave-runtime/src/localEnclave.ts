import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { getRandomValues } from 'node:crypto'
import type { Transport } from '@enclave-custody/sdk'
import { createRequestHandler, type RequestHandler } from './handler.js'
import { writeFileAtomic } from './keys/atomicWrite.js'
import { createFileKeyStore, createMemoryKeyStore } from './keys/fileKeyStore.js'
import { createLocalSealer } from './keys/localSealer.js'
import type { KeyStore, Sealer } from './keys/types.js'
import type { Logger } from './logger.js'
import { createKeyCache, type KeyCache } from './unseal/keyCache.js'

export type LocalEnclaveOptions = {
  /** Persist sealed keys (and the dev sealing key) here; without it keys live in memory only. */
  dataDir?: string
  /** Override the key store (e.g. Secrets Manager records). */
  keyStore?: KeyStore
  /** Override the sealer (e.g. the attested KMS sealer). */
  sealer?: Sealer
  maxGas?: bigint
  logger?: Logger
  /** Keep unsealed keys between requests (zeroed on eviction); `false` to unseal for every request. @default a 5-minute cache */
  keyCache?: KeyCache | false
}

/**
 * Open the dev sealing key under `dataDir` (created on first use, mode 0600). Dev only: production
 * seals with KMS under an attested key policy.
 */
export async function loadDevSealingKey(dataDir: string): Promise<Uint8Array> {
  const path = join(dataDir, 'sealing.key')
  try {
    const key = await readFile(path)
    if (key.length !== 32) throw new Error(`${path} must hold exactly 32 bytes`)
    return key
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
    await mkdir(dataDir, { recursive: true, mode: 0o700 })
    const key = getRandomValues(new Uint8Array(32))
    await writeFileAtomic(path, key, { mode: 0o600 })
    return key
  }
}

/** Build the runtime's request handler from options (shared by `localEnclave` and the enclave server). */
export async function createRuntime({ dataDir, keyStore, sealer, maxGas, logger, keyCache }: LocalEnclaveOptions = {}): Promise<RequestHandler> {
  const store = keyStore ?? (dataDir ? await createFileKeyStore(join(dataDir, 'keys')) : createMemoryKeyStore())
  const seal = sealer ?? createLocalSealer(dataDir ? await loadDevSealingKey(dataDir) : getRandomValues(new Uint8Array(32)))
  const cache = keyCache === false ? undefined : (keyCache ?? createKeyCache({ ttlMs: 300_000, maxEntries: 10_000 }))
  return createRequestHandler({ keyStore: store, sealer: seal, maxGas, logger, ...(cache ? { keyCache: cache } : {}) })
}

/**
 * A transport that runs the real enclave runtime in-process: the mock enclave of tests, built from the
 * same handler the enclave serves. Every message goes through JSON exactly as on the wire.
 *
 * @example
 * import { createCustodyClient } from '@enclave-custody/sdk'
 * import { localEnclave } from '@enclave-custody/enclave-runtime'
 * const custody = createCustodyClient({ transport: localEnclave() })
 */
export function localEnclave(options: LocalEnclaveOptions = {}): Transport {
  const runtime = createRuntime(options)
  // Surface a start-up failure on first use, not as an unhandled rejection.
  runtime.catch(() => {})
  return {
    name: 'local-enclave',
    async request(message) {
      const handler = await runtime
      const response = await handler.handle(JSON.parse(JSON.stringify(message)))
      return JSON.parse(JSON.stringify(response))
    },
  }
}
