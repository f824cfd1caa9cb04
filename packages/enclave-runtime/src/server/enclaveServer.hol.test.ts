import { connect, type Socket } from 'node:net'
import { encodeFrame, FrameDecoder, type ResponseMessage } from '@enclave-custody/sdk/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import type { RequestHandler } from '../handler.js'
import { type EnclaveServer, startEnclaveServer } from './enclaveServer.js'

/**
 * Requests on one connection are served concurrently: a request whose handling waits (a key unsealed through a
 * slow KMS) does not hold up the requests behind it on the same socket. Real TCP, no timing assertions.
 */

/** A handler that holds requests whose id starts with `held` until `release(id)`, and answers the rest at once. */
function holdingHandler(): { handler: RequestHandler; release(id: string): void; started: string[] } {
  const gates = new Map<string, () => void>()
  const started: string[] = []
  return {
    started,
    handler: {
      async handle(message) {
        const id = (message as { id: string }).id
        started.push(id)
        if (id.startsWith('held')) await new Promise<void>((r) => gates.set(id, r))
        return { v: 1, id, ok: true, result: { status: 'ok', protocolVersion: 1, echo: id } } as ResponseMessage
      },
    },
    release(id) {
      const open = gates.get(id)
      if (!open) throw new Error(`${id} is not held`)
      gates.delete(id)
      open()
    },
  }
}

/** One framed client socket; answers in arrival order. */
async function client(port: number): Promise<{ socket: Socket; send(...ids: string[]): void; answers: ResponseMessage[] }> {
  const socket = connect({ host: '127.0.0.1', port })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  const answers: ResponseMessage[] = []
  const decoder = new FrameDecoder()
  socket.on('data', (chunk: Buffer) => {
    for (const f of decoder.push(chunk)) answers.push(f.message as ResponseMessage)
  })
  return {
    socket,
    answers,
    // Several requests in one write: they reach the server in one chunk, one behind the other.
    send: (...ids) => socket.write(Buffer.concat(ids.map((id) => encodeFrame({ v: 1, id, op: 'system.health', params: {} })))),
  }
}

async function until(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached within 5 s')
    await new Promise((r) => setTimeout(r, 5))
  }
}

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c()
})

async function serve(handler: RequestHandler, limits: { maxWriteBufferBytes?: number } = {}): Promise<EnclaveServer> {
  const server = await startEnclaveServer({ handler, port: 0, ...limits })
  cleanup.push(() => server.close())
  return server
}

describe('enclave server: requests of one connection are served concurrently', () => {
  it('a request held in the handler does not hold up the request behind it on the same socket', async () => {
    const h = holdingHandler()
    const server = await serve(h.handler)
    const c = await client(server.port)
    cleanup.push(() => c.socket.destroy())
    c.send('held-a', 'b')
    await until(() => c.answers.length === 1)
    expect(c.answers[0]).toMatchObject({ id: 'b', ok: true, result: { echo: 'b' } })
    // A is still in the handler, on the same connection.
    expect(h.started).toEqual(['held-a', 'b'])
    expect(server.stats()).toMatchObject({ connections: 1, inFlight: 1 })
    h.release('held-a')
    await until(() => c.answers.length === 2)
    expect(c.answers[1]).toMatchObject({ id: 'held-a', ok: true, result: { echo: 'held-a' } })
  })

  it('many held requests on one socket: later ones are answered first, each by its own id', async () => {
    const h = holdingHandler()
    const server = await serve(h.handler)
    const c = await client(server.port)
    cleanup.push(() => c.socket.destroy())
    const held = Array.from({ length: 10 }, (_, i) => `held-${i}`)
    c.send(...held)
    await until(() => h.started.length === held.length)
    c.send('x', 'y')
    await until(() => c.answers.length === 2)
    expect(c.answers.map((a) => a.id)).toEqual(['x', 'y'])
    expect(server.stats().inFlight).toBe(held.length)
    for (const id of [...held].reverse()) h.release(id)
    await until(() => c.answers.length === 2 + held.length)
    expect(c.answers.slice(2).map((a) => [a.id, (a as { result: { echo: string } }).result.echo])).toEqual([...held].reverse().map((id) => [id, id]))
  })

  it('answers ready together (many times the write-buffer cap in all) reach their requests, and a peer that reads them is not cut off', async () => {
    // Every answer ~20 kB and all ready at once: together about ten times the write-buffer cap.
    const big = 'x'.repeat(20_000)
    const handler: RequestHandler = { handle: async (m) => ({ v: 1, id: (m as { id: string }).id, ok: true, result: { status: 'ok', protocolVersion: 1, echo: (m as { id: string }).id, big } }) as ResponseMessage }
    const server = await serve(handler, { maxWriteBufferBytes: 16 * 1024 })
    const c = await client(server.port)
    cleanup.push(() => c.socket.destroy())
    const ids = Array.from({ length: 10 }, (_, i) => `r${i}`)
    c.send(...ids)
    await until(() => c.answers.length === ids.length)
    expect(c.answers.map((a) => a.id).sort()).toEqual([...ids].sort())
    expect(c.answers.every((a) => (a as { result: { echo: string } }).result.echo === a.id)).toBe(true)
    expect(c.socket.destroyed).toBe(false)
    expect(server.stats().connections).toBe(1)
  })
})
