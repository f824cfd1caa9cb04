import { describe, expect, it } from 'vitest'
import { testHandler } from '../test/support/runtime.js'
import { newStamper } from '../test/support/stamps.js'
import type { RequestHandlerOptions } from './handler.js'
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
    async seal(keyId, privateKey, ...rest) {
      seen.push(privateKey)
      return inner.seal!(keyId, privateKey, ...rest)
    },
    async unseal(record, context) {
      const bytes = await inner.unseal(record, context)
      seen.push(bytes)
      return bytes
    },
  }
  return { sealer, seen }
}

const allZero = (b: Uint8Array) => b.every((x) => x === 0)

/** The one caller of this file (the same API key for every handler). */
const stamper = newStamper()
/** The handler under test, with a session, fronted by the caller's stamps. */
const stampedHandler = async (options: Omit<RequestHandlerOptions, 'session'>) => (await testHandler(options, { stamper })).handler

describe('request handler', () => {
  it('zeroes plaintext key bytes after import, generate and sign', async () => {
    const { sealer, seen } = spyingSealer()
    const handler = await stampedHandler({ keyStore: createMemoryKeyStore(), sealer })
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
    const h2 = await stampedHandler({ keyStore: store, sealer })
    await h2.handle({ v: 1, id: '1', op: 'key.import', params: { privateKey: KEY, keyId: 'a' } })
    const record = (await store.get('a'))!
    const tampered = createMemoryKeyStore()
    await tampered.put({ ...record, address: '0x0000000000000000000000000000000000000001' })
    const h3 = await stampedHandler({ keyStore: tampered, sealer })
    const response = await h3.handle({ v: 1, id: '5', op: 'sign.eip1559', params: { keyId: 'a', tx } })
    expect(response).toMatchObject({ ok: false, error: { code: 'INTEGRITY_ERROR' } })
    expect(seen.every(allZero)).toBe(true)
  })

  it('applies its own gas cap whatever the client allowed', async () => {
    const handler = await stampedHandler({ keyStore: createMemoryKeyStore(), sealer: spyingSealer().sealer, maxGas: 100_000n })
    await handler.handle({ v: 1, id: '1', op: 'key.import', params: { privateKey: KEY, keyId: 'a' } })
    const response = await handler.handle({ v: 1, id: '2', op: 'sign.eip1559', params: { keyId: 'a', tx: { ...tx, gas: '100001' } } })
    expect(response).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT', details: { field: 'tx.gas' } } })
  })

  it('hides unexpected failures behind a generic INTERNAL error', async () => {
    const handler = await stampedHandler({
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
    // The answer to a stamped request is signed and carries its audit event: nothing else rides along.
    const { sig, audit, ...answer } = response
    expect(answer).toEqual({ v: 1, id: '1', ok: false, error: { code: 'INTERNAL', message: 'internal error', retryable: false } })
    expect(sig).toMatchObject({ signature: expect.stringMatching(/^0x[0-9a-f]{128}$/) })
    expect(audit).toContainEqual(expect.objectContaining({ op: 'key.get', outcome: 'INTERNAL', keyId: 'a' }))
    expect(JSON.stringify(response)).not.toContain('disk on fire')
    expect(JSON.stringify(response)).not.toContain(KEY.slice(2))
  })

  it('with a key cache, unseals once per key and record, and still zeroes what it hands out', async () => {
    const { sealer, seen } = spyingSealer()
    const keyCache = createKeyCache({ ttlMs: 60_000, maxEntries: 10 })
    const store = createMemoryKeyStore()
    const handler = await stampedHandler({ keyStore: store, sealer, keyCache })
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

describe('the handler with the production logger', () => {
  it('answers an error with its own code, and logs it, through a real pino logger (methods bound to their logger)', async () => {
    const { default: pino } = await import('pino')
    const lines: string[] = []
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) })
    const handler = await stampedHandler({ keyStore: createMemoryKeyStore(), sealer: createLocalSealer(new Uint8Array(32).fill(2)), logger })
    const bad = await handler.handle({ v: 1, id: 'r1', op: 'key.get', params: { keyId: '../etc' } })
    expect(bad).toMatchObject({ id: 'r1', ok: false, error: { code: 'INVALID_ARGUMENT' } })
    const missing = await handler.handle({ v: 1, id: 'r2', op: 'key.get', params: { keyId: 'nope' } })
    expect(missing).toMatchObject({ id: 'r2', ok: false, error: { code: 'KEY_NOT_FOUND' } })
    expect(lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request failed').map((l) => l.code)).toEqual(['INVALID_ARGUMENT', 'KEY_NOT_FOUND'])
  })
})

describe('the key cache vouches only for the exact record it unsealed', () => {
  it('a cached key is not used for the same record relabelled with another KMS key or sealing', async () => {
    let unseals = 0
    const inner = createLocalSealer(new Uint8Array(32).fill(3))
    const sealer: Sealer = {
      kind: inner.kind,
      seal: inner.seal!,
      async unseal(record) {
        unseals++
        if (record.kmsKeyId !== undefined) throw new Error('a record naming a KMS key must reach the sealer, which refuses it')
        return inner.unseal(record)
      },
    }
    const memory = createMemoryKeyStore()
    let relabel: Record<string, string> = {}
    // The parent's view of the records: it may hand back any edit of a record it forwarded before.
    const keyStore = { ...memory, get: async (keyId: string) => {
      const r = await memory.get(keyId)
      return r && { ...r, ...relabel }
    } }
    const handler = await stampedHandler({ keyStore, sealer, keyCache: createKeyCache({ ttlMs: 60_000, maxEntries: 10 }) })
    await handler.handle({ v: 1, id: 'i', op: 'key.import', params: { keyId: 'k', privateKey: KEY } })
    const sign = () => handler.handle({ v: 1, id: 's', op: 'sign.eip1559', params: { keyId: 'k', tx: { ...tx, to: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', value: '1' } } })
    expect(await sign()).toMatchObject({ ok: true })
    expect(unseals).toBe(1)
    relabel = { kmsKeyId: 'arn:aws:kms:us-east-1:999999999999:key/00000000-0000-0000-0000-000000000000' }
    expect(await sign()).toMatchObject({ ok: false, error: { code: 'INTERNAL' } })
    expect(unseals).toBe(2)
    relabel = { sealing: 'aws-kms' }
    expect(await sign()).toMatchObject({ ok: false })
    expect(unseals).toBe(3)
  })
})
