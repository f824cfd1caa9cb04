import { UnavailableError } from '@enclave-custody/sdk/protocol'
import type { AwsCredentials } from './types.js'
import { type Logger, silentLogger } from '@enclave-custody/sdk/server'

export type ImdsCredentialsOptions = {
  /** @default 'http://169.254.169.254' */
  endpoint?: string
  /** Refresh credentials this long before they expire. @default 300_000 (5 min) */
  refreshBeforeMs?: number
  /** IMDSv2 session token lifetime. @default 21_600 (6 h, the maximum) */
  tokenTtlSeconds?: number
  /** Timeout of one IMDS call. @default 2_000 */
  timeoutMs?: number
  now?: () => number
  fetch?: typeof globalThis.fetch
  logger?: Logger
}

export type CredentialsProvider = () => Promise<AwsCredentials>

/**
 * The instance role's credentials from IMDSv2 (session-token protected; IMDSv1 is never used): a token
 * from `PUT /latest/api/token`, the role name from `…/iam/security-credentials/`, then its credentials.
 * Cached and refreshed `refreshBeforeMs` before they expire; concurrent callers share one refresh. A
 * refresh that fails while the cached credentials are still valid keeps serving them.
 */
export function createImdsCredentialsProvider({
  endpoint = 'http://169.254.169.254',
  refreshBeforeMs = 300_000,
  tokenTtlSeconds = 21_600,
  timeoutMs = 2_000,
  now = Date.now,
  fetch: fetchImpl = globalThis.fetch,
  logger = silentLogger,
}: ImdsCredentialsOptions = {}): CredentialsProvider {
  let token: { value: string; expires: number } | undefined
  let cached: { creds: AwsCredentials; expires: number } | undefined
  let refreshing: Promise<AwsCredentials> | undefined

  async function call(method: 'GET' | 'PUT', path: string, headers: Record<string, string>): Promise<Response> {
    try {
      return await fetchImpl(new URL(path, endpoint), { method, headers, signal: AbortSignal.timeout(timeoutMs) })
    } catch {
      throw new UnavailableError({ reason: `instance metadata service unreachable (${method} ${path})` })
    }
  }

  async function sessionToken(): Promise<string> {
    if (token && token.expires > now() + 60_000) return token.value
    const res = await call('PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': String(tokenTtlSeconds) })
    if (!res.ok) throw new UnavailableError({ reason: `IMDSv2 token request failed with HTTP ${res.status}` })
    token = { value: await res.text(), expires: now() + tokenTtlSeconds * 1000 }
    return token.value
  }

  async function get(path: string): Promise<string> {
    let res = await call('GET', path, { 'x-aws-ec2-metadata-token': await sessionToken() })
    if (res.status === 401) {
      // The session token expired or was revoked: fetch a new one once.
      token = undefined
      res = await call('GET', path, { 'x-aws-ec2-metadata-token': await sessionToken() })
    }
    if (!res.ok) throw new UnavailableError({ reason: `IMDS ${path} answered HTTP ${res.status}` })
    return res.text()
  }

  async function refresh(): Promise<AwsCredentials> {
    const base = '/latest/meta-data/iam/security-credentials/'
    const role = (await get(base)).split('\n')[0]?.trim()
    if (!role) throw new UnavailableError({ reason: 'the instance has no IAM role' })
    const body = JSON.parse(await get(`${base}${encodeURIComponent(role)}`)) as {
      Code?: string
      AccessKeyId?: string
      SecretAccessKey?: string
      Token?: string
      Expiration?: string
    }
    if (body.Code !== undefined && body.Code !== 'Success') throw new UnavailableError({ reason: `IMDS credentials status ${body.Code}` })
    if (!body.AccessKeyId || !body.SecretAccessKey || !body.Expiration) throw new UnavailableError({ reason: 'IMDS returned incomplete credentials' })
    const expires = Date.parse(body.Expiration)
    const creds: AwsCredentials = {
      accessKeyId: body.AccessKeyId,
      secretAccessKey: body.SecretAccessKey,
      ...(body.Token ? { sessionToken: body.Token } : {}),
      expiration: new Date(expires).toISOString(),
    }
    cached = { creds, expires }
    logger.info({ role, expiresInS: Math.round((expires - now()) / 1000) }, 'instance credentials refreshed')
    return creds
  }

  return async () => {
    if (cached && cached.expires - refreshBeforeMs > now()) return cached.creds
    refreshing ??= refresh().finally(() => {
      refreshing = undefined
    })
    try {
      return await refreshing
    } catch (e) {
      if (cached && cached.expires > now() + 10_000) {
        logger.warn({ code: (e as { code?: string }).code }, 'credential refresh failed; serving the cached credentials')
        return cached.creds
      }
      throw e
    }
  }
}
