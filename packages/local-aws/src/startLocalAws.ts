import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { sdkVerifyAttestation } from './attestation/verifier.js'
import { resolveLocalAwsConfig, type StartLocalAwsParameters } from './config.js'
import { KmsService } from './kms/KmsService.js'
import { initialKmsState, validateKmsState } from './kms/state.js'
import { SecretsManagerService } from './secrets/SecretsManagerService.js'
import { initialSecretsState, validateSecretsState } from './secrets/state.js'
import { createRequestHandler } from './server/createRequestHandler.js'
import { JsonStateStore } from './store/JsonStateStore.js'
import { lockDataDir } from './store/lockDataDir.js'
import { removeStaleTempFiles } from './store/removeStaleTempFiles.js'

const KMS_FILE = 'kms.json'
const SECRETS_FILE = 'secretsmanager.json'

/** In-flight requests get this long to finish on close() before their connections are cut. */
const CLOSE_GRACE_MS = 2_000

/** A running local-aws server. */
export type LocalAws = {
  /** `http://<host>:<port>`, for the AWS SDK clients' `endpoint`. */
  endpoint: string
  host: string
  port: number
  region: string
  accountId: string
  /** Stop accepting connections, let in-flight requests finish (2 s grace), wait for pending writes, release the data directory. */
  close(): Promise<void>
}

export type StartLocalAwsReturnType = LocalAws

/**
 * Start wire-compatible AWS KMS and Secrets Manager on one loopback HTTP server.
 *
 * Requests are dispatched on `X-Amz-Target` (`TrentService.*` → KMS, `secretsmanager.*` → Secrets Manager),
 * authenticated with SigV4 against `principals`, and KMS key operations are authorised by the key policy.
 * The unmodified `@aws-sdk/client-kms` and `@aws-sdk/client-secrets-manager` work against `endpoint`.
 *
 * @param options - see {@link StartLocalAwsParameters}
 * @returns the endpoint and `close()`
 * @throws InvalidArgumentError for a bad option; Error when `dataDir` is locked by another server or holds
 *   invalid state, or when the port cannot be bound
 * @example
 * import { startLocalAws } from '@enclave-custody/local-aws'
 * import { KMSClient, CreateKeyCommand } from '@aws-sdk/client-kms'
 *
 * const aws = await startLocalAws({ dataDir: '.data/aws' })
 * const kms = new KMSClient({ endpoint: aws.endpoint, region: aws.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } })
 * const { KeyMetadata } = await kms.send(new CreateKeyCommand({}))
 * await aws.close()
 */
export async function startLocalAws(options: StartLocalAwsParameters = {}): Promise<LocalAws> {
  const config = resolveLocalAwsConfig(options)
  const unlock = config.dataDir === undefined ? undefined : await lockDataDir(config.dataDir)
  try {
    const file = (name: string) => (config.dataDir === undefined ? undefined : join(config.dataDir, name))
    // A writer killed between write and rename leaves a temporary file; with the lock held, none is in use.
    if (config.dataDir !== undefined) await removeStaleTempFiles(config.dataDir, [KMS_FILE, SECRETS_FILE])
    const fs = config.stateFileSystem
    const kmsStore = await JsonStateStore.open({ file: file(KMS_FILE), initial: initialKmsState, validate: validateKmsState, ...(fs ? { fs } : {}) })
    const secretsStore = await JsonStateStore.open({ file: file(SECRETS_FILE), initial: initialSecretsState, validate: validateSecretsState, ...(fs ? { fs } : {}) })
    const kms = new KmsService({
      store: kmsStore,
      region: config.region,
      clock: config.clock,
      attestationRoots: config.attestationRoots,
      verifyAttestation: config.verifyAttestation ?? sdkVerifyAttestation,
      requireAttestationRoots: config.verifyAttestation === undefined,
    })
    const secrets = new SecretsManagerService({ store: secretsStore, region: config.region, clock: config.clock })
    const server = createServer(
      { requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 },
      createRequestHandler({
        services: [kms, secrets],
        principals: config.principals,
        region: config.region,
        clock: config.clock,
        latencyMs: config.latencyMs,
        log: config.log,
      }),
    )
    server.listen(config.port, config.host)
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([e]) => Promise.reject(e))])
    const { port } = server.address() as AddressInfo
    const hostPart = config.host.includes(':') ? `[${config.host}]` : config.host
    let closing: Promise<void> | undefined
    return {
      endpoint: `http://${hostPart}:${port}`,
      host: config.host,
      port,
      region: config.region,
      accountId: config.accountId,
      close() {
        closing ??= (async () => {
          const closed = new Promise<void>((resolve) => server.close(() => resolve()))
          server.closeIdleConnections()
          const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS)
          await closed
          clearTimeout(force)
          await Promise.all([kmsStore.idle(), secretsStore.idle()])
          await unlock?.()
        })()
        return closing
      },
    }
  } catch (e) {
    await unlock?.()
    throw e
  }
}
