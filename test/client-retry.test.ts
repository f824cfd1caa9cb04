/**
 * Retries over the real loopback stack (SDK → HTTP → proxy → socket → enclave), with a faulty hop in front of the
 * proxy that refuses requests (503, as a proxy whose enclave restarts), or forwards a request and then loses the
 * enclave's answer (the sign happened; the caller cannot know). The client repeats only reads and signs carrying an
 * idempotency key, each stamped anew, and the repeat of a sign returns the same signature; a sign without one is
 * sent exactly once, whatever the retry options say.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { apiKeyStamper, approveRequest, type CustodyClient, createCustodyClient, generateApiKey, isCustodyError, nitroEnclave, type RetryOptions } from '@enclave-custody/sdk'
import { createLocalRuntime, type EnclaveServer, type LocalRuntime, startEnclaveServer } from '@enclave-custody/enclave-runtime'
import { type ParentProxy, startParentProxy } from '@enclave-custody/parent-proxy'
import { verifyMessage } from 'ethers'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'

/** What the faulty hop does with the n-th request (1-based) of a route: pass it, refuse it, or lose its answer. */
type Fault = 'pass' | 'refuse' | 'refuse-forged-key' | 'lose-answer' | 'flip-result'
let plan: (path: string, n: number) => Fault = () => 'pass'
const seen = new Map<string, number>()

let dir: string
let runtime: LocalRuntime
let server: EnclaveServer
let proxy: ParentProxy
let hop: Server
let hopUrl: string
const stamper = apiKeyStamper({ privateKey: generateApiKey().privateKey })
let keyId: string
let address: string

const read = (stream: IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = []
    stream.on('data', (c: Buffer) => chunks.push(c))
    stream.on('end', () => resolve(Buffer.concat(chunks)))
    stream.on('error', reject)
  })

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'client-retry-'))
  runtime = await createLocalRuntime({ dataDir: dir })
  server = await startEnclaveServer({ handler: runtime.handler, port: 0 })
  proxy = await startParentProxy({ enclave: { host: '127.0.0.1', port: server.port } })
  const target = new URL(proxy.url)
  hop = createServer(async (req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://x').pathname
    const path = /^\/v1\/keys\/[^/]+\/sign/.test(pathname) ? pathname.replace(/\/sign.*$/, '/sign') : pathname
    const n = (seen.get(path) ?? 0) + 1
    seen.set(path, n)
    const body = await read(req)
    const fault = plan(path, n)
    if (fault === 'refuse-forged-key') {
      // A refusal "signed" by a response key nobody attested, a fresh one each time: the client hunts for it.
      const sig = { keyId: `0x${randomBytes(32).toString('hex')}`, auditSeq: 1, auditHead: `0x${'00'.repeat(32)}`, signature: `0x${'11'.repeat(64)}` }
      res.writeHead(503, { 'content-type': 'application/json', 'x-custody-signature': JSON.stringify(sig) })
      res.end(JSON.stringify({ error: { code: 'UNAVAILABLE', message: 'unavailable: enclave restarting', retryable: true } }))
      return
    }
    if (fault === 'refuse') {
      res.writeHead(503, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { code: 'UNAVAILABLE', message: 'unavailable: enclave restarting', retryable: true } }))
      return
    }
    const forwarded = httpRequest({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, async (answer) => {
      const text = await read(answer)
      // The request reached the enclave and was served; its answer is lost on the way back.
      if (fault === 'lose-answer') return void res.destroy()
      const out = fault === 'flip-result' ? Buffer.from(text.toString().replace(/"signature":"0x([0-9a-f])/, (_m, c: string) => `"signature":"0x${c === '0' ? '1' : '0'}`)) : text
      const { 'content-length': _, ...headers } = answer.headers
      res.writeHead(answer.statusCode ?? 502, { ...headers, 'content-length': out.length })
      res.end(out)
    })
    forwarded.on('error', () => res.destroy())
    forwarded.end(body)
  })
  await new Promise<void>((r) => hop.listen(0, '127.0.0.1', r))
  hopUrl = `http://127.0.0.1:${(hop.address() as { port: number }).port}`
  const setup = createCustodyClient({ transport: nitroEnclave({ url: proxy.url, attestation: runtime.attestation }), stamper })
  ;({ keyId, address } = await setup.importKey({ generate: true }))
  await setup.close()
})
afterAll(async () => {
  hop?.closeAllConnections()
  await new Promise((r) => hop?.close(r))
  await proxy?.close()
  await server?.close()
  await rm(dir, { recursive: true, force: true })
})
beforeEach(() => {
  seen.clear()
  plan = () => 'pass'
})

const RETRY: RetryOptions = { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 }
const clientOf = (retry?: RetryOptions): CustodyClient =>
  createCustodyClient({ transport: nitroEnclave({ url: hopUrl, attestation: runtime.attestation, ...(retry ? { retry } : {}) }), stamper })
/** The route of every sign of the test key (`/v1/keys/:keyId/sign…`): the hop counts them under one name. */
const signPath = () => `/v1/keys/${keyId}/sign`

describe('client retries over the loopback stack', () => {
  it('repeats a sign with an idempotency key whose answer was lost, and returns the signature the first try made', async () => {
    const client = clientOf(RETRY)
    await client.getKey(keyId)
    plan = (path, n) => (path === signPath() && n === 1 ? 'lose-answer' : 'pass')
    const signed = await client.signMessage(keyId, { message: 'once' }, { idempotencyKey: 'order-1' })
    expect(seen.get(signPath())).toBe(2)
    expect(verifyMessage('once', signed.signature)).toBe(address)
    // Deterministic signing: the same bytes as a sign that never failed.
    plan = () => 'pass'
    expect((await clientOf().signMessage(keyId, { message: 'once' })).signature).toBe(signed.signature)
    await client.close()
  })

  it('sends a sign without an idempotency key exactly once, whatever the retry options say', async () => {
    const client = clientOf(RETRY)
    await client.getKey(keyId)
    plan = (path) => (path === signPath() ? 'lose-answer' : 'pass')
    await expect(client.signMessage(keyId, { message: 'maybe signed' })).rejects.toSatisfy((e) => isCustodyError(e, 'UNAVAILABLE'))
    expect(seen.get(signPath())).toBe(1)
    plan = (path) => (path === signPath() ? 'refuse' : 'pass')
    seen.clear()
    await expect(client.signEip1559(keyId, { chainId: 1n, nonce: 0n, to: address as `0x${string}`, gas: 21000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n })).rejects.toSatisfy((e) =>
      isCustodyError(e, 'UNAVAILABLE'),
    )
    expect(seen.get(signPath())).toBe(1)
    await client.close()
  })

  it('repeats reads until they pass, and stops after `attempts` tries', async () => {
    const client = clientOf(RETRY)
    plan = (path, n) => (path === `/v1/keys/${keyId}` && n <= 2 ? 'refuse' : 'pass')
    expect((await client.getKey(keyId)).address).toBe(address)
    expect(seen.get(`/v1/keys/${keyId}`)).toBe(3)
    seen.clear()
    plan = (path) => (path === `/v1/keys/${keyId}` ? 'refuse' : 'pass')
    await expect(client.getKey(keyId)).rejects.toSatisfy((e) => isCustodyError(e, 'UNAVAILABLE'))
    expect(seen.get(`/v1/keys/${keyId}`)).toBe(3)
    await client.close()
  })

  it('re-attests when the attestation itself was refused, then signs', async () => {
    const client = clientOf(RETRY)
    plan = (path, n) => (path === '/v1/attestation' && n === 1 ? 'refuse' : 'pass')
    const signed = await client.signMessage(keyId, { message: 'after restart' }, { idempotencyKey: 'order-2' })
    expect(verifyMessage('after restart', signed.signature)).toBe(address)
    expect(seen.get('/v1/attestation')).toBe(2)
    await client.close()
  })

  it('never repeats what the enclave refused in a signed answer, nor a result that fails its checks', async () => {
    const client = clientOf(RETRY)
    await expect(client.getKey('no-such-key')).rejects.toSatisfy((e) => isCustodyError(e, 'KEY_NOT_FOUND'))
    expect(seen.get('/v1/keys/no-such-key')).toBe(1)
    plan = (path) => (path === signPath() ? 'flip-result' : 'pass')
    await expect(client.signMessage(keyId, { message: 'altered' }, { idempotencyKey: 'order-3' })).rejects.toSatisfy((e) => isCustodyError(e, 'INTEGRITY_ERROR'))
    expect(seen.get(signPath())).toBe(1)
    await client.close()
  })

  it('sends a request carrying approvals collected elsewhere once: their stamps cannot be made again', async () => {
    const client = clientOf(RETRY)
    await client.getKey(keyId)
    const params = { message: 'approved' }
    const approval = await approveRequest(apiKeyStamper({ privateKey: generateApiKey().privateKey }), await client.approvalRequest.signMessage(keyId, params, { idempotencyKey: 'order-4' }))
    plan = (path) => (path === signPath() ? 'refuse' : 'pass')
    await expect(client.signMessage(keyId, params, { idempotencyKey: 'order-4', approvals: [approval] })).rejects.toSatisfy((e) => isCustodyError(e, 'UNAVAILABLE'))
    expect(seen.get(signPath())).toBe(1)
    await client.close()
  })

  it('spends no more attestations hunting forged response keys in a retried call than in one try', async () => {
    const client = clientOf({ attempts: 10, baseDelayMs: 1, maxDelayMs: 2 })
    await client.getKey(keyId)
    seen.clear()
    plan = (path) => (path === `/v1/keys/${keyId}` ? 'refuse-forged-key' : 'pass')
    await expect(client.getKey(keyId)).rejects.toSatisfy((e) => isCustodyError(e, 'UNAVAILABLE'))
    expect(seen.get(`/v1/keys/${keyId}`)).toBe(10)
    // At most the hunt of one try (4 attestations), not one per try.
    expect(seen.get('/v1/attestation') ?? 0).toBeLessThanOrEqual(4)
    await client.close()
  })

  it('does not retry without retry options', async () => {
    const client = clientOf()
    plan = (path, n) => (path === `/v1/keys/${keyId}` && n === 1 ? 'refuse' : 'pass')
    await expect(client.getKey(keyId)).rejects.toSatisfy((e) => isCustodyError(e, 'UNAVAILABLE'))
    expect(seen.get(`/v1/keys/${keyId}`)).toBe(1)
    await client.close()
  })

  it('refuses bad retry options, naming the field', () => {
    for (const [retry, field] of [
      [{ attempts: 0 }, 'retry.attempts'],
      [{ attempts: 11 }, 'retry.attempts'],
      [{ attempts: 2.5 }, 'retry.attempts'],
      [{}, 'retry.attempts'],
      [{ attempts: 2, baseDelayMs: -1 }, 'retry.baseDelayMs'],
      [{ attempts: 2, baseDelayMs: 500, maxDelayMs: 100 }, 'retry.maxDelayMs'],
      [{ attempts: 2, jitter: true }, 'retry'],
    ] as const) {
      expect(() => nitroEnclave({ url: hopUrl, attestation: runtime.attestation, retry: retry as RetryOptions })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', details: expect.objectContaining({ field: expect.stringContaining(field) }) }))
    }
  })
})
