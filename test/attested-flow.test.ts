/**
 * The attested path end to end on the local stack: KMS key policy with PCR conditions, KMS Recipient
 * unsealing, records in Secrets Manager. Each case of the policy matrix runs against the real
 * local KMS through the real AWS SDK clients.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DecryptCommand, EncryptCommand, KMSClient, PutKeyPolicyCommand } from '@aws-sdk/client-kms'
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { type DevStack, startDevStack } from '@enclave-custody/cli'
import { createAttestedRuntime, createSoftwareNsm } from '@enclave-custody/enclave-runtime'
import { apiKeyStamper, buildKeyPolicy, createCustodyClient, type CustodyClient, generateApiKey, nitroEnclave, type SealedKeyRecord, stampRequest } from '@enclave-custody/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ANVIL_KEYS } from './vectors.js'

let dataDir: string
let stack: DevStack
let custody: CustodyClient
const tx = { chainId: 11155111, nonce: 0, gas: 21000, maxFeePerGas: 2, maxPriorityFeePerGas: 1 }
// One caller (this test): one API key, for the SDK client and the requests sent straight to a handler.
const stamper = apiKeyStamper({ privateKey: generateApiKey().privateKey })
const connect = () => createCustodyClient({ transport: nitroEnclave({ url: stack.proxyUrl, attestation: stack.attestation }), stamper, importer: stack.importer })

const client = <T>(Ctor: new (c: object) => T, who: 'admin' | 'importer' | 'instance') => {
  const p = stack.config.principals[who]
  return new Ctor({ region: stack.region, endpoint: stack.awsEndpoint, credentials: { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey }, maxAttempts: 1 })
}
const errorName = (p: Promise<unknown>) => p.then(() => 'no error', (e: { name?: string }) => e.name)

/** What KMS sealed in a record: a v1 record's ciphertext (the key), a v2 record's data key (the key is under it). */
const kmsBlobOf = (r: SealedKeyRecord): string => ('dataKey' in r ? r.dataKey : r.ciphertext)
const withKmsBlob = (r: SealedKeyRecord, blob: string): SealedKeyRecord => ('dataKey' in r ? { ...r, dataKey: blob } : { ...r, ciphertext: blob })

async function recordOf(keyId: string): Promise<SealedKeyRecord> {
  const out = await client(SecretsManagerClient, 'instance').send(new GetSecretValueCommand({ SecretId: `enclave-custody/keys/${keyId}` }))
  return JSON.parse(out.SecretString!) as SealedKeyRecord
}

/** A fresh enclave runtime (empty key cache) whose software NSM reports the given PCRs, trusted by local KMS. */
async function runtimeWithPcrs(pcrs?: Record<number, string>) {
  const nsm = await createSoftwareNsm({ ca: { dataDir: join(dataDir, 'nsm') }, ...(pcrs ? { pcrs } : {}) })
  return createAttestedRuntime({
    attestation: nsm,
    region: stack.region,
    kmsEndpoint: stack.awsEndpoint,
    kmsKeyArn: stack.kmsKeyArn,
    allowHttpKmsEndpoint: true,
    secretsEndpoint: stack.awsEndpoint,
    allowHttpSecretsEndpoint: true,
  })
}

async function signThrough(runtime: Awaited<ReturnType<typeof runtimeWithPcrs>>, record: SealedKeyRecord) {
  const p = stack.config.principals.instance
  const params = { keyId: record.keyId, tx: { chainId: '1', nonce: '0', gas: '21000', maxFeePerGas: '1', maxPriorityFeePerGas: '1' } }
  const auth = await stampRequest({ stamper, v: 1, op: 'sign.eip1559', params, aud: runtime.identity.aud })
  const response = await runtime.handler.handle(
    { v: 1, id: 'x', op: 'sign.eip1559', params, auth },
    { record, credentials: { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey } },
  )
  return response.ok ? 'signed' : response.error.code
}

const policyFor = (pcr0: string, extra: Record<string, string> = {}) =>
  buildKeyPolicy({
    pcr0,
    pcrs: extra,
    allowDebugEnclave: /^0+$/.test(pcr0),
    instanceRoleArn: stack.config.principals.instance.arn,
    importerRoleArn: stack.config.principals.importer.arn,
    adminArns: stack.config.principals.admin.arn,
  })
const stackRoles = () => ({
  instanceRoleArn: stack.config.principals.instance.arn,
  importerRoleArn: stack.config.principals.importer.arn,
  adminArns: stack.config.principals.admin.arn,
})
const putPolicy = (policy: object) => client(KMSClient, 'admin').send(new PutKeyPolicyCommand({ KeyId: stack.kmsKeyId, Policy: JSON.stringify(policy) }))

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'custody-attested-'))
  stack = await startDevStack({ dataDir, anvil: false })
  custody = connect()
  await custody.importKey({ generate: true, keyId: 'generated' })
  await custody.importKey({ privateKey: ANVIL_KEYS[1], keyId: 'imported' })
})

afterAll(async () => {
  await stack?.close()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

describe('attested key policy, enforced by local KMS', () => {
  it('the enclave with the right PCR0 signs with generated and imported keys', async () => {
    const a = await custody.signEip1559('generated', tx)
    const b = await custody.signEip1559('imported', tx)
    expect(b.from).toBe('0x70997970C51812dc3A010C7d01b50e0d17dc79C8')
    expect(a.from).toBe((await custody.getKey('generated')).address)
    const record = await recordOf('generated')
    expect(record).toMatchObject({ version: 2, sealing: 'aws-kms', encryptionContext: { keyId: 'generated', record: 'v2' } })
  })

  it('Decrypt by the instance role without a Recipient is denied', async () => {
    const record = await recordOf('imported')
    const attempt = client(KMSClient, 'instance').send(
      new DecryptCommand({ CiphertextBlob: Buffer.from(kmsBlobOf(record), 'base64'), EncryptionContext: record.encryptionContext }),
    )
    expect(await errorName(attempt)).toBe('AccessDeniedException')
  })

  it('Encrypt by the instance role is denied; the importer may', async () => {
    const encrypt = (who: 'instance' | 'importer') =>
      client(KMSClient, who).send(new EncryptCommand({ KeyId: stack.kmsKeyId, Plaintext: new Uint8Array(32).fill(1), EncryptionContext: { keyId: 'x' } }))
    expect(await errorName(encrypt('instance'))).toBe('AccessDeniedException')
    expect(await errorName(encrypt('importer'))).toBe('no error')
  })

  it('an enclave whose PCR0 differs is denied', async () => {
    const runtime = await runtimeWithPcrs({ 0: 'ab'.repeat(48) })
    expect(await signThrough(runtime, await recordOf('imported'))).toBe('POLICY_DENIED')
    runtime.close()
  })

  it('a debug-mode enclave (all-zero PCRs) is denied unless the policy names zeros', async () => {
    const zeros = '00'.repeat(48)
    const debug = await runtimeWithPcrs({ 0: zeros, 1: zeros, 2: zeros })
    const record = await recordOf('imported')
    expect(await signThrough(debug, record)).toBe('POLICY_DENIED')
    expect(() => buildKeyPolicy({ ...stackRoles(), pcr0: zeros })).toThrow(/"pcr0" is all zeros/)
    await putPolicy(policyFor(zeros))
    try {
      expect(await signThrough(debug, record)).toBe('signed')
      const real = await runtimeWithPcrs()
      expect(await signThrough(real, record)).toBe('POLICY_DENIED') // the policy now names only zeros
      real.close()
    } finally {
      await putPolicy(policyFor(stack.pcr0))
      debug.close()
    }
    const real = await runtimeWithPcrs()
    expect(await signThrough(real, record)).toBe('signed')
    real.close()
  })

  it('extra PCR conditions must match too', async () => {
    const nsm = await createSoftwareNsm({ ca: { dataDir: join(dataDir, 'nsm') } })
    const record = await recordOf('imported')
    await putPolicy(policyFor(stack.pcr0, { 1: 'cd'.repeat(48) }))
    try {
      const runtime = await runtimeWithPcrs()
      expect(await signThrough(runtime, record)).toBe('POLICY_DENIED')
      runtime.close()
      await putPolicy(policyFor(stack.pcr0, { 1: nsm.pcrs[1]!, 2: nsm.pcrs[2]! }))
      const runtime2 = await runtimeWithPcrs()
      expect(await signThrough(runtime2, record)).toBe('signed')
      runtime2.close()
    } finally {
      await putPolicy(policyFor(stack.pcr0))
    }
  })

  it('a record swapped between two keyIds is refused by KMS (InvalidCiphertextException → INTEGRITY_ERROR)', async () => {
    const generated = await recordOf('generated')
    const imported = await recordOf('imported')
    const runtime = await runtimeWithPcrs()
    // imported's record carrying generated's KMS ciphertext: KMS binds it to { keyId: 'generated' }.
    expect(await signThrough(runtime, withKmsBlob(imported, kmsBlobOf(generated)))).toBe('INTEGRITY_ERROR')
    // …and the context moved along with it no longer names the record's keyId: refused before KMS.
    expect(await signThrough(runtime, { ...withKmsBlob(imported, kmsBlobOf(generated)), encryptionContext: generated.encryptionContext })).toBe('INTEGRITY_ERROR')
    runtime.close()
  })
})

describe('restart', () => {
  it('after stopping and restarting local AWS, the runtime and the proxy, keys still sign and nothing is lost', async () => {
    const before = await custody.listKeys()
    const signedBefore = await custody.signEip1559('imported', tx)
    await stack.close()
    stack = await startDevStack({ dataDir, anvil: false })
    custody = connect()
    expect(await custody.listKeys()).toEqual(before)
    // RFC 6979: same key, same transaction, same bytes, through a fresh enclave (new RSA key, new attestation).
    expect((await custody.signEip1559('imported', tx)).rawTransaction).toBe(signedBefore.rawTransaction)
    expect((await custody.signEip1559('generated', tx)).from).toBe(before.find((k) => k.keyId === 'generated')!.address)
  })
})
