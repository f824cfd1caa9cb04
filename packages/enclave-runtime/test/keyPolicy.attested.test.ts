/**
 * Per-key policy and owners on the attested stack (local KMS with the production key policy, records in
 * Secrets Manager, the enclave unsealing only through KMS Recipient): the policy and the owners travel into
 * the KMS encryption context of the record's data key at generate and import time, raw-digest signing works
 * only for keys created with the permission, and a parent that forwards a record with a flipped policy or
 * edited owners gets nothing: either the context check refuses it before KMS, or KMS itself refuses the data
 * key's ciphertext (InvalidCiphertextException → INTEGRITY_ERROR), even when the key is already in the
 * enclave's key cache.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { type DevStack, startDevStack } from '@enclave-custody/cli'
import {
  createCustodyClient,
  type CustodyClient,
  isCustodyError,
  keccak256Hex,
  keyPolicyHash,
  nitroEnclave,
  normalizeKeyPolicy,
  normalizeOwners,
  ownersHash,
  type SealedKeyRecord,
} from '@enclave-custody/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ANVIL_KEYS } from '../../../test/vectors.js'
import { createSoftwareNsm } from '../src/attestation/softwareNsm.js'
import { createAttestedRuntime } from '../src/attestedRuntime.js'
import { newStamper, stampMessage } from './support/stamps.js'

const DIGEST = keccak256Hex(new TextEncoder().encode('attested blank cheque'))
const RAW_DIGEST = normalizeKeyPolicy({ allowRawDigest: true })
const CONTEXT_MISMATCH = "integrity check failed: the record's encryption context does not bind its keyId, policy and owners"
const KMS_REFUSED = /KMS Decrypt rejected the sealed record.*InvalidCiphertextException/

let dataDir: string
let stack: DevStack
let custody: CustodyClient
let runtime: Awaited<ReturnType<typeof createAttestedRuntime>>
/** The one caller of this file: it creates the keys through the stack, and stamps what a hostile parent forwards. */
const stamper = newStamper()
/** Every key of this file is owned by its creator's API key alone (the default). */
const OWNERS = normalizeOwners({ publicKeys: [stamper.publicKey] })
/** The hostile parent's own API key, which it adds to a record's owners. */
const intruder = newStamper()
const WIDER_OWNERS = normalizeOwners({ publicKeys: [stamper.publicKey, intruder.publicKey] })

async function recordOf(keyId: string): Promise<SealedKeyRecord> {
  const p = stack.config.principals.instance
  const client = new SecretsManagerClient({ region: stack.region, endpoint: stack.awsEndpoint, credentials: { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey } })
  try {
    const out = await client.send(new GetSecretValueCommand({ SecretId: `enclave-custody/keys/${keyId}` }))
    return JSON.parse(out.SecretString!) as SealedKeyRecord
  } finally {
    client.destroy()
  }
}

/** What the parent forwards: a record (honest or not) and the instance role's credentials, with a request stamped by `as`. */
async function forward(op: string, params: object, record: SealedKeyRecord, as = stamper) {
  const p = stack.config.principals.instance
  const request = await stampMessage({ v: 1, id: 'x', op, params }, { stamper: as, aud: runtime.identity.aud })
  const response = await runtime.handler.handle(request, { record, credentials: { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey } })
  return response.ok ? { code: 'ok' } : { code: response.error.code, message: response.error.message }
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'custody-policy-attested-'))
  stack = await startDevStack({ dataDir, anvil: false })
  custody = createCustodyClient({ transport: nitroEnclave({ url: stack.proxyUrl, attestation: stack.attestation }), stamper, importer: stack.importer })
  await custody.importKey({ generate: true, keyId: 'plain' })
  await custody.importKey({ generate: true, keyId: 'generated-digest', policy: RAW_DIGEST })
  await custody.importKey({ privateKey: ANVIL_KEYS[1], keyId: 'imported-digest', policy: { allowRawDigest: true } })
  // A fresh attested runtime beside the stack's, trusted by the same local KMS: the target of a hostile parent.
  const nsm = await createSoftwareNsm({ ca: { dataDir: join(dataDir, 'nsm') } })
  runtime = await createAttestedRuntime({
    attestation: nsm,
    region: stack.region,
    kmsEndpoint: stack.awsEndpoint,
    kmsKeyArn: stack.kmsKeyArn,
    allowHttpKmsEndpoint: true,
    secretsEndpoint: stack.awsEndpoint,
    allowHttpSecretsEndpoint: true,
  })
})

afterAll(async () => {
  runtime?.close()
  await stack?.close()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

describe('key policy on the attested stack', () => {
  it('puts the owners hash, and the policy hash, into the KMS encryption context of generated and imported keys (v2 records)', async () => {
    const plain = await recordOf('plain')
    expect(plain).toMatchObject({ version: 2, kind: 'secp256k1', sealing: 'aws-kms', kmsKeyId: stack.kmsKeyArn, owners: OWNERS })
    expect(plain.encryptionContext).toEqual({ keyId: 'plain', owners: ownersHash(OWNERS), record: 'v2' })
    expect(plain.policy).toBeUndefined()
    for (const keyId of ['generated-digest', 'imported-digest']) {
      const record = await recordOf(keyId)
      expect(record).toMatchObject({ version: 2, sealing: 'aws-kms', owners: OWNERS })
      expect(record.policy).toEqual(RAW_DIGEST)
      expect(record.encryptionContext).toEqual({ keyId, policy: keyPolicyHash(RAW_DIGEST), owners: ownersHash(OWNERS), record: 'v2' })
    }
  })

  it('signs raw digests through the parent proxy only for keys created with allowRawDigest', async () => {
    const generated = await custody.signDigest('generated-digest', DIGEST)
    const imported = await custody.signDigest('imported-digest', DIGEST)
    expect(generated.hash).toBe(DIGEST)
    expect(imported.hash).toBe(DIGEST)
    const error = await custody.signDigest('plain', DIGEST).catch((e: unknown) => e)
    expect(isCustodyError(error, 'POLICY_DENIED')).toBe(true)
    // The other operations work through the proxy for every key.
    expect((await custody.signMessage('plain', { message: 'hello' })).hash).toMatch(/^0x/)
    expect((await custody.signTransaction('plain', { chainId: 1, nonce: 0, gas: 21000, gasPrice: 1, to: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8' })).type).toBe('legacy')
  })

  it('refuses a forwarded record whose policy was flipped, before KMS, when the context was left alone', async () => {
    const honest = await recordOf('plain')
    const flipped = { ...honest, policy: { allowRawDigest: true } }
    expect(await forward('sign.digest', { keyId: 'plain', digest: DIGEST }, flipped)).toEqual({ code: 'INTEGRITY_ERROR', message: CONTEXT_MISMATCH })
  })

  it("refuses a forwarded record with the parent's API key added to its owners, before KMS, when the context was left alone", async () => {
    const honest = await recordOf('plain')
    expect(await forward('sign.message', { keyId: 'plain', message: 'mine?' }, honest, intruder)).toMatchObject({ code: 'FORBIDDEN' })
    const widened = { ...honest, owners: WIDER_OWNERS }
    expect(await forward('sign.message', { keyId: 'plain', message: 'mine now' }, widened, intruder)).toEqual({ code: 'INTEGRITY_ERROR', message: CONTEXT_MISMATCH })
  })

  it('has KMS refuse a record whose policy and context were flipped together (InvalidCiphertextException)', async () => {
    const honest = await recordOf('plain')
    const flipped = { ...honest, policy: RAW_DIGEST, encryptionContext: { ...honest.encryptionContext, policy: keyPolicyHash(RAW_DIGEST) } }
    const result = await forward('sign.digest', { keyId: 'plain', digest: DIGEST }, flipped)
    expect(result.code).toBe('INTEGRITY_ERROR')
    expect(result.message).toMatch(KMS_REFUSED)
  })

  it("has KMS refuse a record whose owners and context were edited together for the parent's API key (InvalidCiphertextException)", async () => {
    const honest = await recordOf('plain')
    for (const owners of [WIDER_OWNERS, normalizeOwners({ publicKeys: [intruder.publicKey] })]) {
      const edited = { ...honest, owners, encryptionContext: { ...honest.encryptionContext, owners: ownersHash(owners) } }
      const result = await forward('sign.message', { keyId: 'plain', message: 'mine now' }, edited, intruder)
      expect(result.code).toBe('INTEGRITY_ERROR')
      expect(result.message).toMatch(KMS_REFUSED)
    }
  })

  it('does not let a cached key vouch for a flipped record', async () => {
    const honest = await recordOf('plain')
    // The honest record unseals once and the key stays in the runtime's cache…
    expect(await forward('sign.message', { keyId: 'plain', message: 'warm the cache' }, honest)).toEqual({ code: 'ok' })
    expect(await forward('sign.digest', { keyId: 'plain', digest: DIGEST }, honest)).toMatchObject({ code: 'POLICY_DENIED' })
    // …but the flipped record is another cache entry, so KMS is asked, and refuses.
    const flipped = { ...honest, policy: RAW_DIGEST, encryptionContext: { ...honest.encryptionContext, policy: keyPolicyHash(RAW_DIGEST) } }
    expect(await forward('sign.digest', { keyId: 'plain', digest: DIGEST }, flipped)).toMatchObject({ code: 'INTEGRITY_ERROR', message: expect.stringMatching(KMS_REFUSED) })
    // So is a record whose owners were edited for the parent's API key.
    const edited = { ...honest, owners: WIDER_OWNERS, encryptionContext: { ...honest.encryptionContext, owners: ownersHash(WIDER_OWNERS) } }
    expect(await forward('sign.message', { keyId: 'plain', message: 'mine now' }, edited, intruder)).toMatchObject({ code: 'INTEGRITY_ERROR', message: expect.stringMatching(KMS_REFUSED) })
    // The honest record still comes from the cache.
    expect(await forward('sign.message', { keyId: 'plain', message: 'still cached' }, honest)).toEqual({ code: 'ok' })
  })

  it('refuses a downgraded or re-targeted policy record the same way', async () => {
    const honest = await recordOf('generated-digest')
    const { policy: _, ...rest } = honest
    const downgraded = { ...rest, encryptionContext: { keyId: 'generated-digest', owners: ownersHash(OWNERS), record: 'v2' } }
    expect(await forward('sign.message', { keyId: 'generated-digest', message: 'x' }, downgraded)).toMatchObject({
      code: 'INTEGRITY_ERROR',
      message: expect.stringMatching(KMS_REFUSED),
    })
    const widened = normalizeKeyPolicy({ allowRawDigest: true, allowReplayableLegacy: true })
    const more = { ...honest, policy: widened, encryptionContext: { ...honest.encryptionContext, policy: keyPolicyHash(widened) } }
    expect(await forward('sign.digest', { keyId: 'generated-digest', digest: DIGEST }, more)).toMatchObject({ code: 'INTEGRITY_ERROR', message: expect.stringMatching(KMS_REFUSED) })
    expect(await forward('sign.digest', { keyId: 'generated-digest', digest: DIGEST }, honest)).toEqual({ code: 'ok' })
  })
})
