import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { CreateKeyCommand, DecryptCommand, EncryptCommand, GetKeyPolicyCommand, KMSClient, PutKeyPolicyCommand } from '@aws-sdk/client-kms'
import { createSoftwareNsm, createSoftwareNsmCa, decryptEnvelopedData, type SoftwareNsm } from '@enclave-custody/enclave-runtime'
import { type LocalAws, startLocalAws } from '@enclave-custody/local-aws'
import { buildKeyPolicy } from '@enclave-custody/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyKeyPolicy, keyPolicyFor } from '../src/commands/keyPolicy.js'
import { devIdentityPolicies } from '../src/devConfig.js'
import { runCli } from '../src/commands/runCli.js'
import { captureIo } from './helpers.js'

const ACCOUNT = '111122223333'
const REGION = 'eu-west-1'
const ROLES = {
  admin: `arn:aws:iam::${ACCOUNT}:role/custody-admin`,
  importer: `arn:aws:iam::${ACCOUNT}:role/custody-importer`,
  instance: `arn:aws:iam::${ACCOUNT}:role/custody-instance`,
}
const CREDENTIALS = {
  admin: { accessKeyId: 'AKIACLIHARDENADMIN01', secretAccessKey: randomBytes(20).toString('hex') },
  importer: { accessKeyId: 'AKIACLIHARDENIMPORT1', secretAccessKey: randomBytes(20).toString('hex') },
  instance: { accessKeyId: 'AKIACLIHARDENINSTAN1', secretAccessKey: randomBytes(20).toString('hex') },
}
type Who = keyof typeof CREDENTIALS
const ZEROS = '0'.repeat(96)
const roles = ['--instance-role', ROLES.instance, '--importer-role', ROLES.importer, '--admin', ROLES.admin]

async function errorName(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(
    () => undefined,
    (e: { name?: string }) => e.name,
  )
}

describe('custody key-policy: rotation, debug enclaves, locked policies', () => {
  let aws: LocalAws
  let ca: ReturnType<typeof createSoftwareNsmCa>
  let current: SoftwareNsm
  let next: SoftwareNsm
  let stranger: SoftwareNsm
  const clients: KMSClient[] = []
  const kms = (who: Who) => {
    const c = new KMSClient({ endpoint: aws.endpoint, region: REGION, credentials: CREDENTIALS[who], maxAttempts: 1 })
    clients.push(c)
    return c
  }

  beforeAll(async () => {
    ca = createSoftwareNsmCa()
    // Three images: each software NSM attests its own random PCR0.
    const image = () => createSoftwareNsm({ ca, pcrs: { 0: randomBytes(48).toString('hex') } })
    current = await image()
    next = await image()
    stranger = await image()
    aws = await startLocalAws({
      accountId: ACCOUNT,
      region: REGION,
      attestationRoots: [current.rootCertificatePem],
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

  it('--pcr0 repeated or comma-separated: one list of accepted images, deduplicated', async () => {
    const expected = buildKeyPolicy({ pcr0: [current.pcrs[0]!, next.pcrs[0]!], instanceRoleArn: ROLES.instance, importerRoleArn: ROLES.importer, adminArns: ROLES.admin })
    for (const pcr0 of [
      ['--pcr0', current.pcrs[0]!, '--pcr0', next.pcrs[0]!],
      ['--pcr0', `${current.pcrs[0]},${next.pcrs[0]!.toUpperCase()}`],
      ['--pcr0', `${current.pcrs[0]}, ${next.pcrs[0]}`, '--pcr0', current.pcrs[0]!],
    ]) {
      const io = captureIo()
      expect(await runCli(['key-policy', ...pcr0, ...roles], io)).toBe(0)
      expect(io.err()).toBe('')
      expect(JSON.parse(io.out())).toEqual(expected)
    }
  })

  it.each([
    [['--pcr0', ZEROS], `--pcr0 is all zeros, the measurement of a debug-mode enclave (any code); pass --allow-debug-enclave to accept it (development only)`],
    [['--pcr0', `${randomBytes(48).toString('hex')},${ZEROS}`], '--pcr0 is all zeros'],
    [['--pcr0', 'ab,cd'], '--pcr0 must be 96 hex digits (SHA-384)'],
    [['--pcr0', Array.from({ length: 6 }, () => randomBytes(48).toString('hex')).join(',')], '--pcr0 must list at most 5 distinct values'],
  ])('refuses %j with exit 2', async (pcr0, message) => {
    const io = captureIo()
    expect(await runCli(['key-policy', ...pcr0, ...roles], io)).toBe(2)
    expect(io.err()).toContain(`custody key-policy: ${message}`)
    expect(io.out()).toBe('')
  })

  it('--allow-debug-enclave accepts the all-zero PCR0', async () => {
    const io = captureIo()
    expect(await runCli(['key-policy', '--pcr0', ZEROS, '--allow-debug-enclave', ...roles], io)).toBe(0)
    expect(JSON.parse(io.out())).toEqual(
      buildKeyPolicy({ pcr0: ZEROS, allowDebugEnclave: true, instanceRoleArn: ROLES.instance, importerRoleArn: ROLES.importer, adminArns: ROLES.admin }),
    )
  })

  it('during a rotation both images decrypt and any other is denied, through real KMS calls', async () => {
    const { KeyMetadata } = await kms('admin').send(new CreateKeyCommand({}))
    const keyId = KeyMetadata!.KeyId!
    await applyKeyPolicy({ keyId, policy: keyPolicyFor({ pcr0: [current.pcrs[0]!, next.pcrs[0]!], instanceRoleArn: ROLES.instance, importerRoleArn: ROLES.importer, adminArns: [ROLES.admin] }) }, { kms: kms('admin') })
    const context = { keyId: 'rotating' }
    const secret = randomBytes(32)
    const { CiphertextBlob } = await kms('importer').send(new EncryptCommand({ KeyId: keyId, Plaintext: secret, EncryptionContext: context }))
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const spki = publicKey.export({ type: 'spki', format: 'der' })
    const decrypt = async (nsm: SoftwareNsm) =>
      kms('instance').send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context, Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: await nsm.attest({ publicKey: spki }) } }))
    for (const image of [current, next]) expect(Buffer.from(decryptEnvelopedData((await decrypt(image)).CiphertextForRecipient!, privateKey))).toEqual(secret)
    expect(await errorName(decrypt(stranger))).toBe('AccessDeniedException')
  })

  it('an administrator who appends "Allow * kms:*" to the applied policy still cannot decrypt: the Denies hold (real KMS calls)', async () => {
    const { KeyMetadata } = await kms('admin').send(new CreateKeyCommand({}))
    const keyId = KeyMetadata!.KeyId!
    const policy = keyPolicyFor({ pcr0: current.pcrs[0]!, instanceRoleArn: ROLES.instance, importerRoleArn: ROLES.importer, adminArns: [ROLES.admin] })
    await applyKeyPolicy({ keyId, policy }, { kms: kms('admin') })
    const context = { keyId: 'attacked' }
    const secret = randomBytes(32)
    const { CiphertextBlob } = await kms('importer').send(new EncryptCommand({ KeyId: keyId, Plaintext: secret, EncryptionContext: context }))
    // The attack: the admin keeps kms:PutKeyPolicy (no lock) and adds an Allow for everyone.
    const attacked = { ...policy, Statement: [...policy.Statement, { Sid: 'Backdoor', Effect: 'Allow' as const, Principal: { AWS: '*' }, Action: 'kms:*', Resource: '*' as const }] }
    await kms('admin').send(new PutKeyPolicyCommand({ KeyId: keyId, Policy: JSON.stringify(attacked) }))
    for (const who of ['admin', 'importer', 'instance'] as const) {
      const err = await kms(who)
        .send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context }))
        .then(
          () => undefined,
          (e: Error) => e,
        )
      expect(err?.message, who).toMatch(/with an explicit deny in a resource-based policy$/)
    }
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const spki = publicKey.export({ type: 'spki', format: 'der' })
    const withDocument = async (nsm: SoftwareNsm) =>
      kms('admin').send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context, Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: await nsm.attest({ publicKey: spki }) } }))
    expect(await errorName(withDocument(stranger))).toBe('AccessDeniedException')
    // Only a document of the accepted image passes, and then the plaintext is readable only with that enclave's key.
    const out = await withDocument(current)
    expect(out.Plaintext).toBeUndefined()
    expect(Buffer.from(decryptEnvelopedData(out.CiphertextForRecipient!, privateKey))).toEqual(secret)
  })

  it('--lock-key-policy: a loud warning, applied with the lockout bypass, and afterwards nobody can change the policy', async () => {
    const printed = captureIo()
    expect(await runCli(['key-policy', '--pcr0', current.pcrs[0]!, ...roles, '--lock-key-policy'], printed)).toBe(0)
    expect(printed.err()).toMatch(/^WARNING: --lock-key-policy is IRREVERSIBLE/)
    const locked = keyPolicyFor({ pcr0: current.pcrs[0]!, instanceRoleArn: ROLES.instance, importerRoleArn: ROLES.importer, adminArns: [ROLES.admin], lockKeyPolicy: true })
    expect(JSON.parse(printed.out())).toEqual(locked)

    const { KeyMetadata } = await kms('admin').send(new CreateKeyCommand({}))
    const keyId = KeyMetadata!.KeyId!
    // Without the bypass KMS's lockout safety check refuses it: the admin would lose PutKeyPolicy.
    await expect(kms('admin').send(new PutKeyPolicyCommand({ KeyId: keyId, Policy: JSON.stringify(locked) }))).rejects.toMatchObject({
      name: 'MalformedPolicyDocumentException',
    })
    await applyKeyPolicy({ keyId, policy: locked, lockKeyPolicy: true }, { kms: kms('admin') })
    expect(JSON.parse((await kms('admin').send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default' }))).Policy!)).toEqual(locked)
    // The attack: an administrator puts back a permissive policy, with or without the bypass. Explicitly denied.
    const permissive = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }] })
    for (const who of ['admin', 'importer', 'instance'] as const) {
      for (const bypass of [false, true]) {
        expect(await errorName(kms(who).send(new PutKeyPolicyCommand({ KeyId: keyId, Policy: permissive, BypassPolicyLockoutSafetyCheck: bypass })))).toBe('AccessDeniedException')
      }
    }
  })
})
