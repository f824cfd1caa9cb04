import { PROTOCOL_VERSION } from '@enclave-custody/sdk/protocol'
import { createRequestHandler, type RequestHandler } from './handler.js'
import type { EnclaveIdentity } from './identity/createEnclaveIdentity.js'
import { createEnclaveSession } from './identity/createEnclaveSession.js'
import { createForwardedKeyStore } from './keys/forwardedKeyStore.js'
import type { AttestationProvider } from './keys/types.js'
import type { Logger } from '@enclave-custody/sdk/server'
import { policyStoreLocationOf } from './policy/store/policyStoreLocationOf.js'
import { createSecretsManagerPolicyStore } from './policy/store/secretsManagerPolicyStore.js'
import type { PolicyStore } from './policy/types.js'
import { createKeyCache } from './unseal/keyCache.js'
import { createKmsSealer, type KmsSealer } from './unseal/kmsSealer.js'

export type AttestedRuntimeOptions = {
  /** The NSM in an enclave; the software NSM locally. */
  attestation: AttestationProvider
  region: string
  /** KMS endpoint override (local-aws). @default https://kms.<region>.amazonaws.com (inside the enclave: the vsock bridge) */
  kmsEndpoint?: string
  /**
   * The pinned sealing key: its full key ARN, in `region` (no alias, no bare key id). Records naming
   * another key and KMS responses for another key are refused; new keys are generated under it.
   */
  kmsKeyArn: string
  /** The only roots TLS to KMS trusts (PEM). @default AMAZON_TRUST_SERVICES_ROOTS */
  kmsCaCertificates?: readonly string[]
  /** Accept a plain `http://` KMS endpoint (development only). @default false */
  allowHttpKmsEndpoint?: boolean
  /**
   * Secrets Manager endpoint override (local-aws), where the enclave reads signing policies.
   * @default https://secretsmanager.<region>.amazonaws.com (inside the enclave: its vsock bridge)
   */
  secretsEndpoint?: string
  /** The only roots TLS to Secrets Manager trusts (PEM). @default `kmsCaCertificates`, else AMAZON_TRUST_SERVICES_ROOTS */
  secretsCaCertificates?: readonly string[]
  /** Accept a plain `http://` Secrets Manager endpoint (development only). @default false */
  allowHttpSecretsEndpoint?: boolean
  /**
   * Where signing policies are read. @default the Secrets Manager store (`createSecretsManagerPolicyStore`) in the
   * account and region of `kmsKeyArn` — measured into the image, so not the parent's choice —, read with the
   * credentials forwarded with each request
   */
  policyStore?: PolicyStore
  /** How long an unsealed key stays in memory. @default 300_000 */
  keyCacheTtlMs?: number
  /** @default 10_000 */
  keyCacheMaxEntries?: number
  maxGas?: bigint
  logger?: Logger
  /** API public keys that may use records sealed before owners existed (an image build argument). */
  legacyOwners?: readonly string[]
}

/**
 * The production runtime: keys are unsealed only through KMS with this enclave's attestation document as
 * `Recipient`, under the pinned sealing key (`kmsKeyArn`) and over TLS that ends here; the enclave keeps no
 * records (the parent forwards them) and caches plaintext keys for a TTL, zeroing them on eviction. Signing
 * policies are read by the enclave itself from Secrets Manager (`enclave-custody/policies/<keyId>/policy`,
 * `AWSCURRENT`) in the sealing key's account and region, over TLS that ends here too.
 *
 * @throws InvalidArgumentError when `kmsKeyArn` is not a key ARN in `region`, or an endpoint is plain
 *   http without `allowHttpKmsEndpoint` / `allowHttpSecretsEndpoint` (see `createKmsSealer`,
 *   `createSecretsManagerPolicyStore`).
 */
export async function createAttestedRuntime({
  attestation,
  region,
  kmsEndpoint,
  kmsKeyArn,
  kmsCaCertificates,
  allowHttpKmsEndpoint = false,
  secretsEndpoint,
  secretsCaCertificates,
  allowHttpSecretsEndpoint = false,
  policyStore,
  keyCacheTtlMs = 300_000,
  keyCacheMaxEntries = 10_000,
  maxGas,
  logger,
  legacyOwners,
}: AttestedRuntimeOptions): Promise<{ handler: RequestHandler; sealer: KmsSealer; policyStore: PolicyStore; identity: EnclaveIdentity; close(): void }> {
  // Checked before anything is made: the policies' account and region are the pinned key's.
  const secretsManagerStore =
    policyStore === undefined
      ? createSecretsManagerPolicyStore({
          ...policyStoreLocationOf(kmsKeyArn),
          allowHttpEndpoint: allowHttpSecretsEndpoint,
          ...(secretsEndpoint ? { endpoint: secretsEndpoint } : {}),
          ...((secretsCaCertificates ?? kmsCaCertificates) ? { caCertificates: secretsCaCertificates ?? kmsCaCertificates } : {}),
        })
      : undefined
  const policies = policyStore ?? secretsManagerStore!
  const sealer = await createKmsSealer({
    attestation,
    region,
    kmsKeyArn,
    allowHttpEndpoint: allowHttpKmsEndpoint,
    ...(kmsEndpoint ? { endpoint: kmsEndpoint } : {}),
    ...(kmsCaCertificates ? { caCertificates: kmsCaCertificates } : {}),
  })
  const keyCache = createKeyCache({ ttlMs: keyCacheTtlMs, maxEntries: keyCacheMaxEntries })
  // The trust configuration is what the image pins: its digest is the audience of every stamp.
  const session = await createEnclaveSession({ attestation, trust: { protocolVersion: PROTOCOL_VERSION, sealing: 'kms', region, kmsKeyArn } })
  const handler = createRequestHandler({
    keyStore: createForwardedKeyStore(),
    sealer,
    keyCache,
    maxGas,
    logger,
    session,
    policyStore: policies,
    ...(legacyOwners ? { legacyOwners } : {}),
  })
  return {
    handler,
    sealer,
    policyStore: policies,
    identity: session.identity,
    close() {
      keyCache.clear()
      sealer.close()
      secretsManagerStore?.close()
    },
  }
}
