/**
 * Per-key policy on the attested stack (local KMS with the production key policy, records in Secrets
 * Manager, the enclave unsealing only through KMS Recipient): the policy travels into the KMS encryption
 * context at generate and import time, raw-digest signing works only for keys created with the
 * permission, and a parent that forwards a record with a flipped policy gets nothing: either the context
 * check refuses it before KMS, or KMS itself refuses the ciphertext (InvalidCiphertextException →
 * INTEGRITY_ERROR), even when the key is already in the enclave's key cache.
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
  type SealedKeyRecord,
} from '@enclave-custody/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ANVIL_KEYS } from '../../../test/vectors.js'
import { createSoftwareNsm } from '../src/attestation/softwareNsm.js'
import { createAttestedRuntime } from '../src/attestedRuntime.js'

const DIGEST = keccak256Hex(new TextEncoder().encode('attested blank cheque'))
const RAW_DIGEST = normalizeKeyPolicy({ allowRawDigest: true })

let dataDir: string
let stack: DevStack
let custody: CustodyClient
let runtime: Awaited<ReturnType<typeof createAttestedRuntime>>

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

/** What the parent forwards: a record (honest or not) and the instance role's credentials. */
async function forward(op: string, params: object, record: SealedKeyRecord) {
  const p = stack.config.principals.instance
  const response = await runtime.handler.handle({ v: 1, id: 'x', op, params }, { record, credentials: { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey } })
  return response.ok ? { code: 'ok' } : { code: response.error.code, message: response.error.message }
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'custody-policy-attested-'))
  stack = await startDevStack({ dataDir, anvil: false })
  custody = createCustodyClient({ transport: nitroEnclave({ url: stack.proxyUrl }), importer: stack.importer })
  await custody.importKey({ generate: true, keyId: 'plain' })
  await custody.importKey({ generate: true, keyId: 'generated-digest', policy: RAW_DIGEST })
  await custody.importKey({ privateKey: ANVIL_KEYS[1], keyId: 'imported-digest', policy: { allowRawDigest: true } })
  // A fresh attested runtime beside the stack's, trusted by the same local KMS: the target of a hostile parent.
  const nsm = await createSoftwareNsm({ ca: { dataDir: join(dataDir, 'nsm') } })
  runtime = await createAttestedRuntime({ attestation: nsm, region: stack.region, kmsEndpoint: stack.awsEndpoint, kmsKeyArn: stack.kmsKeyArn, allowHttpKmsEndpoint: true })
})

afterAll(async () => {
  runtime?.close()
  await stack?.close()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

describe('key policy on the attested stack', () => {
  it('puts the policy hash into the KMS encryption context of generated and imported keys', async () => {
    expect(await recordOf('plain')).toMatchObject({ sealing: 'aws-kms', encryptionContext: { keyId: 'plain' } })
    expect((await recordOf('plain')).policy).toBeUndefined()
    for (const keyId of ['generated-digest', 'imported-digest']) {
      const record = await recordOf(keyId)
      expect(record.policy).toEqual(RAW_DIGEST)
      expect(record.encryptionContext).toEqual({ keyId, policy: keyPolicyHash(RAW_DIGEST) })
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
    expect(await forward('sign.digest', { keyId: 'plain', digest: DIGEST }, flipped)).toEqual({
      code: 'INTEGRITY_ERROR',
      message: "integrity check failed: the record's encryption context does not bind its keyId and policy",
    })
  })

  it('has KMS refuse a record whose policy and context were flipped together (InvalidCiphertextException)', async () => {
    const honest = await recordOf('plain')
    const flipped = { ...honest, policy: RAW_DIGEST, encryptionContext: { keyId: 'plain', policy: keyPolicyHash(RAW_DIGEST) } }
    const result = await forward('sign.digest', { keyId: 'plain', digest: DIGEST }, flipped)
    expect(result.code).toBe('INTEGRITY_ERROR')
    expect(result.message).toMatch(/KMS Decrypt rejected the sealed record.*InvalidCiphertextException/)
  })

  it('does not let a cached key vouch for a flipped record', async () => {
    const honest = await recordOf('plain')
    // The honest record unseals once and the key stays in the runtime's cache…
    expect(await forward('sign.message', { keyId: 'plain', message: 'warm the cache' }, honest)).toEqual({ code: 'ok' })
    expect(await forward('sign.digest', { keyId: 'plain', digest: DIGEST }, honest)).toMatchObject({ code: 'POLICY_DENIED' })
    // …but the flipped record is another cache entry, so KMS is asked, and refuses.
    const flipped = { ...honest, policy: RAW_DIGEST, encryptionContext: { keyId: 'plain', policy: keyPolicyHash(RAW_DIGEST) } }
    expect(await forward('sign.digest', { keyId: 'plain', digest: DIGEST }, flipped)).toMatchObject({ code: 'INTEGRITY_ERROR', message: expect.stringMatching(/InvalidCiphertextException/) })
  })

  it('refuses a downgraded or re-targeted policy record the same way', async () => {
    const honest = await recordOf('generated-digest')
    const { policy: _, ...rest } = honest
    const downgraded = { ...rest, encryptionContext: { keyId: 'generated-digest' } }
    expect(await forward('sign.message', { keyId: 'generated-digest', message: 'x' }, downgraded)).toMatchObject({
      code: 'INTEGRITY_ERROR',
      message: expect.stringMatching(/InvalidCiphertextException/),
    })
    const widened = normalizeKeyPolicy({ allowRawDigest: true, allowReplayableLegacy: true })
    const more = { ...honest, policy: widened, encryptionContext: { keyId: 'generated-digest', policy: keyPolicyHash(widened) } }
    expect(await forward('sign.digest', { keyId: 'generated-digest', digest: DIGEST }, more)).toMatchObject({ code: 'INTEGRITY_ERROR' })
    expect(await forward('sign.digest', { keyId: 'generated-digest', digest: DIGEST }, honest)).toEqual({ code: 'ok' })
  })
})
