import { createHash } from 'node:crypto'
import { InvalidArgumentError } from '@enclave-custody/sdk'
import type { AwsCredentials } from '../keys/types.js'
import { createPinnedHttpsAgent } from './createPinnedHttpsAgent.js'
import { parseCaBundle } from './parseCaBundle.js'

/** The configuration both of the enclave's AWS clients (KMS, Secrets Manager) take. */
export type PinnedAwsClientConfig = {
  region: string
  endpoint?: string
  requestHandler: { httpsAgent: ReturnType<typeof createPinnedHttpsAgent>; connectionTimeout: number; requestTimeout: number; throwOnRequestTimeout: true }
  maxAttempts: number
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string; expiration?: Date }
}

/** Most clients (credential sets) kept at once: the parent rotates instance-role credentials, it does not fan out. */
const MAX_CLIENTS = 4

/**
 * One AWS client per set of forwarded credentials (the parent forwards short-lived instance-role credentials
 * with each request), least recently used first out and destroyed. Every client trusts only `trustedRoots`
 * (TLS ends in the enclave), has its own agent, and always signs with the forwarded credentials (an explicit
 * provider: the AWS SDK never looks for ambient ones).
 *
 * @param make - Builds a client from its configuration (`(c) => new KMSClient(c)`).
 */
export function createClientsPerCredentials<C extends { destroy(): void }>({
  make,
  region,
  endpoint,
  trustedRoots,
  maxAttempts,
}: {
  make: (config: PinnedAwsClientConfig) => C
  region: string
  endpoint: string | undefined
  trustedRoots: readonly string[]
  maxAttempts: number
}): { clientFor(credentials: AwsCredentials): C; close(): void } {
  const clients = new Map<string, C>()
  return {
    clientFor(credentials) {
      const id = createHash('sha256')
        .update(JSON.stringify([credentials.accessKeyId, credentials.secretAccessKey, credentials.sessionToken ?? '']))
        .digest('hex')
      let client = clients.get(id)
      if (client !== undefined) {
        clients.delete(id)
        clients.set(id, client)
        return client
      }
      const expiration = credentials.expiration === undefined ? undefined : new Date(credentials.expiration)
      client = make({
        region,
        ...(endpoint === undefined ? {} : { endpoint }),
        // Each client owns its agent (destroying a client destroys its agent's sockets).
        requestHandler: { httpsAgent: createPinnedHttpsAgent({ caCertificates: trustedRoots }), connectionTimeout: 5_000, requestTimeout: 10_000, throwOnRequestTimeout: true },
        maxAttempts,
        credentials: {
          accessKeyId: credentials.accessKeyId,
          secretAccessKey: credentials.secretAccessKey,
          ...(credentials.sessionToken === undefined ? {} : { sessionToken: credentials.sessionToken }),
          ...(expiration === undefined || Number.isNaN(expiration.getTime()) ? {} : { expiration }),
        },
      })
      clients.set(id, client)
      while (clients.size > MAX_CLIENTS) {
        const [oldest, old] = clients.entries().next().value as [string, C]
        clients.delete(oldest)
        old.destroy()
      }
      return client
    },
    close() {
      for (const client of clients.values()) client.destroy()
      clients.clear()
    },
  }
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE'])
// Node's codes for a server certificate the client's trusted roots do not vouch for (OpenSSL verification
// results, and Node's own host name check).
const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_REVOKED',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
])

/**
 * What may be said of an error an AWS client threw, and nothing more: its AWS name, HTTP status and request id
 * (`ref`), and, when no HTTP answer came, whether TLS refused the peer's certificate (`certificate`) or which
 * network failure it was (`unreachable`). Never the service's message, the request or the credentials.
 */
export function describeAwsFailure(error: unknown): { name: string; status?: number; ref: string; certificate?: string; unreachable?: string } {
  const e = (typeof error === 'object' && error !== null ? error : {}) as { name?: unknown; code?: unknown; $metadata?: { httpStatusCode?: unknown; requestId?: unknown } }
  const name = typeof e.name === 'string' && /^[A-Za-z.]{1,64}$/.test(e.name) ? e.name : 'Error'
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined
  const requestId = typeof e.$metadata?.requestId === 'string' && /^[\w-]{1,128}$/.test(e.$metadata.requestId) ? e.$metadata.requestId : undefined
  const code = typeof e.code === 'string' && /^[A-Z0-9_]{1,64}$/.test(e.code) ? e.code : undefined
  const ref = [name, status === undefined ? undefined : `HTTP ${status}`, requestId === undefined ? undefined : `request ${requestId}`].filter((x) => x !== undefined).join(', ')
  if (status !== undefined) return { name, status, ref }
  if (code !== undefined && CERTIFICATE_CODES.has(code)) return { name, ref, certificate: code }
  return { name, ref, unreachable: code !== undefined && NETWORK_CODES.has(code) ? code : name }
}

/**
 * Check an AWS endpoint override: an http(s) URL, and plain http only when allowed (development: nothing then
 * authenticates `service`).
 *
 * @throws InvalidArgumentError naming `endpoint`.
 */
export function checkAwsEndpoint(endpoint: string | undefined, { allowHttp, service }: { allowHttp: boolean | undefined; service: string }): void {
  if (endpoint === undefined) return
  let url: URL | undefined
  try {
    url = new URL(endpoint)
  } catch {}
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new InvalidArgumentError({ field: 'endpoint', rule: 'must be an http(s) URL' })
  if (url.protocol === 'http:' && allowHttp !== true) {
    throw new InvalidArgumentError({ field: 'endpoint', rule: `must be an https URL: plain http reaches ${service} unauthenticated (development mode only)` })
  }
}

/**
 * The roots a client's TLS trusts, from PEM bundles: a non-empty array of PEM strings, each parsed strictly.
 *
 * @throws InvalidArgumentError naming `caCertificates`.
 */
export function trustedRootsOf(caCertificates: unknown): string[] {
  if (!Array.isArray(caCertificates) || caCertificates.length === 0 || caCertificates.some((c) => typeof c !== 'string')) {
    throw new InvalidArgumentError({ field: 'caCertificates', rule: 'must be a non-empty array of PEM certificates' })
  }
  return (caCertificates as string[]).flatMap((pem) => parseCaBundle(pem, 'caCertificates'))
}
