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
  query?: Record<string, string>
}

/** Sign a KMS-like request with the AWS SDK's own signer and return it in the shape the server sees. */
async function signed(options: SignOptions = {}): Promise<SigV4Request & { headers: Record<string, string> }> {
  const body = options.body ?? '{"KeyId":"alias/x"}'
  const signer = new SignatureV4({
    service: options.service ?? 'kms',
    region: options.region ?? 'us-east-1',
    sha256: Sha256,
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
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
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

function errorOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn()
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
    expect(verify(await signed())).toEqual({ accessKeyId: 'AKIAUSER', arn: 'arn:aws:iam::111122223333:user/alice', accountId: '111122223333' })
  })

  it('accepts a session token when the principal has it', async () => {
    const request = await signed({ accessKeyId: 'ASIATEMP', secretAccessKey: 'temp-secret', sessionToken: 'session-token-1' })
    expect(verify(request).arn).toBe('arn:aws:sts::111122223333:assumed-role/enclave/i-0abc')
  })

  it('handles query strings, odd paths and header whitespace like the SDK', async () => {
    // As in the SDK, the signer gets the path as sent on the wire (already escaped) and double-escapes it.
    const request = await signed({ path: '/a%20b/./c/', query: { b: '2', a: 'x y*' } })
    const encoded = { ...request, url: '/a%20b/./c/?b=2&a=x%20y%2A' }
    expect(verify(encoded).accessKeyId).toBe('AKIAUSER')
    expect(verify(withHeader(encoded, 'x-amz-target', '  TrentService.DescribeKey  ')).accessKeyId).toBe('AKIAUSER')
  })

  it('accepts requests within 5 minutes of skew either way', async () => {
    expect(verify(await signed({ signingDate: new Date(NOW.getTime() - 299_000) })).accessKeyId).toBe('AKIAUSER')
    expect(verify(await signed({ signingDate: new Date(NOW.getTime() + 299_000) })).accessKeyId).toBe('AKIAUSER')
  })
})

describe('verifySigV4 rejects', () => {
  it('a missing Authorization header', async () => {
    const request = withHeader(await signed(), 'authorization', undefined)
    expect(errorOf(() => verify(request))).toEqual({ code: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' })
  })

  it('an unknown access key', async () => {
    const request = await signed({ accessKeyId: 'AKIANOBODY' })
    expect(errorOf(() => verify(request))).toEqual({ code: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' })
  })

  it('the wrong secret', async () => {
    const request = await signed({ secretAccessKey: 'not-the-secret' })
    expect(errorOf(() => verify(request)).code).toBe('InvalidSignatureException')
    expect(errorOf(() => verify(request)).message).toMatch(/^The request signature we calculated does not match/)
  })

  it('a tampered body, signed header, path or query', async () => {
    const request = await signed()
    expect(errorOf(() => verify({ ...request, body: new TextEncoder().encode('{"KeyId":"alias/y"}') })).code).toBe('InvalidSignatureException')
    expect(errorOf(() => verify(withHeader(request, 'x-amz-target', 'TrentService.Decrypt'))).code).toBe('InvalidSignatureException')
    expect(errorOf(() => verify({ ...request, url: '/other' })).code).toBe('InvalidSignatureException')
    expect(errorOf(() => verify({ ...request, url: '/?a=1' })).code).toBe('InvalidSignatureException')
    expect(errorOf(() => verify({ ...request, method: 'PUT' })).code).toBe('InvalidSignatureException')
  })

  it('but ignores unsigned headers', async () => {
    const request = await signed()
    expect(request.headers.authorization).not.toMatch(/user-agent/)
    expect(verify(withHeader(request, 'user-agent', 'something else')).accessKeyId).toBe('AKIAUSER')
  })

  it('a signature expired or not yet current by more than 5 minutes', async () => {
    const old = await signed({ signingDate: new Date(NOW.getTime() - 301_000) })
    expect(errorOf(() => verify(old))).toEqual({
      code: 'InvalidSignatureException',
      message: 'Signature expired: 20260301T115459Z is now earlier than 20260301T115500Z (20260301T120000Z - 5 min.)',
    })
    const future = await signed({ signingDate: new Date(NOW.getTime() + 301_000) })
    expect(errorOf(() => verify(future))).toEqual({
      code: 'InvalidSignatureException',
      message: 'Signature not yet current: 20260301T120501Z is still later than 20260301T120500Z (20260301T120000Z + 5 min.)',
    })
  })

  it('a credential scoped to another region or service', async () => {
    const region = await signed({ region: 'eu-west-1' })
    expect(errorOf(() => verify(region)).message).toBe("Credential should be scoped to a valid region, not 'eu-west-1'. ")
    const service = await signed({ service: 'secretsmanager' })
    expect(errorOf(() => verify(service)).message).toBe("Credential should be scoped to correct service: 'kms'. ")
    expect(verify(service, NOW, 'secretsmanager').accessKeyId).toBe('AKIAUSER')
  })

  it('an x-amz-date that disagrees with the credential scope date', async () => {
    const request = await signed()
    const shifted = withHeader(request, 'x-amz-date', '20260302T000000Z')
    expect(errorOf(() => verify(shifted, new Date('2026-03-02T00:00:00Z'))).message).toMatch(/^Date in Credential scope does not match/)
  })

  it('session tokens that are missing, unexpected or wrong', async () => {
    const missing = await signed({ accessKeyId: 'ASIATEMP', secretAccessKey: 'temp-secret' })
    expect(errorOf(() => verify(missing)).code).toBe('UnrecognizedClientException')
    const wrong = await signed({ accessKeyId: 'ASIATEMP', secretAccessKey: 'temp-secret', sessionToken: 'other' })
    expect(errorOf(() => verify(wrong)).code).toBe('UnrecognizedClientException')
    const unexpected = await signed({ sessionToken: 'session-token-1' })
    expect(errorOf(() => verify(unexpected)).code).toBe('UnrecognizedClientException')
  })

  it.each([
    ['another algorithm', (a: string) => a.replace('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA512')],
    ['no Credential', (a: string) => a.replace(/Credential=[^,]+,\s*/, '')],
    ['no Signature', (a: string) => a.replace(/,\s*Signature=[0-9a-f]+/, '')],
    ['a short credential', (a: string) => a.replace(/Credential=AKIAUSER\/\d{8}\//, 'Credential=AKIAUSER/')],
    ['host not signed', (a: string) => a.replace('host;', '')],
  ])('a malformed Authorization header: %s', async (_, edit) => {
    const request = await signed()
    const code = errorOf(() => verify(withHeader(request, 'authorization', edit(request.headers.authorization!)))).code
    expect(code).toBe('IncompleteSignatureException')
  })

  it.each([
    ['x-amz-target', "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization."],
    ['content-type', "'Content-Type' must be a 'SignedHeader' in the AWS Authorization."],
  ])('a valid signature that does not cover %s (the operation could be swapped)', async (header, message) => {
    const request = await signed({ unsigned: [header] })
    expect(request.headers.authorization).not.toContain(header)
    expect(errorOf(() => verify(request))).toEqual({ code: 'IncompleteSignatureException', message })
    // The attack it stops: the same signature, another operation.
    if (header === 'x-amz-target') expect(errorOf(() => verify(withHeader(request, 'x-amz-target', 'TrentService.Decrypt'))).code).toBe('IncompleteSignatureException')
    // Without the requirement the signature itself is valid: the check, not the signature, refuses it.
    expect(verifySigV4({ request, service: 'kms', region: 'us-east-1', principals, now: NOW, requiredSignedHeaders: [] }).accessKeyId).toBe('AKIAUSER')
  })

  it('a request without x-amz-date', async () => {
    const request = await signed()
    expect(errorOf(() => verify(withHeader(request, 'x-amz-date', undefined))).code).toBe('IncompleteSignatureException')
  })
})
