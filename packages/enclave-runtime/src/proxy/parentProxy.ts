import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import {
  type CustodyError,
  ErrorCode,
  httpStatusOf,
  InternalError,
  InvalidArgumentError,
  InvalidFrameError,
  isCustodyError,
  KEY_ID_PATTERN,
  KEY_ID_RULE,
  KeyNotFoundError,
  type Operation,
  PROTOCOL_VERSION,
  type RequestMessage,
  routeToOperation,
  UnknownOperationError,
} from '@enclave-custody/sdk/protocol'
import type { AwsCredentials, SealedKeyRecord, UnsealContext } from '../keys/types.js'
import { type Logger, silentLogger } from '../logger.js'
import { createEnclaveConnection, type EnclaveConnection } from './enclaveConnection.js'
import type { RecordSource } from './recordSource.js'

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
}

export type ParentProxy = { url: string; port: number; close(): Promise<void> }

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
}: ParentProxyOptions): Promise<ParentProxy> {
  const connection: EnclaveConnection = createEnclaveConnection({ ...enclave, timeoutMs: enclaveTimeoutMs, logger })
  const prefix = randomBytes(4).toString('hex')
  let seq = 0
  const nextId = () => `p${prefix}-${(seq++).toString(36)}`

  async function forward(op: Operation, params: unknown, context?: UnsealContext): Promise<{ status: number; body: unknown }> {
    const message = { v: PROTOCOL_VERSION, id: nextId(), op, params } as RequestMessage
    const response = await connection.request(message, context)
    if (response.ok) return { status: op === 'key.import' || op === 'key.generate' ? 201 : 200, body: response.result }
    const code = response.error.code in httpStatusOf ? response.error.code : ErrorCode.INTERNAL
    return { status: httpStatusOf[code], body: { error: response.error } }
  }

  async function route(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    const url = new URL(req.url ?? '/', 'http://proxy')
    if (url.pathname === '/healthz' && req.method === 'GET') {
      const started = performance.now()
      const health = await forward('system.health', {})
      if (health.status !== 200) return health
      return { status: 200, body: { status: 'ok', enclaveRoundTripMs: Math.round(performance.now() - started) } }
    }
    const body = req.method === 'POST' ? await readJson(req, maxBodyBytes) : undefined
    const target = routeToOperation(req.method ?? 'GET', url.pathname, body)
    // The path is not echoed: a caller may have pasted anything into it.
    if (!target) throw new UnknownOperationError({ op: 'route' })
    if (!records) return forward(target.op, target.params)
    return withRecords(records, target.op, target.params)
  }

  /** Production routing: records come from the record source, credentials go with every enclave call. */
  async function withRecords(source: RecordSource, op: Operation, params: unknown): Promise<{ status: number; body: unknown }> {
    const creds = credentials ? { credentials: await credentials() } : {}
    const keyId = (params as { keyId?: unknown }).keyId
    const record = async (): Promise<SealedKeyRecord> => {
      if (typeof keyId !== 'string' || !KEY_ID_PATTERN.test(keyId)) throw new InvalidArgumentError({ field: 'keyId', rule: KEY_ID_RULE })
      const found = await source.get(keyId)
      if (!found) throw new KeyNotFoundError({ keyId })
      return found
    }
    switch (op) {
      case 'key.list':
        return { status: 200, body: { keys: (await source.list()).map(keyInfo) } }
      case 'key.get':
        return { status: 200, body: keyInfo(await record()) }
      case 'sign.eip1559':
        return forward(op, params, { ...creds, record: await record() })
      default:
        return forward(op, params, creds)
    }
  }

  const server: Server = createServer((req, res) => {
    const started = performance.now()
    route(req)
      .catch((e: unknown) => {
        const error = publicError(e)
        return { status: httpStatusOf[error.code], body: { error: error.toJSON() } }
      })
      .then(({ status, body }) => {
        logger.info({ method: req.method, path: routeLabel(req.url), status, ms: Math.round(performance.now() - started) }, 'http request')
        send(res, status, body)
      })
  })
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
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
        connection.close()
      }),
  }
}

const keyInfo = (r: SealedKeyRecord) => ({ keyId: r.keyId, address: r.address, curve: r.curve, createdAt: r.createdAt })

function publicError(e: unknown): CustodyError {
  if (!isCustodyError(e)) return new InternalError()
  // 5xx bodies stay generic; the code alone tells the client what happened.
  if (e.code === ErrorCode.INTERNAL) return new InternalError()
  return e
}

/** The route's shape for logs: never the raw path, which may carry anything a caller typed. */
function routeLabel(url: string | undefined): string {
  const path = (url ?? '/').split('?')[0]!
  if (path === '/healthz' || path === '/v1/keys') return path
  if (/^\/v1\/keys\/[^/]+$/.test(path)) return '/v1/keys/:keyId'
  if (/^\/v1\/keys\/[^/]+\/sign$/.test(path)) return '/v1/keys/:keyId/sign'
  return '(unmatched)'
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' })
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
