/**
 * `sign.batch` in the enclave's request handler: one stamp, one owner check, one unsealing; each item through the
 * single operation's own checks, policy and signer (same signatures, byte for byte), rolling limits charged item by
 * item, per-item failures in their slots, one audit event per item, and the batch's idempotency key.
 */
import { getRandomValues } from 'node:crypto'
import { createCustodyClient, type CustodyClient, type RollingLimit, type Transport } from '@enclave-custody/sdk'
import type { AuditEvent, ResponseMessage } from '@enclave-custody/sdk/protocol'
import { computeAddress, SigningKey, Transaction, verifyAuthorization, verifyMessage, verifyTypedData } from 'ethers'
import { beforeAll, describe, expect, it } from 'vitest'
import { createMemoryKeyStore } from '../packages/enclave-runtime/src/keys/fileKeyStore.js'
import { createLocalSealer } from '../packages/enclave-runtime/src/keys/localSealer.js'
import type { Sealer } from '../packages/enclave-runtime/src/keys/types.js'
import { countingSealer } from '../packages/enclave-runtime/test/countingSealer.js'
import { testHandler } from '../packages/enclave-runtime/test/support/runtime.js'
import { attestationPolicyOf, sharedSoftwareNsm } from '../packages/enclave-runtime/test/support/session.js'
import { newStamper, stampingHandler } from '../packages/enclave-runtime/test/support/stamps.js'
import { EIP712_MAIL } from './support/eip712Mail.js'

const KEY = '0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318'
const ADDRESS = computeAddress(KEY)
const TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const DIGEST = `0x${'ab'.repeat(32)}`

const eip1559 = (value: bigint | number, nonce = 0) => ({ chainId: '1', nonce: String(nonce), to: TO, value: String(value), gas: '21000', maxFeePerGas: '2000000000', maxPriorityFeePerGas: '1' })
const legacy = { type: 'legacy', chainId: '1', nonce: '7', to: TO, value: '5', gas: '21000', gasPrice: '1000000000' }
const typedData = EIP712_MAIL
const authorization = { chainId: '1', address: TO, nonce: '3' }

/** Every EVM kind, as single operations and as batch items (params without keyId). */
const KINDS = [
  { op: 'sign.eip1559', params: { tx: eip1559(1) } },
  { op: 'sign.transaction', params: { tx: legacy } },
  { op: 'sign.message', params: { message: 'hello batch' } },
  { op: 'sign.typedData', params: { typedData } },
  { op: 'sign.digest', params: { digest: DIGEST } },
  { op: 'sign.authorization', params: { authorization } },
] as const

type Setup = Awaited<ReturnType<typeof setup>>
type Outcome = { ok: true; result: Record<string, unknown> } | { ok: false; error: { code: string; details?: Record<string, unknown> } }

/** The handler (stamping as one caller), its audit events, and an SDK client over it (policies are set through it). */
async function setup(sealer: Sealer = createLocalSealer(getRandomValues(new Uint8Array(32)))) {
  const stamper = newStamper()
  const { handler, raw, aud } = await testHandler({ keyStore: createMemoryKeyStore(), sealer }, { stamper })
  const events: AuditEvent[] = []
  const send = async (op: string, params: unknown) => {
    const { audit, ...response } = await handler.handle({ v: 1, id: `r-${Math.random().toString(36).slice(2)}`, op, params })
    events.push(...((audit as AuditEvent[] | undefined) ?? []))
    return response as ResponseMessage
  }
  const transport: Transport = {
    name: 'in-process',
    attestation: attestationPolicyOf(await sharedSoftwareNsm()),
    async request(message) {
      const { audit, ...response } = await raw.handle(JSON.parse(JSON.stringify(message)))
      events.push(...((audit as AuditEvent[] | undefined) ?? []))
      return JSON.parse(JSON.stringify(response)) as ResponseMessage
    },
  }
  const custody: CustodyClient = createCustodyClient({ transport, stamper })
  expect(await send('key.import', { privateKey: KEY, keyId: 'k', policy: { allowRawDigest: true } })).toMatchObject({ ok: true })
  const batch = async (items: unknown, extra: Record<string, unknown> = {}) => send('sign.batch', { keyId: 'k', items, ...extra })
  const results = async (items: unknown, extra: Record<string, unknown> = {}): Promise<Outcome[]> => {
    const answer = await batch(items, extra)
    if (!answer.ok) throw new Error(`batch refused: ${answer.error.code} ${answer.error.message}`)
    return (answer.result as { results: Outcome[] }).results
  }
  return { send, batch, results, events, custody, raw, aud }
}

const limit = (max: bigint): RollingLimit => ({ sum: 'value', max: max.toString(), window: '1m', per: 'key', afterRestart: 'reset' })

describe('sign.batch in the enclave', () => {
  let s: Setup
  beforeAll(async () => {
    s = await setup()
  })

  it('signs every EVM kind exactly as the single operations do (byte-identical), each recovering to the key', async () => {
    const singles = []
    for (const { op, params } of KINDS) {
      const answer = await s.send(op, { keyId: 'k', ...params })
      expect(answer).toMatchObject({ ok: true })
      singles.push((answer as { result: unknown }).result)
    }
    const batched = await s.results(KINDS)
    expect(batched).toEqual(singles.map((result) => ({ ok: true, result })))
    const r = batched.map((o) => (o as { result: Record<string, string> }).result)
    // Cross-checked with ethers: each signature recovers to the key's address.
    expect(Transaction.from(r[0]!.rawTransaction).from).toBe(ADDRESS)
    expect(Transaction.from(r[1]!.rawTransaction).from).toBe(ADDRESS)
    expect(verifyMessage('hello batch', r[2]!.signature!)).toBe(ADDRESS)
    expect(verifyTypedData(typedData.domain, typedData.types, typedData.message, r[3]!.signature!)).toBe(ADDRESS)
    expect(computeAddress(SigningKey.recoverPublicKey(DIGEST, r[4]!.signature!))).toBe(ADDRESS)
    const auth = r[5]!
    expect(verifyAuthorization({ chainId: 1n, address: TO, nonce: 3n }, { r: auth.r!, s: auth.s!, yParity: Number(auth.yParity) as 0 | 1 })).toBe(ADDRESS)
  })

  it('unseals the key once for the whole batch', async () => {
    const { sealer, unseals } = countingSealer(7)
    const t = await setup(sealer)
    const before = unseals()
    expect(await t.results([...KINDS, ...KINDS])).toHaveLength(12)
    expect(unseals() - before).toBe(1)
  })

  it('unseals nothing for a batch none of whose items the key signs (an HD wallet signs through its accounts)', async () => {
    const { sealer, unseals } = countingSealer(7)
    const t = await setup(sealer)
    expect(await t.send('wallet.create', { walletId: 'w', words: 12 })).toMatchObject({ ok: true })
    const before = unseals()
    const answer = await t.send('sign.batch', { keyId: 'w', items: KINDS })
    expect(answer).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT', details: { field: 'keyId' } } })
    expect(unseals() - before).toBe(0)
  })

  it('reports an invalid item in its slot and signs the others', async () => {
    const out = await s.results([{ op: 'sign.eip1559', params: { tx: eip1559(1) } }, { op: 'sign.eip1559', params: { tx: { ...eip1559(1), gas: '30000001' } } }, { op: 'sign.message', params: { message: 'after' } }])
    expect(out.map((o) => o.ok)).toEqual([true, false, true])
    expect(out[1]).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT', details: { field: 'tx.gas' } } })
    // A payload that does not parse fails alone too, with the single operation's error.
    const bad = await s.results([{ op: 'sign.digest', params: { digest: '0x12' } }, { op: 'sign.message', params: { message: 'ok' } }])
    expect(bad[0]).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT', details: { field: 'digest' } } })
    expect(bad[1]).toMatchObject({ ok: true })
    // An own `__proto__` field is an unknown field of the item, as it is of a single request.
    const proto = await s.results([JSON.parse('{"op":"sign.message","params":{"message":"m","__proto__":{"keyId":"other"}}}'), { op: 'sign.message', params: { message: 'ok' } }])
    expect(proto[0]).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT', details: { field: 'params' } } })
    expect(proto[1]).toMatchObject({ ok: true })
    // An item of a family the key does not sign for fails alone (a secp256k1 key signs no Solana message).
    const family = await s.results([{ op: 'sign.solanaMessage', params: { message: 'AQAB' } }, { op: 'sign.message', params: { message: 'ok' } }])
    expect(family[0]).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT', details: { field: 'keyId' } } })
    expect(family[1]).toMatchObject({ ok: true })
  })

  it('refuses the whole batch: too many items, no items, an item naming a key or its own idempotency key, a nested batch', async () => {
    const item = { op: 'sign.message', params: { message: 'm' } }
    const refused = async (items: unknown) => ((await s.batch(items)) as { error: { code: string; details?: { field?: string; rule?: string } } }).error
    expect(await refused(Array.from({ length: 65 }, () => item))).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'items', rule: expect.stringContaining('1 to 64 items') } })
    expect(await refused([])).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'items', rule: expect.stringContaining('1 to 64 items') } })
    expect(await refused([item, { op: 'sign.message', params: { message: 'm', keyId: 'other' } }])).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'items.1.params.keyId' } })
    expect(await refused([{ op: 'sign.message', params: { message: 'm', idempotencyKey: 'x' } }])).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'items.0.params.idempotencyKey' } })
    expect(await refused([{ op: 'sign.batch', params: { items: [item] } }])).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'items.0.op' } })
    expect(await refused([{ op: 'key.get', params: {} }])).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'items.0.op' } })
    // 64 is allowed.
    expect(await s.results(Array.from({ length: 64 }, (_, i) => ({ op: 'sign.message', params: { message: `m${i}` } })))).toHaveLength(64)
  })

  it('refuses the whole batch to an API key that is not an owner, and for a key that does not exist', async () => {
    const stranger = stampingHandler(s.raw, { stamper: newStamper(), aud: s.aud })
    const items = [{ op: 'sign.message', params: { message: 'm' } }]
    expect(await stranger.handle({ v: 1, id: 'x', op: 'sign.batch', params: { keyId: 'k', items } })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } })
    expect(await s.batch(items, { keyId: 'nope' })).toMatchObject({ ok: false, error: { code: 'KEY_NOT_FOUND' } })
  })

  it('answers a replay under the same idempotency key with the same result, and refuses the key for another batch', async () => {
    const items = [
      { op: 'sign.eip1559', params: { tx: eip1559(2, 9) } },
      { op: 'sign.message', params: { message: 'once' } },
    ]
    const first = await s.batch(items, { idempotencyKey: 'batch-1' })
    const again = await s.batch(items, { idempotencyKey: 'batch-1' })
    expect(first.ok && again.ok).toBe(true)
    expect((again as { result: unknown }).result).toEqual((first as { result: unknown }).result)
    expect(await s.batch([items[1]], { idempotencyKey: 'batch-1' })).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT', details: { field: 'idempotencyKey' } } })
  })

  it('records one audit event per item (its op, outcome, the batch digest) and the batch event after them', async () => {
    const before = s.events.length
    await s.results([{ op: 'sign.message', params: { message: 'a' } }, { op: 'sign.digest', params: { digest: '0x1' } }])
    const events = s.events.slice(before)
    expect(events.map((e) => [e.op, e.outcome, e.keyId])).toEqual([
      ['sign.message', 'ok', 'k'],
      ['sign.digest', 'INVALID_ARGUMENT', 'k'],
      ['sign.batch', 'ok', 'k'],
    ])
    expect(new Set(events.map((e) => e.requestDigest)).size).toBe(1)
    expect(events[2]!.seq).toBe(events[1]!.seq + 1)
  })
})

describe('sign.batch under a signing policy', () => {
  it('evaluates each item: a denied item in the middle gets POLICY_DENIED naming the rule, the others are signed', async () => {
    const s = await setup()
    await s.custody.setSigningPolicy('k', {
      rules: [
        { id: 'small', effect: 'allow', when: { value: { lte: '100' } } },
        { id: 'messages', effect: 'allow', when: { kind: { in: ['message'] } } },
      ],
    })
    const before = s.events.length
    const out = await s.results([
      { op: 'sign.eip1559', params: { tx: eip1559(100) } },
      { op: 'sign.eip1559', params: { tx: eip1559(101) } },
      { op: 'sign.message', params: { message: 'm' } },
    ])
    expect(out.map((o) => o.ok)).toEqual([true, false, true])
    expect(out[1]).toMatchObject({ ok: false, error: { code: 'POLICY_DENIED' } })
    // Each item's event names the rule that decided it.
    const items = s.events.slice(before).filter((e) => e.op !== 'sign.batch')
    expect(items.map((e) => [e.outcome, e.rule])).toEqual([
      ['ok', 'small'],
      ['POLICY_DENIED', undefined],
      ['ok', 'messages'],
    ])
  })

  it('charges rolling limits item by item: the later items over the limit are denied, and a following single request sees the batch\'s spend', async () => {
    const s = await setup()
    await s.custody.setSigningPolicy('k', { rules: [{ id: 'window', effect: 'allow', limit: limit(250n) }] })
    const out = await s.results([100, 100, 100, 10].map((v, i) => ({ op: 'sign.eip1559', params: { tx: eip1559(v, i) } })))
    expect(out.map((o) => (o.ok ? 'ok' : o.error.code))).toEqual(['ok', 'ok', 'POLICY_DENIED', 'ok'])
    // 210 spent: 50 more would pass 250, 40 fits.
    expect(await s.send('sign.eip1559', { keyId: 'k', tx: eip1559(50, 10) })).toMatchObject({ ok: false, error: { code: 'POLICY_DENIED' } })
    expect(await s.send('sign.eip1559', { keyId: 'k', tx: eip1559(40, 11) })).toMatchObject({ ok: true })
    // And a batch after it sees both: nothing of value is left.
    const after = await s.results([{ op: 'sign.eip1559', params: { tx: eip1559(1, 12) } }, { op: 'sign.eip1559', params: { tx: eip1559(0, 13) } }])
    expect(after.map((o) => (o.ok ? 'ok' : o.error.code))).toEqual(['POLICY_DENIED', 'ok'])
  })

  it('charges a count limit per item', async () => {
    const s = await setup()
    await s.custody.setSigningPolicy('k', { rules: [{ id: 'three', effect: 'allow', limit: { sum: 'count', max: '3', window: '1m', afterRestart: 'reset' } }] })
    const out = await s.results(Array.from({ length: 5 }, (_, i) => ({ op: 'sign.message', params: { message: `m${i}` } })))
    expect(out.map((o) => o.ok)).toEqual([true, true, true, false, false])
  })
})
