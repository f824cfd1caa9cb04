import { createServer, type Server } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { nitroEnclave } from './nitroEnclave.js'

/** A hostile parent proxy: it answers whatever it likes. */
let server: Server | undefined
async function proxy(handler: Parameters<typeof createServer>[1]): Promise<string> {
  server = createServer(handler)
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`
}
afterEach(async () => {
  if (!server) return
  server.closeAllConnections()
  await new Promise((r) => server!.close(r))
  server = undefined
})

const get = { v: 1 as const, id: 'r1', op: 'key.get' as const, params: { keyId: 'k' } }
const attestation = { pcr0: ['ab'.repeat(48)] }

// Both exchanges: keep-alive node:http (the default) and an injected fetch.
describe.each([
  ['node:http', undefined],
  ['fetch', globalThis.fetch],
] as const)('nitroEnclave over %s reads bounded answers from the proxy', (_name, fetch) => {
  const options = fetch ? { fetch } : {}
  it('refuses a body beyond maxResponseBytes without buffering it (streamed, no content-length)', async () => {
    let sent = 0
    const url = await proxy((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      const chunk = Buffer.alloc(64 * 1024, 0x20)
      const pump = () => {
        while (sent < 300 * 1024 * 1024 && !res.destroyed) {
          sent += chunk.length
          if (!res.write(chunk)) return void res.once('drain', pump)
        }
        res.end()
      }
      res.write('{"pad":"')
      pump()
    })
    const transport = nitroEnclave({ url, attestation, maxResponseBytes: 1024 * 1024, ...options })
    await expect(transport.request(get)).rejects.toMatchObject({ code: 'UNAVAILABLE', message: "unavailable: the parent proxy's answer exceeds 1048576 bytes" })
    // It stopped reading: far less than the 300 MB the proxy meant to send went out.
    expect(sent).toBeLessThan(64 * 1024 * 1024)
  })

  it('refuses a declared content-length beyond the limit before reading', async () => {
    const url = await proxy((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(50 * 1024 * 1024) })
      res.write('{')
    })
    await expect(nitroEnclave({ url, attestation, maxResponseBytes: 1024, ...options }).request(get)).rejects.toMatchObject({ code: 'UNAVAILABLE' })
  })

  it('reads an answer within the limit', async () => {
    const url = await proxy((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ keyId: 'k' }))
    })
    expect(await nitroEnclave({ url, attestation, ...options }).request(get)).toEqual({ v: 1, id: 'r1', ok: true, result: { keyId: 'k' } })
  })

  it('a proxy that is not listening is UNAVAILABLE naming its origin; one that never answers is a TIMEOUT', async () => {
    const closed = await proxy(() => {})
    server!.close()
    server = undefined
    await expect(nitroEnclave({ url: closed, attestation, ...options }).request(get)).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining(`cannot reach the parent proxy at ${closed}`) })
    const silent = await proxy(() => {})
    await expect(nitroEnclave({ url: silent, attestation, timeoutMs: 200, ...options }).request(get)).rejects.toMatchObject({ code: 'TIMEOUT' })
  })

  it('a redirect is not followed: the stamped request, the token and the headers go nowhere else', async () => {
    const elsewhere: string[] = []
    const other = createServer((req, res) => {
      elsewhere.push(`${req.method} ${req.url} ${JSON.stringify(req.headers)}`)
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ keyId: 'k' }))
    })
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r))
    try {
      const target = `http://127.0.0.1:${(other.address() as { port: number }).port}`
      const url = await proxy((req, res) => {
        res.writeHead(307, { location: `${target}${req.url}` })
        res.end()
      })
      const transport = nitroEnclave({ url, attestation, token: 't'.repeat(40), headers: { 'x-gateway-key': 'g' }, ...options })
      await expect(transport.request(get)).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('HTTP 307') })
      expect(elsewhere).toEqual([])
    } finally {
      other.closeAllConnections()
      await new Promise((r) => other.close(r))
    }
  })

  it('an answer cut off mid-body is UNAVAILABLE, never a result', async () => {
    const url = await proxy((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' })
      res.write('{"keyId":')
      setTimeout(() => res.destroy(), 20)
    })
    await expect(nitroEnclave({ url, attestation, ...options }).request(get)).rejects.toMatchObject({ code: 'UNAVAILABLE' })
  })
})

describe('nitroEnclave carries stamps and response signatures', () => {
  const auth = { publicKey: `0x02${'11'.repeat(32)}`, scheme: 'p256-ecdsa-sha256', timestamp: 1, nonce: `0x${'22'.repeat(16)}`, signature: `0x${'33'.repeat(64)}` }
  const sig = { keyId: `0x${'44'.repeat(32)}`, auditSeq: 3, auditHead: `0x${'55'.repeat(32)}`, signature: `0x${'66'.repeat(64)}` }

  it('sends the stamp in x-custody-stamp and returns x-custody-signature as `sig`, for results and errors', async () => {
    const seen: (string | undefined)[] = []
    const url = await proxy((req, res) => {
      seen.push(req.headers['x-custody-stamp'] as string | undefined)
      const notFound = req.url?.includes('missing')
      res.writeHead(notFound ? 404 : 200, { 'content-type': 'application/json', 'x-custody-signature': JSON.stringify(sig) })
      res.end(JSON.stringify(notFound ? { error: { code: 'KEY_NOT_FOUND', message: 'no', retryable: false } } : { keyId: 'k' }))
    })
    const transport = nitroEnclave({ url, attestation })
    expect(await transport.request({ ...get, auth } as never)).toEqual({ v: 1, id: 'r1', ok: true, result: { keyId: 'k' }, sig })
    expect(await transport.request({ ...get, params: { keyId: 'missing' }, auth } as never)).toMatchObject({ ok: false, error: { code: 'KEY_NOT_FOUND' }, sig })
    expect(seen.map((h) => JSON.parse(h!))).toEqual([auth, auth])
  })

  it('an unparseable or oversized signature header is no signature', async () => {
    for (const header of ['{not json', JSON.stringify({ ...sig, pad: 'x'.repeat(2000) })]) {
      const url = await proxy((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'x-custody-signature': header })
        res.end('{}')
      })
      expect(await nitroEnclave({ url, attestation }).request(get)).toEqual({ v: 1, id: 'r1', ok: true, result: {} })
      server!.closeAllConnections()
      await new Promise((r) => server!.close(r))
      server = undefined
    }
  })

  it('checks its attestation policy when it is made', () => {
    expect(() => nitroEnclave({ url: 'http://127.0.0.1:1' } as never)).toThrow(/"attestation" must be an object/)
    expect(() => nitroEnclave({ url: 'http://127.0.0.1:1', attestation: { pcr0: [] } })).toThrow(/attestation.pcr0/)
    expect(() => nitroEnclave({ url: 'http://127.0.0.1:1', attestation: { pcr0: ['00'.repeat(48)] } })).toThrow(/debug-mode/)
    expect(nitroEnclave({ url: 'http://127.0.0.1:1', attestation: { pcr0: [`0x${'AB'.repeat(48)}`] } }).attestation).toMatchObject({ pcr0: ['ab'.repeat(48)] })
  })
})

describe('nitroEnclave keeps connections alive (node:http)', () => {
  it('100 sequential and 16 concurrent requests reuse a handful of connections; close() releases them', async () => {
    let connections = 0
    const url = await proxy((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"keyId":"k"}')
    })
    server!.on('connection', () => connections++)
    const transport = nitroEnclave({ url, attestation })
    for (let i = 0; i < 100; i++) await transport.request(get)
    // One, or two when a request is sent before the previous socket is back in the pool (a connection per request: 100).
    expect(connections).toBeLessThanOrEqual(2)
    await Promise.all(Array.from({ length: 16 }, () => transport.request(get)))
    expect(connections).toBeLessThanOrEqual(16)
    const before = connections
    await transport.close?.()
    await transport.request(get)
    expect(connections).toBe(before + 1)
  })
})
