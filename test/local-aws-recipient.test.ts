import { generateKeyPairSync } from 'node:crypto'
import { CreateKeyCommand, DecryptCommand, EncryptCommand, GenerateDataKeyCommand, GenerateRandomCommand, type KMSClient } from '@aws-sdk/client-kms'
import type { LocalAws } from '@enclave-custody/local-aws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cborDecode, cborEncode, pcr, TestAttestationAuthority, verifyTestAttestation } from './local-aws-attestation.js'
import { awsError, createRecipientKey, kmsFor, opensslCmsDecrypt, type RecipientKey, startTestAws } from './local-aws-fixtures.js'

const PCR0 = pcr('image')

let authority: TestAttestationAuthority
let recipient: RecipientKey

beforeAll(() => {
  authority = TestAttestationAuthority.create()
  recipient = createRecipientKey()
})
afterAll(() => {
  authority?.dispose()
  recipient?.dispose()
})

const plaintext = new TextEncoder().encode('the enclave, and only the enclave, reads this')

describe('Recipient with an injected verifier', () => {
  let aws: LocalAws
  let kms: KMSClient
  let keyId: string
  let keyArn: string
  let blob: Uint8Array

  beforeAll(async () => {
    aws = await startTestAws({ attestationRoots: [authority.rootPem], verifyAttestation: verifyTestAttestation })
    kms = kmsFor(aws, 'admin')
    const created = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!
    keyId = created.KeyId!
    keyArn = created.Arn!
    blob = (await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext }))).CiphertextBlob!
  })
  afterAll(async () => {
    kms?.destroy()
    await aws?.close()
  })

  const recipientFor = (document: Uint8Array) => ({ KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' as const, AttestationDocument: document })
  const goodDocument = () => authority.issue({ pcrs: { 0: PCR0 }, publicKey: recipient.spki })

  it('Decrypt returns CiphertextForRecipient (no Plaintext) that openssl decrypts with the enclave key', async () => {
    const out = await kms.send(new DecryptCommand({ CiphertextBlob: blob, Recipient: recipientFor(goodDocument()) }))
    expect(out.Plaintext).toBeUndefined()
    expect(out.KeyId).toBe(keyArn)
    expect(opensslCmsDecrypt(out.CiphertextForRecipient!, recipient.privateKeyPem)).toEqual(Buffer.from(plaintext))
  })

  it('refuses a document older than 5 minutes, or more than 5 minutes ahead, by the server clock', async () => {
    const issuedAgo = (ms: number) => authority.issue({ pcrs: { 0: PCR0 }, publicKey: recipient.spki, timestamp: new Date(Date.now() - ms) })
    expect((await kms.send(new DecryptCommand({ CiphertextBlob: blob, Recipient: recipientFor(issuedAgo(4 * 60_000)) }))).CiphertextForRecipient).toBeDefined()
    expect(await awsError(kms.send(new DecryptCommand({ CiphertextBlob: blob, Recipient: recipientFor(issuedAgo(5 * 60_000 + 5_000)) })))).toEqual({
      name: 'ValidationException',
      message: 'The attestation document in the request is not valid: it was issued more than 5 minutes ago.',
      status: 400,
    })
    expect((await awsError(kms.send(new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 32, Recipient: recipientFor(issuedAgo(60 * 60_000)) })))).name).toBe(
      'ValidationException',
    )
    expect((await awsError(kms.send(new DecryptCommand({ CiphertextBlob: blob, Recipient: recipientFor(issuedAgo(-6 * 60_000)) })))).message).toBe(
      'The attestation document in the request is not valid: its timestamp is more than 5 minutes in the future.',
    )
  })

  it('measures the age against the server clock, not the machine clock', async () => {
    // The server's clock runs 6 minutes ahead: a document issued just now is already too old for it.
    const ahead = 6 * 60_000
    const late = await startTestAws({ attestationRoots: [authority.rootPem], verifyAttestation: verifyTestAttestation, clock: () => new Date(Date.now() + ahead) })
    const client = kmsFor(late, 'admin', { systemClockOffset: ahead })
    try {
      const key = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!
      const sealed = (await client.send(new EncryptCommand({ KeyId: key, Plaintext: plaintext }))).CiphertextBlob!
      expect((await awsError(client.send(new DecryptCommand({ CiphertextBlob: sealed, Recipient: recipientFor(goodDocument()) })))).message).toMatch(/issued more than 5 minutes ago/)
      const fresh = authority.issue({ pcrs: { 0: PCR0 }, publicKey: recipient.spki, timestamp: new Date(Date.now() + ahead) })
      expect((await client.send(new DecryptCommand({ CiphertextBlob: sealed, Recipient: recipientFor(fresh) }))).CiphertextForRecipient).toBeDefined()
    } finally {
      client.destroy()
      await late.close()
    }
  })

  it('GenerateDataKey returns CiphertextBlob and CiphertextForRecipient, and the two hold the same key', async () => {
    const out = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 32, Recipient: recipientFor(goodDocument()) }))
    expect(out.Plaintext).toBeUndefined()
    expect(out.KeyId).toBe(keyArn)
    const fromCms = opensslCmsDecrypt(out.CiphertextForRecipient!, recipient.privateKeyPem)
    const fromBlob = await kms.send(new DecryptCommand({ CiphertextBlob: out.CiphertextBlob }))
    expect(fromCms).toEqual(Buffer.from(fromBlob.Plaintext!))
  })

  it('GenerateRandom with Recipient returns only CiphertextForRecipient', async () => {
    const out = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 48, Recipient: recipientFor(goodDocument()) }))
    expect(out.Plaintext).toBeUndefined()
    expect(opensslCmsDecrypt(out.CiphertextForRecipient!, recipient.privateKeyPem)).toHaveLength(48)
  })

  it('the CMS is not readable with another RSA key', async () => {
    const out = await kms.send(new DecryptCommand({ CiphertextBlob: blob, Recipient: recipientFor(goodDocument()) }))
    const other = createRecipientKey()
    try {
      expect(() => opensslCmsDecrypt(out.CiphertextForRecipient!, other.privateKeyPem)).toThrow()
    } finally {
      other.dispose()
    }
  })

  it.each([
    ['a flipped signature byte', () => tamper(goodDocument(), (bytes) => bytes.length - 1)],
    ['a changed PCR0 (signature no longer matches)', () => withPayload(goodDocument(), (payload) => (payload.get('pcrs') as Map<unknown, Uint8Array>).set(0, new Uint8Array(48)))],
    ['bytes that are not CBOR', () => new Uint8Array([0xff, 0x00, 0x01])],
    ['a document from an untrusted CA', () => otherAuthorityDocument()],
  ])('ValidationException for %s', async (_, make) => {
    const err = await awsError(kms.send(new DecryptCommand({ CiphertextBlob: blob, Recipient: recipientFor(make()) })))
    expect(err.name).toBe('ValidationException')
    expect(err.message).toMatch(/^The attestation document in the request is not valid: attestation failed: /)
  })

  it('ValidationException for a document without public_key or with a non-RSA key', async () => {
    const none = await awsError(kms.send(new DecryptCommand({ CiphertextBlob: blob, Recipient: recipientFor(authority.issue({ pcrs: { 0: PCR0 }, publicKey: null })) })))
    expect(none).toMatchObject({ name: 'ValidationException', message: 'The attestation document in the request has no public key.' })
    const ec = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }))
    expect((await awsError(kms.send(new DecryptCommand({ CiphertextBlob: blob, Recipient: recipientFor(authority.issue({ publicKey: ec })) })))).name).toBe(
      'ValidationException',
    )
  })

  it('ValidationException for a bad KeyEncryptionAlgorithm or a missing document', async () => {
    const bad = { KeyEncryptionAlgorithm: 'RSAES_PKCS1_V1_5' as 'RSAES_OAEP_SHA_256', AttestationDocument: goodDocument() }
    expect((await awsError(kms.send(new DecryptCommand({ CiphertextBlob: blob, Recipient: bad })))).message).toMatch(/Member must satisfy enum value set: \[RSAES_OAEP_SHA_256\]/)
    expect((await awsError(kms.send(new GenerateRandomCommand({ NumberOfBytes: 8, Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' } })))).name).toBe(
      'ValidationException',
    )
  })
})

describe("Recipient with the SDK's verifyAttestationDocument (the default verifier)", () => {
  it('verifies documents chained to attestationRoots and returns CMS for the document key', async () => {
    const aws = await startTestAws({ attestationRoots: [authority.rootPem] })
    const kms = kmsFor(aws)
    try {
      const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!
      const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext }))
      const document = authority.issue({ pcrs: { 0: PCR0 }, publicKey: recipient.spki })
      const out = await kms.send(new DecryptCommand({ CiphertextBlob, Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: document } }))
      expect(opensslCmsDecrypt(out.CiphertextForRecipient!, recipient.privateKeyPem)).toEqual(Buffer.from(plaintext))
      const forged = await awsError(
        kms.send(new DecryptCommand({ CiphertextBlob, Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: otherAuthorityDocument() } })),
      )
      expect(forged.name).toBe('ValidationException')
    } finally {
      kms.destroy()
      await aws.close()
    }
  })

  it('refuses every document when no attestation roots are configured', async () => {
    const aws = await startTestAws()
    const kms = kmsFor(aws)
    try {
      const document = authority.issue({ pcrs: { 0: PCR0 }, publicKey: recipient.spki })
      const err = await awsError(kms.send(new GenerateRandomCommand({ NumberOfBytes: 8, Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: document } })))
      expect(err).toMatchObject({ name: 'ValidationException', message: expect.stringMatching(/no attestation roots configured/) })
    } finally {
      kms.destroy()
      await aws.close()
    }
  })
})

function tamper(document: Uint8Array, index: (bytes: Uint8Array) => number): Uint8Array {
  const copy = new Uint8Array(document)
  copy[index(copy)]! ^= 0x01
  return copy
}

/** Re-encode the document with a modified payload but the original signature. */
function withPayload(document: Uint8Array, edit: (payload: Map<unknown, unknown>) => void): Uint8Array {
  const [protectedHeader, unprotected, payloadBytes, signature] = cborDecode(document) as [Uint8Array, Map<never, never>, Uint8Array, Uint8Array]
  const payload = cborDecode(payloadBytes) as Map<unknown, unknown>
  edit(payload)
  return cborEncode([protectedHeader, unprotected, cborEncode(payload as Parameters<typeof cborEncode>[0]), signature])
}

function otherAuthorityDocument(): Uint8Array {
  const other = TestAttestationAuthority.create()
  try {
    return other.issue({ pcrs: { 0: PCR0 }, publicKey: recipient.spki })
  } finally {
    other.dispose()
  }
}
