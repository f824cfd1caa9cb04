import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFileKeyStore } from '../src/keys/fileKeyStore.js'
import { type EnclaveServer, startEnclaveServer } from '../src/server/enclaveServer.js'
import { countingSealer } from './countingSealer.js'
import { rawClient } from './socketClient.js'
import { testHandler } from './support/runtime.js'
import { stampMessage } from './support/stamps.js'

const KEY = '0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318'
const TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const goodTx = { chainId: '1', nonce: '0', to: TO, value: '1', gas: '21000', maxFeePerGas: '2', maxPriorityFeePerGas: '1' }

let server: EnclaveServer
let dir: string
let unseals: () => number = () => 0
/** Stamps a message as the one honest caller of this file would (see stampMessage). */
let stamp: (message: unknown) => Promise<unknown>
/** Unseals before the malformed requests (the setup's import). */
let baseline = 0

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'custody-bad-'))
  // Count every unseal: a refused request must never reach a plaintext key.
  const counting = countingSealer(7)
  const sealer = counting.sealer
  unseals = counting.unseals
  const { raw, stamper, aud } = await testHandler({ keyStore: await createFileKeyStore(dir), sealer, maxGas: 5_000_000n })
  stamp = (message) => stampMessage(message, { stamper, aud })
  server = await startEnclaveServer({ handler: raw, port: 0, maxFrameBytes: 64 * 1024 })
})

afterAll(async () => {
  await server?.close()
  await rm(dir, { recursive: true, force: true })
})

const req = (op: string, params: unknown, extra: Record<string, unknown> = {}) => ({ v: 1, id: 'r1', op, params, ...extra })
const sign = (tx: Record<string, unknown>) => req('sign.eip1559', { keyId: 'k1', tx: { ...goodTx, ...tx } })

describe('malformed requests over the framed socket', () => {
  beforeAll(async () => {
    const c = await rawClient(server.port)
    c.send(await stamp(req('key.import', { privateKey: KEY, keyId: 'k1' })))
    expect(await c.next()).toMatchObject({ ok: true, result: { keyId: 'k1' } })
    c.socket.destroy()
    baseline = unseals()
  })

  const cases: [string, unknown, string, string?][] = [
    ['wrong version', { ...req('key.list', {}), v: 2 }, 'UNSUPPORTED_VERSION'],
    ['missing version', { id: 'r1', op: 'key.list', params: {} }, 'UNSUPPORTED_VERSION'],
    ['unknown op', req('key.export', { keyId: 'k1' }), 'UNKNOWN_OPERATION'],
    ['prototype op', req('__proto__', {}), 'UNKNOWN_OPERATION'],
    ['not an object', 'hello', 'INVALID_FRAME'],
    ['unknown envelope field', req('key.list', {}, { debug: true }), 'INVALID_FRAME'],
    // A stamp that is no stamp: refused before the request is read.
    ['malformed stamp', req('key.list', {}, { auth: { scheme: 'sig' } }), 'UNAUTHENTICATED'],
    ['bad keyId', req('key.get', { keyId: '../../etc/passwd' }), 'INVALID_ARGUMENT', 'keyId'],
    ['unknown key', req('key.get', { keyId: 'nope' }), 'KEY_NOT_FOUND'],
    ['sign unknown key', req('sign.eip1559', { keyId: 'nope', tx: goodTx }), 'KEY_NOT_FOUND'],
    ['short private key', req('key.import', { privateKey: '0x1234' }), 'INVALID_ARGUMENT', 'privateKey'],
    ['zero private key', req('key.import', { privateKey: `0x${'00'.repeat(32)}` }), 'INVALID_ARGUMENT', 'privateKey'],
    ['private key ≥ n', req('key.import', { privateKey: '0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364142' }), 'INVALID_ARGUMENT', 'privateKey'],
    ['private key as number', req('key.import', { privateKey: 12345 }), 'INVALID_ARGUMENT', 'privateKey'],
    ['duplicate keyId', req('key.import', { privateKey: KEY, keyId: 'k1' }), 'KEY_EXISTS'],
    ['negative value', sign({ value: '-1' }), 'INVALID_ARGUMENT', 'tx.value'],
    ['fractional value', sign({ value: '0.5' }), 'INVALID_ARGUMENT', 'tx.value'],
    // Not canonical JSON, so no client can stamp it and the enclave cannot sign an answer over it.
    ['float value', sign({ value: 1.5 }), 'INVALID_FRAME'],
    ['value above 2^256-1', sign({ value: (1n << 256n).toString() }), 'INVALID_ARGUMENT', 'tx.value'],
    ['nonce above 2^64-2', sign({ nonce: ((1n << 64n) - 1n).toString() }), 'INVALID_ARGUMENT', 'tx.nonce'],
    ['chainId 0', sign({ chainId: '0' }), 'INVALID_ARGUMENT', 'tx.chainId'],
    ['priority fee above max fee', sign({ maxPriorityFeePerGas: '3' }), 'INVALID_ARGUMENT', 'tx.maxPriorityFeePerGas'],
    ['gas below 21000', sign({ gas: '20000' }), 'INVALID_ARGUMENT', 'tx.gas'],
    ['gas above the enclave cap', sign({ gas: '5000001' }), 'INVALID_ARGUMENT', 'tx.gas'],
    ['malformed data hex', sign({ data: '0xabc' }), 'INVALID_ARGUMENT', 'tx.data'],
    ['malformed address', sign({ to: '0x123' }), 'INVALID_ARGUMENT', 'tx.to'],
    ['wrong checksum', sign({ to: '0x70997970c51812dc3A010C7d01b50e0d17dc79C8' }), 'INVALID_ARGUMENT', 'tx.to'],
    ['unknown tx field', sign({ gasPrice: '1' }), 'INVALID_ARGUMENT', 'tx'],
    ['unknown params field', req('key.list', { all: true }), 'INVALID_ARGUMENT', 'params'],
    ['bad access list', sign({ accessList: [{ address: TO, storageKeys: ['0x00'] }] }), 'INVALID_ARGUMENT', 'tx.accessList[0].storageKeys[0]'],
    ['tx not an object', req('sign.eip1559', { keyId: 'k1', tx: 'sign everything' }), 'INVALID_ARGUMENT', 'tx'],
  ]

  it(`has at least 30 cases (${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(30)
  })

  it.each(cases)('%s → %s', async (_, message, code, field) => {
    const c = await rawClient(server.port)
    c.send(await stamp(message))
    const response = (await c.next()) as { ok: boolean; error: { code: string; details?: { field?: string } } }
    expect(response.ok).toBe(false)
    expect(response.error.code).toBe(code)
    if (field) expect(response.error.details?.field).toBe(field)
    c.socket.destroy()
  })

  it('answers a frame whose body is not JSON and keeps the connection', async () => {
    const c = await rawClient(server.port)
    const body = Buffer.from('{"v":1,"id":')
    const header = Buffer.alloc(4)
    header.writeUInt32BE(body.length, 0)
    c.sendBytes(Buffer.concat([header, body]))
    expect(await c.next()).toMatchObject({ ok: false, error: { code: 'INVALID_FRAME', message: 'invalid frame: frame is not valid JSON' } })
    const before = unseals()
    c.send(await stamp(req('key.get', { keyId: 'k1' })))
    expect(await c.next()).toMatchObject({ ok: true, result: { keyId: 'k1' } })
    // The enclave answers get only from a record that unseals: this served request unsealed once.
    expect(unseals() - before).toBe(1)
    baseline += 1
    c.socket.destroy()
  })

  it('answers and closes on an oversized frame', async () => {
    const c = await rawClient(server.port)
    const header = Buffer.alloc(4)
    header.writeUInt32BE(64 * 1024 + 1, 0)
    c.sendBytes(header)
    expect(await c.next()).toMatchObject({ ok: false, error: { code: 'INVALID_FRAME' } })
    await c.closed
  })

  it('does not answer a truncated frame until it is complete, and drops it when the peer leaves', async () => {
    const c = await rawClient(server.port)
    const frame = Buffer.from(JSON.stringify(await stamp(req('key.get', { keyId: 'k1' }))))
    const header = Buffer.alloc(4)
    header.writeUInt32BE(frame.length, 0)
    c.sendBytes(Buffer.concat([header, frame.subarray(0, 10)]))
    await expect(Promise.race([c.next(), new Promise((r) => setTimeout(() => r('silence'), 300))])).resolves.toBe('silence')
    c.socket.destroy()
  })

  it('signed nothing for any refused request, and keeps serving', async () => {
    expect(unseals() - baseline).toBe(0)
    const c = await rawClient(server.port)
    c.send(await stamp(req('key.list', {})))
    expect(await c.next()).toMatchObject({ ok: true, result: { keys: [{ keyId: 'k1' }] } })
    // list reports only keys whose records unseal: one unseal for k1.
    expect(unseals() - baseline).toBe(1)
    c.send(await stamp(sign({})))
    const signed = (await c.next()) as { ok: boolean; result: { from: string } }
    expect(signed.ok).toBe(true)
    expect(signed.result.from).toBe('0x2c7536E3605D9C16a7a3D7b1898e529396a65c23')
    expect(unseals() - baseline).toBe(2)
    c.socket.destroy()
  })

  it('multiplexes concurrent requests on one connection by id', async () => {
    const c = await rawClient(server.port)
    for (let i = 0; i < 20; i++) c.send(await stamp({ ...sign({ nonce: String(i) }), id: `n${i}` }))
    const responses = (await Promise.all(Array.from({ length: 20 }, () => c.next()))) as { id: string; ok: boolean }[]
    expect(new Set(responses.map((r) => r.id)).size).toBe(20)
    expect(responses.every((r) => r.ok)).toBe(true)
    c.socket.destroy()
  })
})
