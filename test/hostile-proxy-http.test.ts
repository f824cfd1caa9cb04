/**
 * A hostile parent over the real loopback stack: SDK (nitroEnclave, HTTP) → a man in the middle → the parent
 * proxy → the enclave server (framed TCP) → the runtime. The man in the middle rewrites requests, alters,
 * replays, swaps and fabricates answers and their signature headers; the SDK must notice every time.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type AuditEvent, apiKeyStamper, createCustodyClient, type CustodyClient, generateApiKey, isCustodyError, nitroEnclave } from '@enclave-custody/sdk'
import { createLocalRuntime, type EnclaveServer, type LocalRuntime, startEnclaveServer } from '@enclave-custody/enclave-runtime'
import { type ParentProxy, startParentProxy } from '@enclave-custody/parent-proxy'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const ATTACKER = '0x000000000000000000000000000000000000dEaD'
const tx = (nonce: bigint) => ({ chainId: 1n, nonce, to: TO, value: 1n, gas: 21_000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n })

type Exchange = { method: string; path: string; headers: Record<string, string>; body: string }
type Answer = { status: number; headers: Record<string, string>; body: string }
/** What the man in the middle does: edit a request before it goes on, edit (or replace) an answer before it comes back. */
type Mitm = { request?: (r: Exchange) => Exchange; answer?: (a: Answer, r: Exchange) => Answer | Promise<Answer> }

let dir: string
let runtime: LocalRuntime
let server: EnclaveServer
let proxy: ParentProxy
let mitm: Server
let mitmUrl: string
let behaviour: Mitm = {}
const events: AuditEvent[] = []
const stamper = apiKeyStamper({ privateKey: generateApiKey().privateKey })

async function relay(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k))) as Record<string, string>
  let exchange: Exchange = { method: req.method ?? 'GET', path: req.url ?? '/', headers, body: Buffer.concat(chunks).toString('utf8') }
  if (behaviour.request) exchange = behaviour.request(exchange)
  const upstream = await fetch(`${proxy.url}${exchange.path}`, { method: exchange.method, headers: exchange.headers, ...(exchange.method === 'POST' ? { body: exchange.body } : {}) })
  let answer: Answer = { status: upstream.status, headers: Object.fromEntries([...upstream.headers].filter(([k]) => k === 'content-type' || k === 'x-custody-signature')), body: await upstream.text() }
  if (behaviour.answer) answer = await behaviour.answer(answer, exchange)
  res.writeHead(answer.status, answer.headers)
  res.end(answer.body)
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hostile-proxy-http-'))
  runtime = await createLocalRuntime({ dataDir: dir })
  server = await startEnclaveServer({ handler: runtime.handler, port: 0 })
  proxy = await startParentProxy({ enclave: { host: '127.0.0.1', port: server.port }, auditSink: (e) => events.push(...(e as AuditEvent[])) })
  mitm = createServer((req, res) => {
    relay(req, res).catch(() => res.destroy())
  })
  await new Promise<void>((r) => mitm.listen(0, '127.0.0.1', r))
  mitmUrl = `http://127.0.0.1:${(mitm.address() as { port: number }).port}`
})
afterAll(async () => {
  mitm?.closeAllConnections()
  mitm?.close()
  await proxy?.close()
  await server?.close()
  await rm(dir, { recursive: true, force: true })
})

const client = (): CustodyClient => createCustodyClient({ transport: nitroEnclave({ url: mitmUrl, attestation: runtime.attestation }), stamper })
async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'resolved'
  } catch (e) {
    if (isCustodyError(e)) return e.code
    throw e
  }
}
const isSign = (r: Exchange) => r.method === 'POST' && /\/sign$/.test(r.path)

describe('a man in the middle on the HTTP API, over the real stack', () => {
  let keyId: string
  beforeAll(async () => {
    behaviour = {}
    ;({ keyId } = await client().importKey({ generate: true }))
  })

  it('rewriting `to` in a sign request gets no signature: the enclave refuses it, the caller sees it did not come through', async () => {
    const before = events.length
    behaviour = { request: (r) => (isSign(r) ? { ...r, body: r.body.replace(TO, ATTACKER) } : r) }
    expect(await codeOf(client().signEip1559(keyId, tx(0n)))).toBe('UNAVAILABLE')
    expect(events.slice(before).filter((e) => e.op === 'sign.eip1559').map((e) => e.outcome)).toEqual(['UNAUTHENTICATED'])
  })

  it('swapping the answers of two concurrent sign requests is caught on both', async () => {
    const held: { answer: Answer; release: (a: Answer) => void }[] = []
    behaviour = {
      answer: (a, r) =>
        isSign(r)
          ? new Promise<Answer>((release) => {
              held.push({ answer: a, release })
              if (held.length === 2) {
                held[0]!.release(held[1]!.answer)
                held[1]!.release(held[0]!.answer)
              }
            })
          : a,
    }
    const c = client()
    expect(await Promise.all([codeOf(c.signEip1559(keyId, tx(1n))), codeOf(c.signEip1559(keyId, tx(2n)))])).toEqual(['INTEGRITY_ERROR', 'INTEGRITY_ERROR'])
  })

  it('an earlier answer replayed (body and signature header) is caught', async () => {
    let first: Answer | undefined
    const keepFirst = (a: Answer): Answer => {
      first ??= a
      return first
    }
    behaviour = { answer: (a, r) => (isSign(r) ? keepFirst(a) : a) }
    const c = client()
    await c.signEip1559(keyId, tx(3n))
    expect(await codeOf(c.signEip1559(keyId, tx(4n)))).toBe('INTEGRITY_ERROR')
  })

  it('a fabricated POLICY_DENIED or KEY_NOT_FOUND (any status, no or a copied signature) surfaces as UNAVAILABLE', async () => {
    for (const [status, code] of [[403, 'POLICY_DENIED'], [404, 'KEY_NOT_FOUND']] as const) {
      behaviour = { answer: (a, r) => (isSign(r) ? { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: { code, message: 'no', retryable: false } }) } : a) }
      expect(await codeOf(client().signEip1559(keyId, tx(5n)))).toBe('UNAVAILABLE')
      behaviour = { answer: (a, r) => (isSign(r) ? { ...a, status, body: JSON.stringify({ error: { code, message: 'no', retryable: false } }) } : a) }
      expect(await codeOf(client().signEip1559(keyId, tx(5n)))).toBe('UNAVAILABLE')
    }
  })

  it('an altered key (address) or list, or a stripped signature header, is refused', async () => {
    behaviour = { answer: (a, r) => (r.method === 'GET' && r.path.startsWith('/v1/keys/') ? { ...a, body: a.body.replace(/"address":"0x[0-9a-fA-F]{40}"/, `"address":"${ATTACKER}"`) } : a) }
    expect(await codeOf(client().getKey(keyId))).toBe('INTEGRITY_ERROR')
    behaviour = { answer: (a, r) => (r.method === 'GET' && r.path.split('?')[0] === '/v1/keys' ? { ...a, body: a.body.replace(/"address":"0x[0-9a-fA-F]{40}"/, `"address":"${ATTACKER}"`) } : a) }
    expect(await codeOf(client().listKeys())).toBe('INTEGRITY_ERROR')
    behaviour = { answer: (a, r) => (isSign(r) ? { ...a, headers: { 'content-type': 'application/json' } } : a) }
    expect(await codeOf(client().signEip1559(keyId, tx(6n)))).toBe('INTEGRITY_ERROR')
  })

  it('another enclave\'s attestation (a stale document replayed) is refused before anything is sent', async () => {
    let stale: Answer | undefined
    const keepStale = (a: Answer): Answer => {
      stale ??= a
      return stale
    }
    behaviour = { answer: (a, r) => (r.path.startsWith('/v1/attestation') ? keepStale(a) : a) }
    await client().getKey(keyId)
    expect(await codeOf(client().getKey(keyId))).toBe('ATTESTATION_FAILED')
  })

  it('untouched, the same path signs', async () => {
    behaviour = {}
    const signed = await client().signEip1559(keyId, tx(7n))
    expect(signed.rawTransaction).toMatch(/^0x02/)
  })
})
