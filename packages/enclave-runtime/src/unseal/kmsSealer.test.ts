/**
 * Shape tests of the attested KMS sealer against a tiny in-test fake of the KMS JSON API (the real
 * wire-compatible local KMS lives in packages/local-aws; end-to-end tests with it come separately).
 */
import { constants, createCipheriv, createHash, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { generateApiKey, isCustodyError, normalizeOwners, ownersHash, SECP256K1_N, type SealedKeyRecordV2, verifyAttestationDocument } from '@enclave-custody/sdk'
import {
  ContentInfo,
  EncryptedContent,
  EncryptedContentInfo,
  EnvelopedData,
  id_data,
  id_envelopedData,
  KeyTransRecipientInfo,
  RecipientIdentifier,
  RecipientInfo,
  RecipientInfos,
} from '@peculiar/asn1-cms'
import { id_mgf1, id_RSAES_OAEP, id_sha256 } from '@peculiar/asn1-rsa'
import { AsnConvert, OctetString } from '@peculiar/asn1-schema'
import { AlgorithmIdentifier, SubjectKeyIdentifier } from '@peculiar/asn1-x509'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createSoftwareNsm, type SoftwareNsm } from '../attestation/softwareNsm.js'
import type { AttestationProvider, AwsCredentials, SealedKeyRecord } from '../keys/types.js'
import { createKmsSealer, type KmsSealer } from './kmsSealer.js'

const KMS_KEY = 'arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555'
/** A key of another account: the hostile parent's, with a key policy that allows anything. */
const OTHER_KEY = 'arn:aws:kms:us-east-1:999988887777:key/99999999-8888-7777-6666-555555555555'
const CREDENTIALS: AwsCredentials = {
  accessKeyId: 'ASIAFAKEFORWARDED01',
  secretAccessKey: 'fake-secret-access-key-never-in-messages',
  sessionToken: 'fake-session-token-never-in-messages',
}
const OTHER_CREDENTIALS: AwsCredentials = { accessKeyId: 'ASIAFAKEFORWARDED02', secretAccessKey: 'another-fake-secret' }

type Seen = { target: string; body: Record<string, unknown>; authorization: string; securityToken: string | undefined; attestedPublicKey?: Uint8Array }
type Reply = { status: number; body: unknown }

/** The fake KMS: verifies the Recipient's attestation document and answers with CMS EnvelopedData for its public key. */
class FakeKms {
  server!: Server
  url = ''
  seen: Seen[] = []
  /** Return a reply to short-circuit the default behaviour. */
  override: ((target: string, body: Record<string, unknown>) => Reply | undefined) | undefined
  /** Rewrites the default reply (a hostile KMS answering for another key). */
  rewrite: ((target: string, reply: Reply) => Reply) | undefined
  /** Data keys GenerateDataKey hands out next (random when empty). */
  nextDataKeys: Uint8Array[] = []

  constructor(private readonly nsm: SoftwareNsm) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      void this.handle(req).then(({ status, body }) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'fake-request-id-1' })
        res.end(JSON.stringify(body))
      })
    })
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise((resolve) => this.server.close(resolve))
  }

  private async handle(req: IncomingMessage): Promise<Reply> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>
    const target = String(req.headers['x-amz-target'])
    const seen: Seen = {
      target,
      body,
      authorization: String(req.headers.authorization),
      securityToken: req.headers['x-amz-security-token'] as string | undefined,
    }
    this.seen.push(seen)
    const overridden = this.override?.(target, body)
    if (overridden !== undefined) return overridden
    const reply = await this.answer(target, body, seen)
    return this.rewrite === undefined ? reply : this.rewrite(target, reply)
  }

  private async answer(target: string, body: Record<string, unknown>, seen: Seen): Promise<Reply> {

    const recipient = body.Recipient as { KeyEncryptionAlgorithm?: string; AttestationDocument?: string } | undefined
    if (recipient?.KeyEncryptionAlgorithm !== 'RSAES_OAEP_SHA_256' || recipient.AttestationDocument === undefined) {
      return error('ValidationException', 'Recipient required by this fake')
    }
    let publicKey: Uint8Array
    try {
      const doc = verifyAttestationDocument(Buffer.from(recipient.AttestationDocument, 'base64'), { roots: [this.nsm.rootCertificatePem], maxAgeMs: 300_000 })
      if (doc.publicKey === undefined) return error('ValidationException', 'no public key')
      publicKey = doc.publicKey
    } catch {
      return error('AccessDeniedException', 'attestation rejected')
    }
    seen.attestedPublicKey = publicKey

    if (target === 'TrentService.Decrypt') {
      const blob = JSON.parse(Buffer.from(String(body.CiphertextBlob), 'base64').toString('utf8')) as { k: string; c: Record<string, string>; p: string }
      if (body.KeyId !== undefined && body.KeyId !== blob.k) return error('IncorrectKeyException', 'wrong key')
      if (canonical(body.EncryptionContext ?? {}) !== canonical(blob.c)) return { status: 400, body: { __type: 'InvalidCiphertextException' } }
      return { status: 200, body: { KeyId: blob.k, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT', CiphertextForRecipient: envelope(Buffer.from(blob.p, 'hex'), publicKey) } }
    }
    if (target === 'TrentService.GenerateDataKey') {
      if (body.KeySpec !== 'AES_256') return error('ValidationException', 'KeySpec')
      const dataKey = this.nextDataKeys.shift() ?? randomBytes(32)
      const blob = Buffer.from(JSON.stringify({ k: body.KeyId, c: body.EncryptionContext ?? {}, p: Buffer.from(dataKey).toString('hex') })).toString('base64')
      return { status: 200, body: { KeyId: body.KeyId, CiphertextBlob: blob, CiphertextForRecipient: envelope(dataKey, publicKey) } }
    }
    return error('UnknownOperationException', target)
  }
}

function error(type: string, message: string): Reply {
  return { status: 400, body: { __type: type, message } }
}

function canonical(context: unknown): string {
  return JSON.stringify(Object.entries(context as Record<string, string>).sort(([a], [b]) => (a < b ? -1 : 1)))
}

/** CMS EnvelopedData shaped like KMS's: ktri v2 with a 32-byte SKI, RSAES-OAEP-SHA-256/MGF1-SHA-256, AES-256-CBC. */
function envelope(plaintext: Uint8Array, spki: Uint8Array): string {
  const contentKey = randomBytes(32)
  const iv = randomBytes(16)
  const cipher = createCipheriv('aes-256-cbc', contentKey, iv)
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()])
  const encryptedKey = publicEncrypt(
    { key: createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    contentKey,
  )
  const sha256 = new AlgorithmIdentifier({ algorithm: id_sha256, parameters: null })
  // RSAES-OAEP-params { [0] sha256, [1] mgf1(sha256) }, built by hand so that no pSource default sneaks in.
  const oaepParams = Buffer.concat([
    Buffer.from([0x30, 0x2f, 0xa0, 0x0f]),
    Buffer.from(AsnConvert.serialize(sha256)),
    Buffer.from([0xa1, 0x1c]),
    Buffer.from(AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: id_mgf1, parameters: AsnConvert.serialize(sha256) }))),
  ])
  const enveloped = new EnvelopedData({
    version: 2,
    recipientInfos: new RecipientInfos([
      new RecipientInfo({
        ktri: new KeyTransRecipientInfo({
          version: 2,
          rid: new RecipientIdentifier({ subjectKeyIdentifier: new SubjectKeyIdentifier(createHash('sha256').update(spki).digest()) }),
          keyEncryptionAlgorithm: new AlgorithmIdentifier({ algorithm: id_RSAES_OAEP, parameters: new Uint8Array(oaepParams).buffer }),
          encryptedKey: new OctetString(encryptedKey),
        }),
      }),
    ]),
    encryptedContentInfo: new EncryptedContentInfo({
      contentType: id_data,
      contentEncryptionAlgorithm: new AlgorithmIdentifier({ algorithm: '2.16.840.1.101.3.4.1.42', parameters: AsnConvert.serialize(new OctetString(iv)) }),
      encryptedContent: new EncryptedContent({ value: new OctetString(ciphertext) }),
    }),
  })
  const info = new ContentInfo({ contentType: id_envelopedData, content: AsnConvert.serialize(enveloped) })
  contentKey.fill(0)
  return Buffer.from(AsnConvert.serialize(info)).toString('base64')
}

/** Counts attest() calls. */
function counting(provider: AttestationProvider): AttestationProvider & { calls: number } {
  const wrapper = {
    kind: provider.kind,
    calls: 0,
    attest(request: Parameters<AttestationProvider['attest']>[0]) {
      wrapper.calls++
      return provider.attest(request)
    },
  }
  return wrapper
}

function recordFrom(keyId: string, sealed: Awaited<ReturnType<KmsSealer['generate']>>['sealed']): SealedKeyRecord {
  return { version: 1, keyId, curve: 'secp256k1', address: '0x0000000000000000000000000000000000000000', createdAt: new Date().toISOString(), ...sealed }
}

async function failure(promise: Promise<unknown>): Promise<Error & { code?: string; retryable?: boolean; shortMessage?: string }> {
  try {
    await promise
  } catch (e) {
    return e as Error
  }
  throw new Error('expected a rejection')
}

let nsm: SoftwareNsm
let kms: FakeKms
let sealer: KmsSealer
beforeAll(async () => {
  nsm = await createSoftwareNsm({ pcrs: { 0: new Uint8Array(48).fill(1) } })
  kms = new FakeKms(nsm)
  await kms.start()
  sealer = await createKmsSealer({ attestation: nsm, region: 'us-east-1', endpoint: kms.url, kmsKeyArn: KMS_KEY, allowHttpEndpoint: true, maxAttempts: 1 })
})
afterAll(async () => {
  sealer.close()
  await kms.stop()
})
beforeEach(() => {
  kms.seen = []
  kms.override = undefined
  kms.rewrite = undefined
  kms.nextDataKeys = []
})

describe('createKmsSealer', () => {
  it('is an aws-kms sealer without seal()', () => {
    expect(sealer.kind).toBe('aws-kms')
    expect('seal' in sealer).toBe(false)
    expect(createPublicKey({ key: Buffer.from(sealer.recipientPublicKey), format: 'der', type: 'spki' }).asymmetricKeyDetails?.modulusLength).toBe(2048)
  })

  it('generates a key with GenerateDataKey and unseals it with Decrypt, both with the attested Recipient', async () => {
    const { privateKey, sealed } = await sealer.generate('key-1', { credentials: CREDENTIALS })
    expect(privateKey).toHaveLength(32)
    expect(sealed).toEqual({ sealing: 'aws-kms', kmsKeyId: KMS_KEY, ciphertext: expect.any(String), encryptionContext: { keyId: 'key-1' } })
    const [generate] = kms.seen
    expect(generate!.target).toBe('TrentService.GenerateDataKey')
    expect(generate!.body).toEqual({
      KeyId: KMS_KEY,
      KeySpec: 'AES_256',
      EncryptionContext: { keyId: 'key-1' },
      Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: expect.any(String) },
    })
    expect(generate!.attestedPublicKey).toEqual(sealer.recipientPublicKey)

    const unsealed = await sealer.unseal(recordFrom('key-1', sealed), { credentials: CREDENTIALS })
    expect(unsealed).toEqual(privateKey)
    const decrypt = kms.seen[1]!
    expect(decrypt.target).toBe('TrentService.Decrypt')
    expect(decrypt.body).toEqual({
      CiphertextBlob: sealed.ciphertext,
      EncryptionContext: { keyId: 'key-1' },
      KeyId: KMS_KEY,
      Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: expect.any(String) },
    })
    expect(decrypt.attestedPublicKey).toEqual(sealer.recipientPublicKey)
  })

  it('signs each request with the forwarded credentials, one client per credential set', async () => {
    await sealer.generate('key-a', { credentials: CREDENTIALS })
    await sealer.generate('key-b', { credentials: OTHER_CREDENTIALS })
    expect(kms.seen[0]!.authorization).toContain(`Credential=${CREDENTIALS.accessKeyId}/`)
    expect(kms.seen[0]!.securityToken).toBe(CREDENTIALS.sessionToken)
    expect(kms.seen[1]!.authorization).toContain(`Credential=${OTHER_CREDENTIALS.accessKeyId}/`)
    expect(kms.seen[1]!.securityToken).toBeUndefined()
  })

  it('retries GenerateDataKey while the data key is not a valid secp256k1 scalar, and gives up after the bound', async () => {
    const order = Buffer.from(SECP256K1_N.toString(16).padStart(64, '0'), 'hex')
    const valid = new Uint8Array(32).fill(7)
    kms.nextDataKeys = [new Uint8Array(32), order, valid]
    const { privateKey, sealed } = await sealer.generate('key-retry', { credentials: CREDENTIALS })
    expect(privateKey).toEqual(valid)
    expect(kms.seen.map((s) => s.target)).toEqual(Array(3).fill('TrentService.GenerateDataKey'))
    expect(JSON.parse(Buffer.from(sealed.ciphertext, 'base64').toString()).p).toBe('07'.repeat(32))

    const strict = await createKmsSealer({ attestation: nsm, region: 'us-east-1', endpoint: kms.url, kmsKeyArn: KMS_KEY, allowHttpEndpoint: true, maxGenerateAttempts: 2, maxAttempts: 1 })
    try {
      kms.seen = []
      kms.nextDataKeys = [new Uint8Array(32), new Uint8Array(32), valid]
      const e = await failure(strict.generate('key-never', { credentials: CREDENTIALS }))
      expect(isCustodyError(e, 'INTEGRITY_ERROR')).toBe(true)
      expect(e.message).toBe('integrity check failed: KMS GenerateDataKey gave no valid secp256k1 private key in 2 attempts')
      expect(kms.seen).toHaveLength(2)
    } finally {
      strict.close()
    }
  })

  it('refuses a response that carries Plaintext, and one without CiphertextForRecipient', async () => {
    const { sealed } = await sealer.generate('key-p', { credentials: CREDENTIALS })
    const leaked = randomBytes(32)
    kms.override = (target) =>
      target === 'TrentService.Decrypt' ? { status: 200, body: { KeyId: KMS_KEY, Plaintext: leaked.toString('base64') } } : undefined
    const e = await failure(sealer.unseal(recordFrom('key-p', sealed), { credentials: CREDENTIALS }))
    expect(isCustodyError(e, 'INTEGRITY_ERROR')).toBe(true)
    expect(e.message).toBe('integrity check failed: KMS Decrypt returned Plaintext instead of CiphertextForRecipient: the Recipient was ignored')

    kms.override = (target) => (target === 'TrentService.Decrypt' ? { status: 200, body: { KeyId: KMS_KEY } } : undefined)
    expect((await failure(sealer.unseal(recordFrom('key-p', sealed), { credentials: CREDENTIALS }))).message).toBe(
      'integrity check failed: KMS Decrypt returned no CiphertextForRecipient',
    )

    kms.override = (target) =>
      target === 'TrentService.GenerateDataKey'
        ? { status: 200, body: { KeyId: KMS_KEY, CiphertextBlob: 'AAAA', Plaintext: leaked.toString('base64') } }
        : undefined
    expect((await failure(sealer.generate('key-q', { credentials: CREDENTIALS }))).message).toMatch(/GenerateDataKey returned Plaintext/)
  })

  it('maps KMS errors to CustodyErrors without leaking messages, ciphertexts or credentials', async () => {
    const { privateKey, sealed } = await sealer.generate('key-e', { credentials: CREDENTIALS })
    const record = recordFrom('key-e', sealed)
    const cases: [Reply, string, boolean][] = [
      [
        {
          status: 400,
          body: { __type: 'AccessDeniedException', Message: 'User: arn:aws:sts::111122223333:assumed-role/enclave/i-0 is not authorized to perform: kms:Decrypt' },
        },
        'POLICY_DENIED',
        false,
      ],
      [{ status: 400, body: { __type: 'InvalidCiphertextException' } }, 'INTEGRITY_ERROR', false],
      [{ status: 400, body: { __type: 'com.amazonaws.kms#IncorrectKeyException', message: 'key mismatch' } }, 'INTEGRITY_ERROR', false],
      [{ status: 400, body: { __type: 'ExpiredTokenException', message: 'The security token included in the request is expired' } }, 'UNAUTHENTICATED', false],
      [{ status: 400, body: { __type: 'UnrecognizedClientException', message: 'bad token' } }, 'UNAUTHENTICATED', false],
      [{ status: 409, body: { __type: 'DisabledException', message: `${KMS_KEY} is disabled` } }, 'UNAVAILABLE', false],
      [{ status: 400, body: { __type: 'ThrottlingException', message: 'slow down' } }, 'UNAVAILABLE', true],
      [{ status: 500, body: { __type: 'KMSInternalException', message: 'oops' } }, 'UNAVAILABLE', true],
      [{ status: 400, body: { __type: 'ValidationException', message: 'bad input' } }, 'INTERNAL', false],
    ]
    for (const [reply, code, retryable] of cases) {
      kms.override = () => reply
      const e = await failure(sealer.unseal(record, { credentials: CREDENTIALS }))
      expect(isCustodyError(e, code as 'INTERNAL'), `${JSON.stringify(reply.body)} → ${e.message}`).toBe(true)
      expect(e.retryable).toBe(retryable)
      expect(e.cause).toBeUndefined()
      const text = JSON.stringify({ message: e.message, details: (e as { details?: unknown }).details })
      for (const secret of [CREDENTIALS.secretAccessKey, CREDENTIALS.sessionToken!, sealed.ciphertext, Buffer.from(privateKey).toString('hex'), 'arn:aws', 'not authorized', 'disabled']) {
        expect(text).not.toContain(secret)
      }
    }
    kms.override = () => ({ status: 400, body: { __type: 'AccessDeniedException' } })
    expect((await failure(sealer.unseal(record, { credentials: CREDENTIALS }))).message).toMatchInlineSnapshot(
      `"denied: KMS Decrypt was denied by the key policy or IAM (AccessDeniedException, HTTP 400, request fake-request-id-1)"`,
    )
  })

  it('reports an unreachable KMS as UNAVAILABLE', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise((resolve) => closed.close(resolve))
    const offline = await createKmsSealer({ attestation: nsm, region: 'us-east-1', endpoint: `http://127.0.0.1:${port}`, kmsKeyArn: KMS_KEY, allowHttpEndpoint: true, maxAttempts: 1 })
    try {
      const e = await failure(offline.generate('key-x', { credentials: CREDENTIALS }))
      expect(isCustodyError(e, 'UNAVAILABLE')).toBe(true)
      expect(e.retryable).toBe(true)
      expect(e.message).toBe('unavailable: cannot reach KMS for GenerateDataKey (ECONNREFUSED)')
    } finally {
      offline.close()
    }
  })

  it('refuses a record whose encryption context does not bind its keyId, before calling KMS', async () => {
    const { sealed } = await sealer.generate('key-victim', { credentials: CREDENTIALS })
    kms.seen = []
    const swapped = recordFrom('key-attacker', sealed) // the victim's ciphertext and context under another keyId
    const e = await failure(sealer.unseal(swapped, { credentials: CREDENTIALS }))
    expect(isCustodyError(e, 'INTEGRITY_ERROR')).toBe(true)
    expect(e.message).toBe("integrity check failed: the record's encryption context does not bind its keyId")
    expect(kms.seen).toHaveLength(0)

    // A context edited to match makes KMS refuse the ciphertext instead.
    const forged = { ...swapped, encryptionContext: { keyId: 'key-attacker' } }
    expect(isCustodyError(await failure(sealer.unseal(forged, { credentials: CREDENTIALS })), 'INTEGRITY_ERROR')).toBe(true)
    expect(kms.seen).toHaveLength(1)
  })

  it('seals a v2 data key under the v2 context, and neither a data key nor a v1 key unseals as the other', async () => {
    const owners = normalizeOwners({ publicKeys: [generateApiKey().publicKey] })
    const { privateKey: dataKey, sealed } = await sealer.generate('key-v2', { credentials: CREDENTIALS }, undefined, owners, 2)
    expect(sealed.encryptionContext).toEqual({ keyId: 'key-v2', owners: ownersHash(owners), record: 'v2' })
    expect(kms.seen[0]!.body.EncryptionContext).toEqual(sealed.encryptionContext)
    // The sealer unseals a v2 record's `dataKey` (its `ciphertext` is the key material under the data key).
    const v2Record: SealedKeyRecordV2 = {
      version: 2,
      kind: 'secp256k1',
      keyId: 'key-v2',
      address: '0x0000000000000000000000000000000000000000',
      sealing: 'aws-kms',
      kmsKeyId: KMS_KEY,
      dataKey: sealed.ciphertext,
      ciphertext: Buffer.alloc(60).toString('base64'),
      encryptionContext: sealed.encryptionContext,
      createdAt: new Date().toISOString(),
      owners,
      creator: owners.publicKeys[0]!,
      enclaveSignature: { keyId: `0x${'00'.repeat(32)}`, signature: `0x${'00'.repeat(64)}` },
    }
    expect(await sealer.unseal(v2Record, { credentials: CREDENTIALS })).toEqual(dataKey)
    expect(kms.seen[1]!.body).toMatchObject({ CiphertextBlob: sealed.ciphertext, EncryptionContext: sealed.encryptionContext })

    // The data key re-wrapped as a v1 record's private key: its context names the format, which a v1 record's facts do not.
    kms.seen = []
    const rewrapped = { ...recordFrom('key-v2', sealed), owners }
    const e = await failure(sealer.unseal(rewrapped, { credentials: CREDENTIALS }))
    expect(isCustodyError(e, 'INTEGRITY_ERROR')).toBe(true)
    expect(e.message).toBe("integrity check failed: the record's encryption context does not bind its policy and owners")
    expect(kms.seen).toHaveLength(0)
    // With the format dropped from the context to match, KMS refuses the ciphertext.
    const { record: _, ...v1Context } = sealed.encryptionContext
    expect(isCustodyError(await failure(sealer.unseal({ ...rewrapped, encryptionContext: v1Context }, { credentials: CREDENTIALS })), 'INTEGRITY_ERROR')).toBe(true)
    expect(kms.seen.map((s) => s.body.EncryptionContext)).toEqual([v1Context])

    // The reverse: a v1 private key's sealing presented as a v2 data key, with and without the format added to its context.
    const v1 = await sealer.generate('key-v1', { credentials: CREDENTIALS }, undefined, owners)
    expect(v1.sealed.encryptionContext).toEqual({ keyId: 'key-v1', owners: ownersHash(owners) })
    kms.seen = []
    const asDataKey = { ...v2Record, keyId: 'key-v1', dataKey: v1.sealed.ciphertext, encryptionContext: v1.sealed.encryptionContext }
    expect((await failure(sealer.unseal(asDataKey, { credentials: CREDENTIALS }))).message).toBe(
      "integrity check failed: the record's encryption context does not bind its policy and owners",
    )
    expect(kms.seen).toHaveLength(0)
    const relabelled = { ...asDataKey, encryptionContext: { ...v1.sealed.encryptionContext, record: 'v2' } }
    expect(isCustodyError(await failure(sealer.unseal(relabelled, { credentials: CREDENTIALS })), 'INTEGRITY_ERROR')).toBe(true)
    expect(kms.seen).toHaveLength(1)
    // The v1 key itself still unseals as the v1 record it is.
    expect(await sealer.unseal({ ...recordFrom('key-v1', v1.sealed), owners }, { credentials: CREDENTIALS })).toEqual(v1.privateKey)
  })

  it('reuses the attestation document until it is documentRefreshMs old, and shares it between concurrent calls', async () => {
    let clock = Date.now()
    const provider = counting(nsm)
    const timed = await createKmsSealer({ attestation: provider, region: 'us-east-1', endpoint: kms.url, kmsKeyArn: KMS_KEY, allowHttpEndpoint: true, now: () => clock, maxAttempts: 1 })
    try {
      await Promise.all([1, 2, 3].map((i) => timed.generate(`key-c${i}`, { credentials: CREDENTIALS })))
      expect(provider.calls).toBe(1)
      clock += 60_000
      await timed.generate('key-c4', { credentials: CREDENTIALS })
      expect(provider.calls).toBe(1)
      clock += 180_000 // 4 minutes after the first document
      await timed.generate('key-c5', { credentials: CREDENTIALS })
      expect(provider.calls).toBe(2)
      const documents = new Set(kms.seen.map((s) => (s.body.Recipient as { AttestationDocument: string }).AttestationDocument))
      expect(documents.size).toBe(2)
    } finally {
      timed.close()
    }
  })

  it('reports a failing attestation provider as ATTESTATION_FAILED and tries again next time', async () => {
    let fail = true
    const flaky: AttestationProvider = {
      kind: 'nsm',
      attest: async (request) => {
        if (fail) throw new Error('/dev/nsm: ioctl failed')
        return nsm.attest(request)
      },
    }
    const s = await createKmsSealer({ attestation: flaky, region: 'us-east-1', endpoint: kms.url, kmsKeyArn: KMS_KEY, allowHttpEndpoint: true, maxAttempts: 1 })
    try {
      const e = await failure(s.generate('key-f', { credentials: CREDENTIALS }))
      expect(isCustodyError(e, 'ATTESTATION_FAILED')).toBe(true)
      expect(e.message).toBe('attestation failed: the attestation provider could not produce a document')
      fail = false
      expect((await s.generate('key-f', { credentials: CREDENTIALS })).privateKey).toHaveLength(32)
    } finally {
      s.close()
    }
  })

  it('validates its inputs', async () => {
    const { sealed } = await sealer.generate('key-v', { credentials: CREDENTIALS })
    const record = recordFrom('key-v', sealed)
    expect((await failure(sealer.unseal(record))).message).toBe('no AWS credentials were forwarded with the request: the KMS sealer needs them')
    expect(isCustodyError(await failure(sealer.unseal(record)), 'UNAUTHENTICATED')).toBe(true)
    expect((await failure(sealer.unseal({ ...record, sealing: 'local-aes-gcm' }, { credentials: CREDENTIALS }))).message).toBe(
      '"record.sealing" must be "aws-kms" for the KMS sealer',
    )
    expect((await failure(sealer.unseal({ ...record, ciphertext: 'not base64!' }, { credentials: CREDENTIALS }))).message).toBe(
      '"record.ciphertext" must be base64',
    )
    expect((await failure(sealer.unseal({ ...record, kmsKeyId: undefined }, { credentials: CREDENTIALS }))).message).toBe(
      "integrity check failed: the record's kmsKeyId is not the KMS key this enclave pins",
    )
    expect((await failure(sealer.generate('k', { credentials: { accessKeyId: 'A B', secretAccessKey: 'x' } }))).message).toBe(
      '"credentials.accessKeyId" must be an AWS access key id',
    )
    const base = { attestation: nsm, region: 'us-east-1', kmsKeyArn: KMS_KEY }
    await expect(createKmsSealer({ ...base, region: 'US EAST' })).rejects.toThrow('"region" must be an AWS region name')
    await expect(createKmsSealer({ ...base, endpoint: 'ftp://x' })).rejects.toThrow('"endpoint" must be an http(s) URL')
    await expect(createKmsSealer({ ...base, documentRefreshMs: 300_000 })).rejects.toThrow(/"documentRefreshMs"/)
  })

  describe('pins the KMS key', () => {
    it('will not start without a pinned key ARN in its region, nor over plain http unless allowed', async () => {
      const base = { attestation: nsm, region: 'us-east-1', endpoint: kms.url, allowHttpEndpoint: true }
      const refusal = async (parameters: Partial<Parameters<typeof createKmsSealer>[0]>) => (await failure(createKmsSealer({ ...base, ...parameters } as never))).message
      expect(await refusal({})).toMatchInlineSnapshot(`""kmsKeyArn" must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>)"`)
      expect(await refusal({ kmsKeyArn: 'alias/custody' })).toMatchInlineSnapshot(`""kmsKeyArn" must be a KMS key ARN, not an alias (an alias can be pointed at another key)"`)
      expect(await refusal({ kmsKeyArn: KMS_KEY.replace(':key/', ':alias/') })).toMatchInlineSnapshot(`""kmsKeyArn" must be a KMS key ARN, not an alias (an alias can be pointed at another key)"`)
      expect(await refusal({ kmsKeyArn: '11111111-2222-3333-4444-555555555555' })).toMatchInlineSnapshot(`""kmsKeyArn" must be the full KMS key ARN, not a bare key id (the ARN pins the account and region)"`)
      expect(await refusal({ kmsKeyArn: KMS_KEY, region: 'eu-west-1' })).toMatchInlineSnapshot(`""kmsKeyArn" must be a key in eu-west-1, the region the runtime calls KMS in"`)
      expect(await refusal({ kmsKeyArn: KMS_KEY, allowHttpEndpoint: false })).toMatchInlineSnapshot(`""endpoint" must be an https URL: plain http reaches KMS unauthenticated (development mode only)"`)
      expect(await refusal({ kmsKeyArn: KMS_KEY, caCertificates: [] })).toMatchInlineSnapshot(`""caCertificates" must be a non-empty array of PEM certificates"`)
      expect(await refusal({ kmsKeyArn: KMS_KEY, caCertificates: ['not a certificate'] })).toMatchInlineSnapshot(`""caCertificates" must hold at least one PEM certificate"`)
      expect(await refusal({ kmsKeyArn: KMS_KEY, caCertificates: [nsm.rootCertificatePem.replace('CERTIFICATE-----\n', 'CERTIFICATE-----\nAAAA')] })).toMatchInlineSnapshot(`""caCertificates" certificate 1 is not a valid X.509 certificate"`)
    })

    it('refuses a record that names another KMS key, before any KMS request', async () => {
      // The hostile parent seals a key of its own under its own account's key and forwards that record.
      const foreign = await createKmsSealer({ attestation: nsm, region: 'us-east-1', endpoint: kms.url, kmsKeyArn: OTHER_KEY, allowHttpEndpoint: true, maxAttempts: 1 })
      const { sealed } = await foreign.generate('key-foreign', { credentials: OTHER_CREDENTIALS })
      foreign.close()
      kms.seen = []
      for (const kmsKeyId of [OTHER_KEY, OTHER_KEY.replace(':key/', ':alias/'), '99999999-8888-7777-6666-555555555555', 'alias/custody', `${KMS_KEY} `]) {
        const e = await failure(sealer.unseal({ ...recordFrom('key-foreign', sealed), kmsKeyId }, { credentials: OTHER_CREDENTIALS }))
        expect(isCustodyError(e, 'INTEGRITY_ERROR'), e.message).toBe(true)
        expect(e.message).toMatchInlineSnapshot(`"integrity check failed: the record's kmsKeyId is not the KMS key this enclave pins"`)
      }
      expect(kms.seen).toHaveLength(0)
    })

    it('sends the pinned ARN as KeyId on Decrypt, so KMS refuses a ciphertext of another key that a record claims is ours', async () => {
      const foreign = await createKmsSealer({ attestation: nsm, region: 'us-east-1', endpoint: kms.url, kmsKeyArn: OTHER_KEY, allowHttpEndpoint: true, maxAttempts: 1 })
      const { sealed } = await foreign.generate('key-claims-ours', { credentials: OTHER_CREDENTIALS })
      foreign.close()
      kms.seen = []
      const e = await failure(sealer.unseal({ ...recordFrom('key-claims-ours', sealed), kmsKeyId: KMS_KEY }, { credentials: OTHER_CREDENTIALS }))
      expect(isCustodyError(e, 'INTEGRITY_ERROR'), e.message).toBe(true)
      expect(kms.seen.map((s) => s.body.KeyId)).toEqual([KMS_KEY])
    })

    it('refuses a Decrypt response whose KeyId is not the pinned ARN, and one without KeyId', async () => {
      const { sealed } = await sealer.generate('key-r', { credentials: CREDENTIALS })
      const messages: string[] = []
      for (const keyId of [OTHER_KEY, KMS_KEY.replace(':key/', ':alias/'), '11111111-2222-3333-4444-555555555555', undefined]) {
        kms.rewrite = (_target, reply) => ({ ...reply, body: { ...(reply.body as object), KeyId: keyId } })
        const e = await failure(sealer.unseal(recordFrom('key-r', sealed), { credentials: CREDENTIALS }))
        expect(isCustodyError(e, 'INTEGRITY_ERROR'), e.message).toBe(true)
        messages.push(e.message)
      }
      expect(messages).toMatchInlineSnapshot(`
        [
          "integrity check failed: KMS Decrypt answered for another KMS key than the one this enclave pins",
          "integrity check failed: KMS Decrypt answered for another KMS key than the one this enclave pins",
          "integrity check failed: KMS Decrypt answered for another KMS key than the one this enclave pins",
          "integrity check failed: KMS Decrypt returned no KeyId",
        ]
      `)
    })

    it('refuses a GenerateDataKey response whose KeyId is not the pinned ARN', async () => {
      const messages: string[] = []
      for (const keyId of [OTHER_KEY, undefined]) {
        kms.rewrite = (_target, reply) => ({ ...reply, body: { ...(reply.body as object), KeyId: keyId } })
        const e = await failure(sealer.generate('key-g', { credentials: CREDENTIALS }))
        expect(isCustodyError(e, 'INTEGRITY_ERROR'), e.message).toBe(true)
        messages.push(e.message)
      }
      expect(messages).toMatchInlineSnapshot(`
        [
          "integrity check failed: KMS GenerateDataKey answered for another KMS key than the one this enclave pins",
          "integrity check failed: KMS GenerateDataKey returned no KeyId",
        ]
      `)
    })
  })
})
