import type * as NodeHttp from 'node:http'
import type * as NodeHttps from 'node:https'
import { ErrorCode, InvalidArgumentError, UnavailableError } from '../errors/CustodyError.js'
import { APPROVALS_HEADER, operationToRoute, RESPONSE_SIGNATURE_HEADER, STAMP_HEADER } from '../protocol/http.js'
import { PROTOCOL_VERSION, type RequestMessage } from '../protocol/messages.js'
import { type AttestationPolicy, checkAttestationPolicy } from '../session/attestEnclave.js'
import { fetchExchange, type HttpExchange, type HttpsTrust, nodeHttpExchange } from './httpExchange.js'
import { assertObject, fail } from '../utils/assert.js'
import { normalizeRetry, type RetryOptions } from './retry.js'
import type { Transport } from './types.js'

export type NitroEnclaveParameters = {
  /** Base URL of the parent proxy, e.g. `https://custody.internal:8443`. */
  url: string
  /**
   * What the enclave must attest to: `pcr0` is the allowlist from the build's `pcrs.json` or the stack's
   * output (never from the proxy); `roots` default to the AWS Nitro root. Required: the client verifies every
   * answer against the enclave this attests.
   */
  attestation: AttestationPolicy
  /** Extra headers on every request. */
  headers?: Record<string, string>
  /**
   * The proxy's bearer token (`Authorization: Bearer <token>`, the proxy's `--auth-token`): who may reach the proxy at
   * all. It authorizes nothing in the enclave (the stamp does) and is never logged.
   */
  token?: string
  /**
   * TLS to an `https:` proxy: `ca` the roots its certificate must chain to (a private CA; default the system roots),
   * `cert` and `key` a client certificate for mutual TLS (the proxy's `tls.clientCa`). Not with an injected `fetch`.
   */
  tls?: HttpsTrust
  /** Per-request timeout in ms. @default 15_000 */
  timeoutMs?: number
  /**
   * Inject a fetch implementation (a tap, a runtime without `node:http`). @default `node:http`/`node:https` with
   * keep-alive connections where they exist, else `globalThis.fetch`
   */
  fetch?: typeof globalThis.fetch
  /**
   * Largest response body read from the proxy; a larger one is cut off unread (a hostile proxy must not
   * make the caller buffer and parse without bound). @default 4 MiB
   */
  maxResponseBytes?: number
  /**
   * Retry reads, and signs that carry an `idempotencyKey`, when the enclave is unreachable, too slow or says a
   * failure may pass (`retryable`): e.g. `{ attempts: 4 }` while an enclave restarts. A sign without an
   * idempotency key is never retried. @default no retries
   */
  retry?: RetryOptions
}

/**
 * A transport to the real enclave runtime through the parent proxy's HTTP API.
 *
 * @example
 * import { createCustodyClient, nitroEnclave } from '@enclave-custody/sdk'
 * const custody = createCustodyClient({ transport: nitroEnclave({ url: 'https://custody.internal:8443' }) })
 */
export function nitroEnclave({ url, attestation, headers: extraHeaders = {}, token, tls, timeoutMs = 15_000, fetch: fetchImpl, maxResponseBytes = 4 * 1024 * 1024, retry }: NitroEnclaveParameters): Transport {
  const base = new URL(url)
  if (base.protocol !== 'https:' && base.protocol !== 'http:') throw new TypeError('nitroEnclave: url must be http(s)')
  const policy = checkAttestationPolicy(attestation, 'attestation')
  const retryPolicy = normalizeRetry(retry, 'retry')
  if (token !== undefined && (typeof token !== 'string' || !/^[\x21-\x7e]{32,512}$/.test(token))) {
    throw new InvalidArgumentError({ field: 'token', rule: 'must be 32 to 512 printable ASCII characters without spaces' })
  }
  const trust = tls === undefined ? undefined : checkTls(tls)
  if (trust && fetchImpl) throw new InvalidArgumentError({ field: 'tls', rule: 'cannot be used with an injected fetch (configure TLS in that fetch)' })
  if (trust && base.protocol !== 'https:') throw new InvalidArgumentError({ field: 'tls', rule: 'needs an https: url' })
  const headers = token === undefined ? extraHeaders : { ...extraHeaders, authorization: `Bearer ${token}` }
  const exchange = fetchImpl ? fetchExchange(fetchImpl) : defaultExchange(trust)
  return {
    name: 'nitro-enclave',
    attestation: policy,
    retry: retryPolicy,
    async close() {
      exchange.close()
    },
    async request(message: RequestMessage): Promise<unknown> {
      const route = operationToRoute(message.op, message.params as Record<string, unknown>)
      const response = await exchange.send(new URL(route.path, base), {
        method: route.method,
        headers: {
          ...headers,
          accept: 'application/json',
          'x-request-id': message.id,
          ...(message.auth === undefined ? {} : { [STAMP_HEADER]: JSON.stringify(message.auth) }),
          ...(message.approvals === undefined ? {} : { [APPROVALS_HEADER]: JSON.stringify(message.approvals) }),
          ...(route.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(route.body === undefined ? {} : { body: JSON.stringify(route.body) }),
        timeoutMs,
        maxResponseBytes,
        operation: message.op,
      })
      let body: unknown
      try {
        body = JSON.parse(response.text)
      } catch {
        throw new UnavailableError({ reason: `the parent proxy answered HTTP ${response.status} without a JSON body` })
      }
      const sig = readSignature(response.header(RESPONSE_SIGNATURE_HEADER))
      if (response.status >= 200 && response.status < 300) return { v: PROTOCOL_VERSION, id: message.id, ok: true, result: body, ...sig }
      const error = (body as { error?: unknown }).error
      if (typeof error !== 'object' || error === null) {
        return { v: PROTOCOL_VERSION, id: message.id, ok: false, error: { code: ErrorCode.INTERNAL, message: `HTTP ${response.status}`, retryable: response.status >= 500 } }
      }
      return { v: PROTOCOL_VERSION, id: message.id, ok: false, error, ...sig }
    },
  }
}

/** The response signature header as JSON (checked by the client), or nothing. */
function readSignature(header: string | null): { sig?: unknown } {
  if (header === null || header.length > 1024) return {}
  try {
    return { sig: JSON.parse(header) }
  } catch {
    return {}
  }
}

/** Keep-alive `node:http` where the runtime has it (Node, Lambda), else the global `fetch` (which cannot take `tls`). */
function defaultExchange(tls: HttpsTrust | undefined): HttpExchange {
  const builtin = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule
  const http = builtin?.('node:http') as typeof NodeHttp | undefined
  const https = builtin?.('node:https') as typeof NodeHttps | undefined
  if (http && https) return nodeHttpExchange(http, https, tls)
  if (tls) throw new InvalidArgumentError({ field: 'tls', rule: 'needs node:https (this runtime has only fetch)' })
  return fetchExchange(globalThis.fetch)
}

const pem = (value: unknown) => typeof value === 'string' || value instanceof Uint8Array

/** Check TLS options: PEM strings or bytes; a client certificate comes with its key. */
function checkTls(tls: unknown): HttpsTrust {
  const o = assertObject(tls, 'tls', ['ca', 'cert', 'key'])
  if (o.ca !== undefined && !pem(o.ca) && !(Array.isArray(o.ca) && o.ca.length > 0 && o.ca.every(pem))) fail('tls.ca', 'must be PEM (a string or bytes) or a list of them')
  if (o.cert !== undefined && !pem(o.cert)) fail('tls.cert', 'must be a PEM certificate (a string or bytes)')
  if (o.key !== undefined && !pem(o.key)) fail('tls.key', 'must be a PEM private key (a string or bytes)')
  if ((o.cert === undefined) !== (o.key === undefined)) fail(o.cert === undefined ? 'tls.cert' : 'tls.key', 'is required with a client certificate (tls.cert and tls.key go together)')
  return o as HttpsTrust
}
