/**
 * The Secrets Manager emulator through the unmodified AWS SDK client: what the enclave's policy store relies on
 * besides versions and staging labels (test/local-aws-secrets.test.ts): ARNs with the 6-character suffix,
 * partial ARNs and the ones AWS takes for complete ARNs, accounts and regions that cannot see each other's
 * secrets.
 */
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LocalAws, startLocalAws } from '../startLocalAws.js'

const REGION = 'eu-central-1'
const A = '111122223333'
const B = '999988887777'
const principals = {
  AKIASMTESTA000000001: { secretAccessKey: 'a-secret', arn: `arn:aws:iam::${A}:root` },
  AKIASMTESTB000000001: { secretAccessKey: 'b-secret', arn: `arn:aws:iam::${B}:root` },
}

let aws: LocalAws
let a: SecretsManagerClient
let b: SecretsManagerClient
beforeAll(async () => {
  aws = await startLocalAws({ region: REGION, accountId: A, principals })
  const client = (accessKeyId: keyof typeof principals) =>
    new SecretsManagerClient({ region: REGION, endpoint: aws.endpoint, credentials: { accessKeyId, secretAccessKey: principals[accessKeyId].secretAccessKey }, maxAttempts: 1 })
  a = client('AKIASMTESTA000000001')
  b = client('AKIASMTESTB000000001')
})
afterAll(async () => {
  a?.destroy()
  b?.destroy()
  await aws?.close()
})

const nameOf = (error: unknown) => (error as { name?: string }).name

describe('Secrets Manager emulator', () => {
  it('names a secret arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 letters or digits>', async () => {
    const out = await a.send(new CreateSecretCommand({ Name: 'enclave-custody/policies/arn-shape', SecretString: '{"v":1}' }))
    expect(out.ARN).toMatch(new RegExp(`^arn:aws:secretsmanager:${REGION}:${A}:secret:enclave-custody/policies/arn-shape-[A-Za-z0-9]{6}$`))
    expect(out.Name).toBe('enclave-custody/policies/arn-shape')
  })

  it('finds a secret by name, by full ARN and by partial ARN (without the suffix), and answers with the full ARN', async () => {
    const name = 'enclave-custody/policies/by-partial'
    const { ARN } = await a.send(new CreateSecretCommand({ Name: name, SecretString: '{}' }))
    for (const secretId of [name, ARN!, `arn:aws:secretsmanager:${REGION}:${A}:secret:${name}`]) {
      const out = await a.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: 'AWSCURRENT' }))
      expect([secretId, out.ARN, out.Name]).toEqual([secretId, ARN, name])
    }
  })

  it('takes an ARN ending in "-" and six characters for a complete ARN (AWS documents it so)', async () => {
    const name = 'enclave-custody/policies/pay-eu0001'
    const { ARN } = await a.send(new CreateSecretCommand({ Name: name, SecretString: '{}' }))
    await expect(a.send(new GetSecretValueCommand({ SecretId: `arn:aws:secretsmanager:${REGION}:${A}:secret:${name}` }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    })
    expect((await a.send(new GetSecretValueCommand({ SecretId: ARN! }))).Name).toBe(name)
    expect((await a.send(new GetSecretValueCommand({ SecretId: name }))).ARN).toBe(ARN)
  })

  it('keeps accounts apart: another account gets AccessDenied for an ARN of this one, whether or not the secret exists', async () => {
    const name = 'enclave-custody/policies/accounts'
    await a.send(new CreateSecretCommand({ Name: name, SecretString: '{"owner":"A"}' }))
    for (const secretId of [`arn:aws:secretsmanager:${REGION}:${A}:secret:${name}`, `arn:aws:secretsmanager:${REGION}:${A}:secret:enclave-custody/policies/absent`]) {
      const error = await b.send(new GetSecretValueCommand({ SecretId: secretId })).catch((e: unknown) => e)
      expect([secretId, nameOf(error)]).toEqual([secretId, 'AccessDeniedException'])
    }
    // By name, each account sees its own secret of that name.
    await b.send(new CreateSecretCommand({ Name: name, SecretString: '{"owner":"B"}' }))
    const own = await b.send(new GetSecretValueCommand({ SecretId: name }))
    expect(own.SecretString).toBe('{"owner":"B"}')
    expect(own.ARN).toMatch(new RegExp(`^arn:aws:secretsmanager:${REGION}:${B}:secret:`))
  })

  it('an ARN of another region finds nothing', async () => {
    const name = 'enclave-custody/policies/region'
    await a.send(new CreateSecretCommand({ Name: name, SecretString: '{}' }))
    await expect(a.send(new GetSecretValueCommand({ SecretId: `arn:aws:secretsmanager:us-west-2:${A}:secret:${name}` }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    })
  })
})
