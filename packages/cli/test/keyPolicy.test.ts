import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { CreateKeyCommand, DecryptCommand, EncryptCommand, GetKeyPolicyCommand, KMSClient } from '@aws-sdk/client-kms'
import { createSoftwareNsm, createSoftwareNsmCa, decryptEnvelopedData, type SoftwareNsm } from '@enclave-custody/enclave-runtime'
import { type LocalAws, startLocalAws } from '@enclave-custody/local-aws'
import { buildKeyPolicy } from '@enclave-custody/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyKeyPolicy, keyPolicyFor } from '../src/commands/keyPolicy.js'
import { devIdentityPolicies } from '../src/devConfig.js'
import { runCli } from '../src/commands/runCli.js'
import { captureIo, runCustody } from './helpers.js'

const ACCOUNT = '111122223333'
const REGION = 'eu-west-1'
const ROLES = {
  admin: `arn:aws:iam::${ACCOUNT}:role/custody-admin`,
  importer: `arn:aws:iam::${ACCOUNT}:role/custody-importer`,
  instance: `arn:aws:iam::${ACCOUNT}:role/custody-instance`,
}
/** Local principals standing in for the three roles (test-only credentials of a loopback server). */
const CREDENTIALS = {
  admin: { accessKeyId: 'AKIACLITESTADMIN0001', secretAccessKey: randomBytes(20).toString('hex') },
  importer: { accessKeyId: 'AKIACLITESTIMPORT001', secretAccessKey: randomBytes(20).toString('hex') },
  instance: { accessKeyId: 'AKIACLITESTINSTANC01', secretAccessKey: randomBytes(20).toString('hex') },
}
type Who = keyof typeof CREDENTIALS

const PCR1 = randomBytes(48).toString('hex')

async function denied(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err as { name?: string },
  )
  expect(e, 'expected AccessDeniedException').toBeDefined()
  return e!.name ?? ''
}

describe('custody key-policy', () => {
  let aws: LocalAws
  let nsm: SoftwareNsm
  let impostor: SoftwareNsm
  let ca: ReturnType<typeof createSoftwareNsmCa>
  const clients: KMSClient[] = []
  const kms = (who: Who) => {
    const c = new KMSClient({ endpoint: aws.endpoint, region: REGION, credentials: CREDENTIALS[who], maxAttempts: 1 })
    clients.push(c)
    return c
  }

  beforeAll(async () => {
    ca = createSoftwareNsmCa()
    nsm = await createSoftwareNsm({ ca, pcrs: { 1: PCR1 } })
    impostor = await createSoftwareNsm({ ca, pcrs: { 0: randomBytes(48).toString('hex'), 1: PCR1 } })
    aws = await startLocalAws({
      port: 0,
      accountId: ACCOUNT,
      region: REGION,
      attestationRoots: [nsm.rootCertificatePem],
      principals: Object.fromEntries(
        (Object.keys(CREDENTIALS) as Who[]).map((who) => [
          CREDENTIALS[who].accessKeyId,
          { secretAccessKey: CREDENTIALS[who].secretAccessKey, arn: ROLES[who], policies: [devIdentityPolicies({ accountId: ACCOUNT, region: REGION })[who]] },
        ]),
      ),
    })
  })
  afterAll(async () => {
    for (const c of clients) c.destroy()
    await aws?.close()
  })

  const args = () => ['--pcr0', nsm.pcrs[0]!.toUpperCase(), '--instance-role', ROLES.instance, '--importer-role', ROLES.importer, '--admin', ROLES.admin]

  it("prints exactly buildKeyPolicy's document", async () => {
    const io = captureIo()
    expect(await runCli(['key-policy', ...args(), '--pcr1', PCR1], io)).toBe(0)
    expect(io.err()).toBe('')
    const expected = buildKeyPolicy({ pcr0: nsm.pcrs[0]!, pcrs: { 1: PCR1 }, instanceRoleArn: ROLES.instance, importerRoleArn: ROLES.importer, adminArns: ROLES.admin })
    expect(JSON.parse(io.out())).toEqual(expected)
    expect(io.out()).toBe(`${JSON.stringify(expected, null, 2)}\n`)
  })

  it('takes several admins', async () => {
    const io = captureIo()
    expect(await runCli(['key-policy', ...args(), '--admin', `arn:aws:iam::${ACCOUNT}:root`], io)).toBe(0)
    expect(JSON.parse(io.out()).Statement[0].Principal.AWS).toEqual([ROLES.admin, `arn:aws:iam::${ACCOUNT}:root`])
  })

  it.each([
    [['--instance-role', 'custody-instance'], '--instance-role must be an IAM role, user or account root ARN'],
    [['--admin', ROLES.instance], '--admin must not include the instance role'],
    [['--pcr8', 'zz'], '--pcr8 must be 96 hex digits (SHA-384)'],
    [['--apply'], '--apply needs --key-id'],
    [['--key-id', 'k'], '--key-id is only used with --apply'],
  ])('refuses %j with exit 2 naming the flag', async (extra, message) => {
    const base = args()
    const argv = extra[0] === '--instance-role' ? [...base.slice(0, 2), ...extra, ...base.slice(4)] : [...base, ...extra]
    const io = captureIo()
    expect(await runCli(['key-policy', ...argv], io)).toBe(2)
    expect(io.err()).toContain(`custody key-policy: ${message}`)
    expect(io.out()).toBe('')
  })

  it('applied to a real local-aws key, the policy is enforced: importer encrypts, only the attested enclave decrypts', async () => {
    // The admin creates the key (default policy: the account may do everything), then applies ours.
    const { KeyMetadata } = await kms('admin').send(new CreateKeyCommand({ Description: 'custody key-policy test' }))
    const keyId = KeyMetadata!.KeyId!
    const policy = keyPolicyFor({ pcr0: nsm.pcrs[0]!, instanceRoleArn: ROLES.instance, importerRoleArn: ROLES.importer, adminArns: [ROLES.admin] })
    await applyKeyPolicy({ keyId, policy }, { kms: kms('admin') })
    const stored = await kms('admin').send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default' }))
    expect(JSON.parse(stored.Policy!)).toEqual(policy)

    const context = { keyId: 'treasury' }
    const secret = randomBytes(32)
    // Importer: Encrypt with a keyId context works; without one it is denied.
    const { CiphertextBlob } = await kms('importer').send(new EncryptCommand({ KeyId: keyId, Plaintext: secret, EncryptionContext: context }))
    expect(CiphertextBlob?.length).toBeGreaterThan(32)
    expect(await denied(kms('importer').send(new EncryptCommand({ KeyId: keyId, Plaintext: secret })))).toBe('AccessDeniedException')
    expect(await denied(kms('importer').send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context })))).toBe('AccessDeniedException')
    // Instance: never Encrypt; Decrypt without a Recipient is denied; the admin cannot decrypt either.
    expect(await denied(kms('instance').send(new EncryptCommand({ KeyId: keyId, Plaintext: secret, EncryptionContext: context })))).toBe('AccessDeniedException')
    expect(await denied(kms('instance').send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context })))).toBe('AccessDeniedException')
    expect(await denied(kms('admin').send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context })))).toBe('AccessDeniedException')

    // Instance with an attestation document: the right PCR0 gets CiphertextForRecipient, another PCR0 is denied.
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const spki = publicKey.export({ type: 'spki', format: 'der' })
    const recipient = async (provider: SoftwareNsm) => ({ KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' as const, AttestationDocument: await provider.attest({ publicKey: spki }) })
    const ok = await kms('instance').send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context, Recipient: await recipient(nsm) }))
    expect(ok.Plaintext).toBeUndefined()
    expect(Buffer.from(decryptEnvelopedData(ok.CiphertextForRecipient!, privateKey))).toEqual(secret)
    expect(await denied(kms('instance').send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context, Recipient: await recipient(impostor) })))).toBe('AccessDeniedException')
  })

  it('`custody key-policy --apply` as a process: default credential chain, one-line confirmation, PCR1 enforced too', async () => {
    const { KeyMetadata } = await kms('admin').send(new CreateKeyCommand({}))
    const keyId = KeyMetadata!.KeyId!
    const { code, stdout, stderr } = await runCustody(['key-policy', ...args(), '--pcr1', PCR1, '--apply', '--key-id', keyId, '--aws-endpoint', aws.endpoint, '--region', REGION], {
      env: { AWS_ACCESS_KEY_ID: CREDENTIALS.admin.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDENTIALS.admin.secretAccessKey, AWS_SESSION_TOKEN: undefined, AWS_PROFILE: undefined },
    })
    expect(stderr).toBe('')
    expect(code).toBe(0)
    expect(stdout).toBe(
      `applied to ${keyId}: Decrypt/GenerateDataKey for ${ROLES.instance} under PCR0+PCR1 ${nsm.pcrs[0]!.slice(0, 12)}…, Encrypt for ${ROLES.importer}, administration for ${ROLES.admin}\n`,
    )
    expect(stdout).not.toContain(CREDENTIALS.admin.secretAccessKey)
    const stored = await kms('admin').send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default' }))
    expect(JSON.parse(stored.Policy!)).toEqual(buildKeyPolicy({ pcr0: nsm.pcrs[0]!, pcrs: { 1: PCR1 }, instanceRoleArn: ROLES.instance, importerRoleArn: ROLES.importer, adminArns: ROLES.admin }))

    // PCR1 is a condition now: a document with the right PCR0 but another PCR1 is denied.
    const context = { keyId: 'pcr1-check' }
    const { CiphertextBlob } = await kms('importer').send(new EncryptCommand({ KeyId: keyId, Plaintext: randomBytes(32), EncryptionContext: context }))
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const spki = publicKey.export({ type: 'spki', format: 'der' })
    const otherPcr1 = await createSoftwareNsm({ ca, pcrs: { 0: nsm.pcrs[0]!, 1: randomBytes(48).toString('hex') } })
    const decrypt = async (provider: SoftwareNsm) =>
      kms('instance').send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context, Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: await provider.attest({ publicKey: spki }) } }))
    expect((await decrypt(nsm)).CiphertextForRecipient?.length).toBeGreaterThan(0)
    expect(await denied(decrypt(otherPcr1))).toBe('AccessDeniedException')

    // The importer may not change the policy: KMS refuses, and the command says so in one line.
    const refused = await runCustody(['key-policy', ...args(), '--apply', '--key-id', keyId, '--aws-endpoint', aws.endpoint, '--region', REGION], {
      env: { AWS_ACCESS_KEY_ID: CREDENTIALS.importer.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDENTIALS.importer.secretAccessKey, AWS_SESSION_TOKEN: undefined, AWS_PROFILE: undefined },
    })
    expect(refused.code).toBe(1)
    expect(refused.stdout).toBe('')
    expect(refused.stderr).toMatch(new RegExp(`^custody key-policy: PutKeyPolicy on ${keyId} failed: AccessDeniedException: .*\\n$`))
  })
})
