import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFileKeyStore } from '../src/keys/fileKeyStore.js'
import { type EnclaveServer, startEnclaveServer } from '../src/server/enclaveServer.js'
import { countingSealer } from './countingSealer.js'
import { rawClient } from './socketClient.js'
import { testHandler } from './support/runtime.js'
import { stampMessage } from './support/stamps.js'

/**
 * Anything that can reach the enclave socket (the parent, or any process on it that reaches the bridge)
 * must not be able to stop it: every frame gets an answer of bounded size or a closed connection, and the
 * process survives.
 */
let server: EnclaveServer
let dir: string
/** Stamps a message as an honest caller would: a hostile frame may carry a valid stamp too. */
let stamp: (message: unknown) => Promise<unknown>
const unhandled: unknown[] = []
const onUnhandled = (e: unknown) => unhandled.push(e)

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled)
  dir = await mkdtemp(join(tmpdir(), 'custody-hostile-'))
  const { raw, stamper, aud } = await testHandler({ keyStore: await createFileKeyStore(dir), sealer: countingSealer(7).sealer })
  stamp = (message) => stampMessage(message, { stamper, aud })
  server = await startEnclaveServer({ handler: raw, port: 0 })
})

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled)
  await server?.close()
  await rm(dir, { recursive: true, force: true })
})

const health = { v: 1, id: 'h1', op: 'system.health', params: {} }

describe('one hostile frame does not stop the enclave', () => {
  // Each value is just under the 1 MiB frame limit: an error that echoed it would not fit in a frame.
  const big = 'x'.repeat(600_000)
  // Envelope faults are refused before any stamp is read; params faults are sent with a valid stamp (so
  // that the params are parsed) and without one (refused UNAUTHENTICATED before they are parsed).
  const cases: [string, unknown, string][] = [
    ['a ~600 KB version string', { v: big, id: 'r1', op: 'system.health', params: {} }, 'UNSUPPORTED_VERSION'],
    ['a ~600 KB version object', { v: { a: big }, id: 'r1', op: 'system.health', params: {} }, 'UNSUPPORTED_VERSION'],
    ['a ~600 KB op', { v: 1, id: 'r1', op: big, params: {} }, 'UNKNOWN_OPERATION'],
    ['a ~600 KB envelope field name', { v: 1, id: 'r1', op: 'system.health', params: {}, [big]: 1 }, 'INVALID_FRAME'],
    ['a ~600 KB params field name', { v: 1, id: 'r1', op: 'key.get', params: { [big]: 1 } }, 'INVALID_ARGUMENT'],
    ['a ~600 KB keyId', { v: 1, id: 'r1', op: 'key.get', params: { keyId: big } }, 'INVALID_ARGUMENT'],
    [
      'a ~600 KB EIP-712 type name',
      { v: 1, id: 'r1', op: 'sign.typedData', params: { keyId: 'k1', typedData: { primaryType: 'M', types: { M: [{ name: 'a', type: `A${'a'.repeat(600_000)}` }] }, message: { a: 1 } } } },
      'INVALID_ARGUMENT',
    ],
    [
      'a ~600 KB EIP-712 struct name',
      { v: 1, id: 'r1', op: 'sign.typedData', params: { keyId: 'k1', typedData: { primaryType: 'M', types: { M: [], [`A${'a'.repeat(600_000)}`]: [] }, message: {} } } },
      'INVALID_ARGUMENT',
    ],
  ]
  const unstamped: [string, unknown, string][] = cases
    .filter(([, , code]) => code === 'INVALID_ARGUMENT')
    .map(([name, message]) => [`${name} without a stamp`, message, 'UNAUTHENTICATED'])
  for (const [name, message, code] of [...cases, ...unstamped]) {
    it(`${name}: a bounded ${code} answer, and the server still serves`, async () => {
      const c = await rawClient(server.port)
      c.send(name.endsWith('without a stamp') ? message : await stamp(message))
      const answer = (await c.next()) as { ok: boolean; error: { code: string; message: string }; audit?: unknown }
      expect(answer.ok).toBe(false)
      expect(answer.error.code).toBe(code)
      // The audit events riding on an answer (the boot event carries an attestation document) name the
      // request by digest: they must not echo it either.
      const { audit, ...rest } = answer
      expect(JSON.stringify(rest).length).toBeLessThan(2_000)
      expect(JSON.stringify(audit ?? []).length).toBeLessThan(20_000)
      expect(JSON.stringify(answer)).not.toContain(big.slice(0, 1_000))
      c.send(health)
      expect(await c.next()).toMatchObject({ ok: true, result: { status: 'ok' } })
      c.socket.destroy()
      expect(unhandled).toEqual([])
    })
  }

  it('a response that cannot be framed becomes a generic error, never an unhandled rejection', async () => {
    // A handler whose answer is larger than a frame (a bug, or a hostile input we did not foresee).
    const huge = { handle: async (m: unknown) => ({ v: 1 as const, id: (m as { id: string }).id, ok: true as const, result: { blob: 'y'.repeat(2 * 1024 * 1024) } }) }
    const s = await startEnclaveServer({ handler: huge, port: 0 })
    try {
      const c = await rawClient(s.port)
      c.send(health)
      expect(await c.next()).toMatchObject({ v: 1, id: 'h1', ok: false, error: { code: 'INTERNAL' } })
      c.socket.destroy()
      expect(unhandled).toEqual([])
    } finally {
      await s.close()
    }
  })

  it('a handler that throws becomes a generic error', async () => {
    const throwing = { handle: async () => { throw new Error('secret detail 0xdeadbeef') } }
    const s = await startEnclaveServer({ handler: throwing, port: 0 })
    try {
      const c = await rawClient(s.port)
      c.send(health)
      const answer = await c.next()
      expect(answer).toMatchObject({ v: 1, id: 'h1', ok: false, error: { code: 'INTERNAL' } })
      expect(JSON.stringify(answer)).not.toContain('deadbeef')
      c.socket.destroy()
      expect(unhandled).toEqual([])
    } finally {
      await s.close()
    }
  })
})
