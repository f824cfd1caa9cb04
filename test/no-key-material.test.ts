/**
 * No key material outside the enclave: an import + generate + sign + error flow through the dev stack
 * (SDK → parent proxy → enclave socket), with every observable output captured — the servers' logs,
 * process.stdout/stderr, console, every HTTP response body and header the proxy returns, every error
 * thrown (message, JSON, stack, details, cause chain) and every file under the data directory — and
 * searched for the imported private key in every spelling, in part, and as raw bytes. The caller's API key
 * (which stamps every request) is searched for too, there and in every byte to and from local AWS.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, connect, type Server } from 'node:net'
import { format, inspect } from 'node:util'
import { type DevStack, startDevStack } from '@enclave-custody/cli'
import type { Logger } from '@enclave-custody/enclave-runtime'
import {
  apiKeyStamper,
  attestEnclave,
  createCustodyClient,
  type CustodyClient,
  type Eip1559TransactionRequest,
  generateApiKey,
  nitroEnclave,
  stampRequest,
} from '@enclave-custody/sdk'
import { PROTOCOL_VERSION, RESPONSE_SIGNATURE_HEADER, routeToOperation, STAMP_HEADER } from '@enclave-custody/sdk/protocol'
import { computeAddress, Transaction } from 'ethers'
import { afterAll, beforeAll, describe, expect, it, type MockInstance, vi } from 'vitest'

const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n

function freshPrivateKey(): Buffer {
  for (;;) {
    const k = randomBytes(32)
    const n = BigInt(`0x${k.toString('hex')}`)
    if (n > 0n && n < SECP256K1_N) return k
  }
}

// ---------------------------------------------------------------------------------------------------
// The detector: every spelling of a key, and any 8-byte window of it.

type Secret = { bytes: Buffer; hex: string }
const secretOf = (bytes: Buffer): Secret => ({ bytes, hex: bytes.toString('hex') })

const WINDOW = 8

/** Where `secret` shows up in `texts` (case-insensitive hex, base64, decimal) and `buffers` (raw bytes). */
function findLeaks(secret: Secret, texts: readonly { source: string; text: string }[], buffers: readonly { source: string; data: Buffer }[] = []): string[] {
  const hexWindows: string[] = []
  const byteWindows: Buffer[] = []
  for (let i = 0; i + WINDOW <= 32; i++) {
    hexWindows.push(secret.hex.slice(2 * i, 2 * (i + WINDOW)))
    byteWindows.push(secret.bytes.subarray(i, i + WINDOW))
  }
  const exact = [secret.bytes.toString('base64'), secret.bytes.toString('base64url'), BigInt(`0x${secret.hex}`).toString()]
  const found: string[] = []
  for (const { source, text } of texts) {
    const lower = text.toLowerCase()
    const w = hexWindows.findIndex((h) => lower.includes(h))
    if (w >= 0) found.push(`${source}: hex of key bytes ${w}..${w + WINDOW - 1}`)
    // One finding per text: unpadded base64url is often a substring of the padded base64 spelling.
    const e = exact.find((x) => text.includes(x))
    if (e) found.push(`${source}: encoded key ${e.slice(0, 6)}…`)
  }
  for (const { source, data } of buffers) {
    const w = byteWindows.findIndex((b) => data.includes(b))
    if (w >= 0) found.push(`${source}: raw key bytes ${w}..${w + WINDOW - 1}`)
  }
  return found
}

// ---------------------------------------------------------------------------------------------------
// Capture: logger, stdout/stderr, console, HTTP responses, errors, files.

/** Serialise what pino would: errors with message, stack, cause and own fields; bigints and bytes as text. */
function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { ...value, name: value.name, message: value.message, stack: value.stack, cause: value.cause }
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex')
  return value
}

type Corpus = {
  logs: string[]
  http: { source: string; text: string }[]
  /** The headers of every HTTP request to the proxy (stamps travel there). */
  requestHeaders: { source: string; text: string }[]
  errors: { source: string; text: string }[]
}
const newCorpus = (): Corpus => ({ logs: [], http: [], requestHeaders: [], errors: [] })
let corpus = newCorpus()

const record = (level: string) => (obj: object, msg?: string) => {
  corpus.logs.push(JSON.stringify({ level, ...obj, msg }, replacer))
}
const capturingLogger: Logger = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') }

const capturingFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init)
  const url = input instanceof Request ? input.url : String(input)
  const text = await res.clone().text()
  // The label elides long hex runs so that a failure report does not print the key it found.
  const path = new URL(url).pathname.replace(/[0-9a-fA-F]{16,}/g, '…')
  corpus.requestHeaders.push({ source: `HTTP request ${init?.method ?? 'GET'} ${path}`, text: JSON.stringify([...new Headers(init?.headers)]) })
  corpus.http.push({ source: `HTTP ${init?.method ?? 'GET'} ${path} → ${res.status}`, text: `${JSON.stringify([...res.headers])}\n${text}` })
  return res
}

/** Every view of an error a caller or a log might print, down its cause chain. */
function errorTexts(e: unknown): string {
  const parts: string[] = []
  let current: unknown = e
  for (let depth = 0; current !== undefined && depth < 10; depth++) {
    const err = current as { message?: unknown; stack?: unknown; details?: unknown; shortMessage?: unknown; cause?: unknown }
    parts.push(String(current), String(err.message), String(err.stack), String(err.shortMessage), JSON.stringify(err.details ?? null, replacer))
    parts.push(JSON.stringify(current, replacer), inspect(current, { depth: 10, showHidden: true }))
    current = err.cause
  }
  return parts.join('\n')
}

/** Run `fn`, which must fail; record the error and return it. */
async function failure(label: string, fn: () => Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await fn()
  } catch (e) {
    corpus.errors.push({ source: `error: ${label}`, text: errorTexts(e) })
    return e as Error & { code?: string }
  }
  throw new Error(`${label}: expected a failure`)
}

const streams = { stdout: process.stdout, stderr: process.stderr }
const spies: { name: string; spy: MockInstance<(...args: never[]) => unknown> }[] = []

function outputTexts(): { source: string; text: string }[] {
  return spies.flatMap(({ name, spy }) =>
    spy.mock.calls.map((args) => {
      const [first] = args as unknown[]
      const text = name.startsWith('process.') ? (Buffer.isBuffer(first) || first instanceof Uint8Array ? Buffer.from(first).toString('latin1') : String(first)) : format(...(args as unknown[]))
      return { source: name, text }
    }),
  )
}

function clearOutput(): void {
  for (const { spy } of spies) spy.mockClear()
}

async function readTree(dir: string): Promise<{ path: string; data: Buffer }[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  const files = entries.filter((e) => e.isFile())
  return Promise.all(files.map(async (e) => ({ path: join(e.parentPath, e.name), data: await readFile(join(e.parentPath, e.name)) })))
}

// ---------------------------------------------------------------------------------------------------

const key = secretOf(freshPrivateKey())
const privateKeyHex = `0x${key.hex}` as const
const otherKey = secretOf(freshPrivateKey())
// The caller's API key: it stamps every request, and its private key must never leave this process either.
const apiKey = generateApiKey()
const apiSecret = secretOf(Buffer.from(apiKey.privateKey.slice(2), 'hex'))
const stamper = apiKeyStamper({ privateKey: apiKey.privateKey })
/** The attested enclave's audience, for stamping the raw requests. */
let aud: string

let dataDir: string
let stack: DevStack | undefined
let custody: CustodyClient

/** Every byte between the stack's AWS clients and local AWS, per connection and direction. */
const awsTraffic: { toAws: Buffer[]; fromAws: Buffer[] }[] = []
let tap: Server | undefined

/** A TCP tap in front of local AWS: records both directions of every connection. */
async function startAwsTap(upstream: string): Promise<string> {
  const { hostname, port } = new URL(upstream)
  tap = createServer((client) => {
    const record = { toAws: [] as Buffer[], fromAws: [] as Buffer[] }
    awsTraffic.push(record)
    const server = connect({ host: hostname, port: Number(port) })
    client.on('data', (c: Buffer) => record.toAws.push(c))
    server.on('data', (c: Buffer) => record.fromAws.push(c))
    client.pipe(server).pipe(client)
    client.on('error', () => server.destroy())
    server.on('error', () => client.destroy())
  })
  await new Promise<void>((r) => tap!.listen(0, '127.0.0.1', r))
  return `http://127.0.0.1:${(tap.address() as { port: number }).port}`
}

beforeAll(async () => {
  for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
    spies.push({ name: `console.${method}`, spy: vi.spyOn(console, method) as unknown as MockInstance<(...args: never[]) => unknown> })
  }
  for (const [name, stream] of Object.entries(streams)) {
    spies.push({ name: `process.${name}`, spy: vi.spyOn(stream, 'write') as unknown as MockInstance<(...args: never[]) => unknown> })
  }
  dataDir = await mkdtemp(join(tmpdir(), 'custody-nokey-'))
  stack = await startDevStack({ dataDir, anvil: false, logger: capturingLogger, tapAws: startAwsTap })
  custody = createCustodyClient({ transport: nitroEnclave({ url: stack.proxyUrl, attestation: stack.attestation, fetch: capturingFetch }), stamper, importer: stack!.importer })
  aud = (await attestEnclave((m) => nitroEnclave({ url: stack!.proxyUrl, attestation: stack!.attestation }).request(m), stack.attestation)).aud
})

afterAll(async () => {
  await custody?.close()
  await stack?.close()
  await new Promise((r) => (tap ? tap.close(r) : r(undefined)))
  for (const { spy } of spies) spy.mockRestore()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

const tx = (to: string): Eip1559TransactionRequest => ({ chainId: 11155111n, nonce: 0n, to, value: 1n, gas: 21_000n, maxFeePerGas: 2_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n })
const RECIPIENT = '0x000000000000000000000000000000000000dEaD'

/**
 * POST straight to the proxy. A JSON body the proxy can route goes with a valid stamp over the params it will
 * forward, so that the enclave itself judges the request (not only its stamp).
 */
async function post(path: string, body: string, contentType = 'application/json'): Promise<Response> {
  let target: ReturnType<typeof routeToOperation>
  try {
    target = contentType === 'application/json' ? routeToOperation('POST', path, JSON.parse(body)) : undefined
  } catch {
    target = undefined
  }
  const stamp: Record<string, string> = target ? { [STAMP_HEADER]: JSON.stringify(await stampRequest({ stamper, v: PROTOCOL_VERSION, op: target.op, params: target.params, aud })) } : {}
  return capturingFetch(`${stack!.proxyUrl}${path}`, { method: 'POST', headers: { 'content-type': contentType, ...stamp }, body })
}

describe('no key material outside the enclave', () => {
  it('the capture sees what is written to it, and the detector finds a planted key in every form', async () => {
    corpus = newCorpus()
    clearOutput()
    const marker = `capture-marker-${randomBytes(4).toString('hex')}`
    console.log(marker)
    console.error(marker)
    process.stdout.write(`${marker}\n`)
    process.stderr.write(Buffer.from(`${marker}\n`))
    capturingLogger.info({ marker }, 'sanity')
    const res = await capturingFetch(`${stack!.proxyUrl}/healthz`)
    expect(res.status).toBe(200)
    await failure('sanity', async () => {
      throw new Error('outer', { cause: new Error(marker) })
    })

    const out = outputTexts()
    for (const source of ['console.log', 'console.error', 'process.stdout', 'process.stderr']) {
      expect(out.some((o) => o.source === source && o.text.includes(marker)), source).toBe(true)
    }
    expect(corpus.logs.some((l) => l.includes(marker))).toBe(true)
    // The stack's own servers log through the logger we passed.
    expect(corpus.logs.some((l) => l.includes('"msg":"http request"'))).toBe(true)
    expect(corpus.logs.some((l) => l.includes('"msg":"request served"'))).toBe(true)
    expect(corpus.http).toHaveLength(1)
    expect(corpus.http[0]!.text).toContain('"status":"ok"')
    expect(corpus.errors[0]!.text).toContain(marker) // found through the cause chain

    // Positive controls for the detector: each spelling of the key is caught; another key is not.
    const planted = [
      { source: 'lower', text: `x ${privateKeyHex} y` },
      { source: 'upper-no-0x', text: key.hex.toUpperCase() },
      { source: 'partial', text: `"${key.hex.slice(30, 46)}"` },
      { source: 'base64', text: key.bytes.toString('base64') },
      { source: 'decimal', text: BigInt(privateKeyHex).toString() },
    ]
    for (const p of planted) expect(findLeaks(key, [p]), p.source).not.toEqual([])
    expect(findLeaks(key, [], [{ source: 'file', data: Buffer.concat([Buffer.from('\x00abc'), key.bytes.subarray(5, 20)]) }])).not.toEqual([])
    const leaks = findLeaks(key, [...planted, ...out], [{ source: "other", data: otherKey.bytes }])
    expect(leaks.length, JSON.stringify(leaks)).toBe(planted.length)
    expect(findLeaks(otherKey, planted, [{ source: 'file', data: key.bytes }])).toEqual([])
  })

  describe('import + generate + sign + errors', () => {
    let files: { path: string; data: Buffer }[] = []
    let flow: Corpus
    let output: { source: string; text: string }[] = []

    beforeAll(async () => {
      corpus = newCorpus()
      clearOutput()

      const imported = await custody.importKey({ privateKey: privateKeyHex, keyId: 'imported-1' })
      expect(imported.address).toBe(computeAddress(privateKeyHex))
      const upper = await custody.importKey({ privateKey: `0x${key.hex.toUpperCase()}`, keyId: 'imported-upper' })
      expect(upper.address).toBe(imported.address)
      const generated = await custody.importKey({ generate: true })
      for (const k of [imported, generated]) {
        const signed = await custody.signEip1559(k.keyId, tx(RECIPIENT))
        expect(Transaction.from(signed.rawTransaction).from).toBe(k.address)
      }
      expect((await custody.getKey('imported-1')).address).toBe(imported.address)
      expect((await custody.listKeys()).map((k) => k.keyId)).toEqual(expect.arrayContaining(['imported-1', 'imported-upper', generated.keyId]))

      // Errors through the SDK, the key in right and wrong places.
      const errors = [
        await failure('keyId: privateKey', () => custody.importKey({ privateKey: privateKeyHex, keyId: privateKeyHex })),
        await failure('generate with keyId: privateKey', () => custody.importKey({ generate: true, keyId: privateKeyHex })),
        await failure('privateKey too long', () => custody.importKey({ privateKey: `${privateKeyHex}00` })),
        await failure('privateKey without 0x', () => custody.importKey({ privateKey: key.hex })),
        await failure('privateKey truncated', () => custody.importKey({ privateKey: privateKeyHex.slice(0, 64) })),
        await failure('privateKey as bytes', () => custody.importKey({ privateKey: key.bytes as unknown as string })),
        await failure('privatekey typo', () => custody.importKey({ privatekey: privateKeyHex } as never)),
        await failure('duplicate keyId', () => custody.importKey({ privateKey: privateKeyHex, keyId: 'imported-1' })),
        await failure('to: privateKey', () => custody.signEip1559('imported-1', tx(privateKeyHex))),
        await failure('value: privateKey', () => custody.signEip1559('imported-1', { ...tx(RECIPIENT), value: privateKeyHex })),
        await failure('unknown key', () => custody.signEip1559('does-not-exist', tx(RECIPIENT))),
        await failure('getKey(privateKey)', () => custody.getKey(privateKeyHex)),
      ]
      expect(errors.map((e) => e.code)).toEqual([
        'INVALID_ARGUMENT',
        'INVALID_ARGUMENT',
        'INVALID_ARGUMENT',
        'INVALID_ARGUMENT',
        'INVALID_ARGUMENT',
        'INVALID_ARGUMENT',
        'INVALID_ARGUMENT',
        'KEY_EXISTS',
        'INVALID_ARGUMENT',
        'INVALID_ARGUMENT',
        'KEY_NOT_FOUND',
        'INVALID_ARGUMENT',
      ])

      // Bad requests straight to the proxy, past the SDK's own checks.
      const raw = [
        await post('/v1/keys', JSON.stringify({ privateKey: `${privateKeyHex}00` })),
        await post('/v1/keys', JSON.stringify({ privateKey: key.hex })),
        await post('/v1/keys', JSON.stringify({ privateKey: `0x${key.hex.slice(0, 62)}` })),
        await post('/v1/keys', JSON.stringify({ privateKey: privateKeyHex, keyId: privateKeyHex })),
        await post('/v1/keys', JSON.stringify({ keyId: privateKeyHex })),
        await post('/v1/keys', JSON.stringify({ generate: true, privateKey: privateKeyHex })),
        await post('/v1/keys', JSON.stringify({ privateKey: [...key.bytes] })),
        await post('/v1/keys', `{"privateKey":"${privateKeyHex}"`),
        await post('/v1/keys', privateKeyHex, 'text/plain'),
        await post('/v1/keys/imported-1/sign', JSON.stringify({ tx: { chainId: privateKeyHex, nonce: '0', to: RECIPIENT, value: '1', gas: '21000', maxFeePerGas: '2', maxPriorityFeePerGas: '1' } })),
        await post('/v1/keys/imported-1/sign', JSON.stringify({ tx: { chainId: '1', nonce: '0', to: RECIPIENT, gas: '21000', maxFeePerGas: '2', maxPriorityFeePerGas: '1', data: `${privateKeyHex}0` } })),
        await post('/v1/keys/imported-1/sign', JSON.stringify({ privateKey: privateKeyHex, tx: { chainId: '1', nonce: '0', gas: '21000', maxFeePerGas: '2', maxPriorityFeePerGas: '1' } })),
      ]
      expect(raw.map((r) => r.status)).toEqual([400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400])
      // The stamped ones were judged (and the refusal signed) by the enclave; the two bodies that are not JSON, by the proxy.
      expect(raw.map((r) => r.headers.has(RESPONSE_SIGNATURE_HEADER))).toEqual([true, true, true, true, true, true, true, false, false, true, true, true])

      flow = corpus
      output = outputTexts()
      files = await readTree(dataDir)
    })

    it('captured the whole flow', () => {
      // The enclave serves the attestation, generate, the signs, get and list (the proxy forwards the records);
      // imports go importer → KMS → Secrets Manager.
      expect(flow.logs.filter((l) => l.includes('"msg":"request served"')).length).toBeGreaterThanOrEqual(3)
      expect(flow.logs.filter((l) => l.includes('"msg":"request failed"')).length).toBeGreaterThanOrEqual(4)
      // generate, two signs, get and list reach the proxy (imports go to KMS and Secrets Manager), plus the 12 raw requests.
      expect(flow.http.length).toBeGreaterThanOrEqual(5 + 12)
      // Every request the SDK sent to the proxy carried a stamp, and so did the raw requests it could route.
      expect(flow.requestHeaders.filter((h) => h.text.includes(STAMP_HEADER)).length).toBeGreaterThanOrEqual(5 + 10)
      expect(flow.http.some((h) => h.text.includes('"rawTransaction":"0x02'))).toBe(true)
      expect(flow.errors).toHaveLength(12)
      // Local AWS state (KMS keys, Secrets Manager records), the software NSM's CA and the dev config.
      expect(files.some((f) => f.path.includes('/aws/'))).toBe(true)
      expect(files.some((f) => f.path.includes('/nsm/'))).toBe(true)
      expect(files.some((f) => f.path.endsWith('dev.json'))).toBe(true)
      // The public address is in the records: the search does read the files.
      const address = computeAddress(privateKeyHex).slice(2).toLowerCase()
      expect(files.some((f) => f.data.toString('utf8').toLowerCase().includes(address))).toBe(true)
    })

    it('no log object holds the key', () => {
      expect(findLeaks(key, flow.logs.map((text, i) => ({ source: `log #${i}: ${text.slice(0, 120)}`, text })))).toEqual([])
    })

    it('nothing written to stdout, stderr or console holds the key', () => {
      expect(findLeaks(key, output)).toEqual([])
    })

    it('no HTTP response (body or headers) from the proxy holds the key', () => {
      expect(findLeaks(key, flow.http)).toEqual([])
    })

    it('local AWS never sends the key, and no request to it carries the key (imports are sealed to the enclave)', () => {
      const fromAws = awsTraffic.map((t, i) => ({ source: `local-aws response stream #${i}`, text: Buffer.concat(t.fromAws).toString('latin1') }))
      expect(fromAws.length).toBeGreaterThanOrEqual(3) // keep-alive connections of the admin, importer, instance and enclave clients
      // Decrypt answers were seen (CiphertextForRecipient), and none holds the key in any spelling.
      expect(fromAws.some((t) => t.text.includes('CiphertextForRecipient'))).toBe(true)
      expect(findLeaks(key, fromAws, awsTraffic.map((t, i) => ({ source: `local-aws raw bytes #${i}`, data: Buffer.concat(t.fromAws) })))).toEqual([])
      // Requests: the SDK seals an imported key to the attested enclave (HPKE), which seals it under a KMS data
      // key; the importer only stores the record. So no request to local AWS carries the key.
      const address = computeAddress(privateKeyHex)
      const carriers: string[] = []
      let recordsStored = 0
      for (const t of awsTraffic) {
        const requests = Buffer.concat(t.toAws).toString('latin1').split(/(?=POST \/ HTTP\/1\.1)/)
        for (const request of requests) {
          if (/x-amz-target: secretsmanager\.CreateSecret/i.test(request) && request.includes(address)) recordsStored++
          if (findLeaks(key, [{ source: 'request', text: request }]).length > 0) carriers.push(/x-amz-target: (\S+)/i.exec(request)?.[1] ?? 'unknown')
        }
      }
      expect(carriers).toEqual([])
      // The search does read the requests: the records of the two imports (lower- and upper-case hex) and of the
      // KEY_EXISTS attempt went to Secrets Manager with the key's address in them.
      expect(recordsStored).toBe(3)
    })

    it('no error (message, JSON, stack, details, cause chain) holds the key', () => {
      expect(findLeaks(key, flow.errors)).toEqual([])
    })

    it('no file under the data directory holds the key, as text or as raw bytes', () => {
      const texts = files.map((f) => ({ source: f.path, text: `${f.path}\n${f.data.toString('latin1')}` }))
      const buffers = files.map((f) => ({ source: f.path, data: f.data }))
      expect(findLeaks(key, texts, buffers)).toEqual([])
    })

    it("the API key's private key is nowhere: logs, output, HTTP requests and responses, errors, files, AWS traffic", () => {
      // Positive control: the detector does find it where it is.
      expect(findLeaks(apiSecret, [{ source: 'control', text: apiKey.privateKey }])).not.toEqual([])
      const texts = [
        ...flow.logs.map((text, i) => ({ source: `log #${i}`, text })),
        ...output,
        ...flow.http,
        ...flow.requestHeaders,
        ...flow.errors,
        ...files.map((f) => ({ source: f.path, text: f.data.toString('latin1') })),
      ]
      const buffers = [
        ...files.map((f) => ({ source: f.path, data: f.data })),
        ...awsTraffic.flatMap((t, i) => [
          { source: `to local-aws #${i}`, data: Buffer.concat(t.toAws) },
          { source: `from local-aws #${i}`, data: Buffer.concat(t.fromAws) },
        ]),
      ]
      expect(findLeaks(apiSecret, texts, buffers)).toEqual([])
      // The stamps did travel: the public key is in the request headers.
      expect(flow.requestHeaders.some((h) => h.text.includes(apiKey.publicKey))).toBe(true)
    })
  })

  // A private key pasted where a key id belongs: a long hex run is not a key id. The enclave refuses it
  // (signed, so the SDK reports INVALID_ARGUMENT); nothing may repeat it.
  it('a private key (without 0x) used as keyId is refused as a keyId and not echoed', async () => {
    corpus = newCorpus()
    clearOutput()
    const e = await failure('getKey(privateKey without 0x)', () => custody.getKey(key.hex))
    expect(e.code).toBe('INVALID_ARGUMENT')
    expect(findLeaks(key, [...corpus.errors, ...corpus.http, ...corpus.logs.map((text) => ({ source: 'log', text })), ...outputTexts()])).toEqual([])
  })

  it('a private key in the path of an unknown route is neither echoed nor logged', async () => {
    corpus = newCorpus()
    clearOutput()
    const res = await capturingFetch(`${stack!.proxyUrl}/v1/${privateKeyHex}`)
    expect(res.status).toBe(404)
    expect(findLeaks(key, [...corpus.http, ...corpus.logs.map((text) => ({ source: 'log', text })), ...outputTexts()])).toEqual([])
  })
})
