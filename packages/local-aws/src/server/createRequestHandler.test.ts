import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Sha256 } from '@aws-crypto/sha256-js'
import { SignatureV4 } from '@smithy/signature-v4'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LocalAws, startLocalAws } from '../startLocalAws.js'
import type { LocalAwsLogEntry } from './createRequestHandler.js'

const CLOCK = new Date('2026-02-03T04:05:06Z')
const credentials = { accessKeyId: 'AKIAWIRE', secretAccessKey: 'wire-secret' }
const principals = {
  AKIAWIRE: {
    secretAccessKey: 'wire-secret',
    arn: 'arn:aws:iam::111122223333:user/wire',
    policies: [{ Version: '2012-10-17' as const, Statement: [{ Effect: 'Allow' as const, Action: ['kms:*', 'secretsmanager:*'], Resource: '*' }] }],
  },
}

let aws: LocalAws
const entries: LocalAwsLogEntry[] = []

beforeAll(async () => {
  aws = await startLocalAws({ accountId: '111122223333', principals, clock: () => CLOCK, log: (e) => entries.push(e) })
})
afterAll(async () => {
  await aws?.close()
})

/** POST a request signed by the AWS SDK's signer, as the SDK would send it. */
async function call(target: string, body: string, options: { service?: string; endpoint?: string; unsigned?: string[] } = {}): Promise<Response> {
  const url = new URL(options.endpoint ?? aws.endpoint)
  const signer = new SignatureV4({ service: options.service ?? (target.startsWith('secretsmanager.') ? 'secretsmanager' : 'kms'), region: 'us-east-1', sha256: Sha256, credentials })
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: '/',
      query: {},
      headers: { host: url.host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target },
      body,
    },
    { signingDate: CLOCK, ...(options.unsigned ? { unsignableHeaders: new Set(options.unsigned) } : {}) },
  )
  const headers = Object.fromEntries(Object.entries(signed.headers).filter(([name]) => name !== 'host'))
  return fetch(url, { method: 'POST', headers, body })
}

describe('awsJson1_1 responses on the wire', () => {
  it('successful responses: 200, JSON content type, request id, server-clock Date', async () => {
    const res = await call('TrentService.ListKeys', '{}')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/x-amz-json-1.1')
    expect(res.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f]{8}-[0-9a-f-]{27}$/)
    expect(res.headers.get('date')).toBe(CLOCK.toUTCString())
    expect(await res.json()).toEqual({ Keys: [], Truncated: false })
  })

  it('a request whose signature leaves out X-Amz-Target or Content-Type is refused before any operation runs', async () => {
    for (const header of ['x-amz-target', 'content-type']) {
      const res = await call('TrentService.ListKeys', '{}', { unsigned: [header] })
      expect(res.status).toBe(400)
      expect(res.headers.get('x-amzn-errortype')).toBe('IncompleteSignatureException')
    }
  })

  it('an empty body is an empty input structure', async () => {
    expect((await call('TrentService.ListKeys', '')).status).toBe(200)
  })

  it('InvalidCiphertextException has no message member, like KMS', async () => {
    // Not local-aws format version 1 (first byte 0x07): unreadable, so InvalidCiphertextException.
    const res = await call('TrentService.Decrypt', JSON.stringify({ CiphertextBlob: Buffer.alloc(60, 7).toString('base64') }))
    expect(res.status).toBe(400)
    expect(res.headers.get('x-amzn-errortype')).toBe('InvalidCiphertextException')
    expect(await res.text()).toBe('{"__type":"InvalidCiphertextException"}')
  })

  it('KMS errors use "message", Secrets Manager errors "Message", AccessDenied "Message"', async () => {
    const notFound = await call('TrentService.DescribeKey', JSON.stringify({ KeyId: 'alias/none' }))
    expect(await notFound.json()).toEqual({ __type: 'NotFoundException', message: 'Alias arn:aws:kms:us-east-1:111122223333:alias/none is not found.' })
    const missing = await call('secretsmanager.GetSecretValue', JSON.stringify({ SecretId: 'none' }))
    expect(missing.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException')
    expect(await missing.json()).toEqual({ __type: 'ResourceNotFoundException', Message: "Secrets Manager can't find the specified secret." })
    const policy = JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:user/other' }, Action: 'kms:*', Resource: '*' }] })
    const created = (await (await call('TrentService.CreateKey', JSON.stringify({ Policy: policy, BypassPolicyLockoutSafetyCheck: true }))).json()) as {
      KeyMetadata: { Arn: string; CreationDate: number }
    }
    expect(created.KeyMetadata.CreationDate).toBe(CLOCK.getTime() / 1000)
    const denied = await call('TrentService.DescribeKey', JSON.stringify({ KeyId: created.KeyMetadata.Arn }))
    expect(await denied.json()).toEqual({
      __type: 'AccessDeniedException',
      Message: `User: arn:aws:iam::111122223333:user/wire is not authorized to perform: kms:DescribeKey on resource: ${created.KeyMetadata.Arn} because no resource-based policy allows the kms:DescribeKey action`,
    })
  })

  it.each([
    ['not JSON', 'TrentService.ListKeys', '{"Limit":'],
    ['a JSON array', 'TrentService.ListKeys', '[]'],
    ['a string where a number belongs', 'TrentService.ListKeys', '{"Limit":"5"}'],
    ['a blob that is not base64', 'TrentService.Encrypt', '{"KeyId":"alias/x","Plaintext":"not base64!"}'],
    ['a map of numbers', 'TrentService.Encrypt', '{"KeyId":"alias/x","Plaintext":"AA==","EncryptionContext":{"a":1}}'],
  ])('SerializationException for %s', async (_, target, body) => {
    const res = await call(target, body)
    expect(res.status).toBe(400)
    expect(res.headers.get('x-amzn-errortype')).toBe('SerializationException')
  })

  it('UnknownOperationException for an operation local-aws does not implement', async () => {
    const res = await call('TrentService.Sign', '{}')
    expect(await res.json()).toEqual({ __type: 'UnknownOperationException', message: 'local-aws does not implement TrentService.Sign' })
  })

  it('a signature for the other service is rejected', async () => {
    const res = await call('TrentService.ListKeys', '{}', { service: 'secretsmanager' })
    expect(((await res.json()) as { __type: string }).__type).toBe('InvalidSignatureException')
  })

  it('413 for a body over 1 MiB', async () => {
    const res = await call('TrentService.ListKeys', JSON.stringify({ pad: 'x'.repeat(1_100_000) }))
    expect(res.status).toBe(413)
  })

  it('logs each request with target, principal, status and error code', () => {
    const denied = entries.find((e) => e.errorCode === 'AccessDeniedException')
    expect(denied).toMatchObject({ method: 'POST', target: 'TrentService.DescribeKey', principal: 'arn:aws:iam::111122223333:user/wire', status: 400 })
    expect(denied?.durationMs).toBeTypeOf('number')
  })
})

describe('unexpected failures', () => {
  it('answer 500 with the service internal error code and a generic message, and log the cause', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'local-aws-500-'))
    const keyId = '1234abcd-12ab-44cd-86ef-1234567890ab'
    const state = {
      version: 1,
      keys: {
        [keyId]: {
          keyId,
          arn: `arn:aws:kms:us-east-1:111122223333:key/${keyId}`,
          creationDate: 0,
          description: '',
          enabled: true,
          policy: '{ hand-edited and broken',
          rotationEnabled: false,
          rotationPeriodInDays: 365,
          tags: [],
          material: Buffer.alloc(32).toString('base64'),
        },
      },
      aliases: {},
    }
    await writeFile(join(dir, 'kms.json'), JSON.stringify(state))
    const logs: LocalAwsLogEntry[] = []
    const broken = await startLocalAws({ accountId: '111122223333', principals, clock: () => CLOCK, dataDir: dir, log: (e) => logs.push(e) })
    try {
      const res = await call('TrentService.DescribeKey', JSON.stringify({ KeyId: keyId }), { endpoint: broken.endpoint })
      expect(res.status).toBe(500)
      expect(await res.json()).toEqual({ __type: 'KMSInternalException', message: 'An internal error occurred.' })
      expect(logs[0]).toMatchObject({ status: 500, errorCode: 'KMSInternalException', error: expect.stringMatching(/PolicyDocumentError/) })
    } finally {
      await broken.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
