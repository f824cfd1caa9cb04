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
  verifyAuditLog,
} from '@enclave-custody/sdk'
import { encodeFrame, FrameDecoder, MAX_FRAME_BYTES } from '@enclave-custody/sdk/protocol'
import { type AddressInfo, connect, createServer as createNetServer, type Socket } from 'node:net'
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
    expect(isCustodyError(error) && [error.code, error.retryable]).toEqual(['UNAVAILABLE', false])
    expect((error as Error).message).toContain('check the token or the client certificate')
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

/**
 * A TCP relay between the proxy's pool and the enclave server that decides the fate of each enclave answer:
 * pass it, hold it back `ms`, or drop it. It also counts the operations the proxy sends (audit.read).
 */
async function startRelay(target: number, fate: (response: { id: string; audit?: unknown[] }, index: number) => 'pass' | 'drop' | number) {
  const held: { response: { id: string; audit?: unknown[] }; fate: 'drop' | number }[] = []
  const ops: string[] = []
  const sockets = new Set<Socket>()
  let answers = 0
  const relay = createNetServer((down) => {
    const up = connect({ host: '127.0.0.1', port: target })
    for (const s of [down, up]) {
      sockets.add(s)
      s.on('error', () => {})
      s.on('close', () => {
        down.destroy()
        up.destroy()
      })
    }
    const requests = new FrameDecoder(MAX_FRAME_BYTES)
    down.on('data', (chunk: Buffer) => {
      for (const f of requests.push(chunk)) ops.push(String((f.message as { op?: unknown } | undefined)?.op))
      up.write(chunk)
    })
    const answersIn = new FrameDecoder(MAX_FRAME_BYTES)
    up.on('data', (chunk: Buffer) => {
      for (const f of answersIn.push(chunk)) {
        const response = f.message as { id: string; audit?: unknown[] }
        const what = Array.isArray(response.audit) && response.audit.length > 0 ? fate(response, answers++) : 'pass'
        if (what === 'pass') down.write(encodeFrame(response))
        else {
          held.push({ response, fate: what })
          if (what !== 'drop') setTimeout(() => down.destroyed || down.write(encodeFrame(response)), what)
        }
      }
    })
  })
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve))
  return {
    port: (relay.address() as AddressInfo).port,
    held,
    ops,
    close: () => {
      for (const s of sockets) s.destroy()
      return new Promise<void>((resolve) => relay.close(() => resolve()))
    },
  }
}

/** A fresh enclave (its own boot) behind a relay, a proxy that stores the audit log, and a client. */
async function relayedStack(fate: Parameters<typeof startRelay>[1], proxyOptions: { enclaveTimeoutMs?: number; auditGapTimeoutMs?: number } = {}) {
  const data = await mkdtemp(join(tmpdir(), 'proxy-audit-order-'))
  const local = await createLocalRuntime({ dataDir: data })
  const enclaveServer = await startEnclaveServer({ handler: local.handler, port: 0 })
  const relay = await startRelay(enclaveServer.port, fate)
  const stored: AuditEvent[] = []
  const relayed = await startParentProxy({ enclave: { host: '127.0.0.1', port: relay.port }, poolSize: 4, auditSink: (e) => stored.push(...(e as AuditEvent[])), ...proxyOptions })
  const receipts: AuditReceipt[] = []
  const client = createCustodyClient({ transport: nitroEnclave({ url: relayed.url, attestation: local.attestation }), stamper, onReceipt: (r) => receipts.push(r) })
  /** Everything the enclave recorded this boot, read straight from it (no parent in between). */
  const recorded = async () => {
    const response = await local.handler.handle({ v: 1, id: 'all', op: 'audit.read', params: { after: -1, limit: 1000 } })
    return (response as { result: { events: AuditEvent[] } }).result.events
  }
  return {
    stored,
    receipts,
    client,
    relay,
    recorded,
    verify: () => verifyAuditLog({ events: stored, pcr0: [...local.attestation.pcr0], roots: [...local.attestation.roots!], receipts }),
    closeProxy: () => relayed.close(),
    close: async () => {
      await relayed.close()
      await relay.close()
      await enclaveServer.close()
      await rm(data, { recursive: true, force: true })
    },
  }
}

const breakOf = (r: ReturnType<typeof verifyAuditLog>) => (r.ok ? 'verified' : `line ${r.error.line}: ${r.error.reason}`)

describe('the stored audit log when answers come back out of order, late or not at all', () => {
  it('attack: answers held back on their connections arrive after later ones — the log is still stored in seq order', async () => {
    // Every third answer that carries audit events is held back 50..250 ms while the others go through.
    const stack = await relayedStack((_, i) => (i % 3 === 1 ? 50 + (i % 5) * 50 : 'pass'))
    try {
      const { keyId } = await stack.client.importKey({ generate: true })
      const signed = await Promise.all(Array.from({ length: 60 }, (_, i) => stack.client.signMessage(keyId, { message: `m${i}` })))
      expect(signed).toHaveLength(60)
      await stack.closeProxy()
      expect(stack.relay.held.length).toBeGreaterThan(15)
      expect(breakOf(stack.verify())).toBe('verified')
      expect(stack.stored).toEqual(await stack.recorded())
      expect(stack.receipts).toHaveLength(61)
      // Order came from holding events back, not from reading them again.
      expect(stack.relay.ops).not.toContain('audit.read')
    } finally {
      await stack.close()
    }
  })

  it('attack: lost answers (the first, with the boot event, dropped; one that times out at the proxy; more dropped under load) lose no event: the proxy reads them back', async () => {
    const dropped = new Set([0, 7, 20, 21])
    const stack = await relayedStack((_, i) => (dropped.has(i) ? 'drop' : i === 12 ? 1_500 : 'pass'), { enclaveTimeoutMs: 1_000, auditGapTimeoutMs: 200 })
    try {
      // The first answer (boot event + key.generate) never arrives: the client sees UNAVAILABLE and tries again.
      const lost = await stack.client.importKey({ generate: true }).catch((e: unknown) => e)
      expect(isCustodyError(lost) && lost.code).toBe('UNAVAILABLE')
      const { keyId } = await stack.client.importKey({ generate: true })
      const results = await Promise.allSettled(Array.from({ length: 60 }, (_, i) => stack.client.signMessage(keyId, { message: `m${i}` })))
      expect(results.filter((r) => r.status === 'rejected')).toHaveLength(4) // 7, 12 (late), 20, 21
      // Filled while serving (not only on close): within a few gap timeouts the stored log is whole.
      const all = await stack.recorded()
      for (let waited = 0; stack.stored.length < all.length && waited < 3_000; waited += 20) await new Promise((r) => setTimeout(r, 20))
      expect(breakOf(stack.verify())).toBe('verified')
      // Every event the enclave recorded is stored once, in order, the lost answers' included.
      expect(stack.stored).toEqual(all)
      for (const { response } of stack.relay.held) for (const e of response.audit!) expect(stack.stored).toContainEqual(e)
      expect(stack.stored[0]).toMatchObject({ seq: 0, op: 'boot' })
      expect(stack.receipts).toHaveLength(57)
      expect(stack.relay.ops).toContain('audit.read')
      await stack.closeProxy()
      expect(stack.stored).toHaveLength(all.length)
    } finally {
      await stack.close()
    }
  })
})

/** The response key of a boot event, from its attestation document (verified by the SDK's verifier). */
async function bootKey(boot: AuditEvent): Promise<string> {
  const { verifyAttestationDocument } = await import('@enclave-custody/sdk')
  const doc = verifyAttestationDocument(new Uint8Array(Buffer.from(boot.attestation!, 'base64')), { roots: [...runtime.attestation.roots!] })
  return Buffer.from(doc.publicKey!).toString('hex')
}
