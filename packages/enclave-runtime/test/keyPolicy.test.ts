/**
 * Per-key policy with local (AES-256-GCM) sealing: raw-digest signing and replayable legacy transactions
 * exist only for keys created with the permission, the policy is bound to the sealing (the AAD carries its
 * hash), and a record whose policy was edited on disk — or in a store the enclave reads — no longer unseals.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  createCustodyClient,
  type CustodyClient,
  isCustodyError,
  keccak256Hex,
  keyPolicyHash,
  normalizeKeyPolicy,
  type SealedKeyRecord,
} from '@enclave-custody/sdk'
import { recoverAddress } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRequestHandler } from '../src/handler.js'
import { createLocalSealer } from '../src/keys/localSealer.js'
import type { KeyStore, Sealer } from '../src/keys/types.js'
import { localEnclave } from '../src/localEnclave.js'
import { createKeyCache } from '../src/unseal/keyCache.js'

const KEY = '0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318'
const DIGEST = keccak256Hex(new TextEncoder().encode('a blank cheque'))
const TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const replayable = { type: 'legacy', nonce: 0, to: TO, gas: 21000, gasPrice: 1, allowReplayable: true } as const
const RAW_DIGEST = { allowRawDigest: true }
const hashOf = (policy: object) => keyPolicyHash(normalizeKeyPolicy(policy))

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
  custody = createCustodyClient({ transport: localEnclave({ dataDir }) })
  await custody.importKey({ privateKey: KEY, keyId: 'plain' })
  await custody.importKey({ generate: true, keyId: 'digest', policy: RAW_DIGEST })
  await custody.importKey({ privateKey: KEY, keyId: 'legacy', policy: { allowReplayableLegacy: true } })
})
afterAll(async () => {
  await custody?.close()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

describe('key policy with local sealing', () => {
  it('binds a non-default policy to the sealing, and leaves default-policy records as they always were', async () => {
    const plain = await readRecord('plain')
    expect(plain.policy).toBeUndefined()
    expect(plain.encryptionContext).toEqual({ keyId: 'plain' })
    const digest = await readRecord('digest')
    expect(digest.policy).toEqual({ allowRawDigest: true, allowReplayableLegacy: false, allowAnyChainAuthorization: false })
    expect(digest.encryptionContext).toEqual({ keyId: 'digest', policy: hashOf(RAW_DIGEST) })
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
      expect(error.message).toBe("integrity check failed: the record's encryption context does not bind its keyId and policy")
      // The edited record is unusable for everything, not only for what the edit granted.
      expect(await codeOf(custody.signMessage('plain', { message: 'hi' }))).toBe('INTEGRITY_ERROR')
    } finally {
      await writeRecord(original)
    }
  })

  it('refuses a record whose policy and context were both edited: the AES-GCM tag binds the original context', async () => {
    const original = await readRecord('plain')
    try {
      await writeRecord({ ...original, policy: { allowRawDigest: true }, encryptionContext: { keyId: 'plain', policy: hashOf(RAW_DIGEST) } })
      const error = (await custody.signDigest('plain', DIGEST).catch((e: Error) => e)) as Error
      expect(isCustodyError(error, 'INTEGRITY_ERROR')).toBe(true)
      expect(error.message).toMatch(/sealed key failed authentication/)
    } finally {
      await writeRecord(original)
    }
    expect(await codeOf(custody.signMessage('plain', { message: 'restored' }))).toBe('ok')
  })

  it('refuses a downgraded record too (policy and context removed)', async () => {
    const original = await readRecord('digest')
    try {
      const { policy: _, ...rest } = original
      await writeRecord({ ...rest, encryptionContext: { keyId: 'digest' } })
      expect(await codeOf(custody.signMessage('digest', { message: 'hi' }))).toBe('INTEGRITY_ERROR')
    } finally {
      await writeRecord(original)
    }
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
    const again = createCustodyClient({ transport: localEnclave({ dataDir }) })
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
    const handler = createRequestHandler({ keyStore: store, sealer, keyCache: createKeyCache({ ttlMs: 60_000, maxEntries: 10 }) })
    const call = async (op: string, params: object) => handler.handle({ v: 1, id: 'x', op, params })

    expect(await call('key.import', { privateKey: KEY, keyId: 'k' })).toMatchObject({ ok: true })
    expect(await call('sign.message', { keyId: 'k', message: 'one' })).toMatchObject({ ok: true })
    expect(await call('sign.message', { keyId: 'k', message: 'two' })).toMatchObject({ ok: true })
    expect(unseals).toBe(1) // the second signature came from the cache

    const honest = store.records.get('k')!
    store.records.set('k', { ...honest, policy: { allowRawDigest: true }, encryptionContext: { keyId: 'k', policy: hashOf(RAW_DIGEST) } })
    expect(await call('sign.digest', { keyId: 'k', digest: DIGEST })).toMatchObject({ ok: false, error: { code: 'INTEGRITY_ERROR' } })
    expect(unseals).toBe(2)

    store.records.set('k', honest)
    expect(await call('sign.digest', { keyId: 'k', digest: DIGEST })).toMatchObject({ ok: false, error: { code: 'POLICY_DENIED' } })
    expect(unseals).toBe(2)
  })
})

describe('the client checks the record an attested enclave generated', () => {
  const generatingClient = (tamper: (r: SealedKeyRecord) => unknown, onStore: (r: SealedKeyRecord) => void) => {
    const handler = createRequestHandler({ keyStore: { get: async () => undefined }, sealer: createLocalSealer(new Uint8Array(32).fill(6)) })
    return createCustodyClient({
      transport: {
        name: 'generating-enclave',
        async request(message) {
          const response = (await handler.handle(JSON.parse(JSON.stringify(message)))) as { ok: boolean; result: { record: SealedKeyRecord } }
          if (response.ok) response.result.record = tamper(response.result.record) as SealedKeyRecord
          return JSON.parse(JSON.stringify(response))
        },
      },
      importer: { storeRecord: async (r) => onStore(r), importPrivateKey: async () => ({}) as never, secretName: (k) => k },
    })
  }

  it('stores an honest record, policy and context included', async () => {
    const stored: SealedKeyRecord[] = []
    const { keyId } = await generatingClient((r) => r, (r) => stored.push(r)).importKey({ generate: true, policy: RAW_DIGEST })
    expect(stored).toEqual([expect.objectContaining({ keyId, policy: normalizeKeyPolicy(RAW_DIGEST), encryptionContext: { keyId, policy: hashOf(RAW_DIGEST) } })])
  })

  it.each([
    ['a record without the requested policy', (r: SealedKeyRecord) => ({ ...r, policy: undefined, encryptionContext: { keyId: r.keyId } })],
    ['a record whose context omits the policy hash', (r: SealedKeyRecord) => ({ ...r, encryptionContext: { keyId: r.keyId } })],
    ['a record with a wider policy', (r: SealedKeyRecord) => ({ ...r, policy: { allowRawDigest: true, allowReplayableLegacy: true } })],
  ])('refuses %s before storing it', async (_, tamper) => {
    let stored = 0
    const client = generatingClient(tamper, () => void stored++)
    const error = await client.importKey({ generate: true, policy: RAW_DIGEST }).catch((e: unknown) => e)
    expect(isCustodyError(error, 'INTEGRITY_ERROR')).toBe(true)
    expect(stored).toBe(0)
  })
})

describe('sealers must bind the policy', () => {
  it('refuses to create a key whose sealer ignored the policy', async () => {
    const inner = createLocalSealer(new Uint8Array(32).fill(3))
    // A third-party sealer that predates policies: it seals under { keyId } whatever it is asked.
    const ignorant: Sealer = { kind: inner.kind, seal: (keyId, privateKey) => inner.seal!(keyId, privateKey), unseal: (r) => inner.unseal(r) }
    const handler = createRequestHandler({ keyStore: editableStore(), sealer: ignorant })
    const response = await handler.handle({ v: 1, id: 'x', op: 'key.generate', params: { keyId: 'g', policy: RAW_DIGEST } })
    expect(response).toMatchObject({ ok: false, error: { code: 'INTERNAL' } })
    expect(await handler.handle({ v: 1, id: 'y', op: 'key.generate', params: { keyId: 'h' } })).toMatchObject({ ok: true })
  })

  it('the local sealer seals under the policy context and refuses any other', async () => {
    const sealer = createLocalSealer(new Uint8Array(32).fill(4))
    const policy = normalizeKeyPolicy(RAW_DIGEST)
    const sealed = await sealer.seal!('k', new Uint8Array(32).fill(1), undefined, policy)
    expect(sealed.encryptionContext).toEqual({ keyId: 'k', policy: keyPolicyHash(policy) })
    const record = { version: 1, keyId: 'k', curve: 'secp256k1', address: TO, ...sealed, createdAt: new Date().toISOString(), policy } as const
    expect(await sealer.unseal(record)).toEqual(new Uint8Array(32).fill(1))
    const other = normalizeKeyPolicy({ allowRawDigest: true, allowReplayableLegacy: true })
    const widened = { ...record, policy: other, encryptionContext: { keyId: 'k', policy: keyPolicyHash(other) } }
    await expect(sealer.unseal(widened)).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' })
    await expect(sealer.unseal({ ...record, policy: { allowRawDigest: 'yes' } } as never)).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' })
  })
})
