/**
 * Request stamps, tried as an attacker with access to the enclave's socket would (the parent, or anything
 * that reaches the bridge): no stamp, a malformed one, one forged in another key's name, an old or future
 * one, one made before the enclave booted, a replayed one, one for another deployment, and a valid stamp on
 * an edited request. Each is refused UNAUTHENTICATED before anything is unsealed or signed; the refusal
 * itself is signed by the response key and recorded in the audit chain. Through the real handler of a
 * local runtime (createLocalRuntime), its attestation verified as a client would.
 */
import { p256 } from '@noble/curves/nist.js'
import { type AttestedEnclave, attestEnclave, type AuditEvent, auditEventBytes, auditEventHash, type Stamper } from '@enclave-custody/sdk'
import { hexToBytes, parseResponseSignature, requestDigest, type ResponseMessage, STAMP_MAX_SKEW_MS, trustDigest, verifyResponseSignature } from '@enclave-custody/sdk/protocol'
import { beforeAll, describe, expect, it } from 'vitest'
import { createLocalSealer } from '../src/keys/localSealer.js'
import { createLocalRuntime, type LocalRuntime } from '../src/localEnclave.js'
import { countingSealer } from './countingSealer.js'
import { sharedSoftwareNsm, TEST_TRUST } from './support/session.js'
import { newStamper, type StampedEnvelope, stampEnvelope } from './support/stamps.js'

const KEY = '0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318'
const ADDRESS = '0x2c7536E3605D9C16a7a3D7b1898e529396a65c23'
const TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const SIGN = { op: 'sign.eip1559', params: { keyId: 'k', tx: { chainId: '1', nonce: '0', to: TO, value: '1', gas: '21000', maxFeePerGas: '2', maxPriorityFeePerGas: '1' } } }
/** Another deployment's trust configuration: a stamp for it is useless here. */
const OTHER_TRUST = { protocolVersion: 1, sealing: 'kms', region: 'eu-west-1', kmsKeyArn: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab' } as const

type Message = { v: number; id: string; op: string; params?: unknown; auth?: unknown }
type Answer = ResponseMessage & { result?: unknown; error?: { code: string; message: string } }

let runtime: LocalRuntime
let enclave: AttestedEnclave
let unseals: () => number
/** Every audit event the runtime emitted, in order. */
const events: AuditEvent[] = []
/** The honest caller, who owns key `k`. */
const caller: Stamper = newStamper()
const attacker: Stamper = newStamper()
/** Just before the runtime booted: a stamp from then is within the clock window but older than the boot. */
let beforeBoot: number

/** Send a message as it travels (JSON), to the runtime's real handler. */
const send = async (message: Message): Promise<Answer> => (await runtime.handler.handle(JSON.parse(JSON.stringify(message)))) as Answer
const stamp = (op: string, params: unknown, stamper: Stamper = caller, extra: { aud?: string; now?: number } = {}) =>
  stampEnvelope({ stamper, aud: extra.aud ?? enclave.aud, op, params, ...(extra.now === undefined ? {} : { now: extra.now }) })
/** The digest an answer to `message` is signed over (an absent stamp is JSON null). */
const digestOf = (m: Message) => requestDigest({ v: m.v, op: m.op, params: m.params ?? {}, auth: m.auth ?? null, aud: enclave.aud })

beforeAll(async () => {
  const counting = countingSealer(4)
  unseals = counting.unseals
  beforeBoot = Date.now() - 1
  // A custom sealer needs its trust configuration; no key cache, so that every signature needs an unseal.
  runtime = await createLocalRuntime({ sealer: counting.sealer, trust: TEST_TRUST, keyCache: false, attestation: await sharedSoftwareNsm(), auditSink: (e) => events.push(...e) })
  enclave = await attestEnclave((m) => runtime.handler.handle(JSON.parse(JSON.stringify(m))), runtime.attestation)
  const imported = await send(await stamp('key.import', { keyId: 'k', privateKey: KEY }))
  expect(imported).toMatchObject({ ok: true, result: { address: ADDRESS } })
})

/**
 * Send `message` and require the refusal: UNAUTHENTICATED (for `reason`), no result, nothing unsealed, the
 * answer signed by the attested response key over this very request, and one audit event recording it
 * whose hash and sequence number are the answer's receipt.
 */
async function expectRefused(message: Message, reason: RegExp): Promise<void> {
  const before = { unseals: unseals(), events: events.length }
  const answer = await send(message)
  expect(answer).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } })
  expect(answer.error?.message).toMatch(reason)
  expect(answer).not.toHaveProperty('result')
  expect(unseals()).toBe(before.unseals)
  const sig = parseResponseSignature(answer.sig)
  expect(sig, 'the refusal is signed').toBeDefined()
  expect(verifyResponseSignature(sig!, enclave.publicKey, { request: digestOf(message), ok: false, value: answer.error })).toBe(true)
  const recorded = events.slice(before.events)
  expect(recorded).toHaveLength(1)
  expect(recorded[0]).toMatchObject({ seq: sig!.auditSeq, op: message.op, outcome: 'UNAUTHENTICATED', requestDigest: digestOf(message) })
  expect(auditEventHash(recorded[0]!)).toBe(sig!.auditHead)
}

describe('a request the enclave cannot authenticate is refused, signed and audited', () => {
  it('without a stamp', async () => {
    await expectRefused({ v: 1, id: 'none', ...SIGN }, /missing/)
  })

  it.each([
    ['a bearer token instead of a stamp', async () => 'Bearer 0123456789'],
    ['a stamp without its nonce', async () => {
      const { nonce: _, ...rest } = (await stamp(SIGN.op, SIGN.params)).auth
      return rest
    }],
    ['another scheme', async () => ({ ...(await stamp(SIGN.op, SIGN.params)).auth, scheme: 'hmac-sha256' })],
    ['a truncated signature', async () => {
      const { auth } = await stamp(SIGN.op, SIGN.params)
      return { ...auth, signature: auth.signature.slice(0, 66) }
    }],
    ['a public key off the curve', async () => ({ ...(await stamp(SIGN.op, SIGN.params)).auth, publicKey: `0x02${'ff'.repeat(32)}` })],
    ['an extra field', async () => ({ ...(await stamp(SIGN.op, SIGN.params)).auth, owner: 'admin' })],
  ])('with a malformed stamp: %s', async (_, auth) => {
    await expectRefused({ v: 1, id: 'malformed', ...SIGN, auth: await auth() }, /request stamp/)
  })

  it("forged: another key's signature, naming the caller's key", async () => {
    const forged = await stamp(SIGN.op, SIGN.params, attacker)
    await expectRefused({ ...forged, auth: { ...forged.auth, publicKey: caller.publicKey } }, /does not verify/)
  })

  it('expired: stamped more than 5 minutes ago', async () => {
    await expectRefused(await stamp(SIGN.op, SIGN.params, caller, { now: Date.now() - STAMP_MAX_SKEW_MS - 5_000 }), /outside ±300 s/)
  })

  it('from the future: stamped more than 5 minutes ahead', async () => {
    await expectRefused(await stamp(SIGN.op, SIGN.params, caller, { now: Date.now() + STAMP_MAX_SKEW_MS + 5_000 }), /outside ±300 s/)
  })

  it('made before the enclave booted, though within the clock window', async () => {
    expect(Date.now() - beforeBoot).toBeLessThan(STAMP_MAX_SKEW_MS)
    await expectRefused(await stamp(SIGN.op, SIGN.params, caller, { now: beforeBoot }), /older than the enclave's boot/)
  })

  it('replayed: the same stamped request a second time', async () => {
    // A refused request replayed: refused as a replay.
    const refused = await stamp('key.get', { keyId: 'nobody' })
    expect(await send(refused)).toMatchObject({ ok: false, error: { code: 'KEY_NOT_FOUND' } })
    await expectRefused({ ...refused, id: 'again' }, /already used/)
    // A served request replayed: nothing is signed again, and the answer says it was served (signed, retryable),
    // so a parent that withheld the first answer cannot hand the caller a genuine refusal for it.
    const request = await stamp(SIGN.op, SIGN.params)
    const first = await send(request)
    expect(first).toMatchObject({ ok: true, result: { from: ADDRESS } })
    const before = unseals()
    const replay = await send({ ...request, id: 'again' })
    expect(replay).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE', retryable: true } })
    expect(replay.error?.message).toMatch(/already answered/)
    expect(replay).not.toHaveProperty('result')
    expect(unseals()).toBe(before)
    const sig = parseResponseSignature(replay.sig)
    expect(verifyResponseSignature(sig!, enclave.publicKey, { request: digestOf(request), ok: false, value: replay.error })).toBe(true)
    // The same request under a fresh stamp is served again: it was the nonce that was refused.
    expect(await send(await stamp(SIGN.op, SIGN.params))).toMatchObject({ ok: true, result: { from: ADDRESS } })
  })

  it('for another audience: a stamp made for another trust configuration', async () => {
    expect(trustDigest(OTHER_TRUST)).not.toBe(enclave.aud)
    await expectRefused(await stamp(SIGN.op, SIGN.params, caller, { aud: trustDigest(OTHER_TRUST) }), /does not verify/)
  })

  it('with its op altered: a stamp for key.get sent as key.generate (same params) creates nothing', async () => {
    const get = await stamp('key.get', { keyId: 'k2' })
    await expectRefused({ ...get, op: 'key.generate' }, /does not verify/)
    expect(await send(await stamp('key.get', { keyId: 'k2' }))).toMatchObject({ ok: false, error: { code: 'KEY_NOT_FOUND' } })
  })

  it('with one byte of its params altered', async () => {
    const request = await stamp(SIGN.op, SIGN.params)
    const edited = JSON.parse(JSON.stringify(request.params).replace('"value":"1"', '"value":"9"')) as StampedEnvelope['params']
    expect(JSON.stringify(edited)).not.toBe(JSON.stringify(request.params))
    expect(JSON.stringify(edited).length).toBe(JSON.stringify(request.params).length)
    await expectRefused({ ...request, params: edited }, /does not verify/)
  })
})

describe('what the enclave serves', () => {
  it('health and attestation need no stamp, and their answers are not signed', async () => {
    const before = events.length
    const health = await send({ v: 1, id: 'h', op: 'system.health', params: {} })
    expect(health).toEqual({ v: 1, id: 'h', ok: true, result: { status: 'ok', protocolVersion: 1 } })
    const attestation = await send({ v: 1, id: 'a', op: 'system.attestation', params: { nonce: `0x${'11'.repeat(16)}` } })
    expect(attestation).toMatchObject({ ok: true, result: { trust: TEST_TRUST, hpkePublicKey: enclave.hpkePublicKey } })
    expect(attestation).not.toHaveProperty('sig')
    expect(health).not.toHaveProperty('sig')
    expect(events.length).toBe(before)
  })

  it('a valid stamped signature request: a signed answer whose receipt is its audit event', async () => {
    const before = { unseals: unseals(), events: events.length }
    const request = await stamp(SIGN.op, SIGN.params)
    const answer = await send(request)
    expect(answer).toMatchObject({ ok: true, result: { from: ADDRESS } })
    expect(unseals()).toBe(before.unseals + 1)
    const sig = parseResponseSignature(answer.sig)!
    expect(sig.keyId).toBe(enclave.keyId)
    expect(verifyResponseSignature(sig, enclave.publicKey, { request: digestOf(request), ok: true, value: answer.result })).toBe(true)
    // The signature covers the result: another result under the same signature does not verify.
    expect(verifyResponseSignature(sig, enclave.publicKey, { request: digestOf(request), ok: true, value: { ...(answer.result as object), from: TO } })).toBe(false)

    const recorded = events.slice(before.events)
    expect(recorded).toHaveLength(1)
    const event = recorded[0]!
    expect(event).toMatchObject({ seq: sig.auditSeq, op: SIGN.op, outcome: 'ok', keyId: 'k', requestDigest: digestOf(request) })
    // The caller is named by its API key (compressed point), as the stamp carried it.
    expect(event.apiKey).toBe(caller.publicKey)
    expect(auditEventHash(event)).toBe(sig.auditHead)
    // The event is signed by the same attested response key, and chains to the one before it.
    expect(p256.verify(hexToBytes(event.sig), auditEventBytes(event), enclave.publicKey, { lowS: true, prehash: true })).toBe(true)
    expect(event.prev).toBe(auditEventHash(events[events.indexOf(event) - 1]!))
  })

  it('the audit chain starts with the boot event, which attests the response key', () => {
    expect(events[0]).toMatchObject({ seq: 0, op: 'boot', outcome: 'ok', responseKeyId: enclave.keyId, prev: `0x${'00'.repeat(32)}` })
    for (let i = 1; i < events.length; i++) {
      expect(events[i]!.seq).toBe(i)
      expect(events[i]!.prev).toBe(auditEventHash(events[i - 1]!))
    }
  })

  it('a custom sealer without its trust configuration is refused at start', async () => {
    await expect(createLocalRuntime({ sealer: createLocalSealer(new Uint8Array(32).fill(1)) })).rejects.toThrow(/trust/)
  })
})
