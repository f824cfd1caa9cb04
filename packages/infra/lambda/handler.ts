/**
 * The signing Lambda: the AWS sample's operations (`set_key`, `get_address`, `sign_transaction`), plus
 * `generate_key`, on top of `@enclave-custody/sdk`. Keys are sealed with HPKE to the attested enclave on import (no KMS
 * call here: the function's role has no permission on the sealing key; offline KMS imports are the importer role's) and only
 * ever unsealed inside the attested enclave, which signs behind the parent proxies' load balancer. Every request to the enclave is
 * stamped with the function's API key (derived from its Secrets Manager secret), and the client accepts only
 * answers signed by an enclave it attested against the stack's PCR0 allowlist.
 */
import { KMSClient } from '@aws-sdk/client-kms'
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import {
  type AttestationPolicy,
  apiKeyStamper,
  checkAttestationPolicy,
  type CustodyClient,
  createCustodyClient,
  createKmsImporter,
  type KmsImporter,
  nitroEnclave,
} from '@enclave-custody/sdk'
import { ErrorCode, httpStatusOf, isCustodyError, KEY_ID_PATTERN } from '@enclave-custody/sdk/protocol'
import { deriveApiKey } from './deriveApiKey.js'
import { HANDLER_ENVIRONMENT } from './environment.js'
import { parseSigningRequest } from './parseSigningRequest.js'

/** What the Lambda returns: a status and a JSON body; errors are `{ code, message }` with a non-200 status. */
export type SigningResponse =
  | { statusCode: 200; body: Record<string, string> }
  | { statusCode: number; body: { code: string; message: string } }

/** One structured log line; never carries key material or payload values. */
export type SigningLogEntry = { level: 'info' | 'warn' | 'error'; msg: string; operation?: string; keyId?: string; statusCode: number; code?: string; err?: string }

export type CreateHandlerParameters = {
  /**
   * Client of the attested enclave (through the parent proxy), created with a `stamper` and with an
   * `importer`: set_key seals the key with HPKE to the attested enclave and generate_key has the enclave make
   * one; either way the importer stores the enclave's signed record (Secrets Manager), and the keys are owned
   * by the client's API key.
   */
  custody: CustodyClient
  /** keyId used when a payload names none (`key_id`). */
  keyId: string
  /** @default one JSON line per request on stdout / stderr */
  log?: (entry: SigningLogEntry) => void
}

const defaultLog = (entry: SigningLogEntry) => (entry.level === 'info' ? console.log : console.error)(JSON.stringify(entry))

/**
 * Build the Lambda handler around injected clients, so tests run it against the local stack.
 *
 * @throws TypeError when `keyId` is not a valid key id; the handler itself never throws.
 * @example
 * import { apiKeyStamper, createCustodyClient, nitroEnclave } from '@enclave-custody/sdk'
 * const custody = createCustodyClient({ transport: nitroEnclave({ url, attestation: { pcr0 } }), stamper: apiKeyStamper({ privateKey }), importer })
 * const handler = createHandler({ custody, keyId: 'default' })
 * await handler({ operation: 'get_address' }) // { statusCode: 200, body: { key_id: 'default', address: '0x…' } }
 */
export function createHandler({ custody, keyId: defaultKeyId, log = defaultLog }: CreateHandlerParameters): (event: unknown) => Promise<SigningResponse> {
  if (typeof defaultKeyId !== 'string' || !KEY_ID_PATTERN.test(defaultKeyId)) throw new TypeError('createHandler: keyId is not a valid key id')
  return async (event) => {
    let operation: string | undefined
    let keyId: string | undefined
    try {
      const request = parseSigningRequest(event, defaultKeyId)
      operation = request.operation
      keyId = request.keyId
      let body: Record<string, string>
      switch (request.operation) {
        case 'set_key': {
          // Sealed with HPKE to the attested enclave (never in plaintext past this process); the enclave's signed
          // v2 record is stored by the importer; the key is owned by this function's API key.
          const key = await custody.importKey({ privateKey: request.privateKey, keyId: request.keyId })
          body = { key_id: key.keyId, address: key.address }
          break
        }
        case 'generate_key': {
          const key = await custody.importKey({ generate: true, keyId: request.keyId })
          body = { key_id: key.keyId, address: key.address }
          break
        }
        case 'get_address': {
          const key = await custody.getKey(request.keyId)
          body = { key_id: key.keyId, address: key.address }
          break
        }
        case 'sign_transaction': {
          const signed = await custody.signEip1559(request.keyId, request.transaction)
          body = { key_id: request.keyId, address: signed.from, transaction_signed: signed.rawTransaction, transaction_hash: signed.hash }
          break
        }
      }
      log({ level: 'info', msg: 'done', operation, keyId, statusCode: 200 })
      return { statusCode: 200, body }
    } catch (e) {
      if (isCustodyError(e)) {
        const statusCode = httpStatusOf[e.code] ?? 500
        log({ level: statusCode >= 500 ? 'error' : 'warn', msg: 'refused', ...(operation ? { operation } : {}), ...(keyId ? { keyId } : {}), statusCode, code: e.code })
        return { statusCode, body: { code: e.code, message: e.shortMessage } }
      }
      // Not one of ours: log its name only (a foreign message may quote request data), answer generically.
      log({ level: 'error', msg: 'failed', ...(operation ? { operation } : {}), statusCode: 500, code: ErrorCode.INTERNAL, err: (e as Error)?.name ?? typeof e })
      return { statusCode: 500, body: { code: ErrorCode.INTERNAL, message: 'internal error' } }
    }
  }
}

let deployed: Promise<(event: unknown) => Promise<SigningResponse>> | undefined

/**
 * The deployed entry point: wires the clients from the environment on first use (bearer token and API key
 * from Secrets Manager, the PCR0 allowlist from `CUSTODY_PCR0`); a configuration failure answers 503 and is
 * retried on the next invocation.
 */
export async function handler(event: unknown): Promise<SigningResponse> {
  deployed ??= createHandlerFromEnvironment({ env: process.env }).catch((e: unknown) => {
    deployed = undefined
    throw e
  })
  let run: (event: unknown) => Promise<SigningResponse>
  try {
    run = await deployed
  } catch (e) {
    defaultLog({ level: 'error', msg: 'not configured', statusCode: 503, code: ErrorCode.UNAVAILABLE, err: (e as Error)?.message })
    return { statusCode: 503, body: { code: ErrorCode.UNAVAILABLE, message: 'the signing service is not configured or cannot reach its secrets' } }
  }
  return run(event)
}

/** What the handler reads secrets with: a `SecretsManagerClient`, or a stand-in in tests. */
export type SecretReader = { send(command: GetSecretValueCommand): Promise<{ SecretString?: string | undefined }> }

export type CreateHandlerFromEnvironmentParameters = {
  /** The function's environment (names in `HANDLER_ENVIRONMENT`). */
  env: Readonly<Record<string, string | undefined>>
  /** Reads the bearer-token and API-key secrets. @default a Secrets Manager client of the function's role */
  secretsManager?: SecretReader
  /** Seals imported keys and stores their records. @default a KMS importer of the function's role, configured from `env` */
  importer?: KmsImporter
  /** Attestation roots, PEM. @default the AWS Nitro Enclaves root (tests against the local stack pass its software NSM root) */
  roots?: readonly string[]
  /** @default one JSON line per request */
  log?: (entry: SigningLogEntry) => void
}

/**
 * Build the handler as deployed: read the proxies' bearer token and the API-key secret (GetSecretValue),
 * derive the API key from the secret (`deriveApiKey`), and create a custody client that stamps every request
 * with it and attests the enclave against `CUSTODY_PCR0` (with `CUSTODY_ALLOW_DEBUG_ENCLAVE=true` only for a
 * debug-mode enclave) before its first request.
 *
 * @throws Error naming the variable that is missing or wrong, or the secret that is empty; never quoting a secret.
 */
export async function createHandlerFromEnvironment({ env, secretsManager, importer, roots, log }: CreateHandlerFromEnvironmentParameters): Promise<(event: unknown) => Promise<SigningResponse>> {
  const get = (name: string) => {
    const v = env[name]?.trim()
    if (!v) throw new Error(`${name} is not set`)
    return v
  }
  const E = HANDLER_ENVIRONMENT
  // Every variable first, so a misconfigured function says so before it calls anything.
  const url = get(E.proxyUrl)
  const attestation = attestationPolicyOf(get(E.pcr0), env[E.allowDebugEnclave]?.trim() === 'true', roots)
  const keyId = get(E.defaultKeyId)
  const tokenSecret = get(E.authTokenSecretArn)
  const apiKeySecretArn = get(E.apiKeySecretArn)
  const records = importer ? undefined : { kmsKeyId: get(E.kmsKeyId), secretsKmsKeyId: get(E.recordsKmsKeyId), secretPrefix: get(E.secretPrefix) }

  const client = secretsManager && importer ? undefined : new SecretsManagerClient({ maxAttempts: 3 })
  const secrets: SecretReader = secretsManager ?? client!
  const read = async (secretId: string, what: string) => {
    const value = (await secrets.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString
    if (!value?.trim()) throw new Error(`the ${what} secret is empty`)
    return value
  }
  const [token, apiKeySecret] = await Promise.all([read(tokenSecret, 'proxy bearer token'), read(apiKeySecretArn, 'API key')])
  // The key exists only inside the stamper; the secret string cannot be wiped (see deriveApiKey).
  const stamper = apiKeyStamper({ privateKey: deriveApiKey(apiKeySecret) })
  const sealer = importer ?? createKmsImporter({ kms: new KMSClient({ maxAttempts: 3 }), secretsManager: client!, ...records! })
  const custody = createCustodyClient({
    transport: nitroEnclave({ url, attestation, headers: { authorization: `Bearer ${token.trim()}` }, timeoutMs: 10_000 }),
    stamper,
    importer: sealer,
  })
  return createHandler({ custody, keyId, ...(log ? { log } : {}) })
}

/** The client's attestation policy: `CUSTODY_PCR0` split at commas, checked now (a bad value names the variable). */
function attestationPolicyOf(pcr0: string, allowDebugEnclave: boolean, roots: readonly string[] | undefined): AttestationPolicy {
  const list = pcr0.split(',').map((v) => v.trim()).filter((v) => v.length > 0)
  try {
    return checkAttestationPolicy({ pcr0: list, allowDebugEnclave, ...(roots ? { roots } : {}) })
  } catch (e) {
    throw new Error(`${HANDLER_ENVIRONMENT.pcr0} is not a valid PCR0 allowlist (${isCustodyError(e) ? e.shortMessage : 'malformed'})`)
  }
}
