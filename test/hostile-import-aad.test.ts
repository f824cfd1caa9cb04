/**
 * The HPKE sealed import's associated data binds { stamping API key, keyId, owners' hash, stamp nonce }. A
 * parent that captures a sealed import, drops it, and sends the ciphertext again under its own API key with
 * the SAME nonce, keyId and owners (so that only the API key in the associated data differs) gets nothing:
 * the enclave cannot open it, nothing is sealed or stored, no key is created. Each other bound field is
 * checked alone too (a valid stamp of the sealing API key, one field changed). In-process: the parent is a
 * hostile SDK transport in front of the real runtime handler (as in hostile-parent.test.ts).
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLocalRuntime, type LocalRuntime } from '@enclave-custody/enclave-runtime'
import {
  type AttestedEnclave,
  type AuditEvent,
  apiKeyStamper,
  attestEnclave,
  createCustodyClient,
  generateApiKey,
  privateKeyToAddress,
  type Stamper,
  stampRequest,
  type Transport,
} from '@enclave-custody/sdk'
import {
  PROTOCOL_VERSION,
  parseResponseSignature,
  type RequestMessage,
  type ResponseMessage,
  requestDigest,
  type TrustConfiguration,
  verifyResponseSignature,
} from '@enclave-custody/sdk/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { codeOf, countingSealer } from './support/stampAttacks.js'

const TRUST: TrustConfiguration = { protocolVersion: PROTOCOL_VERSION, sealing: 'local', sealingKeyId: `0x${'a7'.repeat(32)}` }

let dir: string
let runtime: LocalRuntime
let enclave: AttestedEnclave
let counts: ReturnType<typeof countingSealer>
const events: AuditEvent[] = []
/** The importer (its API key seals and stamps the import), and the parent's own API key. */
const victim: Stamper = apiKeyStamper({ privateKey: generateApiKey().privateKey })
const parentKey: Stamper = apiKeyStamper({ privateKey: generateApiKey().privateKey })
let secrets = 0x10

type Sent = { v: number; id: string; op: string; params: Record<string, unknown>; auth?: unknown }
const send = async (m: Sent) => {
  const { audit: _, ...answer } = await runtime.handler.handle(JSON.parse(JSON.stringify(m)))
  return JSON.parse(JSON.stringify(answer)) as ResponseMessage & { result?: unknown; error?: { code: string; message: string; details?: unknown } }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hostile-import-aad-'))
  counts = countingSealer(0xa7)
  runtime = await createLocalRuntime({ dataDir: dir, sealer: counts.sealer, trust: TRUST, keyCache: false, auditSink: (e) => events.push(...e) })
  enclave = await attestEnclave((m) => send(m as Sent), runtime.attestation)
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/**
 * The victim imports a fresh key through a parent that captures the sealed import request and drops it (the
 * enclave never sees it; the victim gets a network error). Returns the captured request and the key's address.
 */
async function captureAndDrop(keyId: string, owners?: { publicKeys: string[]; threshold?: number }): Promise<{ captured: Sent; secret: string }> {
  let captured: Sent | undefined
  const dropping: Transport = {
    name: 'dropping-parent',
    attestation: runtime.attestation,
    async request(message: RequestMessage) {
      if (message.op === 'key.importSealed') {
        captured = structuredClone(message) as Sent
        return { v: 1, id: message.id, ok: false, error: { code: 'UNAVAILABLE', message: 'connection reset', retryable: true } }
      }
      return send(message as Sent)
    },
  }
  const secret = `0x${(secrets++).toString(16).padStart(2, '0').repeat(31)}01`
  const client = createCustodyClient({ transport: dropping, stamper: victim })
  expect(await codeOf(client.importKey({ privateKey: secret, keyId, ...(owners ? { owners } : {}) }))).toBe('UNAVAILABLE')
  expect(captured?.params.sealed).toBeDefined()
  // The SDK sends the owners explicitly with a sealed import (they are in the associated data).
  expect(captured?.params.owners).toBeDefined()
  return { captured: captured!, secret }
}

/** Stamp `params` as `stamper` with the given nonce (the captured one, unless another is asked for). */
const stampWith = (stamper: Stamper, params: Record<string, unknown>, nonce?: `0x${string}`) =>
  stampRequest({ stamper, v: PROTOCOL_VERSION, op: 'key.importSealed', params, aud: enclave.aud, ...(nonce ? { nonce } : {}) })

/** The keys the data directory holds (file names). */
const storedFiles = async () => readdir(join(dir, 'keys')).catch(() => [] as string[])

/**
 * Send `request` and require that the sealed key does not open: INVALID_ARGUMENT on `sealed`, signed over
 * this request, audited, nothing sealed or unsealed, nothing stored, and no key under `keyId` (nor the one
 * the params name).
 */
async function expectNotOpened(request: Sent, apiKey: string): Promise<void> {
  const before = { seals: counts.seals(), unseals: counts.unseals(), events: events.length, files: await storedFiles() }
  const answer = await send(request)
  expect(answer).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT', details: { field: 'sealed' } } })
  expect(answer).not.toHaveProperty('result')
  const sig = parseResponseSignature(answer.sig)
  const digest = requestDigest({ v: request.v, op: request.op, params: request.params, auth: request.auth ?? null, aud: enclave.aud })
  expect(verifyResponseSignature(sig!, enclave.publicKey, { request: digest, ok: false, value: (answer as { error: unknown }).error }), 'a signed refusal').toBe(true)
  expect(counts.seals(), 'nothing sealed').toBe(before.seals)
  expect(counts.unseals(), 'nothing unsealed').toBe(before.unseals)
  expect(await storedFiles(), 'nothing stored').toEqual(before.files)
  // (The boot event rides on the first stamped answer: left out.)
  expect(events.slice(before.events).filter((e) => e.op !== 'boot')).toMatchObject([{ op: 'key.importSealed', outcome: 'INVALID_ARGUMENT', apiKey }])
  // No key was created: the owner asks for it and the enclave has none.
  const keyId = request.params.keyId as string
  const get = { v: 1, id: 'get', op: 'key.get', params: { keyId } }
  expect(await send({ ...get, auth: await stampRequest({ stamper: victim, v: 1, op: 'key.get', params: get.params, aud: enclave.aud }) })).toMatchObject({ ok: false, error: { code: 'KEY_NOT_FOUND' } })
}

describe('a captured sealed import, dropped and sent again by the parent', () => {
  it("under the parent's own API key with the SAME nonce, keyId and owners: does not open, nothing is created", async () => {
    const { captured, secret } = await captureAndDrop('aad-apikey')
    const nonce = (captured.auth as { nonce: `0x${string}` }).nonce
    // Everything the parent can keep is kept: params byte for byte (keyId, owners, sealed), the nonce, the time.
    const auth = await stampWith(parentKey, captured.params, nonce)
    expect(auth.nonce).toBe(nonce)
    expect(auth.publicKey).not.toBe((captured.auth as { publicKey: string }).publicKey)
    await expectNotOpened({ v: 1, id: 'restamped', op: 'key.importSealed', params: captured.params, auth }, parentKey.publicKey)

    // Control: the genuine request the parent dropped is valid; sent as captured, the enclave opens and stores it.
    const genuine = await send(captured)
    expect(genuine).toMatchObject({ ok: true, result: { keyId: 'aad-apikey', address: privateKeyToAddress(Buffer.from(secret.slice(2), 'hex')) } })
    expect(await storedFiles()).toEqual([expect.stringContaining('aad-apikey')])
  })

  it("under the parent's own API key, with itself as the owner and the same nonce: does not open", async () => {
    const { captured } = await captureAndDrop('aad-parent-owner')
    const nonce = (captured.auth as { nonce: `0x${string}` }).nonce
    const params = { ...captured.params, owners: { publicKeys: [parentKey.publicKey.toLowerCase()], threshold: 1 } }
    await expectNotOpened({ v: 1, id: 'restamped', op: 'key.importSealed', params, auth: await stampWith(parentKey, params, nonce) }, parentKey.publicKey)
  })
})

describe('each bound field alone: a valid stamp of the sealing API key, one field changed', () => {
  // The parent cannot make these stamps (it has no such key); they show the enclave binds each field in the
  // associated data itself, not only through the stamp.
  it('only the owners differ (same API key, nonce and keyId)', async () => {
    const { captured } = await captureAndDrop('aad-owners')
    const nonce = (captured.auth as { nonce: `0x${string}` }).nonce
    const params = { ...captured.params, owners: { publicKeys: [victim.publicKey.toLowerCase(), parentKey.publicKey.toLowerCase()].sort(), threshold: 1 } }
    expect(params.owners).not.toEqual(captured.params.owners)
    await expectNotOpened({ v: 1, id: 'owners', op: 'key.importSealed', params, auth: await stampWith(victim, params, nonce) }, victim.publicKey)
  })

  it('only the keyId differs (same API key, nonce and owners)', async () => {
    const { captured } = await captureAndDrop('aad-keyid')
    const nonce = (captured.auth as { nonce: `0x${string}` }).nonce
    const params = { ...captured.params, keyId: 'aad-keyid-stolen' }
    await expectNotOpened({ v: 1, id: 'keyid', op: 'key.importSealed', params, auth: await stampWith(victim, params, nonce) }, victim.publicKey)
    expect(await storedFiles()).not.toContainEqual(expect.stringContaining('aad-keyid'))
  })

  it('only the nonce differs (same API key, keyId and owners)', async () => {
    const { captured } = await captureAndDrop('aad-nonce')
    await expectNotOpened({ v: 1, id: 'nonce', op: 'key.importSealed', params: captured.params, auth: await stampWith(victim, captured.params) }, victim.publicKey)
  })
})
