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

describe('nitroEnclave reads bounded answers from the proxy', () => {
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
    const transport = nitroEnclave({ url, attestation, maxResponseBytes: 1024 * 1024 })
    await expect(transport.request(get)).rejects.toMatchObject({ code: 'UNAVAILABLE', message: "unavailable: the parent proxy's answer exceeds 1048576 bytes" })
    // It stopped reading: far less than the 300 MB the proxy meant to send went out.
    expect(sent).toBeLessThan(64 * 1024 * 1024)
  })

  it('refuses a declared content-length beyond the limit before reading', async () => {
    const url = await proxy((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(50 * 1024 * 1024) })
      res.write('{')
    })
    await expect(nitroEnclave({ url, attestation, maxResponseBytes: 1024 }).request(get)).rejects.toMatchObject({ code: 'UNAVAILABLE' })
  })

  it('reads an answer within the limit', async () => {
    const url = await proxy((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ keyId: 'k' }))
    })
    expect(await nitroEnclave({ url, attestation }).request(get)).toEqual({ v: 1, id: 'r1', ok: true, result: { keyId: 'k' } })
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
