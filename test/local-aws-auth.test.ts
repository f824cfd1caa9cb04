import { CreateKeyCommand, DescribeKeyCommand, KMSClient, ListKeysCommand } from '@aws-sdk/client-kms'
import { ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import type { LocalAws } from '@enclave-custody/local-aws'
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
