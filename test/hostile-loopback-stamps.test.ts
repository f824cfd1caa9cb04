/**
 * Request stamps attacked over the real loopback stack: the enclave server on a TCP socket, the real parent
 * proxy over HTTP in front of it, and a hostile party that sends raw requests to the proxy or to the enclave
 * socket, or sits between the SDK and the proxy. Every forged, missing, expired, future, pre-boot, replayed,
 * wrong-audience, wrong-key or altered stamp is refused with its code, the refusal is signed by the attested
 * response key over the very request sent, audited as a denial, and nothing is unsealed, sealed or signed;
 * the SDK never returns a result. Then answers of two concurrent requests swapped by the man in the middle
 * (key info, lists, an error and a success) are caught by the SDK.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLocalRuntime, type EnclaveServer, type LocalRuntime, startEnclaveServer } from '@enclave-custody/enclave-runtime'
import { type ParentProxy, startParentProxy } from '@enclave-custody/parent-proxy'
import {
  type AttestedEnclave,
  type AuditEvent,
  apiKeyStamper,
  attestEnclave,
  createCustodyClient,
  type CustodyClient,
  generateApiKey,
  nitroEnclave,
  type Stamper,
  stampRequest,
} from '@enclave-custody/sdk'
import {
  type Operation,
  PROTOCOL_VERSION,
  parseResponseSignature,
  requestDigest,
  routeToOperation,
  STAMP_HEADER,
  type TrustConfiguration,
  trustDigest,
  verifyResponseSignature,
} from '@enclave-custody/sdk/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Answer, codeOf, countingSealer, type Exchange, httpSend, socketClient, startMitm, swapPair } from './support/stampAttacks.js'

const TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const MINUTE = 60_000
const TRUST: TrustConfiguration = { protocolVersion: PROTOCOL_VERSION, sealing: 'local', sealingKeyId: `0x${'6b'.repeat(32)}` }
/** Another deployment's trust configuration: a stamp made for it is useless here. */
const OTHER_TRUST: TrustConfiguration = { protocolVersion: PROTOCOL_VERSION, sealing: 'local', sealingKeyId: `0x${'6c'.repeat(32)}` }
const txParams = (nonce: number) => ({ chainId: '1', nonce: String(nonce), to: TO, value: '1', gas: '21000', maxFeePerGas: '2', maxPriorityFeePerGas: '1' })
const sdkTx = (nonce: bigint) => ({ chainId: 1n, nonce, to: TO, value: 1n, gas: 21_000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n })

let dir: string
let runtime: LocalRuntime
let server: EnclaveServer
let proxy: ParentProxy
let mitm: Awaited<ReturnType<typeof startMitm>>
let socket: Awaited<ReturnType<typeof socketClient>>
let enclave: AttestedEnclave
let counts: ReturnType<typeof countingSealer>
/** Just before the runtime booted: inside the clock window, but older than the boot. */
let beforeBoot: number
const events: AuditEvent[] = []
/** The honest caller (owner of `keyId`), another valid API key that owns nothing here, and the attacker's own key. */
const caller: Stamper = apiKeyStamper({ privateKey: generateApiKey().privateKey })
const other: Stamper = apiKeyStamper({ privateKey: generateApiKey().privateKey })
const attacker: Stamper = apiKeyStamper({ privateKey: generateApiKey().privateKey })
let keyId: string
let ids = 0

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hostile-loopback-stamps-'))
  counts = countingSealer(0x6b)
  beforeBoot = Date.now() - 1
  // No key cache: every signature needs an unseal, so a count of 0 means no key was touched.
  runtime = await createLocalRuntime({ dataDir: dir, sealer: counts.sealer, trust: TRUST, keyCache: false, auditSink: (e) => events.push(...e) })
  server = await startEnclaveServer({ handler: runtime.handler, port: 0 })
  proxy = await startParentProxy({ enclave: { host: '127.0.0.1', port: server.port } })
  mitm = await startMitm(() => proxy.url)
  socket = await socketClient(server.port)
  enclave = await attestEnclave((m) => socket.send(m), runtime.attestation)
  expect(enclave.aud).toBe(trustDigest(TRUST))
  ;({ keyId } = await sdk(caller).importKey({ generate: true }))
})
afterAll(async () => {
  mitm?.close()
  socket?.close()
  await proxy?.close()
  await server?.close()
  await rm(dir, { recursive: true, force: true })
})

/** The SDK, through the man in the middle (who passes everything untouched unless told otherwise). */
const sdk = (stamper: Stamper, extra: { trustedCreators?: string[] } = {}): CustodyClient =>
  createCustodyClient({ transport: nitroEnclave({ url: mitm.url, attestation: runtime.attestation }), stamper, ...extra })

type Envelope = { op: string; params: Record<string, unknown>; auth?: unknown }
const stamp = (op: string, params: Record<string, unknown>, stamper: Stamper, extra: { now?: number; aud?: string } = {}) =>
  stampRequest({ stamper, v: PROTOCOL_VERSION, op, params, aud: extra.aud ?? enclave.aud, ...(extra.now === undefined ? {} : { now: extra.now }) })

/**
 * Each attack: given the request an honest caller wants (op, params), the request the attacker sends.
 * `code` is the enclave's refusal; `reason` what its message says.
 */
type Attack = { name: string; code: 'UNAUTHENTICATED' | 'FORBIDDEN'; reason: RegExp; make: (op: string, params: Record<string, unknown>) => Promise<Envelope> }
const ATTACKS: Attack[] = [
  {
    name: "forged: the attacker's signature over the same payload, naming the caller's key",
    code: 'UNAUTHENTICATED',
    reason: /does not verify/,
    make: async (op, params) => {
      const auth = await stamp(op, params, attacker)
      return { op, params, auth: { ...auth, publicKey: caller.publicKey } }
    },
  },
  { name: 'missing: no stamp at all', code: 'UNAUTHENTICATED', reason: /missing/, make: async (op, params) => ({ op, params }) },
  {
    name: 'expired: stamped 6 minutes ago',
    code: 'UNAUTHENTICATED',
    reason: /outside ±300 s/,
    make: async (op, params) => ({ op, params, auth: await stamp(op, params, caller, { now: Date.now() - 6 * MINUTE }) }),
  },
  {
    name: 'future: stamped 6 minutes ahead',
    code: 'UNAUTHENTICATED',
    reason: /outside ±300 s/,
    make: async (op, params) => ({ op, params, auth: await stamp(op, params, caller, { now: Date.now() + 6 * MINUTE }) }),
  },
  {
    name: "pre-boot: stamped before the enclave's boot (inside the clock window)",
    code: 'UNAUTHENTICATED',
    reason: /older than the enclave's boot/,
    make: async (op, params) => ({ op, params, auth: await stamp(op, params, caller, { now: beforeBoot }) }),
  },
  {
    name: 'wrong audience: a stamp made for another trust configuration',
    code: 'UNAUTHENTICATED',
    reason: /does not verify/,
    make: async (op, params) => ({ op, params, auth: await stamp(op, params, caller, { aud: trustDigest(OTHER_TRUST) }) }),
  },
  {
    name: 'wrong key: a valid stamp of an API key that does not own the key',
    code: 'FORBIDDEN',
    reason: /not an owner/,
    make: async (op, params) => ({ op, params, auth: await stamp(op, params, other) }),
  },
  {
    name: 'altered params: one byte of the stamped params changed',
    code: 'UNAUTHENTICATED',
    reason: /does not verify/,
    make: async (op, params) => {
      const auth = await stamp(op, params, caller)
      const edited = JSON.parse(JSON.stringify(params).replace('"value":"1"', '"value":"9"')) as Record<string, unknown>
      expect(JSON.stringify(edited)).not.toBe(JSON.stringify(params))
      expect(JSON.stringify(edited).length).toBe(JSON.stringify(params).length)
      return { op, params: edited, auth }
    },
  },
]

/** The digest the enclave signs its answer over, for the request as it reached it (an absent stamp is null). */
const digestOf = (e: Envelope) => requestDigest({ v: PROTOCOL_VERSION, op: e.op, params: e.params, auth: e.auth ?? null, aud: enclave.aud })

/** Whether `sig` is the attested response key's signature over this refusal of `sent`. */
function signedRefusal(sig: unknown, sent: Envelope, error: unknown): boolean {
  const parsed = parseResponseSignature(sig)
  return parsed !== undefined && parsed.keyId === enclave.keyId && verifyResponseSignature(parsed, enclave.publicKey, { request: digestOf(sent), ok: false, value: error })
}

type Path = 'proxy' | 'socket'
/** Send `e` raw, to the proxy (HTTP) or to the enclave socket (a frame), and return the enclave's error, its signature, and any result. */
async function sendRaw(path: Path, e: Envelope): Promise<{ ok: boolean; error?: { code: string; message: string }; sig?: unknown; result?: unknown; status?: number }> {
  if (path === 'proxy') {
    const { status, body, sig } = await httpSend(proxy.url, e)
    const error = body.error as { code: string; message: string } | undefined
    return error ? { ok: false, error, sig, status } : { ok: true, result: body, sig, status }
  }
  const answer = await socket.send({ v: PROTOCOL_VERSION, id: `raw-${ids++}`, op: e.op, params: e.params, ...(e.auth === undefined ? {} : { auth: e.auth }) })
  return answer as { ok: boolean; error?: { code: string; message: string }; sig?: unknown; result?: unknown }
}

/**
 * Send `e` and require the refusal: `code` (for `reason`), no result and no signature of anything, nothing
 * unsealed or sealed, a signature of the attested response key over this very request, and one audit event
 * recording the denial.
 */
async function expectRefused(path: Path, e: Envelope, code: string, reason: RegExp): Promise<void> {
  const before = { unseals: counts.unseals(), seals: counts.seals(), events: events.length }
  const answer = await sendRaw(path, e)
  expect(answer.ok).toBe(false)
  expect(answer.error?.code).toBe(code)
  expect(answer.error?.message).toMatch(reason)
  expect(answer).not.toHaveProperty('result')
  if (path === 'proxy') expect(answer.status).toBe(code === 'FORBIDDEN' ? 403 : 401)
  // No transaction signature, raw transaction or key material anywhere in the answer.
  expect(JSON.stringify(answer.error)).not.toMatch(/rawTransaction|"signature"|"r":|0x02f8/)
  expect(signedRefusal(answer.sig, e, answer.error), 'the refusal is signed over this request').toBe(true)
  expect(counts.unseals(), 'nothing unsealed').toBe(before.unseals)
  expect(counts.seals(), 'nothing sealed').toBe(before.seals)
  const recorded = events.slice(before.events)
  expect(recorded).toHaveLength(1)
  expect(recorded[0]).toMatchObject({ op: e.op, outcome: code, requestDigest: digestOf(e), seq: parseResponseSignature(answer.sig)!.auditSeq })
}

const SIGN_OP = 'sign.eip1559'
const signParams = (n: number) => ({ keyId, tx: txParams(n) })

describe.each(['proxy', 'socket'] as const)('a hostile party sending raw requests to the %s', (path) => {
  let n = path === 'proxy' ? 100 : 200
  it.each(ATTACKS)('refuses the stamp, signed and audited: $name', async ({ make, code, reason }) => {
    await expectRefused(path, await make(SIGN_OP, signParams(n++)), code, reason)
  })

  it('altered op: a stamp for key.get sent as key.generate creates nothing', async () => {
    const id = `never-${path}`
    const auth = await stamp('key.get', { keyId: id }, caller)
    await expectRefused(path, { op: 'key.generate', params: { keyId: id }, auth }, 'UNAUTHENTICATED', /does not verify/)
    expect((await sendRaw(path, { op: 'key.get', params: { keyId: id }, auth: await stamp('key.get', { keyId: id }, caller) })).error?.code).toBe('KEY_NOT_FOUND')
  })

  it('replayed: the same stamped request sent twice, the second is refused and signs nothing', async () => {
    // A served signature request, sent again: nothing unsealed or signed; a signed "already answered" (retryable).
    const request = { op: SIGN_OP, params: signParams(n++), auth: undefined as unknown }
    request.auth = await stamp(request.op, request.params, caller)
    const first = await sendRaw(path, request)
    expect(first.ok).toBe(true)
    expect(first.result).toMatchObject({ rawTransaction: expect.stringMatching(/^0x02/) })
    const before = { unseals: counts.unseals(), events: events.length }
    const again = await sendRaw(path, request)
    expect(again).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE', retryable: true } })
    expect(again.error?.message).toMatch(/already answered/)
    expect(again).not.toHaveProperty('result')
    expect(signedRefusal(again.sig, request, again.error)).toBe(true)
    expect(counts.unseals()).toBe(before.unseals)
    expect(events.slice(before.events).map((e) => e.outcome)).toEqual(['UNAVAILABLE'])
    // A refused request, sent again: refused as a replay.
    const refused = { op: 'key.get', params: { keyId: 'nobody' }, auth: await stamp('key.get', { keyId: 'nobody' }, caller) }
    expect((await sendRaw(path, refused)).error?.code).toBe('KEY_NOT_FOUND')
    await expectRefused(path, refused, 'UNAUTHENTICATED', /already used/)
  })
})

/** The SDK's request as the proxy will read it (op, params), from the HTTP exchange. */
function requestOf(r: Exchange): { op: Operation; params: Record<string, unknown> } | undefined {
  const url = new URL(r.path, 'http://mitm')
  const body = r.method === 'POST' ? (JSON.parse(r.body) as unknown) : undefined
  return routeToOperation(r.method, url.pathname, body, url.searchParams) as { op: Operation; params: Record<string, unknown> } | undefined
}

describe('the SDK behind a man in the middle who rewrites its stamp', () => {
  const isSign = (r: Exchange) => r.method === 'POST' && /\/sign$/.test(r.path)

  it.each(ATTACKS)('never returns a result: $name', async ({ make, code }) => {
    const enclaveSaw: string[] = []
    const c = sdk(caller)
    await c.getKey(keyId) // attested and the key known (key.get unseals) before the attack
    const before = { unseals: counts.unseals(), events: events.length }
    mitm.set({
      request: async (r) => {
        if (!isSign(r)) return r
        const { op, params } = requestOf(r)!
        const attack = await make(op, params)
        const { [STAMP_HEADER]: _, ...headers } = r.headers
        // The edited params travel in the body (the proxy adds keyId from the path).
        const { keyId: __, ...body } = attack.params
        return { ...r, headers: { ...headers, ...(attack.auth === undefined ? {} : { [STAMP_HEADER]: JSON.stringify(attack.auth) }) }, body: JSON.stringify({ type: 'eip1559', ...body }) }
      },
      answer: (a, r) => {
        if (isSign(r)) enclaveSaw.push((JSON.parse(a.body) as { error?: { code: string } }).error?.code ?? 'ok')
        return a
      },
    })
    try {
      // The enclave's signed refusal is over the request it got, not the caller's: the caller sees it did not come through.
      expect(await codeOf(c.signEip1559(keyId, sdkTx(BigInt(300 + events.length))))).toBe('UNAVAILABLE')
    } finally {
      mitm.set({})
    }
    expect(enclaveSaw).toEqual([code])
    expect(counts.unseals()).toBe(before.unseals)
    expect(events.slice(before.events).filter((e) => e.op === SIGN_OP).map((e) => e.outcome)).toEqual([code])
  })

  it('never returns a result: the caller\'s stamped request replayed by the man in the middle (second answer handed back)', async () => {
    const c = sdk(caller)
    await c.getKey(keyId)
    let answers = 0
    mitm.set({
      answer: async (a, r) => {
        if (!isSign(r)) return a
        answers++
        // The first (genuine, signed) answer is withheld; the same request is sent again and that answer is returned.
        return mitm.forward(r)
      },
    })
    const before = counts.unseals()
    try {
      expect(await codeOf(c.signEip1559(keyId, sdkTx(400n)))).toBe('UNAVAILABLE')
    } finally {
      mitm.set({})
    }
    expect(answers).toBe(1)
    // The first sending unsealed once (and signed, but that answer never reached the caller); the replay unsealed nothing.
    expect(counts.unseals()).toBe(before + 1)
    expect(events.slice(-2).map((e) => [e.op, e.outcome])).toEqual([
      [SIGN_OP, 'ok'],
      [SIGN_OP, 'UNAVAILABLE'],
    ])
  })

  it('untouched, the same path signs (control)', async () => {
    const c = sdk(caller)
    await c.getKey(keyId)
    const before = counts.unseals()
    expect((await c.signEip1559(keyId, sdkTx(401n))).rawTransaction).toMatch(/^0x02/)
    expect(counts.unseals()).toBe(before + 1)
  })
})

describe('a man in the middle who swaps the answers of two concurrent requests, over the real HTTP proxy', () => {
  let second: string
  let othersKey: string
  beforeAll(async () => {
    mitm.set({})
    ;({ keyId: second } = await sdk(caller).importKey({ generate: true }))
    ;({ keyId: othersKey } = await sdk(other).importKey({ generate: true }))
  })

  /** Run `calls` concurrently with the answers of the two requests `matches` accepts swapped; their outcomes (codes). */
  async function swapped(matches: (r: Exchange) => boolean, calls: () => Promise<unknown>[]): Promise<string[]> {
    const pair = swapPair(matches)
    mitm.set({ answer: (a: Answer, r: Exchange) => pair.answer(a, r) })
    try {
      const codes = await Promise.all(calls().map((p) => codeOf(p)))
      expect(pair.swapped(), 'the two answers were swapped').toBe(2)
      return codes
    } finally {
      mitm.set({})
    }
  }
  const isGet = (r: Exchange) => r.method === 'GET' && /^\/v1\/keys\/[^/]+$/.test(r.path)
  const isList = (r: Exchange) => r.method === 'GET' && r.path.split('?')[0] === '/v1/keys'

  it('key info: getKey of two keys, answers swapped, both refused', async () => {
    const c = sdk(caller)
    await c.getKey(keyId) // attested before the race, so both requests are in flight together
    expect(await swapped(isGet, () => [c.getKey(keyId), c.getKey(second)])).toEqual(['INTEGRITY_ERROR', 'INTEGRITY_ERROR'])
  })

  it('lists: listKeys of two clients with different owners, answers swapped, both refused', async () => {
    const a = sdk(caller)
    const b = sdk(other)
    // Unswapped, each sees only its own keys.
    expect((await a.listKeys()).map((k) => k.keyId).sort()).toEqual([keyId, second].sort())
    expect((await b.listKeys()).map((k) => k.keyId)).toEqual([othersKey])
    expect(await swapped(isList, () => [a.listKeys(), b.listKeys()])).toEqual(['INTEGRITY_ERROR', 'INTEGRITY_ERROR'])
  })

  it('lists: two listKeys calls of the same client, answers swapped, both refused', async () => {
    const c = sdk(caller)
    await c.listKeys()
    expect(await swapped(isList, () => [c.listKeys(), c.listKeys()])).toEqual(['INTEGRITY_ERROR', 'INTEGRITY_ERROR'])
  })

  it('an error and a success: a signed KEY_NOT_FOUND and a key, swapped: neither is taken for the other', async () => {
    const c = sdk(caller)
    await c.getKey(keyId)
    // Unswapped: the real, signed KEY_NOT_FOUND comes through as such.
    expect(await codeOf(c.getKey('no-such-key'))).toBe('KEY_NOT_FOUND')
    const [missing, found] = await swapped(isGet, () => [c.getKey('no-such-key'), c.getKey(keyId)])
    // The success signed over the other request is refused; the error signed over the other request is not believed.
    expect(missing).toBe('INTEGRITY_ERROR')
    expect(found).toBe('UNAVAILABLE')
  })
})
