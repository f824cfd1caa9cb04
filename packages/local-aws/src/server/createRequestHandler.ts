import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { type PrincipalCredentials, verifySigV4 } from '../auth/verifySigV4.js'
import { AwsServiceError, serializationError } from '../protocol/AwsServiceError.js'
import { isJsonObject, type JsonObject } from '../protocol/members.js'
import type { IdentityPolicyDocument } from '../policy/types.js'
import type { AwsJsonService } from './AwsJsonService.js'

/** One line of the request log. Never contains request or response bodies. */
export type LocalAwsLogEntry = {
  requestId: string
  method: string
  /** `X-Amz-Target`, when present. */
  target: string | undefined
  /** The authenticated caller, when authentication succeeded. */
  principal: string | undefined
  status: number
  /** The AWS error code of an error response. */
  errorCode: string | undefined
  durationMs: number
  /** For 5xx responses: the unexpected error (its stack), for the operator. */
  error?: string
}

export type RequestHandlerOptions = {
  services: readonly AwsJsonService[]
  principals: ReadonlyMap<string, PrincipalCredentials>
  region: string
  clock: () => Date
  latencyMs: number
  log: ((entry: LocalAwsLogEntry) => void) | undefined
  /** @default 1_048_576 */
  maxBodyBytes?: number
}

const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1'

/**
 * The HTTP handler: `POST /` with `X-Amz-Target: <Service>.<Operation>`, SigV4-authenticated, awsJson1_1
 * bodies; AWS-shaped errors (`__type` + message, `x-amzn-errortype`, 400 for client errors, 500 otherwise)
 * and an `x-amzn-requestid` on every response. `GET /healthz` answers `{"status":"ok"}` without
 * authentication.
 *
 * @param options - services, principals, region, clock, artificial latency and the request log
 * @returns a `(req, res)` listener for `http.createServer`
 */
export function createRequestHandler(options: RequestHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const byPrefix = new Map(options.services.map((s) => [s.targetPrefix, s]))
  const maxBodyBytes = options.maxBodyBytes ?? 1_048_576

  return (req, res) => {
    const started = performance.now()
    const requestId = randomUUID()
    const targetHeader = req.headers['x-amz-target']
    const target = typeof targetHeader === 'string' ? targetHeader : undefined
    const state: { principal?: string; errorCode?: string; error?: string } = {}

    const finish = (status: number, body: JsonObject, errorCode?: string): void => {
      const text = JSON.stringify(body)
      res.writeHead(status, {
        'content-type': JSON_CONTENT_TYPE,
        'content-length': Buffer.byteLength(text),
        'x-amzn-requestid': requestId,
        // The SDKs correct their clock skew from this header, so it must be the server's (injectable) clock.
        date: options.clock().toUTCString(),
        ...(errorCode === undefined ? {} : { 'x-amzn-errortype': errorCode }),
      })
      res.end(text)
      options.log?.({
        requestId,
        method: req.method ?? '',
        target,
        principal: state.principal,
        status,
        errorCode,
        durationMs: Math.round((performance.now() - started) * 100) / 100,
        ...(state.error === undefined ? {} : { error: state.error }),
      })
    }

    const run = async (): Promise<void> => {
      const body = await readBody(req, maxBodyBytes)
      const path = (req.url ?? '/').split('?', 1)[0]
      if (req.method === 'GET' && path === '/healthz') return finish(200, { status: 'ok' })
      if (req.method !== 'POST' || path !== '/') {
        throw new AwsServiceError({ code: 'UnknownOperationException', statusCode: 404, message: 'local-aws answers POST / only.' })
      }
      if (body === undefined) throw new AwsServiceError({ code: 'RequestEntityTooLargeException', statusCode: 413, message: `The request body exceeds ${maxBodyBytes} bytes.` })
      if (options.latencyMs > 0) await sleep(options.latencyMs)

      const dot = target?.indexOf('.') ?? -1
      const service = target === undefined || dot <= 0 ? undefined : byPrefix.get(target.slice(0, dot))
      if (target === undefined || service === undefined) {
        throw new AwsServiceError({ code: 'UnknownOperationException', message: target === undefined ? 'Missing X-Amz-Target header.' : undefined })
      }
      const principal = await verifySigV4({
        request: { method: req.method, url: req.url ?? '/', rawHeaders: req.rawHeaders, body },
        service: service.signingName,
        region: options.region,
        principals: options.principals,
        now: options.clock(),
      })
      state.principal = principal.arn
      const identityPolicies = (options.principals.get(principal.accessKeyId)?.policies ?? []) as readonly IdentityPolicyDocument[]
      const output = await service.handle(target.slice(dot + 1), parseInput(body), { principal, identityPolicies, requestId })
      finish(200, output)
    }

    run().catch((e: unknown) => {
      if (res.headersSent) return
      if (e instanceof AwsServiceError) {
        state.errorCode = e.code
        return finish(e.statusCode, e.toBody(), e.code)
      }
      const service = target === undefined ? undefined : byPrefix.get(target.split('.', 1)[0] ?? '')
      const code = service?.internalErrorCode ?? 'InternalFailure'
      state.error = e instanceof Error ? (e.stack ?? e.message) : 'non-Error thrown'
      finish(500, { __type: code, [service?.messageMember ?? 'message']: 'An internal error occurred.' }, code)
    })
  }
}

/** The body, or `undefined` when it is larger than `limit` (the rest is drained). */
async function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    const buffer = chunk as Buffer
    size += buffer.length
    if (size <= limit) chunks.push(buffer)
  }
  return size > limit ? undefined : new Uint8Array(Buffer.concat(chunks))
}

function parseInput(body: Uint8Array): JsonObject {
  if (body.length === 0) return {}
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(body).toString('utf8'))
  } catch {
    throw serializationError('The request body is not valid JSON.')
  }
  if (!isJsonObject(value)) throw serializationError('The request body must be a JSON object.')
  return value
}
