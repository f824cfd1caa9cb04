import { CustodyError, ErrorCode, UnavailableError } from '@enclave-custody/sdk'

// Worth a retry of the same request; any other refusal (access denied, bad or expired credentials, a secret that
// cannot be decrypted or is scheduled for deletion) is not.
const TRANSIENT = new Set(['ThrottlingException', 'LimitExceededException', 'InternalServiceError', 'InternalFailure', 'ServiceUnavailable', 'RequestTimeout'])
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE'])
// Node's codes for a server certificate the client's trusted roots do not vouch for (the same list as the KMS
// sealer's mapKmsError).
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
 * Translate what the Secrets Manager client threw while reading a signing policy into an `UNAVAILABLE`
 * CustodyError: the enclave fails closed, an unreadable policy is never "no policy" (the caller handles
 * `ResourceNotFoundException` before this). The result carries only the AWS error name, the HTTP status and
 * the request id — never Secrets Manager's message, the secret or the credentials — and no `cause`.
 *
 * Retryable: network failures, throttling, time-outs and server errors. Not retryable: every other answer
 * (access denied, bad or expired credentials, a secret Secrets Manager cannot decrypt or that is scheduled for
 * deletion) and a TLS certificate outside the trusted roots.
 *
 * @internal Not part of the package's public surface.
 * @param error - What `SecretsManagerClient.send` threw.
 * @returns The UNAVAILABLE error to throw; a CustodyError unchanged.
 * @example
 * try { await client.send(command) } catch (e) { throw mapSecretsManagerError(e) }
 */
export function mapSecretsManagerError(error: unknown): CustodyError {
  if (error instanceof CustodyError) return error
  const e = (typeof error === 'object' && error !== null ? error : {}) as {
    name?: unknown
    code?: unknown
    $metadata?: { httpStatusCode?: unknown; requestId?: unknown }
  }
  const name = typeof e.name === 'string' && /^[A-Za-z.]{1,64}$/.test(e.name) ? e.name : 'Error'
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined
  const requestId = typeof e.$metadata?.requestId === 'string' && /^[\w-]{1,128}$/.test(e.$metadata.requestId) ? e.$metadata.requestId : undefined
  const code = typeof e.code === 'string' && /^[A-Z0-9_]{1,64}$/.test(e.code) ? e.code : undefined
  const ref = [name, status === undefined ? undefined : `HTTP ${status}`, requestId === undefined ? undefined : `request ${requestId}`]
    .filter((x) => x !== undefined)
    .join(', ')

  if (status === undefined && code !== undefined && CERTIFICATE_CODES.has(code)) {
    // TLS ends in the enclave: whoever answered could not prove to be Secrets Manager. Retrying reaches the same peer.
    return new CustodyError(ErrorCode.UNAVAILABLE, {
      shortMessage: `unavailable: Secrets Manager's TLS certificate is not trusted by this enclave image, the signing policy was not read (${code})`,
      retryable: false,
    })
  }
  if (status === undefined) {
    // No HTTP response: connection refused, DNS, time-out, aborted at the deadline.
    const why = code !== undefined && NETWORK_CODES.has(code) ? code : name
    return new UnavailableError({ reason: `cannot reach Secrets Manager to read the signing policy (${why})` })
  }
  if (TRANSIENT.has(name) || status >= 500) return new UnavailableError({ reason: `Secrets Manager could not return the signing policy (${ref})` })
  return new CustodyError(ErrorCode.UNAVAILABLE, { shortMessage: `unavailable: Secrets Manager refused to return the signing policy (${ref})`, retryable: false })
}
