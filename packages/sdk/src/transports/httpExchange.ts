import type * as NodeHttp from 'node:http'
import type * as NodeHttps from 'node:https'
import { isCustodyError, TimeoutError, UnavailableError } from '../errors/CustodyError.js'

/**
 * TLS settings of the https agent: `ca` the roots the proxy's certificate must chain to (a private CA; default the
 * system roots), `cert`/`key` a client certificate for mutual TLS.
 */
export type HttpsTrust = { ca?: string | Uint8Array | readonly (string | Uint8Array)[]; cert?: string | Uint8Array; key?: string | Uint8Array }

/** One HTTP answer, read whole (within its bound). */
export type HttpAnswer = { status: number; header(name: string): string | null; text: string }

/** What one exchange sends. */
export type HttpRequestInit = { method: string; headers: Record<string, string>; body?: string; timeoutMs: number; maxResponseBytes: number; operation: string }

/**
 * One request/response with the parent proxy. Failures come out as custody errors: `TIMEOUT`, or
 * `UNAVAILABLE` naming what went wrong (unreachable, broke off, too large) — never the body.
 */
export type HttpExchange = { send(url: URL, init: HttpRequestInit): Promise<HttpAnswer>; close(): void }

const tooLarge = (max: number) => new UnavailableError({ reason: `the parent proxy's answer exceeds ${max} bytes` })
const unreachable = (url: URL, cause: unknown) => new UnavailableError({ reason: `cannot reach the parent proxy at ${url.origin}`, cause })
const brokeOff = (cause: unknown) => new UnavailableError({ reason: 'the parent proxy\'s answer broke off', cause })

/**
 * `node:http`/`node:https` with keep-alive agents: connections are reused across requests (Node 20's `fetch`
 * gives about a quarter of the round trips per second on loopback). Idle sockets do not keep the process alive,
 * and follow the server's `Keep-Alive: timeout` hint.
 */
export function nodeHttpExchange(http: typeof NodeHttp, https: typeof NodeHttps, tls: HttpsTrust = {}): HttpExchange {
  const asPem = (v: string | Uint8Array) => (typeof v === 'string' ? v : Buffer.from(v))
  const trust = {
    ...(tls.ca === undefined ? {} : { ca: Array.isArray(tls.ca) ? tls.ca.map(asPem) : asPem(tls.ca as string | Uint8Array) }),
    ...(tls.cert === undefined ? {} : { cert: asPem(tls.cert) }),
    ...(tls.key === undefined ? {} : { key: asPem(tls.key) }),
  }
  const agents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true, ...trust }) }
  return {
    send(url, { method, headers, body, timeoutMs, maxResponseBytes, operation }) {
      return new Promise<HttpAnswer>((resolve, reject) => {
        let settled = false
        let answered = false
        const finish = (error: unknown, answer?: HttpAnswer) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          if (error === undefined) resolve(answer!)
          else {
            request.destroy()
            reject(error)
          }
        }
        const secure = url.protocol === 'https:'
        const request = (secure ? https : http).request(url, {
          method,
          headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
          agent: secure ? agents['https:'] : agents['http:'],
        })
        const timer = setTimeout(() => finish(new TimeoutError({ operation, ms: timeoutMs })), timeoutMs)
        request.on('error', (cause) => finish(answered ? brokeOff(cause) : unreachable(url, cause)))
        request.on('response', (response) => {
          answered = true
          if (Number(response.headers['content-length'] ?? Number.NaN) > maxResponseBytes) return finish(tooLarge(maxResponseBytes))
          const chunks: Buffer[] = []
          let total = 0
          response.on('data', (chunk: Buffer) => {
            total += chunk.length
            if (total > maxResponseBytes) finish(tooLarge(maxResponseBytes))
            else chunks.push(chunk)
          })
          response.on('error', (cause) => finish(brokeOff(cause)))
          response.on('aborted', () => finish(brokeOff(undefined)))
          response.on('end', () => {
            const header = (name: string) => {
              const v = response.headers[name.toLowerCase()]
              return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v
            }
            finish(undefined, { status: response.statusCode ?? 0, header, text: Buffer.concat(chunks, total).toString('utf8') })
          })
        })
        request.end(body)
      })
    },
    close() {
      agents['http:'].destroy()
      agents['https:'].destroy()
    },
  }
}

/** An injected `fetch` (a test's tap, a runtime without `node:http`): the body is streamed within its bound. */
export function fetchExchange(fetchImpl: typeof globalThis.fetch): HttpExchange {
  return {
    async send(url, { method, headers, body, timeoutMs, maxResponseBytes, operation }) {
      const timedOut = (cause: unknown) => cause instanceof Error && cause.name === 'TimeoutError'
      let response: Response
      try {
        // A redirect is the proxy's answer, never followed: it would carry the stamped request and headers elsewhere.
        response = await fetchImpl(url, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) })
      } catch (cause) {
        throw timedOut(cause) ? new TimeoutError({ operation, ms: timeoutMs }) : unreachable(url, cause)
      }
      try {
        const text = await readBounded(response, maxResponseBytes)
        return { status: response.status, header: (name) => response.headers.get(name), text }
      } catch (cause) {
        if (isCustodyError(cause)) throw cause
        throw timedOut(cause) ? new TimeoutError({ operation, ms: timeoutMs }) : brokeOff(cause)
      }
    },
    close() {},
  }
}

/** The body as text, refused (and the rest left unread) beyond `max` bytes, whatever content-length claims. */
async function readBounded(response: Response, max: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN)
  if (declared > max) {
    await response.body?.cancel().catch(() => {})
    throw tooLarge(max)
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
      throw tooLarge(max)
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
