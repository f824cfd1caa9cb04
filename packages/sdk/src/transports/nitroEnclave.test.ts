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
  server?.closeAllConnections()
  await new Promise((r) => server?.close(r))
  server = undefined
})

const get = { v: 1 as const, id: 'r1', op: 'key.get' as const, params: { keyId: 'k' } }

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
    const transport = nitroEnclave({ url, maxResponseBytes: 1024 * 1024 })
    await expect(transport.request(get)).rejects.toMatchObject({ code: 'UNAVAILABLE', message: "unavailable: the parent proxy's answer exceeds 1048576 bytes" })
    // It stopped reading: far less than the 300 MB the proxy meant to send went out.
    expect(sent).toBeLessThan(64 * 1024 * 1024)
  })

  it('refuses a declared content-length beyond the limit before reading', async () => {
    const url = await proxy((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(50 * 1024 * 1024) })
      res.write('{')
    })
    await expect(nitroEnclave({ url, maxResponseBytes: 1024 }).request(get)).rejects.toMatchObject({ code: 'UNAVAILABLE' })
  })

  it('reads an answer within the limit', async () => {
    const url = await proxy((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ keyId: 'k' }))
    })
    expect(await nitroEnclave({ url }).request(get)).toEqual({ v: 1, id: 'r1', ok: true, result: { keyId: 'k' } })
  })
})
