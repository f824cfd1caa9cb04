/**
 * The signing Lambda: the AWS sample's operations (`set_key`, `get_address`, `sign_transaction`), plus
 * `generate_key`, on top of `@enclave-custody/sdk`. Keys are sealed by KMS Encrypt on import and only ever unsealed inside the
 * attested enclave, which signs behind the parent proxies' load balancer.
 */
import { KMSClient } from '@aws-sdk/client-kms'
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { type CustodyClient, createCustodyClient, createKmsImporter, type KmsImporter, nitroEnclave } from '@enclave-custody/sdk'
import { ErrorCode, httpStatusOf, isCustodyError, KEY_ID_PATTERN } from '@enclave-custody/sdk/protocol'
import { HANDLER_ENVIRONMENT } from './environment.js'
import { parseSigningRequest } from './parseSigningRequest.js'

/** What the Lambda returns: a status and a JSON body; errors are `{ code, message }` with a non-200 status. */
export type SigningResponse =
  | { statusCode: 200; body: Record<string, string> }
  | { statusCode: number; body: { code: string; message: string } }

/** One structured log line; never carries key material or payload values. */
export type SigningLogEntry = { level: 'info' | 'warn' | 'error'; msg: string; operation?: string; keyId?: string; statusCode: number; code?: string; err?: string }

export type CreateHandlerParameters = {
  /** Client of the attested enclave (through the parent proxy), created with `importer` (generate_key stores its record). */
  custody: CustodyClient
  /** Seals imported keys (KMS Encrypt) and stores their records (Secrets Manager). */
  importer: KmsImporter
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
 * import { createCustodyClient, nitroEnclave } from '@enclave-custody/sdk'
 * const handler = createHandler({ custody: createCustodyClient({ transport: nitroEnclave({ url }) }), importer, keyId: 'default' })
 * await handler({ operation: 'get_address' }) // { statusCode: 200, body: { key_id: 'default', address: '0x…' } }
 */
export function createHandler({ custody, importer, keyId: defaultKeyId, log = defaultLog }: CreateHandlerParameters): (event: unknown) => Promise<SigningResponse> {
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
          const record = await importer.importPrivateKey({ privateKey: request.privateKey, keyId: request.keyId })
          body = { key_id: record.keyId, address: record.address }
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

/** The deployed entry point: wires the clients from the environment on first use (bearer token from Secrets Manager). */
export async function handler(event: unknown): Promise<SigningResponse> {
  deployed ??= fromEnvironment(process.env).catch((e: unknown) => {
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

async function fromEnvironment(env: NodeJS.ProcessEnv): Promise<(event: unknown) => Promise<SigningResponse>> {
  const get = (name: string) => {
    const v = env[name]
    if (!v) throw new Error(`${name} is not set`)
    return v
  }
  const E = HANDLER_ENVIRONMENT
  const secretsManager = new SecretsManagerClient({ maxAttempts: 3 })
  const token = (await secretsManager.send(new GetSecretValueCommand({ SecretId: get(E.authTokenSecretArn) }))).SecretString
  if (!token) throw new Error('the proxy bearer token secret is empty')
  const importer = createKmsImporter({
    kms: new KMSClient({ maxAttempts: 3 }),
    secretsManager,
    kmsKeyId: get(E.kmsKeyId),
    secretsKmsKeyId: get(E.recordsKmsKeyId),
    secretPrefix: get(E.secretPrefix),
  })
  const custody = createCustodyClient({
    transport: nitroEnclave({ url: get(E.proxyUrl), headers: { authorization: `Bearer ${token.trim()}` }, timeoutMs: 10_000 }),
    importer,
  })
  return createHandler({ custody, importer, keyId: get(E.defaultKeyId) })
}
