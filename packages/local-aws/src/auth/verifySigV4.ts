import { createHash, timingSafeEqual } from 'node:crypto'
import { Hash } from '@smithy/hash-node'
import { SignatureV4 } from '@smithy/signature-v4'
import type { IdentityPolicyDocument } from '../policy/types.js'
import { AwsServiceError } from '../protocol/AwsServiceError.js'
import { accountOfArn } from './principals.js'

/** A caller's long-term (or session) credentials, keyed by access key id in {@link VerifySigV4Parameters.principals}. */
export type PrincipalCredentials = {
  secretAccessKey: string
  /** The IAM identity the key belongs to: `arn:aws:iam::<account>:user/…`, `…:role/…`, `…:root` or `arn:aws:sts::<account>:assumed-role/<role>/<session>`. */
  arn: string
  /** When set, requests must carry this `X-Amz-Security-Token` (temporary credentials). */
  sessionToken?: string
  /**
   * The principal's IAM identity-based policies (JSON text or documents, no `Principal`). They decide what a
   * key policy statement naming the account (`arn:aws:iam::<account>:root`) lets this principal do, every
   * IAM-only KMS action (`CreateKey`, `ListKeys`, `ListAliases`, `GenerateRandom`) and every Secrets Manager
   * action. Not allowed for an account root ARN, which has every permission. @default [] (no IAM permissions)
   */
  policies?: readonly (string | IdentityPolicyDocument)[]
}

/** Who signed a request. */
export type AuthenticatedPrincipal = {
  accessKeyId: string
  arn: string
  accountId: string
}

/** The parts of an HTTP request that SigV4 covers. */
export type SigV4Request = {
  method: string
  /** The request target as received (`/path?query`). */
  url: string
  /** Node's `IncomingMessage.rawHeaders`: name, value, name, value, … */
  rawHeaders: readonly string[]
  body: Uint8Array
}

export type VerifySigV4Parameters = {
  request: SigV4Request
  /** The signing name the credential scope must name (`kms`, `secretsmanager`). */
  service: string
  /** The region the credential scope must name. */
  region: string
  principals: ReadonlyMap<string, PrincipalCredentials>
  now: Date
  /** @default 300_000 (5 minutes, as AWS) */
  maxSkewMs?: number
  /**
   * Headers the signature must cover besides `host` and `x-amz-date` (lower case). For the awsJson protocol
   * the operation (`x-amz-target`) and the body's media type (`content-type`) are part of what the caller
   * means, and every AWS SDK signs them; a signature without them could be replayed as another operation.
   * @default ['content-type', 'x-amz-target']
   */
  requiredSignedHeaders?: readonly string[]
}

const ALGORITHM = 'AWS4-HMAC-SHA256'
const CONTENT_SHA256 = 'x-amz-content-sha256'
const REQUIRED_SIGNED_HEADERS = ['content-type', 'x-amz-target'] as const

/** `x-amz-target` → `X-Amz-Target`, as AWS names headers in its messages. */
function displayName(header: string): string {
  return header.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => `${dash}${c.toUpperCase()}`)
}
const AMZ_DATE = /^(\d{8})T\d{6}Z$/

const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.'

/**
 * Verify an AWS Signature Version 4 `Authorization` header and return the signing principal.
 *
 * Has the AWS SDK's own signer (`@smithy/signature-v4`, hashing with `node:crypto` through `@smithy/hash-node`) sign the request as received —
 * method, raw path, query, exactly the headers named in `SignedHeaders`, the SHA-256 of the received body — with the
 * secret from `principals` and the scope and date of the header, and compares the signatures in constant time.
 *
 * @param parameters - the request, expected scope, known principals and the current time
 * @returns the principal whose access key signed the request
 * @throws AwsServiceError `MissingAuthenticationTokenException` (no Authorization header),
 *   `IncompleteSignatureException` (malformed header; `host`, `x-amz-date` or a `requiredSignedHeaders` entry
 *   not signed), `UnrecognizedClientException` (unknown access key or
 *   session token), `InvalidSignatureException` (wrong scope, wrong signature, or x-amz-date more than
 *   `maxSkewMs` away from `now`)
 * @example
 * import { verifySigV4 } from '@enclave-custody/local-aws'
 * const principal = await verifySigV4({ request, service: 'kms', region: 'us-east-1', principals, now: new Date() })
 */
export async function verifySigV4(parameters: VerifySigV4Parameters): Promise<AuthenticatedPrincipal> {
  const { request, service, region, principals, now, maxSkewMs = 300_000, requiredSignedHeaders = REQUIRED_SIGNED_HEADERS } = parameters
  const headers = headerMap(request.rawHeaders)

  const authorization = headers.get('authorization')
  if (authorization === undefined || authorization.length === 0) {
    throw authError('MissingAuthenticationTokenException', 'Missing Authentication Token')
  }
  if (authorization.length > 1) throw incomplete('Only one Authorization header is allowed.')
  const auth = parseAuthorization(authorization[0]!)

  const scope = auth.credential.split('/')
  if (scope.length !== 5 || scope.some((part) => part.length === 0)) {
    throw incomplete(
      `Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${auth.credential.slice(0, 256)}'`,
    )
  }
  const [accessKeyId, scopeDate, scopeRegion, scopeService, terminator] = scope as [string, string, string, string, string]
  if (terminator !== 'aws4_request') throw authError('InvalidSignatureException', "Credential should be scoped with a valid terminator: 'aws4_request'.")

  const signedHeaders = auth.signedHeaders.split(';')
  if (!signedHeaders.includes('host')) throw incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
  const amzDateValues = headers.get('x-amz-date')
  const amzDate = amzDateValues?.length === 1 ? amzDateValues[0]!.trim() : undefined
  const amzDateMatch = amzDate === undefined ? null : AMZ_DATE.exec(amzDate)
  if (amzDate === undefined || amzDateMatch === null) {
    throw incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
  }
  if (!signedHeaders.includes('x-amz-date')) throw incomplete("'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
  for (const name of requiredSignedHeaders) {
    if (!signedHeaders.includes(name)) throw incomplete(`'${displayName(name)}' must be a 'SignedHeader' in the AWS Authorization.`)
  }

  const credentials = principals.get(accessKeyId)
  if (credentials === undefined) {
    throw authError('UnrecognizedClientException', 'The security token included in the request is invalid.')
  }
  const tokenValues = headers.get('x-amz-security-token')
  const token = tokenValues?.[0]
  if ((tokenValues !== undefined && tokenValues.length !== 1) || credentials.sessionToken !== token) {
    throw authError('UnrecognizedClientException', 'The security token included in the request is invalid.')
  }
  if (token !== undefined && !signedHeaders.includes('x-amz-security-token')) {
    throw incomplete("'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.")
  }

  if (scopeDate !== amzDateMatch[1]) {
    throw authError(
      'InvalidSignatureException',
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${amzDateMatch[1]}', from '${amzDate}'.`,
    )
  }
  if (scopeRegion !== region) {
    throw authError('InvalidSignatureException', `Credential should be scoped to a valid region, not '${scopeRegion.slice(0, 64)}'. `)
  }
  if (scopeService !== service) {
    throw authError('InvalidSignatureException', `Credential should be scoped to correct service: '${service}'. `)
  }

  const signedAt = parseAmzDate(amzDate)
  const expected = await expectedSignature(request, headers, signedHeaders, {
    accessKeyId,
    secretAccessKey: credentials.secretAccessKey,
    signingDate: new Date(signedAt),
    region: scopeRegion,
    service: scopeService,
  })
  if (expected === undefined || !/^[0-9a-f]{64}$/.test(auth.signature) || !timingSafeEqual(expected, Buffer.from(auth.signature, 'hex'))) {
    throw authError('InvalidSignatureException', SIGNATURE_MISMATCH)
  }

  const nowMs = now.getTime()
  if (nowMs - signedAt > maxSkewMs) {
    throw authError(
      'InvalidSignatureException',
      `Signature expired: ${amzDate} is now earlier than ${formatAmzDate(nowMs - maxSkewMs)} (${formatAmzDate(nowMs)} - ${maxSkewMs / 60_000} min.)`,
    )
  }
  if (signedAt - nowMs > maxSkewMs) {
    throw authError(
      'InvalidSignatureException',
      `Signature not yet current: ${amzDate} is still later than ${formatAmzDate(nowMs + maxSkewMs)} (${formatAmzDate(nowMs)} + ${maxSkewMs / 60_000} min.)`,
    )
  }

  return { accessKeyId, arn: credentials.arn, accountId: accountOfArn(credentials.arn) }
}

type SigningScope = { accessKeyId: string; secretAccessKey: string; signingDate: Date; region: string; service: string }

/**
 * The signature the client should have sent, computed by `@smithy/signature-v4` over the request as received: the
 * raw path (the signer normalises and escapes it once more, as for every service but S3), the query decoded into
 * its parameters (the signer escapes and sorts them), only the headers the client signed (so an unsigned one cannot
 * change the result, and one it signed that is usually unsignable, such as `user-agent`, still counts), and the
 * SHA-256 of the body received. `undefined` when a signed `x-amz-content-sha256` is not the hash of that body: the
 * signer would take the header's word for the payload.
 */
async function expectedSignature(
  request: SigV4Request,
  headers: ReadonlyMap<string, readonly string[]>,
  signedHeaders: readonly string[],
  scope: SigningScope,
): Promise<Buffer | undefined> {
  const signed = Object.fromEntries(signedHeaders.map((name) => [name, (headers.get(name) ?? []).map((v) => v.trim()).join(',')]))
  const bodyHash = createHash('sha256').update(request.body).digest('hex')
  if (Object.hasOwn(signed, CONTENT_SHA256) && signed[CONTENT_SHA256] !== bodyHash) return undefined
  const signer = new SignatureV4({
    service: scope.service,
    region: scope.region,
    credentials: { accessKeyId: scope.accessKeyId, secretAccessKey: scope.secretAccessKey },
    sha256: Hash.bind(null, 'sha256'),
    // Sign what was received: no x-amz-content-sha256 header added where the client sent none.
    applyChecksum: false,
  })
  const q = request.url.indexOf('?')
  const result = await signer.sign(
    {
      method: request.method,
      protocol: 'http:',
      hostname: 'localhost',
      path: q === -1 ? request.url : request.url.slice(0, q),
      query: q === -1 ? {} : queryParameters(request.url.slice(q + 1)),
      headers: signed,
      body: request.body,
    },
    { signingDate: scope.signingDate, signingRegion: scope.region, signingService: scope.service, signableHeaders: new Set(signedHeaders) },
  )
  const signature = /, Signature=([0-9a-f]{64})$/.exec(String(result.headers.authorization))?.[1]
  return signature === undefined ? undefined : Buffer.from(signature, 'hex')
}

/** `a=1&b=x%20y&a=2` → `{ a: ['1', '2'], b: 'x y' }`: each name and value percent-decoded once (kept as is when invalid). */
function queryParameters(query: string): Record<string, string | string[]> {
  const parameters = new Map<string, string[]>()
  for (const part of query.split('&')) {
    if (part === '') continue
    const eq = part.indexOf('=')
    const name = safeDecode(eq === -1 ? part : part.slice(0, eq))
    const value = eq === -1 ? '' : safeDecode(part.slice(eq + 1))
    const values = parameters.get(name)
    if (values === undefined) parameters.set(name, [value])
    else values.push(value)
  }
  return Object.fromEntries([...parameters].map(([name, values]) => [name, values.length === 1 ? values[0]! : values]))
}

type ParsedAuthorization = { credential: string; signedHeaders: string; signature: string }

function parseAuthorization(value: string): ParsedAuthorization {
  const space = value.indexOf(' ')
  const algorithm = space === -1 ? value : value.slice(0, space)
  if (algorithm !== ALGORITHM) throw incomplete(`Unsupported AWS 'algorithm': '${algorithm.slice(0, 64)}'`)
  const fields = new Map<string, string>()
  for (const part of value.slice(space + 1).split(',')) {
    const eq = part.indexOf('=')
    if (eq === -1) continue
    fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim())
  }
  const missing = ['Credential', 'Signature', 'SignedHeaders'].filter((name) => !fields.get(name))
  if (missing.length > 0) {
    throw incomplete(missing.map((name) => `Authorization header requires '${name}' parameter.`).join(' '))
  }
  return { credential: fields.get('Credential')!, signedHeaders: fields.get('SignedHeaders')!, signature: fields.get('Signature')! }
}

function headerMap(rawHeaders: readonly string[]): Map<string, string[]> {
  const map = new Map<string, string[]>()
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase()
    const values = map.get(name)
    if (values === undefined) map.set(name, [rawHeaders[i + 1]!])
    else values.push(rawHeaders[i + 1]!)
  }
  return map
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}

function parseAmzDate(value: string): number {
  const iso = `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6, 8)}T${value.slice(9, 11)}:${value.slice(11, 13)}:${value.slice(13, 15)}Z`
  const ms = Date.parse(iso)
  // Date.parse rolls 20260230 over to 20260302: only a date that formats back to itself is one.
  if (Number.isNaN(ms) || formatAmzDate(ms) !== value) throw incomplete(`Invalid X-Amz-Date '${value}'.`)
  return ms
}

function formatAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '')
}

function incomplete(message: string): AwsServiceError {
  return authError('IncompleteSignatureException', message)
}

function authError(code: string, message: string): AwsServiceError {
  return new AwsServiceError({ code, message })
}
