import { createRequestHandler, type RequestHandler } from './handler.js'
import { createForwardedKeyStore } from './keys/forwardedKeyStore.js'
import type { AttestationProvider } from './keys/types.js'
import type { Logger } from './logger.js'
import { createKeyCache } from './unseal/keyCache.js'
import { createKmsSealer, type KmsSealer } from './unseal/kmsSealer.js'

export type AttestedRuntimeOptions = {
  /** The NSM in an enclave; the software NSM locally. */
  attestation: AttestationProvider
  region: string
  /** KMS endpoint (local-aws, or the vsock-proxied regional host inside the enclave). */
  kmsEndpoint?: string
  /** The attested KMS key new keys are generated under. */
  kmsKeyId?: string
  /** How long an unsealed key stays in memory. @default 300_000 */
  keyCacheTtlMs?: number
  /** @default 10_000 */
  keyCacheMaxEntries?: number
  maxGas?: bigint
  logger?: Logger
}

/**
 * The production runtime: keys are unsealed only through KMS with this enclave's attestation document as
 * `Recipient`; the enclave keeps no records (the parent forwards them) and caches plaintext keys for a
 * TTL, zeroing them on eviction.
 */
export async function createAttestedRuntime({
  attestation,
  region,
  kmsEndpoint,
  kmsKeyId,
  keyCacheTtlMs = 300_000,
  keyCacheMaxEntries = 10_000,
  maxGas,
  logger,
}: AttestedRuntimeOptions): Promise<{ handler: RequestHandler; sealer: KmsSealer; close(): void }> {
  const sealer = await createKmsSealer({ attestation, region, ...(kmsEndpoint ? { endpoint: kmsEndpoint } : {}), ...(kmsKeyId ? { kmsKeyId } : {}) })
  const keyCache = createKeyCache({ ttlMs: keyCacheTtlMs, maxEntries: keyCacheMaxEntries })
  const handler = createRequestHandler({ keyStore: createForwardedKeyStore(), sealer, keyCache, maxGas, logger })
  return {
    handler,
    sealer,
    close() {
      keyCache.clear()
      sealer.close()
    },
  }
}
