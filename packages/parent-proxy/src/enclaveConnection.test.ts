import { createServer, type Server } from 'node:net'
import { encodeFrame, FrameDecoder, type ResponseMessage } from '@enclave-custody/sdk/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { createEnclaveConnection, createEnclavePool } from './enclaveConnection.js'

/** A peer that accepts frames and never answers: what the parent sees of a stuck or hostile bridge. */
async function silentPeer(): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => s.on('data', () => {}))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { server, port: (server.address() as { port: number }).port }
}

const cleanup: (() => void)[] = []
afterEach(() => {
  for (const c of cleanup.splice(0)) c()
})

describe('parent → enclave connection caps', () => {
  it('fails fast with UNAVAILABLE beyond maxPending instead of queueing without bound', async () => {
    const peer = await silentPeer()
    const conn = createEnclaveConnection({ host: '127.0.0.1', port: peer.port, maxPending: 2, timeoutMs: 5_000 })
    cleanup.push(() => conn.close(), () => peer.server.close())
    const msg = (id: string) => ({ v: 1 as const, id, op: 'system.health' as const, params: {} })
    const first = conn.request(msg('a')).catch((e: Error) => e)
    const second = conn.request(msg('b')).catch((e: Error) => e)
    await new Promise((r) => setTimeout(r, 50))
    expect(conn.pending).toBe(2)
    await expect(conn.request(msg('c'))).rejects.toMatchObject({ code: 'UNAVAILABLE', message: 'unavailable: enclave busy: too many requests waiting' })
    conn.close()
    expect(await first).toMatchObject({ code: 'UNAVAILABLE' })
    expect(await second).toMatchObject({ code: 'UNAVAILABLE' })
  })

  it('a peer that sends an oversized frame is cut off and the waiting requests fail', async () => {
    const server = createServer((s) => {
      const header = Buffer.alloc(4)
      header.writeUInt32BE(64 * 1024 * 1024, 0)
      s.write(header)
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const conn = createEnclaveConnection({ host: '127.0.0.1', port: (server.address() as { port: number }).port, timeoutMs: 5_000 })
    cleanup.push(() => conn.close(), () => server.close())
    await expect(conn.request({ v: 1, id: 'x', op: 'system.health', params: {} })).rejects.toMatchObject({ code: 'UNAVAILABLE' })
  })

  it('an answer that arrives after its request timed out goes to onUnclaimed (its audit events are not lost)', async () => {
    // A slow enclave: answers 150 ms after each request, with an audit event.
    const server = createServer((s) => {
      const decoder = new FrameDecoder()
      s.on('data', (chunk: Buffer) => {
        for (const f of decoder.push(chunk)) {
          const id = (f.message as { id: string }).id
          setTimeout(() => s.write(encodeFrame({ v: 1, id, ok: true, result: { status: 'ok', protocolVersion: 1 }, audit: [{ seq: 7 }] })), 150)
        }
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const late: ResponseMessage[] = []
    const conn = createEnclaveConnection({ host: '127.0.0.1', port: (server.address() as { port: number }).port, timeoutMs: 50, onUnclaimed: (r) => late.push(r) })
    cleanup.push(() => conn.close(), () => server.close())
    await expect(conn.request({ v: 1, id: 'slow', op: 'system.health', params: {} })).rejects.toMatchObject({ code: 'TIMEOUT' })
    expect(late).toEqual([])
    await new Promise((r) => setTimeout(r, 250))
    expect(late).toEqual([expect.objectContaining({ id: 'slow', audit: [{ seq: 7 }] })])
  })
})

/** An enclave that answers every health request at once. */
function answeringPeer(): Server {
  return createServer((s) => {
    const decoder = new FrameDecoder()
    s.on('data', (chunk: Buffer) => {
      for (const f of decoder.push(chunk)) s.write(encodeFrame({ v: 1, id: (f.message as { id: string }).id, ok: true, result: { status: 'ok', protocolVersion: 1 } }))
    })
  })
}

describe('parent → enclave pool after a restart of the enclave', () => {
  it('once one connection is back, no request goes to a connection still waiting out its reconnect back-off', async () => {
    // A port with nothing behind it (the enclave is down), then the enclave on it again; a clock the test moves.
    const probe = createServer()
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
    const port = (probe.address() as { port: number }).port
    await new Promise((r) => probe.close(r))
    let clock = 0
    const pool = createEnclavePool({ host: '127.0.0.1', port, size: 2, backoffBaseMs: 1_000, backoffMaxMs: 1_000, now: () => clock, timeoutMs: 5_000 })
    cleanup.push(() => pool.close())
    const health = (id: string) => pool.request({ v: 1, id, op: 'system.health', params: {} })
    // Both connections fail while the enclave is down, at different times: their back-offs end at different times.
    await expect(health('down-1')).rejects.toMatchObject({ code: 'UNAVAILABLE' })
    clock = 1_500
    await expect(health('down-2')).rejects.toMatchObject({ code: 'UNAVAILABLE' })
    const enclave = answeringPeer()
    await new Promise<void>((r) => enclave.listen(port, '127.0.0.1', r))
    cleanup.push(() => enclave.close())
    // The first connection's back-off is over: it reconnects. The second's is not (it failed at 1,500).
    clock = 1_600
    await expect(health('back-1')).resolves.toMatchObject({ ok: true })
    // The enclave is reachable: every request now succeeds, whichever connection the pool would have picked.
    for (let i = 0; i < 6; i++) await expect(health(`back-${i + 2}`)).resolves.toMatchObject({ ok: true })
  })
})

