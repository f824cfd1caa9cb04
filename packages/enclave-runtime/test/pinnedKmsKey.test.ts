/**
 * The enclave pins its sealing key, against a hostile parent with a second AWS account (issue 10 point 6).
 *
 * Local KMS with two accounts: ours (A: the sealing key, with the attested production key policy) and the
 * attacker's (B: a key whose policy allows anything to anyone, and B's own credentials). The parent forwards
 * B's credentials with a record sealed under B's key — for a keyId of ours, or claiming our key — and asks
 * for a signature; or asks to generate a key with B's credentials. Every attempt is refused and nothing is
 * signed. Through the real request handler and the real AWS SDK; each case has a control that shows the
 * record or the credentials work where the pin does not stand in the way.
 */
import { randomBytes } from 'node:crypto'
import { CreateKeyCommand, EncryptCommand, KMSClient, PutKeyPolicyCommand } from '@aws-sdk/client-kms'
import { type LocalAws, type LocalAwsLogEntry, startLocalAws } from '@enclave-custody/local-aws'
import { buildKeyPolicy, DEFAULT_KEY_POLICY, keyEncryptionContext, normalizeOwners, privateKeyToAddress, type SealedKeyRecord } from '@enclave-custody/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ANVIL_KEYS } from '../../../test/vectors.js'
import { createSoftwareNsm, type SoftwareNsm } from '../src/attestation/softwareNsm.js'
import { createAttestedRuntime } from '../src/attestedRuntime.js'
import { createMemoryPolicyStore } from '../src/policy/signingPolicies.js'
import { newStamper, stampMessage } from './support/stamps.js'

const REGION = 'eu-central-1'
const A = '111122223333' // ours
const B = '999988887777' // the attacker's
// JSON text, as in a local-aws principals file: the attacker's role may do anything in its own account.
const allowAll = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['kms:*'], Resource: '*' }] })
const P = {
  adminA: { accessKeyId: 'AKIAPINADMINA0000001', secretAccessKey: randomBytes(20).toString('hex'), arn: `arn:aws:iam::${A}:root` },
  instanceA: { accessKeyId: 'AKIAPININSTANCEA0001', secretAccessKey: randomBytes(20).toString('hex'), arn: `arn:aws:iam::${A}:role/custody-instance` },
  importerA: { accessKeyId: 'AKIAPINIMPORTERA0001', secretAccessKey: randomBytes(20).toString('hex'), arn: `arn:aws:iam::${A}:role/custody-importer` },
  attackerB: { accessKeyId: 'AKIAPINATTACKERB0001', secretAccessKey: randomBytes(20).toString('hex'), arn: `arn:aws:iam::${B}:role/attacker`, policies: [allowAll] },
}
type Who = keyof typeof P
const credentials = (who: Who) => ({ accessKeyId: P[who].accessKeyId, secretAccessKey: P[who].secretAccessKey })
/** A key policy that allows anything to anyone: the attacker's own key. */
const PERMISSIVE = { Version: '2012-10-17', Statement: [{ Sid: 'Anything', Effect: 'Allow', Principal: { AWS: '*' }, Action: 'kms:*', Resource: '*' }] }
const TX = { chainId: '1', nonce: '0', gas: '21000', maxFeePerGas: '1', maxPriorityFeePerGas: '1' }

let nsm: SoftwareNsm
let aws: LocalAws
let keyA: string
let keyB: string
let requests: LocalAwsLogEntry[]
const clients: KMSClient[] = []
const kms = (who: Who) => {
  const c = new KMSClient({ region: REGION, endpoint: aws.endpoint, credentials: credentials(who), maxAttempts: 1 })
  clients.push(c)
  return c
}

/** A runtime pinned to `kmsKeyArn` (ours unless a control says otherwise), trusted by local KMS. */
// Signing policies are not this file's subject: kept in memory (the Secrets Manager store has its own tests).
const runtimePinnedTo = (kmsKeyArn: string) =>
  createAttestedRuntime({ attestation: nsm, region: REGION, kmsEndpoint: aws.endpoint, kmsKeyArn, allowHttpKmsEndpoint: true, policyStore: createMemoryPolicyStore() })

/** The one caller of this file: every request is stamped by it; the parent forwards the record and credentials. */
const stamper = newStamper()
/** The records name the caller as their owner (the attacker can write any owners into the records it makes). */
const owners = normalizeOwners({ publicKeys: [stamper.publicKey] })

/** The attacker seals a private key it knows under its own key B, as a record for `keyId`. */
async function attackerRecord(keyId: string, privateKey: string): Promise<SealedKeyRecord> {
  const encryptionContext = keyEncryptionContext(keyId, DEFAULT_KEY_POLICY, owners)
  const out = await kms('attackerB').send(new EncryptCommand({ KeyId: keyB, Plaintext: Buffer.from(privateKey.slice(2), 'hex'), EncryptionContext: encryptionContext }))
  return {
    version: 1,
    keyId,
    curve: 'secp256k1',
    address: privateKeyToAddress(Buffer.from(privateKey.slice(2), 'hex')),
    sealing: 'aws-kms',
    kmsKeyId: out.KeyId!,
    ciphertext: Buffer.from(out.CiphertextBlob!).toString('base64'),
    encryptionContext,
    createdAt: new Date().toISOString(),
    owners,
  }
}

type Runtime = Awaited<ReturnType<typeof runtimePinnedTo>>
const stamped = (runtime: Runtime, message: object) => stampMessage(message, { stamper, aud: runtime.identity.aud })

async function sign(runtime: Runtime, record: SealedKeyRecord, who: Who) {
  const response = await runtime.handler.handle(await stamped(runtime, { v: 1, id: 's', op: 'sign.eip1559', params: { keyId: record.keyId, tx: TX } }), { record, credentials: credentials(who) })
  return response.ok ? { signed: true, from: (response.result as { from: string }).from } : { signed: false, code: response.error.code, message: response.error.message }
}

async function generate(runtime: Runtime, who: Who) {
  const response = await runtime.handler.handle(await stamped(runtime, { v: 1, id: 'g', op: 'key.generate', params: { keyId: `gen-${randomBytes(4).toString('hex')}` } }), { credentials: credentials(who) })
  return response.ok ? { generated: true, record: (response.result as { record?: SealedKeyRecord }).record } : { generated: false, code: response.error.code, message: response.error.message }
}

const kmsCalls = (since: number) => requests.slice(since).map((r) => `${r.target?.replace('TrentService.', '')} by ${r.principal?.split(':')[4]} → ${r.errorCode ?? r.status}`)

beforeAll(async () => {
  nsm = await createSoftwareNsm({})
  requests = []
  aws = await startLocalAws({
    accountId: A,
    region: REGION,
    attestationRoots: [nsm.rootCertificatePem],
    principals: Object.fromEntries(Object.values(P).map(({ accessKeyId, ...rest }) => [accessKeyId, rest])),
    log: (entry) => requests.push(entry),
  })
  const a = (await kms('adminA').send(new CreateKeyCommand({}))).KeyMetadata!
  keyA = a.Arn!
  const policy = buildKeyPolicy({ pcr0: nsm.pcrs[0]!, instanceRoleArn: P.instanceA.arn, importerRoleArn: P.importerA.arn, adminArns: P.adminA.arn })
  await kms('adminA').send(new PutKeyPolicyCommand({ KeyId: keyA, Policy: JSON.stringify(policy) }))
  const b = (await kms('attackerB').send(new CreateKeyCommand({}))).KeyMetadata!
  keyB = b.Arn!
  await kms('attackerB').send(new PutKeyPolicyCommand({ KeyId: keyB, Policy: JSON.stringify(PERMISSIVE) }))
}, 60_000)

afterAll(async () => {
  for (const c of clients) c.destroy()
  await aws?.close()
})

describe('two accounts: the enclave uses only its pinned sealing key', () => {
  it('the keys are of two accounts', () => {
    expect(keyA).toMatch(new RegExp(`^arn:aws:kms:${REGION}:${A}:key/`))
    expect(keyB).toMatch(new RegExp(`^arn:aws:kms:${REGION}:${B}:key/`))
  })

  it("refuses a record sealed under the other account's permissive key, with that account's credentials: no KMS call, nothing signed", async () => {
    const record = await attackerRecord('treasury', ANVIL_KEYS[0])
    expect(record.kmsKeyId).toBe(keyB)
    // Control: an enclave pinned to B's key would unseal that record and sign with the attacker's key.
    const unpinned = await runtimePinnedTo(keyB)
    try {
      expect(await sign(unpinned, record, 'attackerB')).toEqual({ signed: true, from: record.address })
    } finally {
      unpinned.close()
    }

    const runtime = await runtimePinnedTo(keyA)
    try {
      const since = requests.length
      expect(await sign(runtime, record, 'attackerB')).toMatchInlineSnapshot(`
        {
          "code": "INTEGRITY_ERROR",
          "message": "integrity check failed: the record's kmsKeyId is not the KMS key this enclave pins",
          "signed": false,
        }
      `)
      expect(kmsCalls(since)).toEqual([]) // refused before KMS
    } finally {
      runtime.close()
    }
  })

  it('refuses that record when it claims our key: the pinned ARN goes to KMS as KeyId and KMS refuses the ciphertext', async () => {
    const record = { ...(await attackerRecord('treasury', ANVIL_KEYS[0])), kmsKeyId: keyA }
    const runtime = await runtimePinnedTo(keyA)
    try {
      const seen: Record<string, unknown> = {}
      for (const who of ['attackerB', 'instanceA'] as const) {
        const since = requests.length
        const result = await sign(runtime, record, who)
        seen[who] = { ...result, message: result.message?.replace(/request [\w-]+/, 'request <id>'), calls: kmsCalls(since) }
      }
      // Local KMS checks KeyId against the ciphertext before the caller's permissions; whether real KMS answers
      // IncorrectKeyException or AccessDeniedException first for B's caller is unverified — both refuse.
      expect(seen).toMatchInlineSnapshot(`
        {
          "attackerB": {
            "calls": [
              "Decrypt by 999988887777 → IncorrectKeyException",
            ],
            "code": "INTEGRITY_ERROR",
            "message": "integrity check failed: KMS Decrypt rejected the sealed record: it does not match its keyId, encryption context or KMS key (IncorrectKeyException, HTTP 400, request <id>)",
            "signed": false,
          },
          "instanceA": {
            "calls": [
              "Decrypt by 111122223333 → IncorrectKeyException",
            ],
            "code": "INTEGRITY_ERROR",
            "message": "integrity check failed: KMS Decrypt rejected the sealed record: it does not match its keyId, encryption context or KMS key (IncorrectKeyException, HTTP 400, request <id>)",
            "signed": false,
          },
        }
      `)
    } finally {
      runtime.close()
    }
  })

  it("refuses to generate with the other account's credentials: the runtime asks only for the pinned key, which B may not use", async () => {
    const runtime = await runtimePinnedTo(keyA)
    try {
      const since = requests.length
      const refused = await generate(runtime, 'attackerB')
      expect({ ...refused, message: refused.message?.replace(/request [\w-]+/, 'request <id>') }).toMatchInlineSnapshot(`
        {
          "code": "POLICY_DENIED",
          "generated": false,
          "message": "denied: KMS GenerateDataKey was denied by the key policy or IAM (AccessDeniedException, HTTP 400, request <id>)",
        }
      `)
      expect(kmsCalls(since)).toEqual([`GenerateDataKey by ${B} → AccessDeniedException`])
      // Control: the instance role of our account generates under the pinned key, and the record names it.
      const ours = await generate(runtime, 'instanceA')
      expect(ours.generated, JSON.stringify(ours)).toBe(true)
      expect(ours.record?.kmsKeyId).toBe(keyA)
    } finally {
      runtime.close()
    }
  })

  it('signs with a record sealed under the pinned key (the honest path still works)', async () => {
    const encryptionContext = keyEncryptionContext('honest', DEFAULT_KEY_POLICY, owners)
    const privateKey = Buffer.from(ANVIL_KEYS[1].slice(2), 'hex')
    const out = await kms('importerA').send(new EncryptCommand({ KeyId: keyA, Plaintext: privateKey, EncryptionContext: encryptionContext }))
    const record: SealedKeyRecord = {
      version: 1,
      keyId: 'honest',
      curve: 'secp256k1',
      address: privateKeyToAddress(privateKey),
      sealing: 'aws-kms',
      kmsKeyId: out.KeyId!,
      ciphertext: Buffer.from(out.CiphertextBlob!).toString('base64'),
      encryptionContext,
      createdAt: new Date().toISOString(),
      owners,
    }
    expect(out.KeyId).toBe(keyA)
    const runtime = await runtimePinnedTo(keyA)
    try {
      expect(await sign(runtime, record, 'instanceA')).toEqual({ signed: true, from: record.address })
    } finally {
      runtime.close()
    }
  })
})
