import { ErrorCode, isCustodyError, TimeoutError, UnavailableError } from '../errors/CustodyError.js'
import { APPROVALS_HEADER, operationToRoute, RESPONSE_SIGNATURE_HEADER, STAMP_HEADER } from '../protocol/http.js'
import { PROTOCOL_VERSION, type RequestMessage } from '../protocol/messages.js'
import { type AttestationPolicy, checkAttestationPolicy } from '../session/attestEnclave.js'
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
  /** Extra headers on every request (e.g. `authorization`). */
  headers?: Record<string, string>
  /** Per-request timeout in ms. @default 15_000 */
  timeoutMs?: number
  /** Inject a fetch implementation. @default globalThis.fetch */
  fetch?: typeof globalThis.fetch
  /**
   * Largest response body read from the proxy; a larger one is cut off unread (a hostile proxy must not
   * make the caller buffer and parse without bound). @default 4 MiB
   */
  maxResponseBytes?: number
}

/**
 * A transport to the real enclave runtime through the parent proxy's HTTP API.
 *
 * @example
 * import { createCustodyClient, nitroEnclave } from '@enclave-custody/sdk'
 * const custody = createCustodyClient({ transport: nitroEnclave({ url: 'https://custody.internal:8443' }) })
 */
export function nitroEnclave({ url, attestation, headers = {}, timeoutMs = 15_000, fetch: fetchImpl = globalThis.fetch, maxResponseBytes = 4 * 1024 * 1024 }: NitroEnclaveParameters): Transport {
  const base = new URL(url)
  if (base.protocol !== 'https:' && base.protocol !== 'http:') throw new TypeError('nitroEnclave: url must be http(s)')
  const policy = checkAttestationPolicy(attestation, 'attestation')
  return {
    name: 'nitro-enclave',
    attestation: policy,
    async request(message: RequestMessage): Promise<unknown> {
      const route = operationToRoute(message.op, message.params as Record<string, unknown>)
      let response: Response
      try {
        response = await fetchImpl(new URL(route.path, base), {
          method: route.method,
          headers: {
            ...headers,
            accept: 'application/json',
            'x-request-id': message.id,
            ...(message.auth === undefined ? {} : { [STAMP_HEADER]: JSON.stringify(message.auth) }),
            ...(message.approvals === undefined ? {} : { [APPROVALS_HEADER]: JSON.stringify(message.approvals) }),
            ...(route.body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: route.body === undefined ? undefined : JSON.stringify(route.body),
          signal: AbortSignal.timeout(timeoutMs),
        })
      } catch (cause) {
        if (cause instanceof Error && cause.name === 'TimeoutError') throw new TimeoutError({ operation: message.op, ms: timeoutMs })
        throw new UnavailableError({ reason: `cannot reach the parent proxy at ${base.origin}`, cause })
      }
      let text: string
      try {
        text = await readBounded(response, maxResponseBytes)
      } catch (cause) {
        if (isCustodyError(cause)) throw cause
        if (cause instanceof Error && cause.name === 'TimeoutError') throw new TimeoutError({ operation: message.op, ms: timeoutMs })
        throw new UnavailableError({ reason: 'the parent proxy\'s answer broke off', cause })
      }
      let body: unknown
      try {
        body = JSON.parse(text)
      } catch {
        throw new UnavailableError({ reason: `the parent proxy answered HTTP ${response.status} without a JSON body` })
      }
      const sig = readSignature(response.headers.get(RESPONSE_SIGNATURE_HEADER))
      if (response.ok) return { v: PROTOCOL_VERSION, id: message.id, ok: true, result: body, ...sig }
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

/** The body as text, refused (and the rest left unread) beyond `max` bytes, whatever content-length claims. */
async function readBounded(response: Response, max: number): Promise<string> {
  const tooLarge = () => new UnavailableError({ reason: `the parent proxy's answer exceeds ${max} bytes` })
  const declared = Number(response.headers.get('content-length') ?? Number.NaN)
  if (declared > max) {
    await response.body?.cancel().catch(() => {})
    throw tooLarge()
  }
  if (!response.body) return ''
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.length
    if (total > max) {
      await reader.cancel().catch(() => {})
      throw tooLarge()
    }
    chunks.push(value)
  }
  const bytes = new Uint8Array(total)
  let offset = 0
  for (const c of chunks) {
    bytes.set(c, offset)
    offset += c.length
  }
  return new TextDecoder().decode(bytes)
}
