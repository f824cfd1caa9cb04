/**
 * Per-key policy and owners with local (AES-256-GCM) sealing: raw-digest signing and replayable legacy
 * transactions exist only for keys created with the permission; the policy and the owners are bound to the
 * sealing (the data key's AAD carries their hashes, the v2 record's key material has the whole header as
 * AAD), and a record whose policy or owners were edited on disk — or in a store the enclave reads — no longer
 * unseals, whether it is of format v2 (what the enclave creates) or v1 (what the offline importer creates).
 */
import { createDecipheriv, createHash, getRandomValues } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  createCustodyClient,
  type CustodyClient,
  type Hex,
  hexToBytes,
  isCustodyError,
  keccak256Hex,
  type KeyPolicy,
  keyPolicyHash,
  normalizeKeyPolicy,
  normalizeOwners,
  type Owners,
  ownersHash,
  privateKeyToAddress,
  recordSigningBytes,
  type SealedKeyRecord,
  type SealedKeyRecordV1,
  type SealedKeyRecordV2,
} from '@enclave-custody/sdk'
import { recoverAddress } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canonicalContext, createLocalSealer } from '../src/keys/localSealer.js'
import { createRecordV2, openRecordV2 } from '../src/keys/recordV2.js'
import type { EnclaveIdentity } from '../src/identity/createEnclaveIdentity.js'
import type { KeyStore, Sealer } from '../src/keys/types.js'
import { localEnclave } from '../src/localEnclave.js'
import { createKeyCache } from '../src/unseal/keyCache.js'
import { signingEnclave, testHandler } from './support/runtime.js'
import { newStamper, stampingHandler } from './support/stamps.js'

const KEY = '0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318'
const DIGEST = keccak256Hex(new TextEncoder().encode('a blank cheque'))
const TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const replayable = { type: 'legacy', nonce: 0, to: TO, gas: 21000, gasPrice: 1, allowReplayable: true } as const
const RAW_DIGEST = { allowRawDigest: true }
const hashOf = (policy: object) => keyPolicyHash(normalizeKeyPolicy(policy))

/** The one caller of this file (the same API key across restarts): the owner of every key it creates. */
const stamper = newStamper()
/** What a key created by `stamper` is owned by: by default, the stamping API key alone. */
const OWNERS = normalizeOwners({ publicKeys: [stamper.publicKey] })
/** Another API key: the one a parent that edits records would add to a key's owners. */
const intruder = newStamper()
const WIDER_OWNERS = normalizeOwners({ publicKeys: [stamper.publicKey, intruder.publicKey] })
const INTRUDER_ONLY = normalizeOwners({ publicKeys: [intruder.publicKey] })

const CONTEXT_MISMATCH = "integrity check failed: the record's encryption context does not bind its keyId, policy and owners"
/** The data key's (v2) or the key's (v1) sealing refused the record's context. */
const SEALING_REFUSED = /^integrity check failed: sealed key failed authentication/

/** An encryption context without one of its entries (an edit that removes what a record no longer claims). */
const without = (context: Readonly<Record<string, string>>, key: string): Record<string, string> => Object.fromEntries(Object.entries(context).filter(([k]) => k !== key))

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: unknown) => (isCustodyError(e) ? e.code : `foreign: ${(e as Error).message}`),
  )

let dataDir: string
let custody: CustodyClient
const recordPath = (keyId: string) => join(dataDir, 'keys', `${keyId}.json`)
const readRecord = async (keyId: string) => JSON.parse(await readFile(recordPath(keyId), 'utf8')) as SealedKeyRecord
const writeRecord = (record: SealedKeyRecord) => writeFile(recordPath(record.keyId), JSON.stringify(record))

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'custody-policy-'))
  custody = createCustodyClient({ transport: localEnclave({ dataDir }), stamper })
  await custody.importKey({ privateKey: KEY, keyId: 'plain' })
  await custody.importKey({ generate: true, keyId: 'digest', policy: RAW_DIGEST })
  await custody.importKey({ privateKey: KEY, keyId: 'legacy', policy: { allowReplayableLegacy: true } })
})
afterAll(async () => {
  await custody?.close()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

describe('key policy with local sealing', () => {
  it('binds the owners, and a non-default policy, to the sealing of a v2 record (a default policy adds no policy hash)', async () => {
    const plain = await readRecord('plain')
    expect(plain).toMatchObject({ version: 2, kind: 'secp256k1', sealing: 'local-aes-gcm', owners: OWNERS })
    expect(plain.policy).toBeUndefined()
    // `record: 'v2'`: the data key of a v2 record, which never unseals as a v1 record's private key.
    expect(plain.encryptionContext).toEqual({ keyId: 'plain', owners: ownersHash(OWNERS), record: 'v2' })
    const digest = await readRecord('digest')
    expect(digest).toMatchObject({ version: 2, kind: 'secp256k1', owners: OWNERS })
    expect(digest.policy).toEqual({ allowRawDigest: true, allowReplayableLegacy: false, allowAnyChainAuthorization: false, allowUnprovenBitcoinAmounts: false, allowBitcoinSighashTypes: false })
    expect(digest.encryptionContext).toEqual({ keyId: 'digest', policy: hashOf(RAW_DIGEST), owners: ownersHash(OWNERS), record: 'v2' })
    // The owners' hash, computed independently: SHA-256 of the context string, 0x00, the canonical JSON.
    expect(OWNERS).toEqual({ publicKeys: [stamper.publicKey.toLowerCase()], threshold: 1 })
    const preimage = `enclave-custody/owners/v1\u0000{"publicKeys":["${OWNERS.publicKeys[0]}"],"threshold":1}`
    expect(digest.encryptionContext.owners).toBe(createHash('sha256').update(preimage, 'utf8').digest('hex'))
  })

  it('signs a raw digest only with a key whose policy allows it', async () => {
    expect(await codeOf(custody.signDigest('plain', DIGEST))).toBe('POLICY_DENIED')
    expect(await codeOf(custody.signDigest('legacy', DIGEST))).toBe('POLICY_DENIED')
    const signed = await custody.signDigest('digest', DIGEST)
    expect(signed.hash).toBe(DIGEST)
    expect(await recoverAddress({ hash: DIGEST, signature: signed.signature })).toBe((await custody.getKey('digest')).address)
    const error = (await custody.signDigest('plain', DIGEST).catch((e: Error) => e)) as Error
    expect(error.message).toBe("denied: the key's policy does not allow raw-digest signing; import or generate it with policy.allowRawDigest")
  })

  it('signs a replayable legacy transaction only when both the request and the key allow it', async () => {
    const { allowReplayable: _, ...withoutOptIn } = replayable
    expect(await codeOf(custody.signTransaction('legacy', withoutOptIn))).toBe('INVALID_ARGUMENT')
    expect(await codeOf(custody.signTransaction('plain', replayable))).toBe('POLICY_DENIED')
    expect(await codeOf(custody.signTransaction('digest', replayable))).toBe('POLICY_DENIED')
    const signed = await custody.signTransaction('legacy', replayable)
    expect(signed.signature.v).toBe(27n + BigInt(signed.signature.yParity))
    // With a chainId no permission is needed.
    expect(await codeOf(custody.signTransaction('plain', { ...withoutOptIn, chainId: 1 }))).toBe('ok')
  })

  it('refuses a record whose policy was widened in place: the context no longer matches it', async () => {
    const original = await readRecord('plain')
    try {
      await writeRecord({ ...original, policy: { allowRawDigest: true } })
      const error = (await custody.signDigest('plain', DIGEST).catch((e: Error) => e)) as Error
      expect(isCustodyError(error, 'INTEGRITY_ERROR')).toBe(true)
      expect(error.message).toBe(CONTEXT_MISMATCH)
      // The edited record is unusable for everything, not only for what the edit granted.
      expect(await codeOf(custody.signMessage('plain', { message: 'hi' }))).toBe('INTEGRITY_ERROR')
    } finally {
      await writeRecord(original)
    }
  })

  it('refuses a record whose owners were widened in place (another API key added): the context no longer matches them', async () => {
    const original = await readRecord('plain')
    const intruding = createCustodyClient({ transport: localEnclave({ dataDir }), stamper: intruder })
    try {
      // Before the edit the other API key may not use the key at all.
      expect(await codeOf(intruding.signMessage('plain', { message: 'mine?' }))).toBe('FORBIDDEN')
      await writeRecord({ ...original, owners: WIDER_OWNERS })
      const error = (await intruding.signMessage('plain', { message: 'mine now' }).catch((e: Error) => e)) as Error
      expect(isCustodyError(error, 'INTEGRITY_ERROR')).toBe(true)
      expect(error.message).toBe(CONTEXT_MISMATCH)
      // Nor does the real owner get anything out of the edited record.
      expect(await codeOf(custody.signMessage('plain', { message: 'hi' }))).toBe('INTEGRITY_ERROR')
    } finally {
      await writeRecord(original)
      await intruding.close()
    }
    expect(await codeOf(custody.signMessage('plain', { message: 'restored' }))).toBe('ok')
  })

  it('refuses a record whose policy and context were both edited: the data key\'s AES-GCM tag binds the original context', async () => {
    const original = await readRecord('plain')
    try {
      await writeRecord({ ...original, policy: { allowRawDigest: true }, encryptionContext: { ...original.encryptionContext, policy: hashOf(RAW_DIGEST) } })
      const error = (await custody.signDigest('plain', DIGEST).catch((e: Error) => e)) as Error
      expect(isCustodyError(error, 'INTEGRITY_ERROR')).toBe(true)
      expect(error.message).toMatch(SEALING_REFUSED)
    } finally {
      await writeRecord(original)
    }
    expect(await codeOf(custody.signMessage('plain', { message: 'restored' }))).toBe('ok')
  })

  it('refuses a record whose owners and context were both edited: the data key\'s AES-GCM tag binds the original owners', async () => {
    const original = await readRecord('plain')
    const intruding = createCustodyClient({ transport: localEnclave({ dataDir }), stamper: intruder })
    try {
      for (const owners of [WIDER_OWNERS, INTRUDER_ONLY]) {
        await writeRecord({ ...original, owners, encryptionContext: { ...original.encryptionContext, owners: ownersHash(owners) } })
        const error = (await intruding.signMessage('plain', { message: 'mine now' }).catch((e: Error) => e)) as Error
        expect(isCustodyError(error, 'INTEGRITY_ERROR')).toBe(true)
        expect(error.message).toMatch(SEALING_REFUSED)
      }
    } finally {
      await writeRecord(original)
      await intruding.close()
    }
    expect(await codeOf(custody.signMessage('plain', { message: 'restored' }))).toBe('ok')
  })

  it('refuses a downgraded record too (policy and its hash removed, owners left as sealed)', async () => {
    const original = await readRecord('digest')
    try {
      const { policy: _, ...rest } = original
      const { policy: __, ...context } = original.encryptionContext
      expect(context).toEqual({ keyId: 'digest', owners: ownersHash(OWNERS), record: 'v2' })
      await writeRecord({ ...rest, encryptionContext: context })
      const error = (await custody.signMessage('digest', { message: 'hi' }).catch((e: Error) => e)) as Error
      expect(isCustodyError(error, 'INTEGRITY_ERROR')).toBe(true)
      expect(error.message).toMatch(SEALING_REFUSED)
    } finally {
      await writeRecord(original)
    }
  })

  it('refuses a v2 record whose header was edited outside the context: the key material\'s AES-GCM binds the whole header', async () => {
    const original = await readRecord('plain')
    try {
      // createdAt is in no encryption context: the data key still unseals, the key material does not.
      await writeRecord({ ...original, createdAt: new Date(0).toISOString() })
      const error = (await custody.signMessage('plain', { message: 'hi' }).catch((e: Error) => e)) as Error
      expect(isCustodyError(error, 'INTEGRITY_ERROR')).toBe(true)
      expect(error.message).toBe("integrity check failed: the record's key material failed authentication (header or ciphertext edited)")
    } finally {
      await writeRecord(original)
    }
    expect(await codeOf(custody.signMessage('plain', { message: 'restored' }))).toBe('ok')
  })

  it('refuses a v2 record rewritten as v1: its data key is sealed for format v2, which a v1 record does not name', async () => {
    const original = await readRecord('plain')
    if (original.version !== 2) throw new Error('expected a v2 record')
    const { version: _, kind: __, dataKey, ciphertext: ___, enclaveSignature: ____, creator: _____, ...rest } = original
    try {
      // As sealed: the context names format v2, a v1 record's facts do not.
      await writeRecord({ ...rest, address: rest.address as string, version: 1, curve: 'secp256k1', ciphertext: dataKey })
      const error = (await custody.signMessage('plain', { message: 'hi' }).catch((e: Error) => e)) as Error
      expect(isCustodyError(error, 'INTEGRITY_ERROR')).toBe(true)
      expect(error.message).toBe(CONTEXT_MISMATCH)
      // The format dropped from the context to match: the data key's sealing refuses the v1 context.
      await writeRecord({ ...rest, address: rest.address as string, version: 1, curve: 'secp256k1', ciphertext: dataKey, encryptionContext: without(original.encryptionContext, 'record') })
      const refused = (await custody.signMessage('plain', { message: 'hi' }).catch((e: Error) => e)) as Error
      expect(isCustodyError(refused, 'INTEGRITY_ERROR')).toBe(true)
      expect(refused.message).toMatch(SEALING_REFUSED)
    } finally {
      await writeRecord(original)
    }
    expect(await codeOf(custody.signMessage('plain', { message: 'restored' }))).toBe('ok')
  })

  it.each([
    ['31 bytes', `0x${'11'.repeat(31)}`, '"digest" must be exactly 32 bytes'],
    ['33 bytes as a Uint8Array', new Uint8Array(33), '"digest" must be exactly 32 bytes'],
    ['text', 'sign this', '"digest" must start with 0x'],
    ['a number', 42, '"digest" must be a 0x-prefixed hex string (got number)'],
  ])('signDigest refuses a digest of %s before asking the enclave', async (_, digest, message) => {
    const error = (await custody.signDigest('digest', digest as never).catch((e: Error) => e)) as Error
    expect(isCustodyError(error, 'INVALID_ARGUMENT')).toBe(true)
    expect(error.message).toBe(message)
  })

  it.each([
    ['a policy that is not an object', { generate: true, policy: 'allowRawDigest' }, '"policy" must be an object (got string)'],
    ['an unknown permission', { generate: true, policy: { allowAnything: true } }, '"policy" has unknown field "allowAnything"'],
    ['a non-boolean permission', { privateKey: KEY, policy: { allowRawDigest: 1 } }, '"policy.allowRawDigest" must be a boolean (got number)'],
  ])('importKey refuses %s', async (_, params, message) => {
    const error = (await custody.importKey(params as never).catch((e: Error) => e)) as Error
    expect(isCustodyError(error, 'INVALID_ARGUMENT')).toBe(true)
    expect(error.message).toBe(message)
  })

  it.each([
    ['no message', {}, '"message" is required'],
    ['an extra parameter', { message: 'hi', encoding: 'utf8' }, '"params" has unknown field "encoding"'],
    ['a message that is not one', { message: 1 }, '"message" must be a string, a Uint8Array or { raw } (got number)'],
  ])('signMessage refuses %s', async (_, params, message) => {
    const error = (await custody.signMessage('plain', params as never).catch((e: Error) => e)) as Error
    expect(error.message).toBe(message)
  })

  it('keeps policies across a restart of the enclave on the same data directory', async () => {
    const again = createCustodyClient({ transport: localEnclave({ dataDir }), stamper })
    expect((await again.signDigest('digest', DIGEST)).signature).toBe((await custody.signDigest('digest', DIGEST)).signature)
    expect(await codeOf(again.signDigest('plain', DIGEST))).toBe('POLICY_DENIED')
    await again.close()
  })
})

/** A key store whose records a test can rewrite (the parent's view of Secrets Manager, say). */
function editableStore(): Required<KeyStore> & { records: Map<string, SealedKeyRecord> } {
  const records = new Map<string, SealedKeyRecord>()
  return {
    records,
    async put(record) {
      records.set(record.keyId, structuredClone(record))
    },
    async get(keyId) {
      const r = records.get(keyId)
      return r && structuredClone(r)
    },
    async list() {
      return [...records.values()]
    },
  }
}

describe('key policy and the key cache', () => {
  it('never serves an edited record from the cache: a new context is a cache miss, and the sealing refuses it', async () => {
    const inner = createLocalSealer(new Uint8Array(32).fill(9))
    let unseals = 0
    const sealer: Sealer = {
      kind: inner.kind,
      seal: inner.seal!.bind(inner),
      unseal: (r, c) => {
        unseals++
        return inner.unseal(r, c)
      },
    }
    const store = editableStore()
    const { handler, raw, aud } = await testHandler({ keyStore: store, sealer, keyCache: createKeyCache({ ttlMs: 60_000, maxEntries: 10 }) }, { stamper })
    const call = async (op: string, params: object) => handler.handle({ v: 1, id: 'x', op, params })
    const intruding = stampingHandler(raw, { stamper: intruder, aud })
    const intruderCall = async (op: string, params: object) => intruding.handle({ v: 1, id: 'i', op, params })

    expect(await call('key.import', { privateKey: KEY, keyId: 'k' })).toMatchObject({ ok: true })
    expect(await call('sign.message', { keyId: 'k', message: 'one' })).toMatchObject({ ok: true })
    expect(await call('sign.message', { keyId: 'k', message: 'two' })).toMatchObject({ ok: true })
    expect(unseals).toBe(1) // the second signature came from the cache

    const honest = store.records.get('k')!
    expect(honest.version).toBe(2)
    // Policy and context edited together: consistent to the handler, so the sealing has to be asked, and refuses.
    store.records.set('k', { ...honest, policy: { allowRawDigest: true }, encryptionContext: { ...honest.encryptionContext, policy: hashOf(RAW_DIGEST) } })
    expect(await call('sign.digest', { keyId: 'k', digest: DIGEST })).toMatchObject({ ok: false, error: { code: 'INTEGRITY_ERROR', message: expect.stringMatching(SEALING_REFUSED) } })
    expect(unseals).toBe(2)

    // The owners likewise: another API key added, its hash in the context, and that key asking.
    expect(await intruderCall('sign.message', { keyId: 'k', message: 'mine?' })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } })
    store.records.set('k', { ...honest, owners: WIDER_OWNERS, encryptionContext: { ...honest.encryptionContext, owners: ownersHash(WIDER_OWNERS) } })
    expect(await intruderCall('sign.message', { keyId: 'k', message: 'mine now' })).toMatchObject({ ok: false, error: { code: 'INTEGRITY_ERROR', message: expect.stringMatching(SEALING_REFUSED) } })
    expect(unseals).toBe(3)

    store.records.set('k', honest)
    expect(await call('sign.digest', { keyId: 'k', digest: DIGEST })).toMatchObject({ ok: false, error: { code: 'POLICY_DENIED' } })
    expect(await intruderCall('sign.message', { keyId: 'k', message: 'mine?' })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } })
    expect(unseals).toBe(3)
  })
})

describe('the client checks the record an attested enclave generated', () => {
  // An enclave that does not store records (it returns them), and signs whatever `tamper` makes of them —
  // the response and, where `tamper` re-signs it, the record itself: the client's own check of the record
  // is what stands between it and the store.
  const generatingClient = (tamper: (r: SealedKeyRecord, identity: EnclaveIdentity) => unknown, onStore: (r: SealedKeyRecord) => void) =>
    createCustodyClient({
      transport: signingEnclave({
        keyStore: { get: async () => undefined },
        sealer: createLocalSealer(new Uint8Array(32).fill(6)),
        edit: (_, response, identity) => {
          const result = response.ok ? (response.result as { record?: SealedKeyRecord }) : undefined
          return result?.record ? { ...response, result: { ...result, record: tamper(result.record, identity) } } : response
        },
      }),
      stamper,
      importer: {
        storeRecord: async (r) => onStore(r),
        importPrivateKey: async () => ({}) as never,
        secretName: (k) => k,
        storeSigningPolicy: async () => ({ arn: 'unused' }),
        readSigningPolicy: async () => undefined,
        policySecretName: (k) => k,
      },
    })
  /** The edited record, signed by the enclave as its own (what an enclave whose code went wrong would store). */
  const resigned = (edit: (r: SealedKeyRecord) => object) => (r: SealedKeyRecord, identity: EnclaveIdentity) => {
    const { enclaveSignature: _, ...body } = edit(r) as SealedKeyRecord & { version: 2 }
    const wire = JSON.parse(JSON.stringify(body)) as SealedKeyRecord & { version: 2 }
    return { ...wire, enclaveSignature: { keyId: identity.responseKeyId, signature: identity.sign(recordSigningBytes(wire)) } }
  }
  const NOT_BOUND = "integrity check failed: the enclave's record does not bind the requested policy and owners"

  it('stores an honest v2 record, policy, owners and context included', async () => {
    const stored: SealedKeyRecord[] = []
    const { keyId } = await generatingClient((r) => r, (r) => stored.push(r)).importKey({ generate: true, policy: RAW_DIGEST })
    expect(stored).toEqual([
      expect.objectContaining({
        version: 2,
        keyId,
        policy: normalizeKeyPolicy(RAW_DIGEST),
        owners: OWNERS,
        encryptionContext: { keyId, policy: hashOf(RAW_DIGEST), owners: ownersHash(OWNERS), record: 'v2' },
      }),
    ])
  })

  it.each([
    ['a record without the requested policy', resigned((r) => ({ ...r, policy: undefined, encryptionContext: { keyId: r.keyId, owners: ownersHash(OWNERS), record: 'v2' } })), NOT_BOUND],
    ['a record whose context omits the policy hash', resigned((r) => ({ ...r, encryptionContext: { keyId: r.keyId, owners: ownersHash(OWNERS), record: 'v2' } })), NOT_BOUND],
    ['a record with a wider policy', resigned((r) => ({ ...r, policy: { allowRawDigest: true, allowReplayableLegacy: true } })), NOT_BOUND],
    [
      'a record with another API key among its owners (context to match)',
      resigned((r) => ({ ...r, owners: WIDER_OWNERS, encryptionContext: { ...r.encryptionContext, owners: ownersHash(WIDER_OWNERS) } })),
      NOT_BOUND,
    ],
    ['a record whose context omits the owners hash', resigned((r) => ({ ...r, encryptionContext: { keyId: r.keyId, policy: hashOf(RAW_DIGEST), record: 'v2' } })), NOT_BOUND],
    // A data key sealed like a v1 private key (an enclave that left the record format out of the context).
    ['a record whose context omits the record format', resigned((r) => ({ ...r, encryptionContext: { keyId: r.keyId, policy: hashOf(RAW_DIGEST), owners: ownersHash(OWNERS) } })), NOT_BOUND],
    ['a record whose owners field alone was changed', resigned((r) => ({ ...r, owners: INTRUDER_ONLY })), "integrity check failed: the enclave's record does not carry the requested owners"],
    // Unsigned, any edit is refused already: the record's signature is the enclave's.
    ['an edited record the enclave did not sign', (r: SealedKeyRecord) => ({ ...r, owners: WIDER_OWNERS }), 'integrity check failed: the record is not signed by an attested enclave'],
  ])('refuses %s before storing it', async (_, tamper, message) => {
    let stored = 0
    const client = generatingClient(tamper, () => void stored++)
    const error = await client.importKey({ generate: true, policy: RAW_DIGEST }).catch((e: unknown) => e)
    expect(isCustodyError(error, 'INTEGRITY_ERROR')).toBe(true)
    expect((error as Error).message).toBe(message)
    expect(stored).toBe(0)
  })
})

describe('sealers must bind the policy, the owners and the record format', () => {
  const inner = createLocalSealer(new Uint8Array(32).fill(3))
  /** A `generate` (the KMS sealer's path) over the local sealer, passing on only what `bind` keeps. */
  const generating =
    (bind: (policy?: KeyPolicy, owners?: Owners, format?: 1 | 2) => [KeyPolicy | undefined, Owners | undefined, (1 | 2)?]): Sealer['generate'] =>
    async (keyId, context, policy, owners, format) => {
      const privateKey = getRandomValues(new Uint8Array(32))
      return { privateKey, sealed: await inner.seal!(keyId, privateKey, context, ...bind(policy, owners, format)) }
    }
  const unseal: Sealer['unseal'] = (r) => inner.unseal(r)
  it.each<[string, Sealer, { plain: string; digest: string }]>([
    ['an honest sealer (the baseline)', { kind: inner.kind, seal: inner.seal!.bind(inner), unseal }, { plain: 'ok', digest: 'ok' }],
    // Third-party sealers that predate policies, owners, or both: they seal under what they knew of.
    ['a sealer that ignores the policy', { kind: inner.kind, seal: (k, p, c, _policy, owners, format) => inner.seal!(k, p, c, undefined, owners, format), unseal }, { plain: 'ok', digest: 'INTERNAL' }],
    ['a sealer that ignores the owners', { kind: inner.kind, seal: (k, p, c, policy, _owners, format) => inner.seal!(k, p, c, policy, undefined, format), unseal }, { plain: 'INTERNAL', digest: 'INTERNAL' }],
    ['a sealer that ignores both', { kind: inner.kind, seal: (k, p, c, _policy, _owners, format) => inner.seal!(k, p, c, undefined, undefined, format), unseal }, { plain: 'INTERNAL', digest: 'INTERNAL' }],
    // One that predates v2 records: it seals a data key like a v1 private key, which would then unseal as one.
    ['a sealer that ignores the record format', { kind: inner.kind, seal: (k, p, c, policy, owners) => inner.seal!(k, p, c, policy, owners), unseal }, { plain: 'INTERNAL', digest: 'INTERNAL' }],
    ['a generating sealer that ignores the owners', { kind: inner.kind, generate: generating((policy, _, format) => [policy, undefined, format]), unseal }, { plain: 'INTERNAL', digest: 'INTERNAL' }],
    ['a generating sealer that ignores the policy', { kind: inner.kind, generate: generating((_, owners, format) => [undefined, owners, format]), unseal }, { plain: 'ok', digest: 'INTERNAL' }],
    ['a generating sealer that ignores the record format', { kind: inner.kind, generate: generating((policy, owners) => [policy, owners]), unseal }, { plain: 'INTERNAL', digest: 'INTERNAL' }],
  ])('creates keys with %s only where policy, owners and format are bound', async (_, sealer, expected) => {
    const store = editableStore()
    const { handler } = await testHandler({ keyStore: store, sealer }, { stamper })
    const outcome = async (keyId: string, params: object) => {
      const r = await handler.handle({ v: 1, id: keyId, op: 'key.generate', params: { keyId, ...params } })
      if (r.ok) return 'ok'
      // Refused as an internal error naming the sealer's fault, and nothing about the key.
      expect(r.error).toMatchObject({ code: 'INTERNAL', message: "the local-aes-gcm sealer did not bind the key's policy and owners to its sealing" })
      return r.error.code
    }
    expect({ plain: await outcome('plain', {}), digest: await outcome('digest', { policy: RAW_DIGEST }) }).toEqual(expected)
    // A refused key leaves no record behind.
    expect([...store.records.keys()].sort()).toEqual(Object.keys(expected).filter((k) => expected[k as keyof typeof expected] === 'ok').sort())
  })

  it('the local sealer seals under the policy and owners context and refuses any other', async () => {
    const sealer = createLocalSealer(new Uint8Array(32).fill(4))
    const policy = normalizeKeyPolicy(RAW_DIGEST)
    const key = new Uint8Array(32).fill(1)
    // Without owners (a record of before owners): { keyId, policy }.
    const sealedBefore = await sealer.seal!('k', key, undefined, policy)
    expect(sealedBefore.encryptionContext).toEqual({ keyId: 'k', policy: keyPolicyHash(policy) })
    const before = { version: 1, keyId: 'k', curve: 'secp256k1', address: TO, ...sealedBefore, createdAt: new Date().toISOString(), policy } as const
    expect(await sealer.unseal(before)).toEqual(key)
    const other = normalizeKeyPolicy({ allowRawDigest: true, allowReplayableLegacy: true })
    const widened = { ...before, policy: other, encryptionContext: { keyId: 'k', policy: keyPolicyHash(other) } }
    await expect(sealer.unseal(widened)).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' })
    await expect(sealer.unseal({ ...before, policy: { allowRawDigest: 'yes' } } as never)).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' })
    // Owners given to a sealing created without them do not unseal either.
    await expect(sealer.unseal({ ...before, owners: OWNERS, encryptionContext: { ...before.encryptionContext, owners: ownersHash(OWNERS) } })).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' })

    // With owners: { keyId, policy, owners }.
    const sealed = await sealer.seal!('k', key, undefined, policy, OWNERS)
    expect(sealed.encryptionContext).toEqual({ keyId: 'k', policy: keyPolicyHash(policy), owners: ownersHash(OWNERS) })
    const record = { ...before, ...sealed, owners: OWNERS }
    expect(await sealer.unseal(record)).toEqual(key)
    await expect(sealer.unseal({ ...record, policy: other, encryptionContext: { ...record.encryptionContext, policy: keyPolicyHash(other) } })).rejects.toMatchObject({
      code: 'INTEGRITY_ERROR',
    })
    for (const owners of [WIDER_OWNERS, INTRUDER_ONLY]) {
      await expect(sealer.unseal({ ...record, owners, encryptionContext: { ...record.encryptionContext, owners: ownersHash(owners) } })).rejects.toMatchObject({
        code: 'INTEGRITY_ERROR',
        message: expect.stringMatching(SEALING_REFUSED),
      })
    }
    // Owners removed, context to match: a record "of before owners" is refused too.
    const { owners: _, ...withoutOwners } = record
    await expect(sealer.unseal({ ...withoutOwners, encryptionContext: { keyId: 'k', policy: keyPolicyHash(policy) } })).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' })
    // Owners that have no canonical JSON (a fractional threshold) have no hash: refused, not guessed at.
    await expect(sealer.unseal({ ...record, owners: { ...OWNERS, threshold: 0.5 } } as never)).rejects.toMatchObject({
      code: 'INTEGRITY_ERROR',
      message: 'integrity check failed: record policy or owners are malformed',
    })
  })
})

describe('records of format v1 (offline importer) and v2 (enclave) bind policy and owners alike', () => {
  const MASTER_KEY = new Uint8Array(32).fill(8)
  const sealer = createLocalSealer(MASTER_KEY)
  const store = editableStore()
  const policy = normalizeKeyPolicy(RAW_DIGEST)
  let asOwner: (record: SealedKeyRecord) => Promise<{ code: string; message?: string }>
  let asIntruder: (record: SealedKeyRecord) => Promise<{ code: string; message?: string }>
  let identity: EnclaveIdentity
  const records: Record<'v1' | 'v2', SealedKeyRecord> = {} as never

  beforeAll(async () => {
    // The intruder is the image's legacy owner: a record stripped of its owners would be its to use, if it unsealed.
    const { handler, raw, aud, session } = await testHandler({ keyStore: store, sealer, legacyOwners: [intruder.publicKey] }, { stamper })
    identity = session.identity
    const intruding = stampingHandler(raw, { stamper: intruder, aud })
    const use = (h: typeof handler) => async (record: SealedKeyRecord) => {
      store.records.set(record.keyId, record)
      const r = await h.handle({ v: 1, id: 's', op: 'sign.message', params: { keyId: record.keyId, message: 'hi' } })
      return r.ok ? { code: 'ok' } : { code: r.error.code, message: r.error.message }
    }
    asOwner = use(handler)
    asIntruder = use(intruding)
    // v2: what the enclave creates.
    expect(await handler.handle({ v: 1, id: 'i', op: 'key.import', params: { keyId: 'v2', privateKey: KEY, policy: RAW_DIGEST } })).toMatchObject({ ok: true })
    records.v2 = store.records.get('v2')!
    // v1: what the offline KMS importer creates (here sealed by the local sealer), owners included.
    const sealed = await sealer.seal!('v1', hexToBytes(KEY), undefined, policy, OWNERS)
    records.v1 = { version: 1, keyId: 'v1', curve: 'secp256k1', address: privateKeyToAddress(hexToBytes(KEY)), ...sealed, createdAt: new Date().toISOString(), policy, owners: OWNERS }
  })

  it.each(['v1', 'v2'] as const)('a %s record unseals for its owner, and is FORBIDDEN to another API key', async (format) => {
    expect(records[format]).toMatchObject({ version: format === 'v1' ? 1 : 2, owners: OWNERS })
    // Alike but for the format: a v2 data key's context says so, so that neither unseals as the other.
    expect(records[format].encryptionContext).toEqual({ keyId: format, policy: keyPolicyHash(policy), owners: ownersHash(OWNERS), ...(format === 'v2' ? { record: 'v2' } : {}) })
    expect(await asOwner(records[format])).toEqual({ code: 'ok' })
    expect(await asIntruder(records[format])).toMatchObject({ code: 'FORBIDDEN' })
  })

  const widerPolicy = normalizeKeyPolicy({ allowRawDigest: true, allowReplayableLegacy: true })
  const edits: [string, 'owner' | 'intruder', (r: SealedKeyRecord) => object, string | RegExp][] = [
    ['its policy widened in place', 'owner', (r) => ({ ...r, policy: widerPolicy }), CONTEXT_MISMATCH],
    ['its policy widened, the context to match', 'owner', (r) => ({ ...r, policy: widerPolicy, encryptionContext: { ...r.encryptionContext, policy: keyPolicyHash(widerPolicy) } }), SEALING_REFUSED],
    ['its policy removed, the context to match', 'owner', ({ policy: _, ...r }) => ({ ...r, encryptionContext: without(r.encryptionContext, 'policy') }), SEALING_REFUSED],
    ['another API key added to its owners in place', 'intruder', (r) => ({ ...r, owners: WIDER_OWNERS }), CONTEXT_MISMATCH],
    ['another API key added to its owners, the context to match', 'intruder', (r) => ({ ...r, owners: WIDER_OWNERS, encryptionContext: { ...r.encryptionContext, owners: ownersHash(WIDER_OWNERS) } }), SEALING_REFUSED],
    ['its owners replaced, the context to match', 'intruder', (r) => ({ ...r, owners: INTRUDER_ONLY, encryptionContext: { ...r.encryptionContext, owners: ownersHash(INTRUDER_ONLY) } }), SEALING_REFUSED],
    ['its owners removed, the context to match (a record "of before owners", for a legacy owner)', 'intruder', ({ owners: _, ...r }) => ({ ...r, encryptionContext: without(r.encryptionContext, 'owners') }), SEALING_REFUSED],
  ]
  /**
   * What a red team holding the local sealer's master key reads out of a sealed envelope (12-byte IV ‖ AES-256-GCM
   * ‖ 16-byte tag, the context as AAD): the plaintext a parent never sees, here to give the attack its best case.
   */
  const openEnvelope = (sealed: string, context: Record<string, string>): Uint8Array => {
    const blob = Buffer.from(sealed, 'base64')
    const decipher = createDecipheriv('aes-256-gcm', MASTER_KEY, blob.subarray(0, 12))
    decipher.setAAD(canonicalContext(context))
    decipher.setAuthTag(blob.subarray(blob.length - 16))
    return new Uint8Array(Buffer.concat([decipher.update(blob.subarray(12, blob.length - 16)), decipher.final()]))
  }

  it('refuses a v2 data key re-wrapped as a v1 record, even with the data key\'s own address filled in', async () => {
    const v2 = records.v2 as SealedKeyRecordV2
    const dataKey = openEnvelope(v2.dataKey, v2.encryptionContext)
    // The red team's data key is the real one: it opens the key material.
    expect(openRecordV2(v2, dataKey)).toEqual(hexToBytes(KEY))
    // A 32-byte AES key that is a secp256k1 scalar too: as a v1 record's private key it has an address.
    const rewrapped: SealedKeyRecordV1 = {
      version: 1,
      keyId: 'v2',
      curve: 'secp256k1',
      address: privateKeyToAddress(dataKey),
      sealing: v2.sealing,
      ciphertext: v2.dataKey,
      encryptionContext: v2.encryptionContext,
      createdAt: v2.createdAt,
      policy: v2.policy,
      owners: v2.owners,
    }
    try {
      // Served, the handler would sign with the data key as the private key of that address.
      expect(await asOwner(rewrapped)).toEqual({ code: 'INTEGRITY_ERROR', message: CONTEXT_MISMATCH })
      // The format dropped from the context to match a v1 record: the data key's sealing refuses it.
      expect(await asOwner({ ...rewrapped, encryptionContext: without(v2.encryptionContext, 'record') })).toMatchObject({ code: 'INTEGRITY_ERROR', message: expect.stringMatching(SEALING_REFUSED) })
      // The sealer refuses on its own too (its context comes from the record's format, not from the record's context).
      await expect(sealer.unseal(rewrapped)).rejects.toMatchObject({ code: 'INTEGRITY_ERROR', message: expect.stringMatching(SEALING_REFUSED) })
    } finally {
      store.records.set('v2', v2)
    }
    expect(await asOwner(v2)).toEqual({ code: 'ok' })
  })

  it('refuses a v1 private key presented as a v2 data key, even with key material sealed under it (and the enclave\'s signature)', async () => {
    const v1 = records.v1 as SealedKeyRecordV1
    // The red team unseals the v1 key through the sealer, and seals key material of its choosing under it.
    const v1Key = await sealer.unseal(v1)
    expect(privateKeyToAddress(v1Key)).toBe(v1.address)
    const material = hexToBytes(`0x${'42'.repeat(32)}`)
    const forge = (encryptionContext: Record<string, string>): SealedKeyRecordV2 =>
      createRecordV2({
        keyId: 'v1',
        key: { kind: 'secp256k1', address: privateKeyToAddress(material) },
        material,
        dataKey: v1Key,
        sealed: { sealing: v1.sealing, ciphertext: v1.ciphertext, encryptionContext },
        policy,
        owners: OWNERS,
        createdAt: v1.createdAt,
        creator: OWNERS.publicKeys[0] as Hex,
        identity,
      })
    try {
      // As sealed (a v1 context): a v2 record's facts call for `record: 'v2'`.
      expect(await asOwner(forge(v1.encryptionContext))).toEqual({ code: 'INTEGRITY_ERROR', message: CONTEXT_MISMATCH })
      // The format added to the context to match: the v1 key's sealing refuses it.
      const relabelled = forge({ ...v1.encryptionContext, record: 'v2' })
      expect(await asOwner(relabelled)).toMatchObject({ code: 'INTEGRITY_ERROR', message: expect.stringMatching(SEALING_REFUSED) })
      await expect(sealer.unseal(forge(v1.encryptionContext))).rejects.toMatchObject({ code: 'INTEGRITY_ERROR', message: expect.stringMatching(SEALING_REFUSED) })
    } finally {
      v1Key.fill(0)
      store.records.set('v1', v1)
    }
    expect(await asOwner(v1)).toEqual({ code: 'ok' })
  })

  describe.each(['v1', 'v2'] as const)('a %s record', (format) => {
    it.each(edits)('with %s does not unseal (asked by the %s)', async (_, who, edit, message) => {
      const result = await (who === 'owner' ? asOwner : asIntruder)(edit(records[format]) as SealedKeyRecord)
      expect(result.code).toBe('INTEGRITY_ERROR')
      if (typeof message === 'string') expect(result.message).toBe(message)
      else expect(result.message).toMatch(message)
    })
  })
})
