import { describe, expect, it } from 'vitest'
import { createRequestHandler } from './handler.js'
import { createMemoryKeyStore } from './keys/fileKeyStore.js'
import { createLocalSealer } from './keys/localSealer.js'
import type { Sealer } from './keys/types.js'
import { createKeyCache } from './unseal/keyCache.js'

const KEY = '0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318'
const tx = { chainId: '1', nonce: '0', gas: '21000', maxFeePerGas: '2', maxPriorityFeePerGas: '1' }

/** A sealer that remembers every plaintext buffer it handed out or was handed. */
function spyingSealer() {
  const inner = createLocalSealer(new Uint8Array(32).fill(1))
  const seen: Uint8Array[] = []
  const sealer: Sealer = {
    kind: inner.kind,
    async seal(keyId, privateKey) {
      seen.push(privateKey)
      return inner.seal!(keyId, privateKey)
    },
    async unseal(record) {
      const bytes = await inner.unseal(record)
      seen.push(bytes)
      return bytes
    },
  }
  return { sealer, seen }
}

const allZero = (b: Uint8Array) => b.every((x) => x === 0)

describe('request handler', () => {
  it('zeroes plaintext key bytes after import, generate and sign', async () => {
    const { sealer, seen } = spyingSealer()
    const handler = createRequestHandler({ keyStore: createMemoryKeyStore(), sealer })
    expect(await handler.handle({ v: 1, id: '1', op: 'key.import', params: { privateKey: KEY, keyId: 'a' } })).toMatchObject({ ok: true })
    expect(await handler.handle({ v: 1, id: '2', op: 'key.generate', params: { keyId: 'b' } })).toMatchObject({ ok: true })
    expect(await handler.handle({ v: 1, id: '3', op: 'sign.eip1559', params: { keyId: 'a', tx } })).toMatchObject({ ok: true })
    expect(await handler.handle({ v: 1, id: '4', op: 'sign.eip1559', params: { keyId: 'b', tx } })).toMatchObject({ ok: true })
    expect(seen).toHaveLength(4)
    expect(seen.every((b) => b.length === 32 && allZero(b))).toBe(true)
  })

  it('zeroes the key even when signing fails', async () => {
    const { sealer, seen } = spyingSealer()
    // A record whose address does not match the key: the handler refuses after unsealing.
    const store = createMemoryKeyStore()
    const h2 = createRequestHandler({ keyStore: store, sealer })
    await h2.handle({ v: 1, id: '1', op: 'key.import', params: { privateKey: KEY, keyId: 'a' } })
    const record = (await store.get('a'))!
    const tampered = createMemoryKeyStore()
    await tampered.put({ ...record, address: '0x0000000000000000000000000000000000000001' })
    const h3 = createRequestHandler({ keyStore: tampered, sealer })
    const response = await h3.handle({ v: 1, id: '5', op: 'sign.eip1559', params: { keyId: 'a', tx } })
    expect(response).toMatchObject({ ok: false, error: { code: 'INTEGRITY_ERROR' } })
    expect(seen.every(allZero)).toBe(true)
  })

  it('applies its own gas cap whatever the client allowed', async () => {
    const handler = createRequestHandler({ keyStore: createMemoryKeyStore(), sealer: spyingSealer().sealer, maxGas: 100_000n })
    await handler.handle({ v: 1, id: '1', op: 'key.import', params: { privateKey: KEY, keyId: 'a' } })
    const response = await handler.handle({ v: 1, id: '2', op: 'sign.eip1559', params: { keyId: 'a', tx: { ...tx, gas: '100001' } } })
    expect(response).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT', details: { field: 'tx.gas' } } })
  })

  it('hides unexpected failures behind a generic INTERNAL error', async () => {
    const handler = createRequestHandler({
      keyStore: {
        put: async () => {},
        get: async () => {
          throw new Error(`disk on fire near ${KEY}`)
        },
        list: async () => [],
      },
      sealer: spyingSealer().sealer,
    })
    const response = await handler.handle({ v: 1, id: '1', op: 'key.get', params: { keyId: 'a' } })
    expect(response).toEqual({ v: 1, id: '1', ok: false, error: { code: 'INTERNAL', message: 'internal error', retryable: false } })
  })

  it('with a key cache, unseals once per key and record, and still zeroes what it hands out', async () => {
    const { sealer, seen } = spyingSealer()
    const keyCache = createKeyCache({ ttlMs: 60_000, maxEntries: 10 })
    const store = createMemoryKeyStore()
    const handler = createRequestHandler({ keyStore: store, sealer, keyCache })
    await handler.handle({ v: 1, id: '1', op: 'key.import', params: { privateKey: KEY, keyId: 'a' } })
    await handler.handle({ v: 1, id: '2', op: 'key.generate', params: { keyId: 'b' } })
    const unseals = () => seen.length - 2
    for (let i = 0; i < 3; i++) {
      expect(await handler.handle({ v: 1, id: `s${i}`, op: 'sign.eip1559', params: { keyId: 'a', tx } })).toMatchObject({ ok: true })
    }
    expect(unseals()).toBe(1)
    await handler.handle({ v: 1, id: 's4', op: 'sign.eip1559', params: { keyId: 'b', tx } })
    expect(unseals()).toBe(2)
    expect(keyCache.size).toBe(2)
    expect(seen.every(allZero)).toBe(true)
    keyCache.clear()
    await handler.handle({ v: 1, id: 's5', op: 'sign.eip1559', params: { keyId: 'a', tx } })
    expect(unseals()).toBe(3)
  })
})
