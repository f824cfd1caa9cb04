import { createHash } from 'node:crypto'
import { Sha256 } from '@aws-crypto/sha256-js'
import { SignatureV4 } from '@smithy/signature-v4'
import { describe, expect, it } from 'vitest'
import { AwsServiceError } from '../protocol/AwsServiceError.js'
import { type PrincipalCredentials, type SigV4Request, verifySigV4 } from './verifySigV4.js'

const NOW = new Date('2026-03-01T12:00:00Z')
const principals = new Map<string, PrincipalCredentials>([
  ['AKIAUSER', { secretAccessKey: 'user-secret', arn: 'arn:aws:iam::111122223333:user/alice' }],
  ['ASIATEMP', { secretAccessKey: 'temp-secret', arn: 'arn:aws:sts::111122223333:assumed-role/enclave/i-0abc', sessionToken: 'session-token-1' }],
])

type SignOptions = {
  /** Headers the signer must leave out of SignedHeaders (an SDK never does this for these two). */
  unsigned?: string[]
  accessKeyId?: string
  secretAccessKey?: string
  sessionToken?: string
  region?: string
  service?: string
  signingDate?: Date
  body?: string
  path?: string
  query?: Record<string, string | string[]>
  /** @default true (the JS SDK signs `x-amz-content-sha256`; boto3 and the CLI do not for KMS) */
  applyChecksum?: boolean
}

/** Sign a KMS-like request with the AWS SDK's own signer and return it in the shape the server sees. */
async function signed(options: SignOptions = {}): Promise<SigV4Request & { headers: Record<string, string> }> {
  const body = options.body ?? '{"KeyId":"alias/x"}'
  const signer = new SignatureV4({
    service: options.service ?? 'kms',
    region: options.region ?? 'us-east-1',
    sha256: Sha256,
    ...(options.applyChecksum === undefined ? {} : { applyChecksum: options.applyChecksum }),
    credentials: {
      accessKeyId: options.accessKeyId ?? 'AKIAUSER',
      secretAccessKey: options.secretAccessKey ?? 'user-secret',
      ...(options.sessionToken === undefined ? {} : { sessionToken: options.sessionToken }),
    },
  })
  const request = await signer.sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 4566,
      path: options.path ?? '/',
      query: options.query ?? {},
      headers: {
        host: '127.0.0.1:4566',
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'TrentService.DescribeKey',
        'user-agent': 'test/1.0',
      },
      body,
    },
    { signingDate: options.signingDate ?? NOW, ...(options.unsigned ? { unsignableHeaders: new Set(options.unsigned) } : {}) },
  )
  const qs = Object.entries(options.query ?? {})
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((one) => `${encodeURIComponent(k)}=${encodeURIComponent(one)}`))
    .join('&')
  const headers = request.headers as Record<string, string>
  return {
    method: 'POST',
    url: `${options.path ?? '/'}${qs === '' ? '' : `?${qs}`}`,
    rawHeaders: Object.entries(headers).flat(),
    body: new TextEncoder().encode(body),
    headers,
  }
}

function verify(request: SigV4Request, now = NOW, service = 'kms') {
  return verifySigV4({ request, service, region: 'us-east-1', principals, now })
}

async function errorOf(fn: () => Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await fn()
  } catch (e) {
    if (e instanceof AwsServiceError) return { code: e.code, message: e.message }
    throw e
  }
  throw new Error('expected an AwsServiceError')
}

function withHeader(request: SigV4Request, name: string, value: string | undefined): SigV4Request {
  const raw: string[] = []
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    if (request.rawHeaders[i]!.toLowerCase() !== name) raw.push(request.rawHeaders[i]!, request.rawHeaders[i + 1]!)
  }
  if (value !== undefined) raw.push(name, value)
  return { ...request, rawHeaders: raw }
}

describe('verifySigV4 accepts what the AWS SDK signer produces', () => {
  it('returns the principal for a valid signature', async () => {
    expect(await verify(await signed())).toEqual({ accessKeyId: 'AKIAUSER', arn: 'arn:aws:iam::111122223333:user/alice', accountId: '111122223333' })
  })

  it('accepts a session token when the principal has it', async () => {
    const request = await signed({ accessKeyId: 'ASIATEMP', secretAccessKey: 'temp-secret', sessionToken: 'session-token-1' })
    expect((await verify(request)).arn).toBe('arn:aws:sts::111122223333:assumed-role/enclave/i-0abc')
  })

  it('handles query strings, odd paths and header whitespace like the SDK', async () => {
    // As in the SDK, the signer gets the path as sent on the wire (already escaped) and double-escapes it.
    const request = await signed({ path: '/a%20b/./c/', query: { b: '2', a: 'x y*' } })
    const encoded = { ...request, url: '/a%20b/./c/?b=2&a=x%20y%2A' }
    expect((await verify(encoded)).accessKeyId).toBe('AKIAUSER')
    expect((await verify(withHeader(encoded, 'x-amz-target', '  TrentService.DescribeKey  '))).accessKeyId).toBe('AKIAUSER')
  })

  it('repeated query parameters, in any order on the wire', async () => {
    const request = await signed({ query: { a: ['2', '1'], b: '' } })
    expect(request.url).toBe('/?a=2&a=1&b=')
    expect((await verify(request)).accessKeyId).toBe('AKIAUSER')
    expect((await verify({ ...request, url: '/?b=&a=1&a=2' })).accessKeyId).toBe('AKIAUSER')
    expect((await errorOf(() => verify({ ...request, url: '/?a=2&a=3&b=' }))).code).toBe('InvalidSignatureException')
  })

  it('a client that does not sign x-amz-content-sha256: the payload hash is the received body, never an unsigned header', async () => {
    const request = await signed({ applyChecksum: false })
    expect(request.headers.authorization).not.toContain('x-amz-content-sha256')
    expect((await verify(request)).accessKeyId).toBe('AKIAUSER')
    // An unsigned x-amz-content-sha256 claiming the hash of another body changes nothing: neither accepted for that
    // body nor refused for this one.
    const other = new TextEncoder().encode('{"KeyId":"alias/y"}')
    const claimed = withHeader(request, 'x-amz-content-sha256', createHash('sha256').update(other).digest('hex'))
    expect((await verify(claimed)).accessKeyId).toBe('AKIAUSER')
    expect((await errorOf(() => verify({ ...claimed, body: other }))).code).toBe('InvalidSignatureException')
  })

  it('accepts requests within 5 minutes of skew either way', async () => {
    expect((await verify(await signed({ signingDate: new Date(NOW.getTime() - 299_000) }))).accessKeyId).toBe('AKIAUSER')
    expect((await verify(await signed({ signingDate: new Date(NOW.getTime() + 299_000) }))).accessKeyId).toBe('AKIAUSER')
  })
})

describe('verifySigV4 rejects', () => {
  it('a missing Authorization header', async () => {
    const request = withHeader(await signed(), 'authorization', undefined)
    expect(await errorOf(() => verify(request))).toEqual({ code: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' })
  })

  it('an unknown access key', async () => {
    const request = await signed({ accessKeyId: 'AKIANOBODY' })
    expect(await errorOf(() => verify(request))).toEqual({ code: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' })
  })

  it('the wrong secret', async () => {
    const request = await signed({ secretAccessKey: 'not-the-secret' })
    expect((await errorOf(() => verify(request))).code).toBe('InvalidSignatureException')
    expect((await errorOf(() => verify(request))).message).toMatch(/^The request signature we calculated does not match/)
  })

  it('a tampered body, signed header, path or query', async () => {
    const request = await signed()
    expect((await errorOf(() => verify({ ...request, body: new TextEncoder().encode('{"KeyId":"alias/y"}') }))).code).toBe('InvalidSignatureException')
    expect((await errorOf(() => verify(withHeader(request, 'x-amz-target', 'TrentService.Decrypt')))).code).toBe('InvalidSignatureException')
    expect((await errorOf(() => verify({ ...request, url: '/other' }))).code).toBe('InvalidSignatureException')
    expect((await errorOf(() => verify({ ...request, url: '/?a=1' }))).code).toBe('InvalidSignatureException')
    expect((await errorOf(() => verify({ ...request, method: 'PUT' }))).code).toBe('InvalidSignatureException')
  })

  it('but ignores unsigned headers', async () => {
    const request = await signed()
    expect(request.headers.authorization).not.toMatch(/user-agent/)
    expect((await verify(withHeader(request, 'user-agent', 'something else'))).accessKeyId).toBe('AKIAUSER')
  })

  it('a signature expired or not yet current by more than 5 minutes', async () => {
    const old = await signed({ signingDate: new Date(NOW.getTime() - 301_000) })
    expect(await errorOf(() => verify(old))).toEqual({
      code: 'InvalidSignatureException',
      message: 'Signature expired: 20260301T115459Z is now earlier than 20260301T115500Z (20260301T120000Z - 5 min.)',
    })
    const future = await signed({ signingDate: new Date(NOW.getTime() + 301_000) })
    expect(await errorOf(() => verify(future))).toEqual({
      code: 'InvalidSignatureException',
      message: 'Signature not yet current: 20260301T120501Z is still later than 20260301T120500Z (20260301T120000Z + 5 min.)',
    })
  })

  it('a credential scoped to another region or service', async () => {
    const region = await signed({ region: 'eu-west-1' })
    expect((await errorOf(() => verify(region))).message).toBe("Credential should be scoped to a valid region, not 'eu-west-1'. ")
    const service = await signed({ service: 'secretsmanager' })
    expect((await errorOf(() => verify(service))).message).toBe("Credential should be scoped to correct service: 'kms'. ")
    expect((await verify(service, NOW, 'secretsmanager')).accessKeyId).toBe('AKIAUSER')
  })

  it('an x-amz-date that disagrees with the credential scope date', async () => {
    const request = await signed()
    const shifted = withHeader(request, 'x-amz-date', '20260302T000000Z')
    expect((await errorOf(() => verify(shifted, new Date('2026-03-02T00:00:00Z')))).message).toMatch(/^Date in Credential scope does not match/)
  })

  it('session tokens that are missing, unexpected or wrong', async () => {
    const missing = await signed({ accessKeyId: 'ASIATEMP', secretAccessKey: 'temp-secret' })
    expect((await errorOf(() => verify(missing))).code).toBe('UnrecognizedClientException')
    const wrong = await signed({ accessKeyId: 'ASIATEMP', secretAccessKey: 'temp-secret', sessionToken: 'other' })
    expect((await errorOf(() => verify(wrong))).code).toBe('UnrecognizedClientException')
    const unexpected = await signed({ sessionToken: 'session-token-1' })
    expect((await errorOf(() => verify(unexpected))).code).toBe('UnrecognizedClientException')
  })

  it.each([
    ['another algorithm', (a: string) => a.replace('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA512')],
    ['no Credential', (a: string) => a.replace(/Credential=[^,]+,\s*/, '')],
    ['no Signature', (a: string) => a.replace(/,\s*Signature=[0-9a-f]+/, '')],
    ['a short credential', (a: string) => a.replace(/Credential=AKIAUSER\/\d{8}\//, 'Credential=AKIAUSER/')],
    ['host not signed', (a: string) => a.replace('host;', '')],
  ])('a malformed Authorization header: %s', async (_, edit) => {
    const request = await signed()
    const code = (await errorOf(() => verify(withHeader(request, 'authorization', edit(request.headers.authorization!))))).code
    expect(code).toBe('IncompleteSignatureException')
  })

  it.each([
    ['x-amz-target', "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization."],
    ['content-type', "'Content-Type' must be a 'SignedHeader' in the AWS Authorization."],
  ])('a valid signature that does not cover %s (the operation could be swapped)', async (header, message) => {
    const request = await signed({ unsigned: [header] })
    expect(request.headers.authorization).not.toContain(header)
    expect(await errorOf(() => verify(request))).toEqual({ code: 'IncompleteSignatureException', message })
    // The attack it stops: the same signature, another operation.
    if (header === 'x-amz-target') expect((await errorOf(() => verify(withHeader(request, 'x-amz-target', 'TrentService.Decrypt')))).code).toBe('IncompleteSignatureException')
    // Without the requirement the signature itself is valid: the check, not the signature, refuses it.
    expect((await verifySigV4({ request, service: 'kms', region: 'us-east-1', principals, now: NOW, requiredSignedHeaders: [] })).accessKeyId).toBe('AKIAUSER')
  })

  it('an x-amz-date that is not a calendar date (Date.parse would roll 30 February over to March)', async () => {
    const request = await signed()
    const edited = withHeader(
      withHeader(request, 'x-amz-date', '20260230T120000Z'),
      'authorization',
      request.headers.authorization!.replace('/20260301/', '/20260230/'),
    )
    expect(await errorOf(() => verify(edited))).toEqual({ code: 'IncompleteSignatureException', message: "Invalid X-Amz-Date '20260230T120000Z'." })
  })

  it('a request without x-amz-date', async () => {
    const request = await signed()
    expect((await errorOf(() => verify(withHeader(request, 'x-amz-date', undefined)))).code).toBe('IncompleteSignatureException')
  })
})
