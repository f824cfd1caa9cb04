import { randomBytes } from 'node:crypto'
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  KMSClient,
  ListAliasesCommand,
  ListKeysCommand,
  PutKeyPolicyCommand,
} from '@aws-sdk/client-kms'
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager'
import { type IdentityPolicyDocument, type IdentityPolicyStatement, type LocalAws, type PrincipalCredentials, startLocalAws } from '@enclave-custody/local-aws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { awsError } from './local-aws-fixtures.js'

// Two accounts, as the enclave-runtime tests need them: each principal and each key or secret belongs to one
// account; another account's key is usable only where its key policy AND the caller's IAM policy allow it.

const A = '111122223333'
const B = '444455556666'
const REGION = 'eu-central-1'
const PREFIX = 'enclave-custody/keys/'
const iam = (...Statement: IdentityPolicyStatement[]): IdentityPolicyDocument => ({ Version: '2012-10-17', Statement })
const allowAll = iam({ Effect: 'Allow', Action: ['kms:*', 'secretsmanager:*'], Resource: '*' })

/** Least privilege, as the CDK roles have it: the instance role reads records; the importer writes new ones. */
const instanceIam = iam(
  { Effect: 'Allow', Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], Resource: `arn:aws:secretsmanager:${REGION}:${A}:secret:${PREFIX}*` },
  { Effect: 'Allow', Action: 'secretsmanager:ListSecrets', Resource: '*' },
)
const importerIam = iam({ Effect: 'Allow', Action: ['secretsmanager:CreateSecret', 'secretsmanager:PutSecretValue'], Resource: `arn:aws:secretsmanager:${REGION}:${A}:secret:${PREFIX}*` })

const P = {
  adminA: { accessKeyId: 'AKIAACCTAADMIN000001', secretAccessKey: randomBytes(20).toString('hex'), arn: `arn:aws:iam::${A}:role/admin`, policies: [allowAll] },
  instanceA: { accessKeyId: 'AKIAACCTAINSTANCE001', secretAccessKey: randomBytes(20).toString('hex'), arn: `arn:aws:iam::${A}:role/custody-instance`, policies: [instanceIam] },
  importerA: { accessKeyId: 'AKIAACCTAIMPORTER001', secretAccessKey: randomBytes(20).toString('hex'), arn: `arn:aws:iam::${A}:role/custody-importer`, policies: [importerIam] },
  /** A role of account A without any IAM policy. */
  bareA: { accessKeyId: 'AKIAACCTABARE0000001', secretAccessKey: randomBytes(20).toString('hex'), arn: `arn:aws:iam::${A}:role/bare` },
  adminB: { accessKeyId: 'AKIAACCTBADMIN000001', secretAccessKey: randomBytes(20).toString('hex'), arn: `arn:aws:iam::${B}:role/admin`, policies: [allowAll] },
} satisfies Record<string, PrincipalCredentials & { accessKeyId: string }>
type Who = keyof typeof P

let aws: LocalAws
const clients: { destroy(): void }[] = []
const credentials = (who: Who) => ({ accessKeyId: P[who].accessKeyId, secretAccessKey: P[who].secretAccessKey })
function kms(who: Who): KMSClient {
  const c = new KMSClient({ endpoint: aws.endpoint, region: REGION, credentials: credentials(who), maxAttempts: 1 })
  clients.push(c)
  return c
}
function sm(who: Who): SecretsManagerClient {
  const c = new SecretsManagerClient({ endpoint: aws.endpoint, region: REGION, credentials: credentials(who), maxAttempts: 1 })
  clients.push(c)
  return c
}

beforeAll(async () => {
  aws = await startLocalAws({
    accountId: A,
    region: REGION,
    principals: Object.fromEntries(Object.values(P).map(({ accessKeyId, ...rest }) => [accessKeyId, rest])),
  })
})
afterAll(async () => {
  for (const c of clients) c.destroy()
  await aws?.close()
})

describe('KMS keys belong to the account of their creator', () => {
  it('ARN, DescribeKey and ListKeys are per account; a bare key id or alias means "in my account"', async () => {
    const a = (await kms('adminA').send(new CreateKeyCommand({}))).KeyMetadata!
    const b = (await kms('adminB').send(new CreateKeyCommand({}))).KeyMetadata!
    expect(a.Arn).toBe(`arn:aws:kms:${REGION}:${A}:key/${a.KeyId}`)
    expect(b.Arn).toBe(`arn:aws:kms:${REGION}:${B}:key/${b.KeyId}`)
    expect(b.AWSAccountId).toBe(B)
    const listed = async (who: Who) => ((await kms(who).send(new ListKeysCommand({}))).Keys ?? []).map((k) => k.KeyArn)
    expect(await listed('adminA')).toContain(a.Arn)
    expect(await listed('adminA')).not.toContain(b.Arn)
    expect(await listed('adminB')).toEqual([b.Arn])
    expect((await awsError(kms('adminA').send(new DescribeKeyCommand({ KeyId: b.KeyId })))).name).toBe('NotFoundException')

    // One alias name, two accounts, two keys.
    await kms('adminA').send(new CreateAliasCommand({ AliasName: 'alias/sealing', TargetKeyId: a.KeyId }))
    await kms('adminB').send(new CreateAliasCommand({ AliasName: 'alias/sealing', TargetKeyId: b.KeyId }))
    expect((await kms('adminA').send(new DescribeKeyCommand({ KeyId: 'alias/sealing' }))).KeyMetadata!.Arn).toBe(a.Arn)
    expect((await kms('adminB').send(new DescribeKeyCommand({ KeyId: 'alias/sealing' }))).KeyMetadata!.Arn).toBe(b.Arn)
    expect((await kms('adminA').send(new DescribeKeyCommand({ KeyId: `arn:aws:kms:${REGION}:${A}:alias/sealing` }))).KeyMetadata!.Arn).toBe(a.Arn)
    const aliases = await kms('adminB').send(new ListAliasesCommand({}))
    expect(aliases.Aliases?.map((x) => x.AliasArn)).toEqual([`arn:aws:kms:${REGION}:${B}:alias/sealing`])
    // An alias must live in its key's account.
    expect((await awsError(kms('adminA').send(new CreateAliasCommand({ AliasName: 'alias/theirs', TargetKeyId: b.Arn })))).name).toBe('ValidationException')
  })

  it("another account's key, named by ARN: denied under its default policy, even to a principal whose IAM allows kms:*", async () => {
    const b = (await kms('adminB').send(new CreateKeyCommand({}))).KeyMetadata!
    expect(await awsError(kms('adminA').send(new EncryptCommand({ KeyId: b.Arn, Plaintext: randomBytes(32) })))).toEqual({
      name: 'AccessDeniedException',
      message: `User: ${P.adminA.arn} is not authorized to perform: kms:Encrypt on resource: ${b.Arn} because no resource-based policy allows the kms:Encrypt action`,
      status: 400,
    })
  })

  it('cross-account use where the key policy names the account AND the caller’s IAM allows it; responses carry the key ARN', async () => {
    const b = (await kms('adminB').send(new CreateKeyCommand({}))).KeyMetadata!
    await kms('adminB').send(
      new PutKeyPolicyCommand({
        KeyId: b.KeyId,
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${B}:root` }, Action: 'kms:*', Resource: '*' },
            { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:root` }, Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey'], Resource: '*' },
          ],
        }),
      }),
    )
    const plaintext = randomBytes(32)
    const sealed = await kms('adminA').send(new EncryptCommand({ KeyId: b.Arn, Plaintext: plaintext }))
    expect(sealed.KeyId).toBe(b.Arn)
    const opened = await kms('adminA').send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob }))
    expect(opened.KeyId).toBe(b.Arn)
    expect(Buffer.from(opened.Plaintext!)).toEqual(plaintext)
    expect((await kms('adminA').send(new GenerateDataKeyCommand({ KeyId: b.Arn, KeySpec: 'AES_256' }))).KeyId).toBe(b.Arn)
    // Account A's role without an IAM policy: the key policy enables its account, but its own IAM does not allow.
    expect(await awsError(kms('bareA').send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob })))).toEqual({
      name: 'AccessDeniedException',
      message: `User: ${P.bareA.arn} is not authorized to perform: kms:Decrypt on resource: ${b.Arn} because no identity-based policy allows the kms:Decrypt action`,
      status: 400,
    })
  })
})

describe('the account root in a key policy delegates to IAM, not to "everyone in the account"', () => {
  it('under the default policy a role without IAM permissions can do nothing; one whose IAM allows only DescribeKey can describe', async () => {
    const key = (await kms('adminA').send(new CreateKeyCommand({}))).KeyMetadata!
    const denied = await awsError(kms('bareA').send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: randomBytes(16) })))
    expect(denied.message).toBe(
      `User: ${P.bareA.arn} is not authorized to perform: kms:Encrypt on resource: ${key.Arn} because no identity-based policy allows the kms:Encrypt action`,
    )
    // The instance role's IAM is about secrets only: it gets nothing from the account root statement either.
    expect((await awsError(kms('instanceA').send(new DescribeKeyCommand({ KeyId: key.KeyId })))).name).toBe('AccessDeniedException')
    expect((await kms('adminA').send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata!.Arn).toBe(key.Arn)
  })

  it('IAM-only actions (CreateKey, ListKeys) need an identity policy', async () => {
    expect(await awsError(kms('bareA').send(new CreateKeyCommand({})))).toEqual({
      name: 'AccessDeniedException',
      message: `User: ${P.bareA.arn} is not authorized to perform: kms:CreateKey on resource: * because no identity-based policy allows the kms:CreateKey action`,
      status: 400,
    })
    expect((await awsError(kms('instanceA').send(new ListKeysCommand({})))).name).toBe('AccessDeniedException')
  })
})

describe('Secrets Manager: per account, identity policies enforced', () => {
  const record = (keyId: string) => ({ Name: `${PREFIX}${keyId}`, SecretString: JSON.stringify({ keyId }) })

  it('the importer creates records under the prefix only, and cannot read or delete them', async () => {
    const created = await sm('importerA').send(new CreateSecretCommand(record('imp-1')))
    expect(created.ARN).toMatch(new RegExp(`^arn:aws:secretsmanager:${REGION}:${A}:secret:${PREFIX}imp-1-[A-Za-z0-9]{6}$`))
    expect((await awsError(sm('importerA').send(new CreateSecretCommand({ Name: 'elsewhere/x', SecretString: 'x' })))).name).toBe('AccessDeniedException')
    expect((await awsError(sm('importerA').send(new GetSecretValueCommand({ SecretId: `${PREFIX}imp-1` })))).message).toBe(
      `User: ${P.importerA.arn} is not authorized to perform: secretsmanager:GetSecretValue on resource: ${created.ARN} because no identity-based policy allows the secretsmanager:GetSecretValue action`,
    )
    expect((await awsError(sm('importerA').send(new DeleteSecretCommand({ SecretId: created.ARN, ForceDeleteWithoutRecovery: true })))).name).toBe(
      'AccessDeniedException',
    )
  })

  it('the instance role reads, describes and lists records, and can never write, create or delete', async () => {
    const { ARN } = await sm('importerA').send(new CreateSecretCommand(record('inst-1')))
    expect((await sm('instanceA').send(new GetSecretValueCommand({ SecretId: `${PREFIX}inst-1` }))).SecretString).toBe('{"keyId":"inst-1"}')
    expect((await sm('instanceA').send(new DescribeSecretCommand({ SecretId: ARN }))).ARN).toBe(ARN)
    expect((await sm('instanceA').send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [PREFIX] }] }))).SecretList?.map((s) => s.ARN)).toContain(ARN)
    const attempts = [
      new PutSecretValueCommand({ SecretId: ARN, SecretString: '{"keyId":"swapped"}' }),
      new CreateSecretCommand(record('inst-planted')),
      new DeleteSecretCommand({ SecretId: ARN, ForceDeleteWithoutRecovery: true }),
    ]
    for (const attempt of attempts) expect((await awsError(sm('instanceA').send(attempt as never))).name).toBe('AccessDeniedException')
    expect((await sm('instanceA').send(new GetSecretValueCommand({ SecretId: ARN }))).SecretString).toBe('{"keyId":"inst-1"}')
    // Outside the prefix, nothing: no existence oracle either (AccessDenied, not ResourceNotFound).
    expect((await awsError(sm('instanceA').send(new GetSecretValueCommand({ SecretId: 'other/unknown' })))).name).toBe('AccessDeniedException')
    expect((await awsError(sm('instanceA').send(new GetSecretValueCommand({ SecretId: `${PREFIX}unknown` })))).name).toBe('ResourceNotFoundException')
  })

  it('a secret belongs to its creator’s account: same name twice, no cross-account reads, separate lists', async () => {
    const a = await sm('adminA').send(new CreateSecretCommand({ Name: 'shared-name', SecretString: 'from A' }))
    const b = await sm('adminB').send(new CreateSecretCommand({ Name: 'shared-name', SecretString: 'from B' }))
    expect(b.ARN).toMatch(new RegExp(`^arn:aws:secretsmanager:${REGION}:${B}:secret:shared-name-`))
    expect((await sm('adminA').send(new GetSecretValueCommand({ SecretId: 'shared-name' }))).SecretString).toBe('from A')
    expect((await sm('adminB').send(new GetSecretValueCommand({ SecretId: 'shared-name' }))).SecretString).toBe('from B')
    expect((await awsError(sm('adminB').send(new GetSecretValueCommand({ SecretId: a.ARN })))).name).toBe('AccessDeniedException')
    const listB = await sm('adminB').send(new ListSecretsCommand({}))
    expect(listB.SecretList?.map((s) => s.ARN)).toEqual([b.ARN])
  })
})
