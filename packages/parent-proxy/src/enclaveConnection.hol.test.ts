import { createServer, type Server, type Socket } from 'node:net'
import { encodeFrame, FrameDecoder, type RequestMessage, type ResponseMessage } from '@enclave-custody/sdk/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { createEnclaveConnection, createEnclavePool, type EnclaveConnection } from './enclaveConnection.js'

/**
 * Head-of-line blocking between the parent and the enclave, over real TCP: a request the enclave holds back (a
 * key that unseals through a slow KMS, say) must not delay the requests sent after it on the same connection.
 */

/**
 * A fake enclave over real TCP: answers every request at once, except those whose id starts with `held`,
 * which wait until the test calls `release(id)`. Answers name their request (id and result) so that a mix-up
 * shows.
 */
async function holdingEnclave(): Promise<{ port: number; server: Server; connections: Set<Socket>; release(id: string): void; received: string[] }> {
  const held = new Map<string, () => void>()
  const connections = new Set<Socket>()
  const received: string[] = []
  const answer = (id: string): ResponseMessage => ({ v: 1, id, ok: true, result: { status: 'ok', protocolVersion: 1, echo: id } }) as ResponseMessage
  const server = createServer((socket) => {
    connections.add(socket)
    socket.on('close', () => connections.delete(socket))
    const decoder = new FrameDecoder()
    socket.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk)) {
        const id = (frame.message as { id: string }).id
        received.push(id)
        if (id.startsWith('held')) held.set(id, () => socket.write(encodeFrame(answer(id))))
        else socket.write(encodeFrame(answer(id)))
      }
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    port: (server.address() as { port: number }).port,
    server,
    connections,
    received,
    release(id) {
      const send = held.get(id)
      if (!send) throw new Error(`${id} was not held`)
      held.delete(id)
      send()
    },
  }
}

const msg = (id: string): RequestMessage => ({ v: 1, id, op: 'system.health', params: {} }) as RequestMessage
/** A promise's state without waiting for it. */
function track<T>(p: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let settled = false
  const promise = p.finally(() => {
    settled = true
  })
  // A test that fails leaves requests behind; their rejection at close is not a second failure.
  promise.catch(() => {})
  return { promise, settled: () => settled }
}
/** Wait (without a timing assertion) until `cond` holds; fails the test after 5 s. */
async function until(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached within 5 s')
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** The answer to `p`, which must come while the test waits (5 s at most; no other timing is asserted). */
async function answered<T>(p: Promise<T>): Promise<T> {
  const t = track(p)
  await until(t.settled)
  return t.promise
}

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c()
})

async function setup(make: (port: number) => EnclaveConnection) {
  const enclave = await holdingEnclave()
  const conn = make(enclave.port)
  cleanup.push(
    () => new Promise((r) => enclave.server.close(r)),
    () => {
      for (const s of enclave.connections) s.destroy()
    },
    () => conn.close(),
  )
  return { enclave, conn }
}

describe('parent → enclave connection: no head-of-line blocking', () => {
  it('on one connection, an answer held back by the enclave does not delay the request sent after it; answers are matched by id', async () => {
    const { enclave, conn } = await setup((port) => createEnclaveConnection({ host: '127.0.0.1', port, timeoutMs: 20_000 }))
    const a = track(conn.request(msg('held-a')))
    // B is sent only once A has reached the enclave: B is behind A on the wire.
    await until(() => enclave.received.includes('held-a'))
    const b = await answered(conn.request(msg('b')))
    expect(b).toMatchObject({ id: 'b', ok: true, result: { echo: 'b' } })
    // B was answered while A is still waiting, on the same socket.
    expect(a.settled()).toBe(false)
    expect(conn.pending).toBe(1)
    expect(enclave.connections.size).toBe(1)
    enclave.release('held-a')
    expect(await a.promise).toMatchObject({ id: 'held-a', ok: true, result: { echo: 'held-a' } })
    expect(conn.pending).toBe(0)
  })

  it('on one connection, many answers in reverse order each reach their own request', async () => {
    const { enclave, conn } = await setup((port) => createEnclaveConnection({ host: '127.0.0.1', port, timeoutMs: 20_000 }))
    const ids = Array.from({ length: 20 }, (_, i) => `held-${i}`)
    const requests = ids.map((id) => track(conn.request(msg(id))))
    await until(() => enclave.received.length === ids.length)
    const fast = await answered(conn.request(msg('fast')))
    expect(fast).toMatchObject({ id: 'fast', result: { echo: 'fast' } })
    expect(requests.every((r) => !r.settled())).toBe(true)
    for (const id of [...ids].reverse()) enclave.release(id)
    const answers = await Promise.all(requests.map((r) => r.promise))
    expect(answers.map((r) => (r as { result: { echo: string } }).result.echo)).toEqual(ids)
  })

  it('through the pool: a held request does not delay the requests after it, whichever connection it is on', async () => {
    for (const size of [1, 2, 4]) {
      const { enclave, conn } = await setup((port) => createEnclavePool({ host: '127.0.0.1', port, size, timeoutMs: 20_000 }))
      const a = track(conn.request(msg('held-a')))
      await until(() => enclave.received.includes('held-a'))
      // More requests than connections: some share the held request's socket.
      const after = await answered(Promise.all(Array.from({ length: size * 3 }, (_, i) => conn.request(msg(`b${i}`)))))
      expect(after.map((r) => (r as { result: { echo: string } }).result.echo)).toEqual(Array.from({ length: size * 3 }, (_, i) => `b${i}`))
      expect(a.settled()).toBe(false)
      expect(conn.pending).toBe(1)
      enclave.release('held-a')
      expect(await a.promise).toMatchObject({ id: 'held-a', result: { echo: 'held-a' } })
      for (const c of cleanup.splice(0).reverse()) await c()
    }
  })
})
