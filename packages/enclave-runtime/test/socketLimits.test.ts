import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { encodeFrame, MAX_FRAME_BYTES } from '@enclave-custody/sdk/protocol'
import { afterAll, describe, expect, it } from 'vitest'
import { alive, freePort, killStarted, runTs, until, waitForOutput } from '../../../test/support/processes.js'
import type { RequestHandler } from '../src/handler.js'
import { type EnclaveServerLimits, startEnclaveServer } from '../src/server/enclaveServer.js'
import { rawClient } from './socketClient.js'

/**
 * The caps of the enclave socket, tried as a hostile peer would: many connections, frames that never
 * complete, more requests than allowed in one chunk, answers nobody reads.
 */
const health = (id: string) => ({ v: 1, id, op: 'system.health', params: {} })
const closedOrError = (s: Socket) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())))

async function open(port: number): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port })
  s.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve)
    s.once('error', reject)
  })
  return s
}

/** A handler whose answers wait until `release()`: requests stay in flight as long as the test wants. */
function gatedHandler(): { handler: RequestHandler; release(): void; seen: () => number } {
  let open: () => void = () => {}
  const gate = new Promise<void>((r) => {
    open = r
  })
  let seen = 0
  return {
    handler: {
      async handle(m) {
        seen++
        await gate
        return { v: 1, id: (m as { id: string }).id, ok: true, result: { status: 'ok', protocolVersion: 1 } }
      },
    },
    release: () => open(),
    seen: () => seen,
  }
}

async function server(limits: EnclaveServerLimits, handler: RequestHandler = gatedHandler().handler) {
  return startEnclaveServer({ handler, port: 0, ...limits })
}

afterAll(() => killStarted())

describe('enclave socket caps (in process)', () => {
  it('counts in-flight requests per frame: frames beyond the cap in one chunk are answered UNAVAILABLE, not served', async () => {
    const gated = gatedHandler()
    const s = await server({ maxInFlight: 2 }, gated.handler)
    try {
      const c = await rawClient(s.port)
      c.sendBytes(Buffer.concat([1, 2, 3, 4, 5].map((i) => encodeFrame(health(`r${i}`)))))
      const busy = [await c.next(), await c.next(), await c.next()] as { id: string; ok: boolean; error: { code: string; retryable: boolean } }[]
      expect(busy.map((b) => [b.id, b.ok, b.error.code, b.error.retryable])).toEqual([
        ['r3', false, 'UNAVAILABLE', true],
        ['r4', false, 'UNAVAILABLE', true],
        ['r5', false, 'UNAVAILABLE', true],
      ])
      expect(gated.seen()).toBe(2)
      gated.release()
      expect(await c.next()).toMatchObject({ id: 'r1', ok: true })
      expect(await c.next()).toMatchObject({ id: 'r2', ok: true })
      c.socket.destroy()
    } finally {
      await s.close()
    }
  })

  it('caps requests in flight across connections', async () => {
    const gated = gatedHandler()
    const s = await server({ maxInFlightTotal: 3 }, gated.handler)
    try {
      const a = await rawClient(s.port)
      const b = await rawClient(s.port)
      a.sendBytes(Buffer.concat([encodeFrame(health('a1')), encodeFrame(health('a2'))]))
      await new Promise((r) => setTimeout(r, 50))
      b.sendBytes(Buffer.concat([encodeFrame(health('b1')), encodeFrame(health('b2'))]))
      expect(await b.next()).toMatchObject({ id: 'b2', ok: false, error: { code: 'UNAVAILABLE' } })
      expect(s.stats().inFlight).toBe(3)
      gated.release()
      expect(await b.next()).toMatchObject({ id: 'b1', ok: true })
      a.socket.destroy()
      b.socket.destroy()
    } finally {
      await s.close()
    }
  })

  it('caps the bytes of requests in flight across connections (a parsed request waiting on KMS holds several times its frame)', async () => {
    const gated = gatedHandler()
    const s = await server({ maxInFlightBytes: 200 * 1024 }, gated.handler)
    try {
      const big = (id: string) => ({ ...health(id), pad: 'p'.repeat(90 * 1024) })
      const c = await rawClient(s.port)
      c.sendBytes(Buffer.concat(['b1', 'b2', 'b3'].map((id) => encodeFrame(big(id)))))
      expect(await c.next()).toMatchObject({ id: 'b3', ok: false, error: { code: 'UNAVAILABLE', message: 'unavailable: enclave busy: too many bytes in flight' } })
      expect(s.stats().inFlight).toBe(2)
      expect(s.stats().inFlightBytes).toBeGreaterThan(180 * 1024)
      // Small requests still fit beside them.
      c.send(health('small'))
      gated.release()
      const answers = [await c.next(), await c.next(), await c.next()] as { id: string; ok: boolean }[]
      expect(answers.map((a) => a.id).sort()).toEqual(['b1', 'b2', 'small'])
      await until(() => s.stats().inFlightBytes === 0, 2_000)
      c.socket.destroy()
    } finally {
      await s.close()
    }
  })

  it('closes a connection that sends nothing within the frame timeout (it does not hold a slot for the idle timeout)', async () => {
    const gated = gatedHandler()
    gated.release()
    const s = await server({ frameTimeoutMs: 200, idleTimeoutMs: 60_000, maxConnections: 2 }, gated.handler)
    try {
      const silent = [await open(s.port), await open(s.port)]
      await Promise.all(silent.map(closedOrError))
      await until(() => s.stats().connections === 0, 2_000)
      const c = await rawClient(s.port)
      c.send(health('after'))
      expect(await c.next()).toMatchObject({ id: 'after', ok: true })
      c.socket.destroy()
    } finally {
      await s.close()
    }
  })

  it('drops connections beyond maxConnections', async () => {
    const s = await server({ maxConnections: 3 })
    try {
      const kept = await Promise.all([open(s.port), open(s.port), open(s.port)])
      await new Promise((r) => setTimeout(r, 50))
      const extra = await open(s.port)
      await closedOrError(extra)
      expect(s.stats().connections).toBe(3)
      for (const k of kept) k.destroy()
    } finally {
      await s.close()
    }
  })

  it('closes a connection whose frame does not complete in time, and releases its bytes', async () => {
    const s = await server({ frameTimeoutMs: 200 })
    try {
      const c = await open(s.port)
      c.write(encodeFrame(health('slow')).subarray(0, 20))
      await new Promise((r) => setTimeout(r, 50))
      expect(s.stats().pendingBytes).toBeGreaterThan(0)
      const started = Date.now()
      await closedOrError(c)
      expect(Date.now() - started).toBeLessThan(2_000)
      await until(() => s.stats().connections === 0, 2_000)
      expect(s.stats()).toMatchObject({ connections: 0, pendingBytes: 0 })
    } finally {
      await s.close()
    }
  })

  it('a frame trickled slowly but steadily is still cut at the frame timeout', async () => {
    const s = await server({ frameTimeoutMs: 300, idleTimeoutMs: 60_000 })
    try {
      const c = await open(s.port)
      const frame = encodeFrame(health('drip'))
      let i = 0
      const drip = setInterval(() => {
        if (!c.destroyed && i < frame.length - 1) c.write(frame.subarray(i, ++i))
      }, 20)
      await closedOrError(c)
      clearInterval(drip)
      expect(i).toBeLessThan(frame.length - 1)
    } finally {
      await s.close()
    }
  })

  it('closes an idle connection', async () => {
    const s = await server({ idleTimeoutMs: 200 })
    try {
      const c = await open(s.port)
      await closedOrError(c)
      await until(() => s.stats().connections === 0, 2_000)
    } finally {
      await s.close()
    }
  })

  it('caps the bytes of incomplete frames across connections', async () => {
    const s = await server({ maxPendingBytes: 96 * 1024 })
    try {
      const body = Buffer.alloc(60 * 1024, 0x20)
      const partial = (len: number) => {
        const header = Buffer.alloc(4)
        header.writeUInt32BE(len + 10, 0)
        return Buffer.concat([header, body.subarray(0, len)])
      }
      const a = await rawClient(s.port)
      a.sendBytes(partial(40 * 1024))
      await new Promise((r) => setTimeout(r, 50))
      const b = await rawClient(s.port)
      b.sendBytes(partial(60 * 1024))
      const answer = await b.next()
      expect(answer, JSON.stringify(answer)).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE', message: 'unavailable: enclave busy: too many bytes pending' } })
      await b.closed
      expect(s.stats().pendingBytes).toBeLessThanOrEqual(96 * 1024)
      expect(a.socket.destroyed).toBe(false)
      a.socket.destroy()
    } finally {
      await s.close()
    }
  })

  it('closes a connection that does not read its answers', async () => {
    const answer = 'a'.repeat(100_000)
    const big: RequestHandler = { handle: async (m) => ({ v: 1, id: (m as { id: string }).id, ok: true, result: { answer } }) }
    const s = await server({ maxWriteBufferBytes: 1024 * 1024 }, big)
    try {
      const c = await open(s.port)
      c.pause() // never read (a paused socket does not notice the close either: watch the server)
      for (let i = 0; i < 200; i++) c.write(encodeFrame(health(`w${i}`)))
      await until(() => s.stats().connections === 0, 10_000)
      c.destroy()
    } finally {
      await s.close()
    }
  })
})

describe('enclave process under connection load', () => {
  const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'bin', 'enclave.ts')
  const rssKiB = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1])

  it('300 connections each holding a nearly complete 1 MiB frame add little memory, and the enclave still answers', { timeout: 90_000 }, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'custody-load-'))
    try {
      const port = await freePort()
      const p = runTs(bin, ['--sealing', 'dev', '--mode', 'development', '--data-dir', dataDir, '--port', String(port)], { CUSTODY_LOG_LEVEL: 'error' })
      const pid = p.child.pid!
      await waitForOutput(() => (alive(pid) ? (rssKiB(pid) > 0 ? 'up' : '') : 'dead'), /up|dead/)
      const probe = async (id: string) => {
        for (let i = 0; i < 200; i++) {
          try {
            const c = await rawClient(port)
            c.send(health(id))
            const r = await c.next()
            c.socket.destroy()
            return r
          } catch {
            await new Promise((r) => setTimeout(r, 100))
          }
        }
        throw new Error('enclave did not come up')
      }
      expect(await probe('before')).toMatchObject({ ok: true })
      const before = rssKiB(pid)

      // One shared body: the 300 writes reference it instead of copying it.
      const frameLength = MAX_FRAME_BYTES
      const header = Buffer.alloc(4)
      header.writeUInt32BE(frameLength, 0)
      const nearlyAll = Buffer.alloc(frameLength - 1, 0x20)
      const hogs: Socket[] = []
      for (let i = 0; i < 300; i++) {
        const s = connect({ host: '127.0.0.1', port })
        s.on('error', () => {})
        s.write(header)
        s.write(nearlyAll)
        hogs.push(s)
      }
      await new Promise((r) => setTimeout(r, 3_000))
      let peak = rssKiB(pid)
      for (let i = 0; i < 10; i++) {
        await new Promise((r) => setTimeout(r, 200))
        peak = Math.max(peak, rssKiB(pid))
      }
      const grownMiB = (peak - before) / 1024
      console.info(`enclave RSS: ${(before / 1024).toFixed(1)} MiB before, ${(peak / 1024).toFixed(1)} MiB at peak (+${grownMiB.toFixed(1)} MiB) under 300 × ~1 MiB pending frames`)
      expect(alive(pid)).toBe(true)
      // Without caps the frames alone hold 300 MiB (the old server reached +146 MiB in this window and kept
      // growing); with them, 16 MiB of reservations plus the garbage of the refused first chunks.
      expect(grownMiB).toBeLessThan(100)
      for (const h of hogs) h.destroy()
      expect(await probe('after')).toMatchObject({ ok: true, result: { status: 'ok' } })
    } finally {
      killStarted()
      await rm(dataDir, { recursive: true, force: true })
    }
  })

  it('survives every hostile frame of the audit (a ~600 KB version string)', { timeout: 60_000 }, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'custody-frame-'))
    try {
      const port = await freePort()
      const p = runTs(bin, ['--sealing', 'dev', '--mode', 'development', '--data-dir', dataDir, '--port', String(port)], { CUSTODY_LOG_LEVEL: 'error' })
      let c: Awaited<ReturnType<typeof rawClient>> | undefined
      for (let i = 0; i < 200 && !c; i++) c = await rawClient(port).catch(async () => void (await new Promise((r) => setTimeout(r, 100))))
      c!.send({ v: 'x'.repeat(600_000), id: 'big', op: 'system.health', params: {} })
      expect(await c!.next()).toMatchObject({ id: 'big', ok: false, error: { code: 'UNSUPPORTED_VERSION' } })
      c!.send(health('h'))
      expect(await c!.next()).toMatchObject({ id: 'h', ok: true })
      expect(alive(p.child.pid!)).toBe(true)
      c!.socket.destroy()
    } finally {
      killStarted()
      await rm(dataDir, { recursive: true, force: true })
    }
  })
})
