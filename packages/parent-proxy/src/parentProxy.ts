import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { TLSSocket } from 'node:tls'
import {
  type CustodyError,
  ErrorCode,
  httpStatusOf,
  InternalError,
  InvalidArgumentError,
  InvalidFrameError,
  isCustodyError,
  KEY_ID_PATTERN,
  MAX_LISTED_RECORDS,
  type Operation,
  PROTOCOL_VERSION,
  type RequestMessage,
  type ResponseMessage,
  RESPONSE_SIGNATURE_HEADER,
  routeToOperation,
  STAMP_HEADER,
  APPROVALS_HEADER,
  bytesToHex,
  compressP256PublicKey,
  UnauthenticatedError,
  UnknownOperationError,
} from '@enclave-custody/sdk/protocol'
import type { AwsCredentials, UnsealContext } from './types.js'
import type { SealedKeyRecord } from '@enclave-custody/sdk'
import { type Logger, silentLogger } from '@enclave-custody/sdk/server'
import { createEnclavePool, type EnclaveConnection } from './enclaveConnection.js'
import type { RecordSource } from './recordSource.js'
import { type AuditSequencer, createAuditSequencer } from './auditSequencer.js'

export type ParentProxyOptions = {
  /** Where the enclave server listens (vsock bridged to TCP, or loopback in dev). */
  enclave: { host: string; port: number }
  /** @default 0 (a free port) */
  port?: number
  /** @default '127.0.0.1' */
  host?: string
  /** Largest accepted request body. @default 256 KiB */
  maxBodyBytes?: number
  /** Timeout of one enclave round trip. @default 10_000 */
  enclaveTimeoutMs?: number
  logger?: Logger
  /**
   * Where key records live when the enclave keeps none (production: Secrets Manager). With it, the proxy
   * answers get/list from the records and forwards the named record with each sign request.
   */
  records?: RecordSource
  /** Credentials forwarded to the enclave for KMS (production: the instance role's, from IMDSv2). */
  credentials?: () => Promise<AwsCredentials>
  /** Serve HTTPS with this certificate. Without it the proxy only listens on a loopback address. */
  tls?: { cert: string | Buffer; key: string | Buffer; /** CA that client certificates must chain to (mTLS). */ clientCa?: string | Buffer }
  /**
   * Caller authentication, required on any non-loopback address: bearer tokens (`Authorization: Bearer
   * <token>`) and/or mutual TLS (a client certificate from `tls.clientCa`). `/healthz` stays open for
   * the load balancer.
   */
  auth?: { bearerTokens?: readonly string[]; mtls?: boolean }
  /** Connections to the enclave. @default 4 */
  poolSize?: number
  /** On close, how long in-flight requests may finish before connections are cut. @default 10_000 */
  drainTimeoutMs?: number
  /**
   * Where the enclave's audit events go (they ride on its answers and are stripped here): a file in dev, the
   * stack's log group in production. Untrusted storage: the events are signed and chained by the enclave.
   */
  auditSink?: (events: unknown[]) => void
  /**
   * The last event `auditSink` already holds (e.g. `createAuditFileSink(...).last`): a restarted proxy continues
   * that chain rather than storing again what the enclave kept of it.
   */
  auditResume?: unknown
  /**
   * How long the sink's events may wait behind a gap (an earlier answer still on its way over another
   * connection, or lost) before the missing ones are read from the enclave (`audit.read`). @default 2_000
   */
  auditGapTimeoutMs?: number
}

/** A request's stamp and approval stamps as the caller sent them (untrusted: the enclave verifies them). */
type Stamps = { auth: unknown; approvals?: unknown }

export type ParentProxy = {
  url: string
  port: number
  /** Requests being served. */
  readonly inFlight: number
  /** Stop accepting, let in-flight requests finish (up to `drainTimeoutMs`), then close everything. */
  close(): Promise<void>
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

/**
 * The parent-instance proxy: the HTTP API of DESIGN.md (`POST /v1/keys`, `GET /v1/keys/:keyId`,
 * `POST /v1/keys/:keyId/sign`, `GET /healthz`) in front of the enclave's framed socket.
 * Errors are `{ error: { code, message, retryable } }` with a matching status; 5xx bodies are generic.
 */
export async function startParentProxy({
  enclave,
  port = 0,
  host = '127.0.0.1',
  maxBodyBytes = 256 * 1024,
  enclaveTimeoutMs = 10_000,
  logger = silentLogger,
  records,
  credentials,
  tls,
  auth,
  poolSize = 4,
  drainTimeoutMs = 10_000,
  auditSink,
  auditResume,
  auditGapTimeoutMs = 2_000,
}: ParentProxyOptions): Promise<ParentProxy> {
  const loopback = LOOPBACK.has(host)
  if (!tls && !loopback) throw new TypeError(`parent proxy: plain HTTP is allowed only on loopback; give a TLS certificate to listen on ${host}`)
  if (!loopback && !auth?.bearerTokens?.length && !auth?.mtls) throw new TypeError('parent proxy: callers must authenticate (bearer tokens or mTLS) on a non-loopback address')
  if (auth?.mtls && !tls?.clientCa) throw new TypeError('parent proxy: mTLS needs tls.clientCa')
  const tokenDigests = (auth?.bearerTokens ?? []).map((t) => {
    if (t.length < 32) throw new TypeError('parent proxy: bearer tokens must be at least 32 characters')
    return createHash('sha256').update(t).digest()
  })
  // Answers that come back after their request timed out still carry audit events: into the sequencer.
  const onUnclaimed = (response: ResponseMessage) => collect(response)
  const connection: EnclaveConnection = createEnclavePool({ ...enclave, size: poolSize, timeoutMs: enclaveTimeoutMs, logger, onUnclaimed })
  const prefix = randomBytes(4).toString('hex')
  let seq = 0
  const nextId = () => `p${prefix}-${(seq++).toString(36)}`
  // The enclave's audit events, stored in order per boot; a gap is read back from the enclave.
  const audit: AuditSequencer | undefined = auditSink
    ? createAuditSequencer({
        sink: auditSink,
        gapTimeoutMs: auditGapTimeoutMs,
        resume: auditResume,
        logger,
        read: async (after, limit) => {
          const response = await connection.request({ v: PROTOCOL_VERSION, id: nextId(), op: 'audit.read', params: { after, limit } } as RequestMessage)
          if (!response.ok) throw new Error(`audit.read answered ${response.error.code}`)
          const events = (response.result as { events?: unknown } | null)?.events
          if (!Array.isArray(events)) throw new Error('audit.read answered no events')
          return events
        },
      })
    : undefined
  function collect(response: ResponseMessage): void {
    if (!audit || !Array.isArray(response.audit) || response.audit.length === 0) return
    audit.push(response.audit, (response.sig as { keyId?: unknown } | undefined)?.keyId)
  }

  type Answer = { status: number; body: unknown; sig?: unknown }
  /** Operations that create a record: answered 201. */
  const CREATING_OPERATIONS: ReadonlySet<Operation> = new Set(['key.import', 'key.generate', 'wallet.create', 'wallet.importSealed', 'account.create'])

  async function forward(op: Operation, params: unknown, stamps: Stamps | undefined, context?: UnsealContext): Promise<Answer> {
    const auth = stamps?.auth
    const approvals = stamps?.approvals === undefined ? {} : { approvals: stamps.approvals }
    const message = { v: PROTOCOL_VERSION, id: nextId(), op, params, ...(auth === undefined ? {} : { auth }), ...approvals } as RequestMessage
    let response: ResponseMessage
    try {
      response = await connection.request(message, context)
    } catch (e) {
      // The answer (and the audit events it carried) may be lost: look in the enclave shortly.
      if (auth !== undefined) audit?.catchUp()
      throw e
    }
    collect(response)
    const sig = response.sig === undefined ? {} : { sig: response.sig }
    if (response.ok) return { status: CREATING_OPERATIONS.has(op) ? 201 : 200, body: response.result, ...sig }
    const code = response.error.code in httpStatusOf ? response.error.code : ErrorCode.INTERNAL
    return { status: httpStatusOf[code], body: { error: response.error }, ...sig }
  }

  /** The caller's request stamp and approval stamps, passed through unread (the enclave verifies them). */
  function stampsOf(req: IncomingMessage): Stamps | undefined {
    const auth = jsonHeader(req, STAMP_HEADER, 2048, 'one JSON object')
    const approvals = jsonHeader(req, APPROVALS_HEADER, 16 * 1024, 'a JSON array')
    if (auth === undefined && approvals === undefined) return undefined
    return { auth, ...(approvals === undefined ? {} : { approvals }) }
  }

  function jsonHeader(req: IncomingMessage, name: string, maxLength: number, what: string): unknown {
    const header = req.headers[name]
    if (header === undefined) return undefined
    if (typeof header !== 'string' || header.length > maxLength) throw new InvalidArgumentError({ field: name, rule: `must be ${what} of at most ${maxLength} characters` })
    try {
      return JSON.parse(header)
    } catch {
      throw new InvalidArgumentError({ field: name, rule: 'must be JSON' })
    }
  }

  /** Bearer token (compared as SHA-256 digests in constant time) or a verified client certificate. */
  function authenticate(req: IncomingMessage): void {
    if (!auth) return
    if (auth.mtls && (req.socket as TLSSocket).authorized === true) return
    const header = req.headers.authorization ?? ''
    const match = /^Bearer ([\x21-\x7e]{1,512})$/.exec(header)
    if (match && tokenDigests.length > 0) {
      const digest = createHash('sha256').update(match[1]!).digest()
      if (tokenDigests.some((d) => timingSafeEqual(d, digest))) return
    }
    throw new UnauthenticatedError()
  }

  async function route(req: IncomingMessage): Promise<Answer> {
    const url = new URL(req.url ?? '/', 'http://proxy')
    if (url.pathname === '/healthz' && req.method === 'GET') {
      const started = performance.now()
      const health = await forward('system.health', {}, undefined)
      if (health.status !== 200) return health
      return { status: 200, body: { status: 'ok', enclaveRoundTripMs: Math.round(performance.now() - started) } }
    }
    authenticate(req)
    const body = req.method === 'POST' ? await readJson(req, maxBodyBytes) : undefined
    const target = routeToOperation(req.method ?? 'GET', url.pathname, body, url.searchParams)
    // The path is not echoed: a caller may have pasted anything into it.
    if (!target) throw new UnknownOperationError({ op: 'route' })
    const stamps = stampsOf(req)
    if (!records) return forward(target.op, target.params, stamps)
    return withRecords(records, target.op, target.params, stamps)
  }

  /**
   * Which records a `key.list` forwards: those the stamp's API key owns (or that predate owners), and of those the
   * ones the creators it names made (or the offline importer, which names none). The enclave checks the same again;
   * this only keeps other tenants' records from filling the list's cap.
   */
  function listedFor(auth: Stamps | undefined, params: unknown): (record: SealedKeyRecord) => boolean {
    const publicKey = (auth?.auth as { publicKey?: unknown } | undefined)?.publicKey
    const compressed = typeof publicKey === 'string' && publicKey.startsWith('0x') ? compressP256PublicKey(publicKey.slice(2)) : null
    const caller = compressed ? bytesToHex(compressed) : undefined
    const named = (params as { creators?: unknown }).creators
    const creators = Array.isArray(named) ? new Set(named) : undefined
    return (record) => {
      if (record.owners && caller && !record.owners.publicKeys.includes(caller)) return false
      const creator = record.version === 2 ? record.creator : undefined
      return !creators || creator === undefined || creators.has(creator)
    }
  }

  /** Production routing: records come from the record source, credentials go with every enclave call. */
  async function withRecords(source: RecordSource, op: Operation, params: unknown, auth: Stamps | undefined): Promise<Answer> {
    const creds = credentials ? { credentials: forwardable(await credentials()) } : {}
    const keyId = (params as { keyId?: unknown }).keyId
    // Without a record the enclave answers KEY_NOT_FOUND itself, signed: an unsigned one would reach the app
    // as UNAVAILABLE (the SDK honours domain codes only from the enclave).
    const record = async (): Promise<{ record?: SealedKeyRecord }> => {
      if (typeof keyId !== 'string' || !KEY_ID_PATTERN.test(keyId)) return {}
      const found = await source.get(keyId)
      return found ? { record: found } : {}
    }
    switch (op) {
      // Key identity comes from the enclave, which reports only records that unseal.
      case 'key.list':
        // The caller's own records first (owners, creators): a cap over everyone's would leave its keys out.
        return forward(op, params, auth, { ...creds, records: (await source.list()).filter(listedFor(auth, params)).slice(0, MAX_LISTED_RECORDS) })
      case 'key.get':
      case 'policy.set':
      case 'policy.get':
        return forward(op, params, auth, { ...creds, ...(await record()) })
      case 'account.create': {
        // The wallet's record (its seed unseals in the enclave), and the listed records: the next default index.
        const walletId = (params as { walletId?: unknown }).walletId
        const wallet = typeof walletId === 'string' && KEY_ID_PATTERN.test(walletId) ? await source.get(walletId) : undefined
        // The wallet's own accounts only: other records would crowd them out of the capped list.
        const accounts = (await source.list()).filter((r) => r.version === 2 && r.kind === 'hd-account' && r.walletId === walletId)
        return forward(op, params, auth, { ...creds, ...(wallet ? { record: wallet } : {}), records: accounts.slice(0, MAX_LISTED_RECORDS) })
      }
      default:
        // Every signing operation, of every chain family, names the key whose record it needs.
        return forward(op, params, auth, op.startsWith('sign.') ? { ...creds, ...(await record()) } : creds)
    }
  }

  let inFlight = 0
  let draining = false
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now()
    inFlight++
    if (draining) res.setHeader('connection', 'close')
    route(req)
      .catch((e: unknown) => {
        const error = publicError(e)
        return { status: httpStatusOf[error.code], body: { error: error.toJSON() } }
      })
      .then(({ status, body, sig }: Answer) => {
        const ms = Math.round(performance.now() - started)
        // The answer leaves before the access log line is written: a log destination that writes synchronously
        // (pino to a pipe or file) is then not on the caller's path.
        try {
          send(res, status, body, sig)
        } finally {
          logger.info({ method: req.method, path: routeLabel(req.url), status, ms }, 'http request')
        }
      })
      .finally(() => {
        inFlight--
      })
  }
  const server: Server = tls
    ? createHttpsServer(
        { cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2', ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: false } : {}) },
        onRequest,
      )
    : createHttpServer(onRequest)
  server.requestTimeout = 30_000
  server.headersTimeout = 10_000
  server.keepAliveTimeout = 5_000

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const address = server.address()
  const bound = typeof address === 'object' && address ? address.port : port
  logger.info({ host, port: bound }, 'parent proxy listening')
  return {
    url: `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    port: bound,
    get inFlight() {
      return inFlight
    },
    async close() {
      draining = true
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeIdleConnections()
      const deadline = Date.now() + drainTimeoutMs
      while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
      if (inFlight > 0) logger.warn({ inFlight }, 'drain timeout: cutting connections')
      server.closeAllConnections()
      await audit?.close()
      connection.close()
      await closed
    },
  }
}

/** Only the fields the enclave accepts: an SDK may have decorated the object (e.g. the AWS SDK's `$source`). */
function forwardable({ accessKeyId, secretAccessKey, sessionToken, expiration }: AwsCredentials): AwsCredentials {
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}), ...(expiration ? { expiration } : {}) }
}

function publicError(e: unknown): CustodyError {
  if (!isCustodyError(e)) return new InternalError()
  // 5xx bodies stay generic; the code alone tells the client what happened.
  if (e.code === ErrorCode.INTERNAL) return new InternalError()
  return e
}

/** The route's shape for logs: never the raw path, which may carry anything a caller typed. */
function routeLabel(url: string | undefined): string {
  const path = (url ?? '/').split('?')[0]!
  if (path === '/healthz' || path === '/v1/keys' || path === '/v1/attestation') return path
  if (/^\/v1\/keys\/[^/]+$/.test(path)) return '/v1/keys/:keyId'
  if (/^\/v1\/keys\/[^/]+\/sign$/.test(path)) return '/v1/keys/:keyId/sign'
  return '(unmatched)'
}

function send(res: ServerResponse, status: number, body: unknown, sig?: unknown): void {
  const text = JSON.stringify(body)
  const signature = sig === undefined ? {} : { [RESPONSE_SIGNATURE_HEADER]: JSON.stringify(sig) }
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...signature })
  res.end(text)
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = req.headers['content-type'] ?? ''
  if (!type.startsWith('application/json')) throw new InvalidArgumentError({ field: 'content-type', rule: 'must be application/json' })
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > limit) throw new InvalidFrameError({ reason: `request body exceeds ${limit} bytes` })
    chunks.push(chunk as Buffer)
  }
  const raw = Buffer.concat(chunks)
  try {
    return JSON.parse(raw.toString('utf8'))
  } catch {
    throw new InvalidFrameError({ reason: 'request body is not valid JSON' })
  } finally {
    raw.fill(0)
    for (const c of chunks) c.fill(0)
  }
}
