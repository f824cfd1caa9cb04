/**
 * The importer stores signed signing policies where the enclave reads them (`enclave-custody/policies/<keyId>/policy`,
 * `signingPolicySecretName`, AWSCURRENT): `KmsImporter.storeSigningPolicy` / `readSigningPolicy` against the real local AWS through the
 * real AWS SDK client, with the importer role's least-privilege grants (create, put, read under the prefix).
 * The enclave side of the round trip is packages/enclave-runtime/test/secretsManagerPolicyStore.test.ts.
 */
import { randomBytes } from 'node:crypto'
import { KMSClient } from '@aws-sdk/client-kms'
import { DescribeSecretCommand, GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { type LocalAws, startLocalAws } from '@enclave-custody/local-aws'
import {
  apiKeyStamper,
  approveSigningPolicy,
  createKmsImporter,
  generateApiKey,
  isCustodyError,
  type KmsImporter,
  normalizeSigningPolicyDocument,
  type SignedSigningPolicy,
  type Stamper,
  signingPolicySecretName,
} from '@enclave-custody/sdk'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const REGION = 'eu-west-1'
const ACCOUNT = '111122223333'
const POLICIES = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:enclave-custody/policies/*`
const P = {
  importer: {
    accessKeyId: 'AKIAIMPORTERPOLICY01',
    secretAccessKey: randomBytes(20).toString('hex'),
    arn: `arn:aws:iam::${ACCOUNT}:role/custody-importer`,
    policies: [
      {
        Version: '2012-10-17' as const,
        Statement: [
          { Effect: 'Allow' as const, Action: ['secretsmanager:CreateSecret', 'secretsmanager:PutSecretValue', 'secretsmanager:GetSecretValue'], Resource: POLICIES },
        ],
      },
    ],
  },
  admin: { accessKeyId: 'AKIAADMINPOLICY00001', secretAccessKey: randomBytes(20).toString('hex'), arn: `arn:aws:iam::${ACCOUNT}:root` },
}

let aws: LocalAws
let importer: KmsImporter
let admin: SecretsManagerClient
const closers: { destroy(): void }[] = []
beforeAll(async () => {
  aws = await startLocalAws({ region: REGION, accountId: ACCOUNT, principals: Object.fromEntries(Object.values(P).map(({ accessKeyId, ...rest }) => [accessKeyId, rest])) })
  const credentials = { accessKeyId: P.importer.accessKeyId, secretAccessKey: P.importer.secretAccessKey }
  const secretsManager = new SecretsManagerClient({ region: REGION, endpoint: aws.endpoint, credentials, maxAttempts: 1 })
  const kms = new KMSClient({ region: REGION, endpoint: aws.endpoint, credentials })
  admin = new SecretsManagerClient({ region: REGION, endpoint: aws.endpoint, credentials: { accessKeyId: P.admin.accessKeyId, secretAccessKey: P.admin.secretAccessKey }, maxAttempts: 1 })
  closers.push(secretsManager, kms, admin)
  importer = createKmsImporter({ kms, secretsManager, kmsKeyId: 'unused-here' })
})
afterAll(async () => {
  for (const c of closers) c.destroy()
  await aws?.close()
})

const owners = [apiKeyStamper({ privateKey: generateApiKey().privateKey }), apiKeyStamper({ privateKey: generateApiKey().privateKey })]
/** A key's public key, from viem (an independent secp256k1 implementation). */
const keyPublicKey = privateKeyToAccount(`0x${randomBytes(32).toString('hex')}`).publicKey
let n = 0
const freshKeyId = () => `policy-${++n}x${randomBytes(3).toString('hex')}`

async function signed(keyId: string, version: number, { by = [owners[0]!], to = ['0x70997970c51812dc3a010c7d01b50e0d17dc79c8'] }: { by?: Stamper[]; to?: string[] } = {}): Promise<SignedSigningPolicy> {
  const document = normalizeSigningPolicyDocument({ keyId, keyPublicKey, version, rules: [{ id: 'payee', effect: 'allow', when: { to: { in: to } } }], signers: [] })
  return { document, approvals: await Promise.all(by.map((s) => approveSigningPolicy(s, document))) }
}
const versionsOf = async (keyId: string) => (await admin.send(new DescribeSecretCommand({ SecretId: importer.policySecretName(keyId) }))).VersionIdsToStages
async function thrown(fn: () => Promise<unknown>): Promise<{ code?: string; message: string; details?: Record<string, unknown> }> {
  try {
    await fn()
  } catch (e) {
    return e as { code?: string; message: string }
  }
  throw new Error('did not throw')
}

describe('KmsImporter signing policies', () => {
  it('stores a new key’s policy with CreateSecret and reads it back (AWSCURRENT)', async () => {
    const keyId = freshKeyId()
    expect(await importer.readSigningPolicy(keyId)).toBeUndefined()
    const v1 = await signed(keyId, 1)
    const out = await importer.storeSigningPolicy(v1)
    expect(importer.policySecretName(keyId)).toBe(`enclave-custody/policies/${keyId}/policy`)
    expect(importer.policySecretName(keyId)).toBe(signingPolicySecretName(keyId))
    expect(out.arn).toMatch(new RegExp(`^arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:enclave-custody/policies/${keyId}/policy-[A-Za-z0-9]{6}$`))
    expect(await importer.readSigningPolicy(keyId)).toEqual(v1)
    // What is stored is the JSON of the document and its approvals, nothing else.
    const raw = await admin.send(new GetSecretValueCommand({ SecretId: out.arn, VersionStage: 'AWSCURRENT' }))
    expect(JSON.parse(raw.SecretString!)).toEqual(JSON.parse(JSON.stringify(v1)))
    expect(raw.VersionId).toBe(out.versionId)
  })

  it('a keyId ending in "-" and six characters (pay-eu0001): stored where the enclave’s partial ARN finds it', async () => {
    const keyId = 'pay-eu0001'
    const partialArn = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:enclave-custody/policies/${keyId}/policy`
    expect(await importer.readSigningPolicy(keyId)).toBeUndefined()
    const v1 = await signed(keyId, 1)
    const { arn } = await importer.storeSigningPolicy(v1)
    expect(arn).toMatch(new RegExp(`^${partialArn}-[A-Za-z0-9]{6}$`))
    expect(await importer.readSigningPolicy(keyId)).toEqual(v1)
    // What the enclave asks for (the partial ARN, AWSCURRENT) is this secret; the bare name's partial ARN would not be.
    const asEnclave = await admin.send(new GetSecretValueCommand({ SecretId: partialArn, VersionStage: 'AWSCURRENT' }))
    expect([asEnclave.ARN, JSON.parse(asEnclave.SecretString!)]).toEqual([arn, JSON.parse(JSON.stringify(v1))])
  })

  it('a policySecretPrefix that is not one is refused (field prefix) before anything is sent', async () => {
    // Nothing listens there: a request sent would be UNAVAILABLE, not INVALID_ARGUMENT.
    const kms = new KMSClient({ region: REGION, endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'AKIAUNUSED', secretAccessKey: 'x' } })
    const secretsManager = new SecretsManagerClient({ region: REGION, endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'AKIAUNUSED', secretAccessKey: 'x' }, maxAttempts: 1 })
    closers.push(kms, secretsManager)
    const bad = createKmsImporter({ kms, secretsManager, kmsKeyId: 'unused-here', policySecretPrefix: 'no-slash' })
    expect(() => bad.policySecretName('treasury')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', details: expect.objectContaining({ field: 'prefix' }) }))
    expect(await thrown(async () => bad.readSigningPolicy('treasury'))).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'prefix' } })
  })

  it('a higher version goes in with PutSecretValue: it is AWSCURRENT, the one before AWSPREVIOUS', async () => {
    const keyId = freshKeyId()
    const first = await importer.storeSigningPolicy(await signed(keyId, 1))
    const v2 = await signed(keyId, 2, { to: ['0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc'] })
    const second = await importer.storeSigningPolicy(v2)
    expect(second.arn).toBe(first.arn)
    expect(await versionsOf(keyId)).toEqual({ [first.versionId!]: ['AWSPREVIOUS'], [second.versionId!]: ['AWSCURRENT'] })
    expect(await importer.readSigningPolicy(keyId)).toEqual(v2)
  })

  it('versions only increase: a lower one, or the stored one with other content, is refused; the stored one again changes nothing', async () => {
    const keyId = freshKeyId()
    await importer.storeSigningPolicy(await signed(keyId, 5))
    const v5 = await importer.readSigningPolicy(keyId)
    const before = await versionsOf(keyId)
    const lower = await thrown(async () => importer.storeSigningPolicy(await signed(keyId, 4)))
    expect(lower).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'signed.document.version' } })
    expect(lower.message).toMatchInlineSnapshot(`""signed.document.version" must not be lower than the stored version 5 (versions only increase)"`)
    const other = await thrown(async () => importer.storeSigningPolicy(await signed(keyId, 5, { to: ['0x90f79bf6eb2c4f870365e785982e1f101e93b906'] })))
    expect(other).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'signed.document.version' } })
    const again = await importer.storeSigningPolicy(v5!)
    expect(again.versionId).toBeUndefined()
    expect(await versionsOf(keyId)).toEqual(before)
    expect(await importer.readSigningPolicy(keyId)).toEqual(v5)
  })

  it('refuses a document edited after approval, a non-canonical one, and a missing approval: nothing is stored', async () => {
    const keyId = freshKeyId()
    const good = await signed(keyId, 1)
    const edited = { ...good, document: { ...good.document, version: 2 } }
    expect((await thrown(() => importer.storeSigningPolicy(edited))).code).toBe('FORBIDDEN')
    const nonCanonical = { ...good, document: { ...good.document, keyPublicKey: good.document.keyPublicKey.toUpperCase().replace('0X', '0x') } } as SignedSigningPolicy
    expect((await thrown(() => importer.storeSigningPolicy(nonCanonical))).code).toBe('INVALID_ARGUMENT')
    expect((await thrown(() => importer.storeSigningPolicy({ ...good, approvals: [] }))).code).toBe('FORBIDDEN')
    expect((await thrown(() => importer.storeSigningPolicy({ document: { ...good.document, keyId: '../keys/x' }, approvals: good.approvals }))).code).toBe('INVALID_ARGUMENT')
    expect(await importer.readSigningPolicy(keyId)).toBeUndefined()
  })

  it('with the key’s owners, checks approvals as the enclave does: owners only, to their threshold', async () => {
    const keyId = freshKeyId()
    const ownerKeys = { publicKeys: owners.map((o) => o.publicKey), threshold: 2 }
    expect((await thrown(async () => importer.storeSigningPolicy(await signed(keyId, 1), { owners: ownerKeys }))).code).toBe('FORBIDDEN')
    const stranger = apiKeyStamper({ privateKey: generateApiKey().privateKey })
    expect((await thrown(async () => importer.storeSigningPolicy(await signed(keyId, 1, { by: [owners[0]!, stranger] }), { owners: ownerKeys }))).code).toBe('FORBIDDEN')
    const quorum = await signed(keyId, 1, { by: owners })
    await importer.storeSigningPolicy(quorum, { owners: ownerKeys })
    expect(await importer.readSigningPolicy(keyId)).toEqual(quorum)
  })

  it('a stored value that is not a signed document reads as an IntegrityError, and a valid document replaces it', async () => {
    const keyId = freshKeyId()
    const { arn } = await importer.storeSigningPolicy(await signed(keyId, 1))
    await admin.send(new PutSecretValueCommand({ SecretId: arn, SecretString: '{"document": "tampered"}' }))
    const e = await thrown(() => importer.readSigningPolicy(keyId))
    expect(isCustodyError(e, 'INTEGRITY_ERROR')).toBe(true)
    const v2 = await signed(keyId, 2)
    await importer.storeSigningPolicy(v2)
    expect(await importer.readSigningPolicy(keyId)).toEqual(v2)
  })

  it('refuses a document over 32 KiB (the enclave would refuse it too) before calling Secrets Manager', async () => {
    const keyId = freshKeyId()
    const addresses = Array.from({ length: 256 }, () => `0x${randomBytes(20).toString('hex')}`)
    const document = { keyId, keyPublicKey, version: 1, rules: Array.from({ length: 7 }, (_, i) => ({ id: `payees-${i}`, effect: 'allow', when: { to: { in: addresses } } })), signers: [] }
    const big = { document, approvals: [] } as unknown as Parameters<typeof importer.storeSigningPolicy>[0]
    expect(await thrown(() => importer.storeSigningPolicy(big))).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('32 KiB') })
    expect(await importer.readSigningPolicy(keyId)).toBeUndefined()
  })
})
