/**
 * The stamped, attested path over real sockets: SDK (nitroEnclave) → parent proxy (HTTP) → enclave server
 * (framed TCP) → runtime. The proxy passes stamps and signatures through, strips the audit events into its
 * sink, and whatever it makes itself (route errors, bearer refusals) reaches the app as UNAVAILABLE.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  apiKeyStamper,
  type AuditEvent,
  type AuditReceipt,
  auditEventBytes,
  auditEventHash,
  createCustodyClient,
  generateApiKey,
  hexToBytes,
  isCustodyError,
  nitroEnclave,
} from '@enclave-custody/sdk'
import { createLocalRuntime, type LocalRuntime, startEnclaveServer, type EnclaveServer } from '@enclave-custody/enclave-runtime'
import { createAuditFileSink, type ParentProxy, startParentProxy } from '@enclave-custody/parent-proxy'
import { createPublicKey, verify } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

let dir: string
let runtime: LocalRuntime
let server: EnclaveServer
let proxy: ParentProxy
let guarded: ParentProxy
const events: AuditEvent[] = []
const stamper = apiKeyStamper({ privateKey: generateApiKey().privateKey })
const TOKEN = 't'.repeat(40)
let sink: ReturnType<typeof createAuditFileSink>

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'proxy-attested-'))
  runtime = await createLocalRuntime({ dataDir: dir })
  server = await startEnclaveServer({ handler: runtime.handler, port: 0 })
  sink = createAuditFileSink(join(dir, 'audit.jsonl'))
  proxy = await startParentProxy({
    enclave: { host: '127.0.0.1', port: server.port },
    auditSink: (e) => {
      events.push(...(e as AuditEvent[]))
      sink.write(e)
    },
  })
  guarded = await startParentProxy({ enclave: { host: '127.0.0.1', port: server.port }, auth: { bearerTokens: [TOKEN] } })
})
afterAll(async () => {
  await proxy?.close()
  await guarded?.close()
  await server?.close()
  await rm(dir, { recursive: true, force: true })
})

describe('SDK → proxy → enclave, stamped and attested', () => {
  it('signs through the proxy; every receipt matches an audit event the proxy stored, chained and signed', async () => {
    const receipts: AuditReceipt[] = []
    const client = createCustodyClient({ transport: nitroEnclave({ url: proxy.url, attestation: runtime.attestation }), stamper, onReceipt: (r) => receipts.push(r) })
    const { keyId, address } = await client.importKey({ generate: true })
    const signed = await client.signMessage(keyId, { message: 'hello' })
    expect((await client.getKey(keyId)).address).toBe(address)
    expect(signed.signature).toMatch(/^0x[0-9a-f]{130}$/)
    await expect(client.getKey('missing-key')).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' })

    expect(receipts.map((r) => r.op)).toEqual(['key.generate', 'sign.message', 'key.get', 'key.get'])
    const boot = events.find((e) => e.op === 'boot')!
    expect(boot.seq).toBe(0)
    // The chain: each event names its predecessor's hash and is signed by the key of the boot event's document.
    // Checked with OpenSSL (node:crypto), independently of the SDK's and the enclave's noble code.
    const point = Buffer.from(await bootKey(boot), 'hex')
    const publicKey = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') }, format: 'jwk' })
    for (let i = 1; i < events.length; i++) {
      expect(events[i]!.prev).toBe(auditEventHash(events[i - 1]!))
      expect(events[i]!.seq).toBe(events[i - 1]!.seq + 1)
      expect(verify('sha256', auditEventBytes(events[i]!), { key: publicKey, dsaEncoding: 'ieee-p1363' }, hexToBytes(events[i]!.sig))).toBe(true)
    }
    for (const r of receipts) {
      const event = events.find((e) => e.seq === r.auditSeq)!
      expect(auditEventHash(event)).toBe(r.auditHead)
      expect(event.requestDigest).toBe(r.requestDigest)
    }
    expect(events.at(-1)).toMatchObject({ op: 'key.get', outcome: 'KEY_NOT_FOUND', apiKey: stamper.publicKey })
    // The sink's file holds the same lines.
    await sink.close()
    const lines = (await readFile(join(dir, 'audit.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l))
    expect(lines).toEqual(events)
  })

  it('a refusal the proxy makes itself (bearer token) surfaces as UNAVAILABLE, not as the proxy\'s code', async () => {
    // Attestation is behind the bearer token too: the proxy's 401 is all the client gets.
    const client = createCustodyClient({ transport: nitroEnclave({ url: guarded.url, attestation: runtime.attestation }), stamper })
    const error = await client.listKeys().catch((e: unknown) => e)
    expect(isCustodyError(error) && error.code).toBe('ATTESTATION_FAILED')
    // With the token, attested; a route the proxy does not know is answered by the proxy alone: UNAVAILABLE.
    const authorized = nitroEnclave({ url: guarded.url, attestation: runtime.attestation, headers: { authorization: `Bearer ${TOKEN}` } })
    const ok = createCustodyClient({ transport: authorized, stamper })
    expect(Array.isArray(await ok.listKeys())).toBe(true)
    const lying = createCustodyClient({
      transport: {
        ...authorized,
        name: 'lying',
        request: async (m) => (m.op === 'system.attestation' ? authorized.request(m) : { v: 1, id: m.id, ok: false, error: { code: 'POLICY_DENIED', message: 'no', retryable: false } }),
      },
      stamper,
    })
    expect(await lying.listKeys().catch((e: unknown) => (isCustodyError(e) ? e.code : e))).toBe('UNAVAILABLE')
  })
})

/** The response key of a boot event, from its attestation document (verified by the SDK's verifier). */
async function bootKey(boot: AuditEvent): Promise<string> {
  const { verifyAttestationDocument } = await import('@enclave-custody/sdk')
  const doc = verifyAttestationDocument(new Uint8Array(Buffer.from(boot.attestation!, 'base64')), { roots: [...runtime.attestation.roots!] })
  return Buffer.from(doc.publicKey!).toString('hex')
}
