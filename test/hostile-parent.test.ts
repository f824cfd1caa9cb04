/**
 * The SDK against a hostile parent, in-process: the transport below is the parent (proxy, network), free
 * to rewrite requests, alter, replay, fabricate or swap answers, and to stand another enclave in. The
 * enclave is the real runtime with its software NSM; the client is the real SDK client.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type AttestationPolicy, apiKeyStamper, createCustodyClient, type CustodyClient, generateApiKey, isCustodyError, stampRequest, type Transport } from '@enclave-custody/sdk'
import { parseTrustConfiguration, type RequestMessage, type ResponseMessage, trustDigest } from '@enclave-custody/sdk/protocol'
import { createLocalRuntime, createSoftwareNsm, type LocalRuntime } from '@enclave-custody/enclave-runtime'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const ATTACKER = '0x000000000000000000000000000000000000dEaD'
const tx = (nonce: bigint) => ({ chainId: 1n, nonce, to: TO, value: 1n, gas: 21_000n, maxFeePerGas: 2_000_000_000n, maxPriorityFeePerGas: 1n })

type Tamper = {
  request?: (message: RequestMessage) => RequestMessage
  response?: (response: ResponseMessage, message: RequestMessage) => ResponseMessage | Promise<ResponseMessage>
}

let dir: string
let runtime: LocalRuntime
const audit: { op: string; outcome: string }[] = []
const stamper = apiKeyStamper({ privateKey: generateApiKey().privateKey })

/** A parent in front of `target` that applies `tamper` to what passes through. */
function parent(target: LocalRuntime, tamper: Tamper = {}, policy: AttestationPolicy = target.attestation): Transport {
  return {
    name: 'hostile-parent',
    attestation: policy,
    async request(message) {
      const sent = tamper.request ? tamper.request(structuredClone(message)) : message
      const { audit: events, ...response } = await target.handler.handle(JSON.parse(JSON.stringify(sent)))
      for (const e of (events as { op: string; outcome: string }[] | undefined) ?? []) audit.push(e)
      const answer = JSON.parse(JSON.stringify(response)) as ResponseMessage
      return tamper.response ? tamper.response(answer, message) : answer
    },
  }
}

const client = (transport: Transport): CustodyClient => createCustodyClient({ transport, stamper })

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
    return 'resolved'
  } catch (e) {
    if (isCustodyError(e)) return e.code
    throw e
  }
}

let keyId: string
let address: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hostile-parent-'))
  runtime = await createLocalRuntime({ dataDir: dir })
  ;({ keyId, address } = await client(parent(runtime)).importKey({ generate: true }))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('a parent that rewrites requests', () => {
  it('changing `to` of a stamped sign request gets no signature at all', async () => {
    const before = audit.length
    const rewrite = (m: RequestMessage) => {
      if (m.op === 'sign.eip1559') (m.params as { tx: { to: string } }).tx.to = ATTACKER
      return m
    }
    // The enclave refuses the altered request (UNAUTHENTICATED, signed over the request it got); that answer is
    // not over the caller's request, so the caller sees only that the answer did not come through.
    expect(await codeOf(client(parent(runtime, { request: rewrite })).signEip1559(keyId, tx(0n)))).toBe('UNAVAILABLE')
    const events = audit.slice(before).filter((e) => e.op === 'sign.eip1559')
    expect(events.map((e) => e.outcome)).toEqual(['UNAUTHENTICATED'])
  })

  it('re-stamping with its own API key (the caller\'s stamp dropped) gets FORBIDDEN, which the caller cannot be fooled by', async () => {
    // The parent re-sends the caller's request under its own key: the enclave refuses (not an owner); even that
    // signed refusal is over another request (another stamp), so the caller sees the answer did not come through.
    const own = apiKeyStamper({ privateKey: generateApiKey().privateKey })
    const attested = (await runtime.handler.handle({ v: 1, id: 'a', op: 'system.attestation', params: { nonce: `0x${'11'.repeat(16)}` } })) as { result: { trust: unknown } }
    const aud = trustDigest(parseTrustConfiguration(attested.result.trust))
    const restamp = async (_r: ResponseMessage, m: RequestMessage) => {
      if (m.op !== 'sign.eip1559') return _r
      const auth = await stampRequest({ stamper: own, v: 1, op: m.op, params: m.params, aud })
      const { audit: _, ...r } = await runtime.handler.handle(JSON.parse(JSON.stringify({ ...m, auth })))
      refused.push(r.ok ? 'ok' : r.error.code)
      return JSON.parse(JSON.stringify(r)) as ResponseMessage
    }
    const refused: string[] = []
    expect(await codeOf(client(parent(runtime, { response: restamp })).signEip1559(keyId, tx(1n)))).toBe('UNAVAILABLE')
    expect(refused).toEqual(['FORBIDDEN'])
  })
})

describe('a parent that tampers with answers', () => {
  it('an altered result is refused', async () => {
    const alter = (r: ResponseMessage) => {
      if (r.ok && typeof (r.result as { hash?: string }).hash === 'string') (r.result as { hash: string }).hash = `0x${'ab'.repeat(32)}`
      return r
    }
    expect(await codeOf(client(parent(runtime, { response: alter })).signEip1559(keyId, tx(2n)))).toBe('INTEGRITY_ERROR')
  })

  it('a fabricated key (an address the parent controls) is refused', async () => {
    const fabricate = (r: ResponseMessage, m: RequestMessage) => {
      if (m.op === 'key.get' && r.ok) (r.result as { address: string }).address = ATTACKER
      return r
    }
    expect(await codeOf(client(parent(runtime, { response: fabricate })).getKey(keyId))).toBe('INTEGRITY_ERROR')
  })

  it('an answer replayed to a later request is refused', async () => {
    let kept: ResponseMessage | undefined
    const replay = (r: ResponseMessage, m: RequestMessage) => {
      if (m.op !== 'key.get') return r
      if (!kept) {
        kept = r
        return r
      }
      return structuredClone(kept)
    }
    const c = client(parent(runtime, { response: replay }))
    await c.getKey(keyId)
    expect(await codeOf(c.getKey(keyId))).toBe('INTEGRITY_ERROR')
  })

  it('the answers of two concurrent requests, swapped, are both refused', async () => {
    const waiting: { r: ResponseMessage; release: (r: ResponseMessage) => void }[] = []
    const swap = (r: ResponseMessage, m: RequestMessage) => {
      if (m.op !== 'sign.eip1559') return r
      return new Promise<ResponseMessage>((release) => {
        waiting.push({ r, release })
        if (waiting.length === 2) {
          waiting[0]!.release(waiting[1]!.r)
          waiting[1]!.release(waiting[0]!.r)
        }
      })
    }
    const c = client(parent(runtime, { response: swap }))
    const results = await Promise.all([codeOf(c.signEip1559(keyId, tx(3n))), codeOf(c.signEip1559(keyId, tx(4n)))])
    expect(results).toEqual(['INTEGRITY_ERROR', 'INTEGRITY_ERROR'])
  })

  it('a fabricated POLICY_DENIED or KEY_NOT_FOUND surfaces as UNAVAILABLE, signed or not', async () => {
    for (const code of ['POLICY_DENIED', 'KEY_NOT_FOUND']) {
      const unsigned = (r: ResponseMessage, m: RequestMessage): ResponseMessage =>
        m.op === 'sign.eip1559' ? { v: 1, id: r.id, ok: false, error: { code: code as 'POLICY_DENIED', message: 'denied', retryable: false } } : r
      expect(await codeOf(client(parent(runtime, { response: unsigned })).signEip1559(keyId, tx(5n)))).toBe('UNAVAILABLE')
      // The same error under the enclave's real signature of this very request (over the real result) still fails.
      const resigned = (r: ResponseMessage, m: RequestMessage): ResponseMessage =>
        m.op === 'sign.eip1559' ? { v: 1, id: r.id, ok: false, error: { code: code as 'POLICY_DENIED', message: 'denied', retryable: false }, sig: r.sig } : r
      expect(await codeOf(client(parent(runtime, { response: resigned })).signEip1559(keyId, tx(5n)))).toBe('UNAVAILABLE')
    }
  })

  it('a real, signed KEY_NOT_FOUND comes through as KEY_NOT_FOUND', async () => {
    expect(await codeOf(client(parent(runtime)).getKey('no-such-key'))).toBe('KEY_NOT_FOUND')
  })

  it('an unsigned success is refused', async () => {
    const strip = (r: ResponseMessage, m: RequestMessage) => {
      if (m.op !== 'sign.eip1559') return r
      const { sig: _, ...rest } = r
      return rest as ResponseMessage
    }
    expect(await codeOf(client(parent(runtime, { response: strip })).signEip1559(keyId, tx(6n)))).toBe('INTEGRITY_ERROR')
  })

  it('untampered, everything verifies and signs as the key', async () => {
    const signed = await client(parent(runtime)).signEip1559(keyId, tx(7n))
    expect(signed.from).toBe(address)
  })
})

describe('a parent that stands another enclave in', () => {
  it('an enclave with another PCR0 is refused before anything is sent', async () => {
    const other = await createLocalRuntime({ dataDir: dir, attestation: await createSoftwareNsm({ ca: { dataDir: join(dir, 'nsm') }, pcrs: { 0: 'ee'.repeat(48) } }) })
    const before = audit.length
    expect(await codeOf(client(parent(other, {}, runtime.attestation)).getKey(keyId))).toBe('ATTESTATION_FAILED')
    expect(audit.slice(before).filter((e) => e.op !== 'boot')).toEqual([])
  })

  it('a debug-mode enclave (PCR0 all zero) is refused unless the caller allows it', async () => {
    const debug = await createLocalRuntime({ dataDir: dir, attestation: await createSoftwareNsm({ ca: { dataDir: join(dir, 'nsm') }, pcrs: { 0: '00'.repeat(48) } }) })
    const policy = { ...runtime.attestation, pcr0: [...runtime.attestation.pcr0, '00'.repeat(48)] }
    expect(await codeOf(client(parent(debug, {}, policy)).getKey(keyId))).toBe('INVALID_ARGUMENT')
    expect(await codeOf(client(parent(debug, {}, { ...policy, allowDebugEnclave: true })).getKey(keyId))).toBe('resolved')
  })

  it('the software NSM is refused when the caller trusts only the AWS root (production)', async () => {
    const { roots: _, ...production } = runtime.attestation
    expect(await codeOf(client(parent(runtime, {}, production)).getKey(keyId))).toBe('ATTESTATION_FAILED')
  })

  it('an attestation answer with another trust configuration or HPKE key than the document binds is refused', async () => {
    const swapHpke = (r: ResponseMessage, m: RequestMessage) => {
      if (m.op === 'system.attestation' && r.ok) (r.result as { hpkePublicKey: string }).hpkePublicKey = `0x04${'11'.repeat(64)}`
      return r
    }
    expect(await codeOf(client(parent(runtime, { response: swapHpke })).getKey(keyId))).toBe('ATTESTATION_FAILED')
    const swapTrust = (r: ResponseMessage, m: RequestMessage) => {
      if (m.op === 'system.attestation' && r.ok) (r.result as { trust: { sealingKeyId: string } }).trust.sealingKeyId = `0x${'22'.repeat(32)}`
      return r
    }
    expect(await codeOf(client(parent(runtime, { response: swapTrust })).getKey(keyId))).toBe('ATTESTATION_FAILED')
  })

  it('a stale document (another nonce, replayed) is refused', async () => {
    let first: ResponseMessage | undefined
    const replay = (r: ResponseMessage, m: RequestMessage) => {
      if (m.op !== 'system.attestation') return r
      first ??= r
      return structuredClone(first)
    }
    await client(parent(runtime, { response: replay })).getKey(keyId)
    expect(await codeOf(client(parent(runtime, { response: replay })).getKey(keyId))).toBe('ATTESTATION_FAILED')
  })

  it('answers signed by the parent\'s own enclave (not attested under this policy) are refused', async () => {
    // The parent runs its own runtime under its own NSM root and relays every answer from it after the
    // caller attested the real one.
    const own = await createLocalRuntime({ dataDir: await mkdtemp(join(dir, 'own-')) })
    let attested = false
    const transport: Transport = {
      name: 'relay',
      attestation: runtime.attestation,
      async request(message) {
        const target = attested ? own : runtime
        if (message.op === 'system.attestation') attested = true
        const { audit: _, ...r } = await target.handler.handle(JSON.parse(JSON.stringify(message)))
        return JSON.parse(JSON.stringify(r))
      },
    }
    expect(['ATTESTATION_FAILED', 'INTEGRITY_ERROR', 'UNAVAILABLE']).toContain(await codeOf(client(transport).getKey(keyId)))
  })
})

describe('a fleet behind one endpoint', () => {
  it('each instance\'s response key is attested on first sight; requests alternate freely', async () => {
    const second = await createLocalRuntime({ dataDir: dir })
    const instances = [runtime, second]
    let turn = 0
    const transport: Transport = {
      name: 'load-balancer',
      attestation: runtime.attestation,
      async request(message) {
        const target = instances[turn++ % 2]!
        const { audit: _, ...r } = await target.handler.handle(JSON.parse(JSON.stringify(message)))
        return JSON.parse(JSON.stringify(r))
      },
    }
    const c = client(transport)
    for (let i = 0; i < 4; i++) expect((await c.getKey(keyId)).address).toBe(address)
  })
})

describe('owners bound to the sealing', () => {
  const other = apiKeyStamper({ privateKey: generateApiKey().privateKey })

  it('another valid API key may not use the key (FORBIDDEN, signed), nor see it in its list', async () => {
    const c = createCustodyClient({ transport: parent(runtime), stamper: other })
    expect(await codeOf(c.signEip1559(keyId, tx(10n)))).toBe('FORBIDDEN')
    expect(await codeOf(c.getKey(keyId))).toBe('FORBIDDEN')
    expect((await c.listKeys()).map((k) => k.keyId)).not.toContain(keyId)
    expect((await client(parent(runtime)).listKeys()).map((k) => k.keyId)).toContain(keyId)
  })

  it('a key with two owners serves both; a threshold of 2 is refused to a single stamp', async () => {
    const shared = await client(parent(runtime)).importKey({ generate: true, owners: { publicKeys: [stamper.publicKey, other.publicKey] } })
    expect(shared.owners?.publicKeys).toHaveLength(2)
    // The co-owner's client accepts a key another API key created only if it trusts that creator.
    expect(await codeOf(createCustodyClient({ transport: parent(runtime), stamper: other }).signEip1559(shared.keyId, tx(0n)))).toBe('INTEGRITY_ERROR')
    const coOwner = createCustodyClient({ transport: parent(runtime), stamper: other, trustedCreators: [stamper.publicKey] })
    expect((await coOwner.signEip1559(shared.keyId, tx(0n))).from).toBe(shared.address)
    const two = await client(parent(runtime)).importKey({ generate: true, owners: { publicKeys: [stamper.publicKey, other.publicKey], threshold: 2 } })
    expect(await codeOf(client(parent(runtime)).signEip1559(two.keyId, tx(0n)))).toBe('FORBIDDEN')
  })

  it('a parent that adds its key to a record\'s owners breaks the record: nothing is signed', async () => {
    const { readFile, writeFile, readdir } = await import('node:fs/promises')
    const victim = await client(parent(runtime)).importKey({ generate: true })
    const file = (await readdir(join(dir, 'keys'))).find((f) => f.includes(victim.keyId))!
    const record = JSON.parse(await readFile(join(dir, 'keys', file), 'utf8'))
    record.owners = { publicKeys: [other.publicKey, stamper.publicKey].map((k) => k.toLowerCase()).sort(), threshold: 1 }
    await writeFile(join(dir, 'keys', file), JSON.stringify(record))
    const fresh = await createLocalRuntime({ dataDir: dir, keyCache: false })
    expect(await codeOf(createCustodyClient({ transport: parent(fresh), stamper: other }).signEip1559(victim.keyId, tx(0n)))).toBe('INTEGRITY_ERROR')
    // With the owners' hash edited in the context too, the sealing itself refuses.
    record.encryptionContext.owners = (await import('@enclave-custody/sdk')).ownersHash(record.owners)
    await writeFile(join(dir, 'keys', file), JSON.stringify(record))
    expect(await codeOf(createCustodyClient({ transport: parent(fresh), stamper: other }).signEip1559(victim.keyId, tx(0n)))).toBe('INTEGRITY_ERROR')
  })
})

describe('records sealed before owners existed', () => {
  it('serve only the image\'s legacyOwners, never any other valid stamp', async () => {
    const { createFileKeyStore, createLocalSealer, loadDevSealingKey, deriveAddress } = await import('@enclave-custody/enclave-runtime')
    const legacyDir = await mkdtemp(join(dir, 'legacy-'))
    const privateKey = new Uint8Array(32).fill(7)
    const sealed = await createLocalSealer(await loadDevSealingKey(legacyDir)).seal!('old-key', privateKey)
    await createFileKeyStore(join(legacyDir, 'keys')).then((s) => s.put!({ version: 1, keyId: 'old-key', curve: 'secp256k1', address: deriveAddress(privateKey), ...sealed, createdAt: new Date(0).toISOString() }))
    expect(sealed.encryptionContext).toEqual({ keyId: 'old-key' })

    const closed = await createLocalRuntime({ dataDir: legacyDir })
    expect(await codeOf(client(parent(closed)).signEip1559('old-key', tx(0n)))).toBe('FORBIDDEN')
    const open = await createLocalRuntime({ dataDir: legacyDir, legacyOwners: [stamper.publicKey] })
    expect((await client(parent(open)).signEip1559('old-key', tx(0n))).from).toBe(deriveAddress(privateKey))
    const stranger = apiKeyStamper({ privateKey: generateApiKey().privateKey })
    expect(await codeOf(createCustodyClient({ transport: parent(open), stamper: stranger }).signEip1559('old-key', tx(0n)))).toBe('FORBIDDEN')
  })
})

describe('idempotent retries', () => {
  it('a retry after a lost answer gets the first result, re-signed over the retry; another request under the key is refused', async () => {
    let drop = true
    const lose = (r: ResponseMessage, m: RequestMessage): ResponseMessage => {
      if (m.op === 'sign.eip1559' && drop) {
        drop = false
        // The parent (or the network) loses the answer after the enclave signed.
        return { v: 1, id: r.id, ok: false, error: { code: 'UNAVAILABLE', message: 'connection reset', retryable: true } }
      }
      return r
    }
    const c = client(parent(runtime, { response: lose }))
    const options = { idempotencyKey: 'payout-2026-12-06-0001' }
    const before = audit.length
    expect(await codeOf(c.signEip1559(keyId, tx(20n), options))).toBe('UNAVAILABLE')
    const retried = await c.signEip1559(keyId, tx(20n), options)
    const fresh = await client(parent(runtime)).signEip1559(keyId, tx(20n))
    // The same signature (RFC 6979: a restart between the two would give it too), two audited sign events.
    expect(retried.rawTransaction).toBe(fresh.rawTransaction)
    expect(audit.slice(before).filter((e) => e.op === 'sign.eip1559').map((e) => e.outcome)).toEqual(['ok', 'ok', 'ok'])
    expect(await codeOf(c.signEip1559(keyId, tx(21n), options))).toBe('INVALID_ARGUMENT')
    expect(await codeOf(c.signEip1559(keyId, tx(20n), { idempotencyKey: 'bad key!' }))).toBe('INVALID_ARGUMENT')
  })
})

describe('sealed import (HPKE to the attested enclave)', () => {
  const secret = `0x${'4c'.repeat(31)}01`
  const forms = (hex: string) => {
    const raw = Buffer.from(hex.slice(2), 'hex')
    return [hex.slice(2), hex.slice(2).toUpperCase(), raw.toString('base64'), raw.toString('base64url')]
  }

  it('the parent sees no form of the key; with the loud plaintext flag the same tap finds it (positive control)', async () => {
    const seen: string[] = []
    const tap = (m: RequestMessage) => {
      seen.push(JSON.stringify(m))
      return m
    }
    const sealed = await client(parent(runtime, { request: tap })).importKey({ privateKey: secret, keyId: 'sealed-import' })
    expect(sealed.address).toBe((await import('@enclave-custody/sdk')).privateKeyToAddress(Buffer.from(secret.slice(2), 'hex')))
    for (const form of forms(secret)) expect(seen.join('\n')).not.toContain(form)
    const plain: string[] = []
    const record = (m: RequestMessage) => {
      plain.push(JSON.stringify(m))
      return m
    }
    await client(parent(runtime, { request: record })).importKey({ privateKey: `0x${'4c'.repeat(31)}02`, keyId: 'plain-import', insecurePlaintextImport: true })
    expect(plain.join('\n')).toContain(`${'4c'.repeat(31)}02`)
  })

  it('a captured import re-stamped under the parent\'s own API key (or replayed) gives the parent nothing', async () => {
    let captured: RequestMessage | undefined
    const capture = (m: RequestMessage) => {
      if (m.op === 'key.importSealed') captured = structuredClone(m)
      return m
    }
    await client(parent(runtime, { request: capture })).importKey({ privateKey: `0x${'4c'.repeat(31)}03`, keyId: 'captured' })
    const own = apiKeyStamper({ privateKey: generateApiKey().privateKey })
    const attested = (await runtime.handler.handle({ v: 1, id: 'a', op: 'system.attestation', params: { nonce: `0x${'11'.repeat(16)}` } })) as { result: { trust: unknown } }
    const aud = trustDigest(parseTrustConfiguration(attested.result.trust))
    // Under another keyId (and the parent's key as owner): the associated data no longer matches.
    const params = { ...(captured!.params as Record<string, unknown>), keyId: 'stolen', owners: { publicKeys: [own.publicKey.toLowerCase()], threshold: 1 } }
    const auth = await stampRequest({ stamper: own, v: 1, op: 'key.importSealed', params, aud })
    const answer = await runtime.handler.handle({ v: 1, id: 'x', op: 'key.importSealed', params, auth })
    expect(answer).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT', details: { field: 'sealed' } } })
    // Unchanged params, only the parent's stamp: the API key in the associated data differs.
    const same = captured!.params as Record<string, unknown>
    const restamped = await runtime.handler.handle({ v: 1, id: 'y', op: 'key.importSealed', params: same, auth: await stampRequest({ stamper: own, v: 1, op: 'key.importSealed', params: same, aud }) })
    expect(restamped).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT', details: { field: 'sealed' } } })
    // The very same request again: it was served, so the answer says so (and nothing is created twice).
    const replay = await runtime.handler.handle(structuredClone(captured))
    expect(replay).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE', retryable: true } })
  })
})

describe('records the enclave creates (format v2, signed)', () => {
  it('a generated or imported record reaches the importer only as the enclave signed it', async () => {
    const { createForwardedKeyStore, createLocalSealer } = await import('@enclave-custody/enclave-runtime')
    const stored: unknown[] = []
    const importer = { storeRecord: async (r: unknown) => void stored.push(r), importPrivateKey: async () => Promise.reject(new Error('unused')), secretName: (k: string) => k }
    const remote = await createLocalRuntime({
      keyStore: createForwardedKeyStore(),
      sealer: createLocalSealer(new Uint8Array(32).fill(9)),
      trust: { protocolVersion: 1, sealing: 'local', sealingKeyId: `0x${'09'.repeat(32)}` },
    })
    const make = (tamper: Tamper = {}) => createCustodyClient({ transport: parent(remote, tamper), stamper, importer: importer as never })
    const generated = await make().importKey({ generate: true })
    expect(stored).toHaveLength(1)
    const record = stored[0] as { version: number; enclaveSignature: { keyId: string }; address: string }
    expect(record).toMatchObject({ version: 2, kind: 'secp256k1', address: generated.address })
    // The parent swaps the record's ciphertext, or feeds back an address it controls: detected, nothing stored.
    for (const edit of [(r: Record<string, unknown>) => (r.ciphertext = (stored[0] as { ciphertext: string }).ciphertext), (r: Record<string, unknown>) => (r.address = ATTACKER)]) {
      const swap = (r: ResponseMessage, m: RequestMessage) => {
        if (m.op === 'key.generate' && r.ok) edit((r.result as { record: Record<string, unknown> }).record)
        return r
      }
      expect(await codeOf(make({ response: swap }).importKey({ generate: true }))).toBe('INTEGRITY_ERROR')
    }
    expect(stored).toHaveLength(1)
    // A sealed import over this remote path also comes back as a signed v2 record.
    await make().importKey({ privateKey: `0x${'4c'.repeat(31)}09` })
    expect(stored).toHaveLength(2)
    expect(stored[1]).toMatchObject({ version: 2 })
  })
})

describe('sealed import across instances', () => {
  it('an import that reaches another instance (or a restarted enclave) is sealed again to the one that answered', async () => {
    const second = await createLocalRuntime({ dataDir: dir })
    let target = runtime
    const transport: Transport = {
      name: 'restarting',
      attestation: runtime.attestation,
      async request(message) {
        const { audit: _, ...r } = await target.handler.handle(JSON.parse(JSON.stringify(message)))
        return JSON.parse(JSON.stringify(r))
      },
    }
    const c = client(transport)
    await c.getKey(keyId)
    target = second // the enclave restarts: new response and HPKE keys
    const imported = await c.importKey({ privateKey: `0x${'4c'.repeat(31)}0a` })
    expect((await c.getKey(imported.keyId)).address).toBe(imported.address)
    expect((await c.importKey({ privateKey: `0x${'4c'.repeat(31)}0b` })).keyId).toMatch(/^key-/)
  })
})

describe('a parent that plants a key of its own under the caller\'s keyId', () => {
  it('is refused by the caller: the record names the parent\'s API key as creator, bound to its sealing', async () => {
    const { createForwardedKeyStore, createLocalSealer } = await import('@enclave-custody/enclave-runtime')
    const remote = await createLocalRuntime({
      keyStore: createForwardedKeyStore(),
      sealer: createLocalSealer(new Uint8Array(32).fill(5)),
      trust: { protocolVersion: 1, sealing: 'local', sealingKeyId: `0x${'05'.repeat(32)}` },
    })
    const store = new Map<string, unknown>()
    const importer = { storeRecord: async (r: { keyId: string }) => void store.set(r.keyId, r), importPrivateKey: async () => Promise.reject(new Error('unused')), secretName: (k: string) => k }
    // The parent's record source: whatever it chooses to forward.
    let forward: (keyId: string) => unknown = (keyId) => store.get(keyId)
    const transport: Transport = {
      name: 'records-from-the-parent',
      attestation: remote.attestation,
      async request(message) {
        const keyId = (message.params as { keyId?: string }).keyId
        const record = keyId === undefined ? undefined : forward(keyId)
        const { audit: _, ...r } = await remote.handler.handle(JSON.parse(JSON.stringify(message)), record ? { record } : undefined)
        return JSON.parse(JSON.stringify(r))
      },
    }
    const victim = createCustodyClient({ transport, stamper, importer: importer as never })
    const real = await victim.importKey({ generate: true, keyId: 'treasury' })

    // The parent makes an API key of its own and has the enclave create 'treasury' from a key it knows, owned by the victim.
    const own = apiKeyStamper({ privateKey: generateApiKey().privateKey })
    const known = `0x${'4c'.repeat(31)}0c`
    const attested = (await remote.handler.handle({ v: 1, id: 'a', op: 'system.attestation', params: { nonce: `0x${'11'.repeat(16)}` } })) as { result: { trust: unknown } }
    const aud = trustDigest(parseTrustConfiguration(attested.result.trust))
    const params = { privateKey: known, keyId: 'treasury', owners: { publicKeys: [stamper.publicKey], threshold: 1 } }
    const planted = (await remote.handler.handle({ v: 1, id: 'p', op: 'key.import', params, auth: await stampRequest({ stamper: own, v: 1, op: 'key.import', params, aud }) })) as { ok: boolean; result: { record: { creator: string } } }
    expect(planted.ok).toBe(true)
    expect(planted.result.record.creator).toBe(own.publicKey)
    forward = (keyId) => (keyId === 'treasury' ? planted.result.record : store.get(keyId))

    // A fresh victim process: the enclave vouches for the planted key (it unseals, the victim owns it), but the
    // SDK refuses a key its API key did not create.
    const fresh = createCustodyClient({ transport, stamper })
    expect(await codeOf(fresh.getKey('treasury'))).toBe('INTEGRITY_ERROR')
    expect(await codeOf(fresh.signEip1559('treasury', tx(0n)))).toBe('INTEGRITY_ERROR')
    // The long-running client knows the real address: a signature by the planted key is refused; its list leaves
    // the planted key out; forwarded again, the real record serves.
    expect(await codeOf(victim.signEip1559('treasury', tx(1n)))).toBe('INTEGRITY_ERROR')
    expect(await victim.listKeys()).toEqual([])
    forward = (keyId) => store.get(keyId)
    expect((await victim.signEip1559('treasury', tx(1n))).from).toBe(real.address)
  })
})

describe('forged response key ids', () => {
  it('cost one hunt for attestation, not one per answer', async () => {
    let attestations = 0
    const forge = (r: ResponseMessage, m: RequestMessage) => {
      if (m.op === 'system.attestation') attestations++
      if (m.op === 'key.get' && r.sig) return { ...r, sig: { ...(r.sig as object), keyId: `0x${'ee'.repeat(32)}` } } as ResponseMessage
      return r
    }
    const c = client(parent(runtime, { response: forge }))
    for (let i = 0; i < 5; i++) expect(await codeOf(c.getKey(keyId))).toBe('INTEGRITY_ERROR')
    // The first attestation, then one hunt of 4 for the forged id; the next answers cost none.
    expect(attestations).toBe(5)
  })
})
