import { type Logger, silentLogger } from '@enclave-custody/sdk/server'
import { UnavailableError } from '@enclave-custody/sdk/protocol'
import { fromInstanceMetadata, type RemoteProviderInit } from '@smithy/credential-provider-imds'
import type { AwsCredentials } from './types.js'

export type ImdsCredentialsOptions = {
  /**
   * The instance metadata service. Handed to the library as `AWS_EC2_METADATA_SERVICE_ENDPOINT` (its only
   * way in), so it wins over `ec2_metadata_service_endpoint` in `~/.aws/config`.
   * @default 'http://169.254.169.254'
   */
  endpoint?: string
  /** Refresh credentials this long before they expire. @default 300_000 (5 min) */
  refreshBeforeMs?: number
  /** Timeout of one IMDS call, in ms. @default 2_000 */
  timeoutMs?: number
  /** Retries of the role and credentials reads (the token request is not retried). @default 1 */
  maxRetries?: number
  now?: () => number
  logger?: Logger
}

export type CredentialsProvider = () => Promise<AwsCredentials>

const ENDPOINT_ENV = 'AWS_EC2_METADATA_SERVICE_ENDPOINT'

/**
 * The instance role's credentials from IMDSv2, read by `@smithy/credential-provider-imds`
 * (`fromInstanceMetadata` with `ec2MetadataV1Disabled`: when no session token can be had the read fails,
 * IMDSv1 is never used). Cached and refreshed `refreshBeforeMs` before they expire; concurrent callers
 * share one refresh. A refresh that fails while the cached credentials are still valid keeps serving them.
 * Each refresh uses a new library provider, so a token request that once timed out does not switch a
 * long-lived provider into its IMDSv1 mode for good, and the library's own "static stability" (expired
 * credentials served with a made-up expiration) never outlives one refresh: the expiration we keep is the
 * one IMDS gave.
 *
 * @throws UnavailableError when the credentials cannot be read and none are cached that are still valid.
 * @example
 * import { createImdsCredentialsProvider } from '@enclave-custody/parent-proxy'
 * const credentials = createImdsCredentialsProvider({ logger })
 * const { accessKeyId, expiration } = await credentials()
 */
export function createImdsCredentialsProvider({
  endpoint = 'http://169.254.169.254',
  refreshBeforeMs = 300_000,
  timeoutMs = 2_000,
  maxRetries = 1,
  now = Date.now,
  logger = silentLogger,
}: ImdsCredentialsOptions = {}): CredentialsProvider {
  let cached: { creds: AwsCredentials; expires: number } | undefined
  let refreshing: Promise<AwsCredentials> | undefined

  async function refresh(): Promise<AwsCredentials> {
    // The library reads the endpoint from the environment on each call.
    process.env[ENDPOINT_ENV] = endpoint
    const read = fromInstanceMetadata({ timeout: timeoutMs, maxRetries, ec2MetadataV1Disabled: true, logger: libraryLogger(logger) })
    let got: Awaited<ReturnType<typeof read>>
    try {
      got = await read()
    } catch (e) {
      throw imdsError(e)
    }
    const expires = (got.originalExpiration ?? got.expiration)?.getTime()
    if (expires === undefined || !Number.isFinite(expires)) throw new UnavailableError({ reason: 'IMDS returned credentials without a readable expiration' })
    const creds: AwsCredentials = {
      accessKeyId: got.accessKeyId,
      secretAccessKey: got.secretAccessKey,
      ...(got.sessionToken ? { sessionToken: got.sessionToken } : {}),
      expiration: new Date(expires).toISOString(),
    }
    cached = { creds, expires }
    logger.info({ expiresInS: Math.round((expires - now()) / 1000) }, 'instance credentials refreshed')
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

/** The library's errors as our UnavailableError, with the cause attached. */
function imdsError(e: unknown): UnavailableError {
  const { name, message, statusCode } = (e ?? {}) as { name?: string; message?: string; statusCode?: number }
  const reason =
    name === 'InstanceMetadataV1FallbackError'
      ? 'no IMDSv2 session token (the token request failed or timed out; IMDSv1 is never used)'
      : `instance metadata service: ${message ?? String(e)}${statusCode === undefined ? '' : ` (HTTP ${statusCode})`}`
  return new UnavailableError({ reason, cause: e })
}

/** Our pino-shaped logger in the library's console shape (it logs only its own messages and errors). */
function libraryLogger(logger: Logger): NonNullable<RemoteProviderInit['logger']> {
  const line =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (...content: unknown[]): void =>
      logger[level]({ source: 'credential-provider-imds' }, content.map((c) => (c instanceof Error ? c.message : String(c))).join(' '))
  return { trace: line('debug'), debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') }
}
