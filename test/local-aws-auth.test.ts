import { CreateKeyCommand, DescribeKeyCommand, KMSClient, ListKeysCommand } from '@aws-sdk/client-kms'
import { ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import type { LocalAws } from '@enclave-custody/local-aws'
import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { awsError, kmsFor, PRINCIPALS, secretsFor, startTestAws } from './local-aws-fixtures.js'

let aws: LocalAws
const clients: { destroy(): void }[] = []
function track<T extends { destroy(): void }>(client: T): T {
  clients.push(client)
  return client
}

beforeAll(async () => {
  aws = await startTestAws()
})
afterAll(async () => {
  for (const c of clients) c.destroy()
  await aws?.close()
})

describe('SigV4 with the real SDK clients', () => {
  it('accepts every configured principal, including session credentials', async () => {
    for (const who of ['admin', 'importer', 'enclave', 'outsider'] as const) {
      expect((await track(kmsFor(aws, who)).send(new ListKeysCommand({}))).$metadata.httpStatusCode).toBe(200)
      expect((await track(secretsFor(aws, who)).send(new ListSecretsCommand({}))).$metadata.httpStatusCode).toBe(200)
    }
  })

  it('UnrecognizedClientException for an unknown access key (KMS and Secrets Manager)', async () => {
    const credentials = { accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: 'whatever' }
    const kms = track(new KMSClient({ endpoint: aws.endpoint, region: aws.region, credentials, maxAttempts: 1 }))
    expect(await awsError(kms.send(new ListKeysCommand({})))).toEqual({
      name: 'UnrecognizedClientException',
      message: 'The security token included in the request is invalid.',
      status: 400,
    })
    const sm = track(new SecretsManagerClient({ endpoint: aws.endpoint, region: aws.region, credentials, maxAttempts: 1 }))
    expect((await awsError(sm.send(new ListSecretsCommand({})))).name).toBe('UnrecognizedClientException')
  })

  it('InvalidSignatureException for a wrong secret key', async () => {
    const credentials = { accessKeyId: PRINCIPALS.admin.accessKeyId, secretAccessKey: 'not-the-admin-secret' }
    const kms = track(new KMSClient({ endpoint: aws.endpoint, region: aws.region, credentials, maxAttempts: 1 }))
    const err = await awsError(kms.send(new CreateKeyCommand({})))
    expect(err.name).toBe('InvalidSignatureException')
    expect(err.message).toMatch(/^The request signature we calculated does not match the signature you provided\./)
  })

  it('UnrecognizedClientException when temporary credentials lack their session token', async () => {
    const { accessKeyId, secretAccessKey } = PRINCIPALS.enclave
    const kms = track(new KMSClient({ endpoint: aws.endpoint, region: aws.region, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 }))
    expect((await awsError(kms.send(new ListKeysCommand({})))).name).toBe('UnrecognizedClientException')
    const wrongToken = track(
      new KMSClient({ endpoint: aws.endpoint, region: aws.region, credentials: { accessKeyId, secretAccessKey, sessionToken: 'stolen' }, maxAttempts: 1 }),
    )
    expect((await awsError(wrongToken.send(new ListKeysCommand({})))).name).toBe('UnrecognizedClientException')
  })

  it('InvalidSignatureException for a client configured for another region', async () => {
    const kms = track(kmsFor(aws, 'admin', { region: 'ap-southeast-2' }))
    expect(await awsError(kms.send(new ListKeysCommand({})))).toMatchObject({
      name: 'InvalidSignatureException',
      message: "Credential should be scoped to a valid region, not 'ap-southeast-2'. ",
    })
  })

  it.each([
    ['behind', -10 * 60_000, /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)$/],
    ['ahead', 10 * 60_000, /^Signature not yet current: \d{8}T\d{6}Z is still later than \d{8}T\d{6}Z \(\d{8}T\d{6}Z \+ 5 min\.\)$/],
  ])('rejects a client clock 10 minutes %s, which the SDK then corrects from the Date header', async (_, offset, message) => {
    const kms = track(kmsFor(aws, 'admin', { systemClockOffset: offset }))
    const err = await awsError(kms.send(new ListKeysCommand({})))
    expect(err.name).toBe('InvalidSignatureException')
    expect(err.message).toMatch(message)
    // The SDK re-reads its offset from the error response's Date header (the server clock), so the next call is signed in time.
    expect(Math.abs(kms.config.systemClockOffset)).toBeLessThan(2_000)
    expect((await kms.send(new ListKeysCommand({}))).$metadata.httpStatusCode).toBe(200)
  })

  it('accepts a client clock 4 minutes off', async () => {
    const kms = track(kmsFor(aws, 'admin', { systemClockOffset: -4 * 60_000 }))
    expect((await kms.send(new DescribeKeyCommand({ KeyId: (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId }))).KeyMetadata).toBeDefined()
  })
})

/** The request as the SDK hands it to its HTTP handler. */
type WireRequest = { headers: Record<string, string>; body: string | Uint8Array; query: Record<string, string> }
type Middleware = (next: (args: { request: unknown }) => Promise<unknown>) => (args: { request: unknown }) => Promise<unknown>

/** A real KMS client for the admin whose request `edit` changes just after it is signed (or, with `beforeSigning`, just before). */
function editedKms(edit: (request: WireRequest) => void, options: { beforeSigning?: boolean; region?: string } = {}) {
  const kms = track(kmsFor(aws, 'admin', options.region === undefined ? {} : { region: options.region }))
  const middleware: Middleware = (next) => (args) => {
    edit(args.request as WireRequest)
    return next(args)
  }
  if (options.beforeSigning) kms.middlewareStack.add(middleware as never, { step: 'build', name: 'editBeforeSigning' })
  else kms.middlewareStack.addRelativeTo(middleware as never, { relation: 'after', toMiddleware: 'httpSigningMiddleware', name: 'editAfterSigning' })
  return kms
}

const SIGNATURE_MISMATCH = {
  name: 'InvalidSignatureException',
  message:
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
  status: 400,
}

/** The body with `from` replaced by `to` (same length: content-length stays right). */
function replaceInBody(r: WireRequest, from: string, to: string): void {
  const text = typeof r.body === 'string' ? r.body : new TextDecoder().decode(r.body)
  expect(text).toContain(from)
  r.body = text.replace(from, to)
}

/** `20260301T120000Z` moved by one second within the same day (so the credential scope date still agrees). */
function oneSecondOff(amzDate: string): string {
  const seconds = Number(amzDate.slice(13, 15))
  return `${amzDate.slice(0, 13)}${String(seconds === 0 ? 1 : seconds - 1).padStart(2, '0')}Z`
}

describe('SigV4 signature: the expected signature is the one the real SDK computes, over HTTP', () => {
  const createKey = () => new CreateKeyCommand({ Description: 'signature-check-a' })

  it('accepts an untouched signed request, and one whose query the SDK signed (escaped and sorted by the signer)', async () => {
    const signedHeaders: string[] = []
    const untouched = editedKms((r) => {
      signedHeaders.push(...(/SignedHeaders=([^,]+)/.exec(r.headers.authorization ?? '')?.[1]?.split(';') ?? []))
    })
    expect((await untouched.send(createKey())).KeyMetadata?.Description).toBe('signature-check-a')
    // The JS SDK signs the payload hash header: the verifier must check it against the body it received.
    expect(signedHeaders).toEqual(expect.arrayContaining(['host', 'x-amz-date', 'x-amz-target', 'content-type', 'x-amz-content-sha256', 'amz-sdk-invocation-id']))
    const withQuery = editedKms(
      (r) => {
        r.query = { 'z-last': 'x y*', a: "it's ~ok/+", empty: '' }
      },
      { beforeSigning: true },
    )
    expect((await withQuery.send(new ListKeysCommand({}))).$metadata.httpStatusCode).toBe(200)
  })

  it.each<[string, (r: WireRequest) => void]>([
    ['one byte of the body', (r) => replaceInBody(r, 'signature-check-a', 'signature-check-b')],
    [
      'one byte of the body, with x-amz-content-sha256 rewritten to match it',
      (r) => {
        replaceInBody(r, 'signature-check-a', 'signature-check-b')
        r.headers['x-amz-content-sha256'] = createHash('sha256').update(r.body).digest('hex')
      },
    ],
    [
      'the operation (x-amz-target)',
      (r) => {
        r.headers['x-amz-target'] = 'TrentService.ListKeys'
      },
    ],
    [
      'a signed header no check requires (amz-sdk-invocation-id)',
      (r) => {
        const id = r.headers['amz-sdk-invocation-id']!
        // Another first character, whatever the random id starts with.
        r.headers['amz-sdk-invocation-id'] = `${id[0] === '0' ? '1' : '0'}${id.slice(1)}`
      },
    ],
    [
      'x-amz-date, by one second on the same day',
      (r) => {
        r.headers['x-amz-date'] = oneSecondOff(r.headers['x-amz-date']!)
      },
    ],
    [
      'the query (added after signing)',
      (r) => {
        r.query = { a: '1' }
      },
    ],
    [
      'the signature itself (last hex digit)',
      (r) => {
        r.headers.authorization = r.headers.authorization!.replace(/.$/, (c) => (c === '0' ? '1' : '0'))
      },
    ],
  ])('refuses a signed request with %s changed in transit', async (_, edit) => {
    expect(await awsError(editedKms(edit).send(createKey()))).toEqual(SIGNATURE_MISMATCH)
  })

  it('refuses a request signed for another region whose credential scope is rewritten to this one (the region is in the signing key)', async () => {
    const other = aws.region === 'eu-west-1' ? 'eu-central-1' : 'eu-west-1'
    const kms = editedKms(
      (r) => {
        r.headers.authorization = r.headers.authorization!.replace(`/${other}/kms/`, `/${aws.region}/kms/`)
      },
      { region: other },
    )
    expect(await awsError(kms.send(createKey()))).toEqual(SIGNATURE_MISMATCH)
  })

  it('refuses a request whose x-amz-date and credential scope date are both moved a day back (the date is in the signing key)', async () => {
    const kms = editedKms((r) => {
      const today = r.headers['x-amz-date']!.slice(0, 8)
      const yesterday = new Date(Date.UTC(Number(today.slice(0, 4)), Number(today.slice(4, 6)) - 1, Number(today.slice(6, 8)) - 1))
        .toISOString()
        .slice(0, 10)
        .replace(/-/g, '')
      r.headers.authorization = r.headers.authorization!.replace(`/${today}/`, `/${yesterday}/`)
      r.headers['x-amz-date'] = `${yesterday}${r.headers['x-amz-date']!.slice(8)}`
    })
    // Scope and x-amz-date agree, so only the signature (made with today's key) can tell; it is checked before the
    // clock skew, which would refuse the request too.
    expect(await awsError(kms.send(createKey()))).toEqual(SIGNATURE_MISMATCH)
  })
})
