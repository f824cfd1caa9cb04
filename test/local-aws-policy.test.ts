import { CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, GenerateDataKeyCommand, type KMSClient, PutKeyPolicyCommand } from '@aws-sdk/client-kms'
import type { LocalAws } from '@enclave-custody/local-aws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pcr, TestAttestationAuthority } from './local-aws-attestation.js'
import {
  ACCOUNT,
  awsError,
  createRecipientKey,
  ENCLAVE_ROLE,
  kmsFor,
  opensslCmsDecrypt,
  PRINCIPALS,
  type RecipientKey,
  startTestAws,
  type Who,
} from './local-aws-fixtures.js'

const PCR0 = pcr('enclave-custody image v1')
const PCR8 = pcr('signing certificate')
const ZEROS = '00'.repeat(48)

let aws: LocalAws
let authority: TestAttestationAuthority
let recipient: RecipientKey
const clients = new Map<Who, KMSClient>()
const kms = (who: Who): KMSClient => clients.get(who)!

beforeAll(async () => {
  authority = TestAttestationAuthority.create()
  recipient = createRecipientKey()
  // The default verifier: @enclave-custody/sdk's verifyAttestationDocument, trusting the test CA.
  aws = await startTestAws({ attestationRoots: [authority.rootPem] })
  for (const who of ['admin', 'importer', 'enclave', 'outsider'] as const) clients.set(who, kmsFor(aws, who))
})
afterAll(async () => {
  for (const c of clients.values()) c.destroy()
  await aws?.close()
  authority?.dispose()
  recipient?.dispose()
})

/** A Recipient whose attestation document carries `pcrs` and the test recipient key. */
function recipientWith(pcrs: Record<number, string>) {
  return { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' as const, AttestationDocument: authority.issue({ pcrs, publicKey: recipient.spki }) }
}

/** The policy DESIGN.md describes: admin administers, importer encrypts, the attested enclave decrypts. */
function custodyPolicy(imageDigests: string[], extra: object[] = []): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'KeyAdministration',
        Effect: 'Allow',
        Principal: { AWS: PRINCIPALS.admin.arn },
        NotAction: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'],
        Resource: '*',
      },
      {
        Sid: 'ImportOnly',
        Effect: 'Allow',
        Principal: { AWS: PRINCIPALS.importer.arn },
        Action: 'kms:Encrypt',
        Resource: '*',
        Condition: { StringEquals: { 'kms:EncryptionContext:purpose': 'custody' } },
      },
      {
        Sid: 'EnclaveUnseal',
        Effect: 'Allow',
        Principal: { AWS: ENCLAVE_ROLE },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: '*',
        Condition: { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': imageDigests } },
      },
      ...extra,
    ],
  })
}

async function custodyKey(imageDigests = [PCR0], extra: object[] = []): Promise<{ keyId: string; arn: string }> {
  const { KeyMetadata } = await kms('admin').send(new CreateKeyCommand({ Policy: custodyPolicy(imageDigests, extra) }))
  return { keyId: KeyMetadata!.KeyId!, arn: KeyMetadata!.Arn! }
}

const secret = new TextEncoder().encode('private key 0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318')
const context = { purpose: 'custody', keyId: 'k-1' }

describe('default key policy', () => {
  it('lets every principal of the account use the key', async () => {
    const { KeyMetadata } = await kms('admin').send(new CreateKeyCommand({}))
    for (const who of ['admin', 'importer', 'enclave'] as const) {
      const { CiphertextBlob } = await kms(who).send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: secret }))
      expect((await kms(who).send(new DecryptCommand({ CiphertextBlob }))).Plaintext).toEqual(secret)
    }
  })

  it('denies principals of another account, with the AWS message', async () => {
    const { KeyMetadata } = await kms('admin').send(new CreateKeyCommand({}))
    expect(await awsError(kms('outsider').send(new EncryptCommand({ KeyId: KeyMetadata!.Arn, Plaintext: secret })))).toEqual({
      name: 'AccessDeniedException',
      message: `User: ${PRINCIPALS.outsider.arn} is not authorized to perform: kms:Encrypt on resource: ${KeyMetadata!.Arn} because no resource-based policy allows the kms:Encrypt action`,
      status: 400,
    })
    expect((await awsError(kms('outsider').send(new DescribeKeyCommand({ KeyId: KeyMetadata!.Arn })))).name).toBe('AccessDeniedException')
  })
})

describe('custody key policy', () => {
  it('importer may Encrypt only with the custody encryption context', async () => {
    const { keyId } = await custodyKey()
    await expect(kms('importer').send(new EncryptCommand({ KeyId: keyId, Plaintext: secret, EncryptionContext: context }))).resolves.toBeDefined()
    const contexts: (Record<string, string> | undefined)[] = [undefined, { purpose: 'other' }, { Purpose: 'Custody' }]
    for (const ctx of contexts) {
      expect((await awsError(kms('importer').send(new EncryptCommand({ KeyId: keyId, Plaintext: secret, EncryptionContext: ctx })))).name).toBe(
        'AccessDeniedException',
      )
    }
    expect((await awsError(kms('importer').send(new DecryptCommand({ CiphertextBlob: new Uint8Array(64), KeyId: keyId })))).name).toBe('InvalidCiphertextException')
  })

  it('Encrypt by a principal the policy does not allow (enclave, admin) is denied', async () => {
    const { keyId, arn } = await custodyKey()
    expect((await awsError(kms('enclave').send(new EncryptCommand({ KeyId: keyId, Plaintext: secret, EncryptionContext: context })))).message).toBe(
      `User: ${PRINCIPALS.enclave.arn} is not authorized to perform: kms:Encrypt on resource: ${arn} because no resource-based policy allows the kms:Encrypt action`,
    )
    expect((await awsError(kms('admin').send(new EncryptCommand({ KeyId: keyId, Plaintext: secret, EncryptionContext: context })))).name).toBe('AccessDeniedException')
    expect((await kms('admin').send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.Arn).toBe(arn)
  })

  it('enclave Decrypt: PCR0 met → CiphertextForRecipient; unmet or no document → denied', async () => {
    const { keyId } = await custodyKey()
    const { CiphertextBlob } = await kms('importer').send(new EncryptCommand({ KeyId: keyId, Plaintext: secret, EncryptionContext: context }))

    const ok = await kms('enclave').send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context, Recipient: recipientWith({ 0: PCR0 }) }))
    expect(ok.Plaintext).toBeUndefined()
    expect(opensslCmsDecrypt(ok.CiphertextForRecipient!, recipient.privateKeyPem)).toEqual(Buffer.from(secret))

    const upper = await kms('enclave').send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context, Recipient: recipientWith({ 0: PCR0.toUpperCase() }) }))
    expect(upper.CiphertextForRecipient).toBeDefined()

    expect((await awsError(kms('enclave').send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context, Recipient: recipientWith({ 0: pcr('evil image') }) })))).name).toBe(
      'AccessDeniedException',
    )
    expect((await awsError(kms('enclave').send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context })))).message).toMatch(
      /is not authorized to perform: kms:Decrypt on resource: .* because no resource-based policy allows the kms:Decrypt action$/,
    )
    expect((await awsError(kms('admin').send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context, Recipient: recipientWith({ 0: PCR0 }) })))).name).toBe(
      'AccessDeniedException',
    )
  })

  it('a debug-mode document (all-zero PCRs) is denied unless the policy names the zero digest', async () => {
    const debug = { 0: ZEROS, 1: ZEROS, 2: ZEROS, 8: ZEROS }
    const { keyId } = await custodyKey()
    const { CiphertextBlob } = await kms('importer').send(new EncryptCommand({ KeyId: keyId, Plaintext: secret, EncryptionContext: context }))
    expect((await awsError(kms('enclave').send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context, Recipient: recipientWith(debug) })))).name).toBe(
      'AccessDeniedException',
    )
    await kms('admin').send(new PutKeyPolicyCommand({ KeyId: keyId, Policy: custodyPolicy([PCR0, ZEROS]) }))
    const ok = await kms('enclave').send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context, Recipient: recipientWith(debug) }))
    expect(opensslCmsDecrypt(ok.CiphertextForRecipient!, recipient.privateKeyPem)).toEqual(Buffer.from(secret))
  })

  it('an explicit Deny wins over the Allow (revoked PCR8, missing record context)', async () => {
    const { keyId, arn } = await custodyKey([PCR0], [
      { Sid: 'RevokedSigner', Effect: 'Deny', Principal: '*', Action: 'kms:*', Resource: '*', Condition: { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:PCR8': PCR8 } } },
      { Sid: 'OnlyKeyRecords', Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', Resource: '*', Condition: { Null: { 'kms:EncryptionContext:keyId': 'true' } } },
    ])
    const { CiphertextBlob } = await kms('importer').send(new EncryptCommand({ KeyId: keyId, Plaintext: secret, EncryptionContext: context }))
    await expect(kms('enclave').send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context, Recipient: recipientWith({ 0: PCR0, 8: pcr('other signer') }) }))).resolves.toBeDefined()
    expect(await awsError(kms('enclave').send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context, Recipient: recipientWith({ 0: PCR0, 8: PCR8 }) })))).toMatchObject({
      name: 'AccessDeniedException',
      message: `User: ${PRINCIPALS.enclave.arn} is not authorized to perform: kms:Decrypt on resource: ${arn} with an explicit deny in a resource-based policy`,
    })
    // Policy is evaluated before the ciphertext: a context without keyId is denied, not reported as an invalid ciphertext.
    expect((await awsError(kms('enclave').send(new DecryptCommand({ CiphertextBlob, EncryptionContext: { purpose: 'custody' }, Recipient: recipientWith({ 0: PCR0 }) })))).message).toMatch(
      /with an explicit deny in a resource-based policy$/,
    )
  })

  it('enclave GenerateDataKey with Recipient: the data key reaches only the enclave; the blob unseals again later', async () => {
    const { keyId } = await custodyKey()
    const generated = await kms('enclave').send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: context, Recipient: recipientWith({ 0: PCR0 }) }))
    expect(generated.Plaintext).toBeUndefined()
    expect(generated.CiphertextBlob).toBeDefined()
    const dataKey = opensslCmsDecrypt(generated.CiphertextForRecipient!, recipient.privateKeyPem)
    expect(dataKey).toHaveLength(32)
    const again = await kms('enclave').send(new DecryptCommand({ CiphertextBlob: generated.CiphertextBlob, EncryptionContext: context, Recipient: recipientWith({ 0: PCR0 }) }))
    expect(opensslCmsDecrypt(again.CiphertextForRecipient!, recipient.privateKeyPem)).toEqual(dataKey)
    expect((await awsError(kms('enclave').send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: context })))).name).toBe(
      'AccessDeniedException',
    )
  })

  it('PutKeyPolicy by the enclave or importer is denied; kms:CallerAccount conditions apply', async () => {
    // Another account names the key by ARN (a bare key id means "in my account", which it is not).
    const { arn } = await custodyKey()
    for (const who of ['enclave', 'importer', 'outsider'] as const) {
      expect((await awsError(kms(who).send(new PutKeyPolicyCommand({ KeyId: arn, Policy: custodyPolicy([ZEROS]) })))).name).toBe('AccessDeniedException')
    }
    const { KeyMetadata } = await kms('admin').send(
      new CreateKeyCommand({
        Policy: JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*', Condition: { StringEquals: { 'kms:CallerAccount': ACCOUNT } } }] }),
      }),
    )
    await expect(kms('importer').send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: secret }))).resolves.toBeDefined()
    expect((await awsError(kms('outsider').send(new EncryptCommand({ KeyId: KeyMetadata!.Arn, Plaintext: secret })))).name).toBe('AccessDeniedException')
    expect((await awsError(kms('outsider').send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: secret })))).name).toBe('NotFoundException')
  })
})
