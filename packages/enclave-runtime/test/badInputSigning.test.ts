/**
 * Malformed signing requests over the framed socket, for every signing operation: each is refused with
 * the stable code and the field it names, and none of them reaches a plaintext key. Policy refusals
 * (POLICY_DENIED) come after unsealing, since only an unsealed record proves its policy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMemoryKeyStore } from '../src/keys/fileKeyStore.js'
import { type EnclaveServer, startEnclaveServer } from '../src/server/enclaveServer.js'
import { countingSealer } from './countingSealer.js'
import { rawClient } from './socketClient.js'
import { testHandler } from './support/runtime.js'
import { stampMessage } from './support/stamps.js'

const KEY = '0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318'
const TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const DELEGATE = '0xFBA3912Ca04dd458c843e2EE08967fC04f3579c2'
const AUTH = { chainId: '1', address: DELEGATE, nonce: '420', yParity: 0, r: `0x${'11'.repeat(32)}`, s: `0x${'22'.repeat(32)}` }
const legacy = { type: 'legacy', chainId: '1', nonce: '0', to: TO, value: '1', gas: '21000', gasPrice: '2' }
const prague = { type: 'eip7702', chainId: '1', nonce: '0', to: TO, value: '0', gas: '60000', maxFeePerGas: '2', maxPriorityFeePerGas: '1', authorizationList: [AUTH] }
const typed = { domain: { chainId: '1' }, types: { T: [{ name: 'a', type: 'uint8' }] }, primaryType: 'T', message: { a: '1' } }

let server: EnclaveServer
let unseals: () => number = () => 0
/** Stamps a message as the one honest caller of this file would (see stampMessage). */
let stamp: (message: unknown) => Promise<unknown>

beforeAll(async () => {
  // Count every unseal: a refused request must never reach a plaintext key.
  const counting = countingSealer(5)
  const sealer = counting.sealer
  unseals = counting.unseals
  const { raw, stamper, aud } = await testHandler({ keyStore: createMemoryKeyStore(), sealer, maxGas: 5_000_000n })
  stamp = (message) => stampMessage(message, { stamper, aud })
  server = await startEnclaveServer({ handler: raw, port: 0, maxFrameBytes: 256 * 1024 })
  const c = await rawClient(server.port)
  c.send(await stamp({ v: 1, id: 'i', op: 'key.import', params: { privateKey: KEY, keyId: 'k1' } }))
  expect(await c.next()).toMatchObject({ ok: true })
  c.socket.destroy()
})

afterAll(async () => {
  await server?.close()
})

const req = (op: string, params: Record<string, unknown>) => ({ v: 1, id: 'r1', op, params: { keyId: 'k1', ...params } })
const tx = (change: Record<string, unknown>, base: Record<string, unknown> = legacy) => req('sign.transaction', { tx: { ...base, ...change } })
const auth = (change: Record<string, unknown>) => req('sign.authorization', { authorization: { chainId: '1', address: DELEGATE, nonce: '0', ...change } })
const td = (change: Record<string, unknown>) => req('sign.typedData', { typedData: { ...typed, ...change } })

describe('malformed signing requests over the framed socket', () => {
  const cases: [string, unknown, string, string?][] = [
    ['sign.transaction: unknown key', { ...tx({}), params: { keyId: 'nope', tx: legacy } }, 'KEY_NOT_FOUND'],
    ['sign.transaction: no tx', req('sign.transaction', {}), 'INVALID_ARGUMENT', 'tx'],
    // Not canonical JSON, so no client can stamp it and the enclave cannot sign an answer over it.
    ['sign.transaction: a float value', tx({ value: 1.5 }), 'INVALID_FRAME'],
    ['sign.transaction: blob type', tx({ type: 3 }), 'INVALID_ARGUMENT', 'tx.type'],
    ['sign.transaction: a field of another type', tx({ maxFeePerGas: '1' }), 'INVALID_ARGUMENT', 'tx.maxFeePerGas'],
    ['sign.transaction: replayable without opt-in', tx({ chainId: undefined }), 'INVALID_ARGUMENT', 'tx.chainId'],
    ['sign.transaction: gas above the enclave cap', tx({ gas: '5000001' }), 'INVALID_ARGUMENT', 'tx.gas'],
    ['sign.transaction: nonce above 2^64-2', tx({ nonce: ((1n << 64n) - 1n).toString() }), 'INVALID_ARGUMENT', 'tx.nonce'],
    ['sign.transaction: eip7702 without to', tx({ to: undefined }, prague), 'INVALID_ARGUMENT', 'tx.to'],
    ['sign.transaction: eip7702 empty list', tx({ authorizationList: [] }, prague), 'INVALID_ARGUMENT', 'tx.authorizationList'],
    ['sign.transaction: authorization yParity 2', tx({ authorizationList: [{ ...AUTH, yParity: 2 }] }, prague), 'INVALID_ARGUMENT', 'tx.authorizationList[0].yParity'],
    ['sign.transaction: high-s authorization', tx({ authorizationList: [{ ...AUTH, s: `0x${'ff'.repeat(32)}` }] }, prague), 'INVALID_ARGUMENT', 'tx.authorizationList[0].s'],
    ['sign.transaction: options beside tx', { ...tx({}), params: { keyId: 'k1', tx: legacy, allowReplayable: true } }, 'INVALID_ARGUMENT', 'params'],
    ['sign.authorization: chainId 0 without opt-in', auth({ chainId: '0' }), 'INVALID_ARGUMENT', 'authorization.chainId'],
    ['sign.authorization: nonce above 2^64-2', auth({ nonce: ((1n << 64n) - 1n).toString() }), 'INVALID_ARGUMENT', 'authorization.nonce'],
    ['sign.authorization: bad address', auth({ address: '0x12' }), 'INVALID_ARGUMENT', 'authorization.address'],
    ['sign.authorization: extra field', auth({ r: '0x01' }), 'INVALID_ARGUMENT', 'authorization'],
    ['sign.message: not a message', req('sign.message', { message: 7 }), 'INVALID_ARGUMENT', 'message'],
    ['sign.message: raw not hex', req('sign.message', { message: { raw: 'hello' } }), 'INVALID_ARGUMENT', 'message.raw'],
    ['sign.message: above 64 KiB', req('sign.message', { message: 'a'.repeat(64 * 1024 + 1) }), 'INVALID_ARGUMENT', 'message'],
    ['sign.typedData: no primaryType', td({ primaryType: undefined }), 'INVALID_ARGUMENT', 'typedData.primaryType'],
    ['sign.typedData: unknown domain field', td({ domain: { chainId: '1', owner: 'me' } }), 'INVALID_ARGUMENT', 'typedData.domain'],
    ['sign.typedData: chainId 0', td({ domain: { chainId: '0' } }), 'INVALID_ARGUMENT', 'typedData.domain.chainId'],
    ['sign.typedData: undefined type', td({ types: { T: [{ name: 'a', type: 'Thing' }] } }), 'INVALID_ARGUMENT', 'typedData.types.T[0].type'],
    ['sign.typedData: unused type', td({ types: { ...typed.types, U: [] } }), 'INVALID_ARGUMENT', 'typedData.types.U'],
    ['sign.typedData: out of range', td({ message: { a: '256' } }), 'INVALID_ARGUMENT', 'typedData.message.a'],
    ['sign.typedData: a digest instead of the payload', req('sign.typedData', { typedData: `0x${'11'.repeat(32)}` }), 'INVALID_ARGUMENT', 'typedData'],
    ['sign.digest: 31 bytes', req('sign.digest', { digest: `0x${'11'.repeat(31)}` }), 'INVALID_ARGUMENT', 'digest'],
    ['sign.digest: not hex', req('sign.digest', { digest: 'sign me' }), 'INVALID_ARGUMENT', 'digest'],
    ['sign.digest: a policy smuggled into the request', req('sign.digest', { digest: `0x${'11'.repeat(32)}`, policy: { allowRawDigest: true } }), 'INVALID_ARGUMENT', 'params'],
  ]

  it.each(cases)('%s → %s', async (_, message, code, field) => {
    const c = await rawClient(server.port)
    c.send(await stamp(message))
    const response = (await c.next()) as { ok: boolean; error: { code: string; details?: { field?: string } } }
    expect(response.ok).toBe(false)
    expect(response.error.code).toBe(code)
    if (field) expect(response.error.details?.field).toBe(field)
    c.socket.destroy()
  })

  it('unsealed nothing for any refused request', () => {
    expect(unseals()).toBe(0)
  })

  it('refuses by policy only after unsealing, then signs what the key may sign', async () => {
    const c = await rawClient(server.port)
    c.send(await stamp(req('sign.digest', { digest: `0x${'11'.repeat(32)}` })))
    expect(await c.next()).toMatchObject({ ok: false, error: { code: 'POLICY_DENIED' } })
    c.send(await stamp(tx({ chainId: undefined, allowReplayable: true })))
    expect(await c.next()).toMatchObject({ ok: false, error: { code: 'POLICY_DENIED' } })
    c.send(await stamp(auth({ chainId: '0', allowAnyChain: true })))
    expect(await c.next()).toMatchObject({ ok: false, error: { code: 'POLICY_DENIED' } })
    expect(unseals()).toBe(3)
    for (const ok of [tx({}), tx({}, prague), auth({ chainId: '1' }), req('sign.message', { message: { raw: '0x00' } }), td({})]) {
      c.send(await stamp(ok))
      expect(await c.next()).toMatchObject({ ok: true })
    }
    c.socket.destroy()
  })
})
