import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createHash, getRandomValues } from 'node:crypto'
import { bytesToHex, type Transport } from '@enclave-custody/sdk'
import { type AttestationPolicy, PROTOCOL_VERSION, type TrustConfiguration } from '@enclave-custody/sdk/protocol'
import { createSoftwareNsm } from './attestation/softwareNsm.js'
import { createRequestHandler, type RequestHandler } from './handler.js'
import { createEnclaveSession } from './identity/createEnclaveSession.js'
import { writeFileAtomic } from '@enclave-custody/sdk/server'
import { createFileKeyStore, createMemoryKeyStore } from './keys/fileKeyStore.js'
import { createLocalSealer } from './keys/localSealer.js'
import type { AttestationProvider, KeyStore, Sealer } from './keys/types.js'
import type { SoftwareNsm } from './attestation/softwareNsm.js'
import type { AuditEvent } from '@enclave-custody/sdk/protocol'
import type { Logger } from '@enclave-custody/sdk/server'
import { createMemoryPolicyStore } from './policy/signingPolicies.js'
import { createFilePolicyStore } from './policy/store/filePolicyStore.js'
import type { PolicyStore } from './policy/types.js'
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
  /**
   * Issues this runtime's session attestation documents. @default a software NSM (its CA under
   * `<dataDir>/nsm` when `dataDir` is given, else a fresh one)
   */
  attestation?: AttestationProvider
  /**
   * What the runtime reports as its trust configuration (the audience of stamps).
   * @default `{ sealing: 'local', sealingKeyId }` of the local sealing key (required with a custom `sealer`)
   */
  trust?: TrustConfiguration
  /** API public keys that may use records sealed before owners existed (see `createRequestHandler`). */
  legacyOwners?: readonly string[]
  /** Where the audit events go (they are also stripped from every answer). @default dropped */
  auditSink?: (events: AuditEvent[]) => void
  /**
   * Where signing policies are kept. @default files under `<dataDir>/policies` (`createFilePolicyStore`) when
   * `dataDir` is given, else in memory
   */
  policyStore?: PolicyStore
}

/** A local runtime: its handler and what a client must expect of its attestation. */
export type LocalRuntime = { handler: RequestHandler; attestation: AttestationPolicy }

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
export async function createRuntime(options: LocalEnclaveOptions = {}): Promise<RequestHandler> {
  return (await createLocalRuntime(options)).handler
}

/**
 * Build a local runtime: the request handler with its session (identity attested by `attestation`, audit
 * log, stamp-nonce memory) and the attestation policy a client of it must hold. Signing policies are kept as
 * files under `<dataDir>/policies` (in memory without a data directory) unless `policyStore` says otherwise.
 */
export async function createLocalRuntime({ dataDir, keyStore, sealer, maxGas, logger, keyCache, attestation, trust, auditSink, legacyOwners, policyStore }: LocalEnclaveOptions = {}): Promise<LocalRuntime> {
  const store = keyStore ?? (dataDir ? await createFileKeyStore(join(dataDir, 'keys')) : createMemoryKeyStore())
  const policies = policyStore ?? (dataDir ? createFilePolicyStore({ dir: join(dataDir, 'policies') }) : createMemoryPolicyStore())
  let trusted = trust
  let seal = sealer
  if (!seal) {
    const key = dataDir ? await loadDevSealingKey(dataDir) : getRandomValues(new Uint8Array(32))
    trusted ??= localTrust(key)
    seal = createLocalSealer(key)
  }
  if (!trusted) throw new TypeError('createLocalRuntime: a custom sealer needs its trust configuration (`trust`)')
  const nsm = attestation ?? (await createSoftwareNsm(dataDir ? { ca: { dataDir: join(dataDir, 'nsm') } } : {}))
  const session = await createEnclaveSession({ attestation: nsm, trust: trusted })
  const cache = keyCache === false ? undefined : (keyCache ?? createKeyCache({ ttlMs: 300_000, maxEntries: 10_000 }))
  const handler = createRequestHandler({
    keyStore: store,
    sealer: seal,
    maxGas,
    logger,
    ...(cache ? { keyCache: cache } : {}),
    session,
    policyStore: policies,
    ...(legacyOwners ? { legacyOwners } : {}),
  })
  const policy: AttestationPolicy = 'rootCertificatePem' in nsm && 'pcrs' in nsm
    ? { pcr0: [(nsm as SoftwareNsm).pcrs[0]!], roots: [(nsm as SoftwareNsm).rootCertificatePem] }
    : { pcr0: [] }
  return {
    handler: auditSink ? withAuditSink(handler, auditSink) : handler,
    attestation: policy,
  }
}

/** The trust configuration of a runtime sealing with a local key: the key's id, never the key. */
function localTrust(key: Uint8Array): TrustConfiguration {
  const id = createHash('sha256').update('enclave-custody/local-sealing-key-id/v1\0').update(key).digest()
  return { protocolVersion: PROTOCOL_VERSION, sealing: 'local', sealingKeyId: bytesToHex(new Uint8Array(id)) }
}

/** Hand the audit events riding on each answer to `sink`. */
function withAuditSink(handler: RequestHandler, sink: (events: AuditEvent[]) => void): RequestHandler {
  return {
    async handle(message, context) {
      const response = await handler.handle(message, context)
      if (Array.isArray(response.audit) && response.audit.length > 0) sink(response.audit as AuditEvent[])
      return response
    },
  }
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
  const runtime = createLocalRuntime(options)
  // Surface a start-up failure on first use, not as an unhandled rejection.
  runtime.catch(() => {})
  return {
    name: 'local-enclave',
    // The runtime is in this process: its software NSM's root and PCR0 are what the client must see.
    attestation: async () => (await runtime).attestation,
    async request(message) {
      const { handler } = await runtime
      const { audit: _, ...response } = await handler.handle(JSON.parse(JSON.stringify(message)))
      return JSON.parse(JSON.stringify(response))
    },
  }
}
