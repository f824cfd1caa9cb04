import { CustodyError, ErrorCode, IntegrityError, InternalError, PolicyDeniedError, UnavailableError } from '@enclave-custody/sdk'

const INTEGRITY = new Set(['InvalidCiphertextException', 'IncorrectKeyException'])
const UNAUTHENTICATED = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'MissingAuthenticationTokenException',
  'IncompleteSignature',
])
const TRANSIENT = new Set(['ThrottlingException', 'LimitExceededException', 'KMSInternalException', 'DependencyTimeoutException', 'KeyUnavailableException'])
const KEY_UNUSABLE = new Set(['NotFoundException', 'DisabledException', 'KMSInvalidStateException', 'InvalidKeyUsageException'])
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE'])
// Node's codes for a server certificate the KMS client's trusted roots do not vouch for (OpenSSL
// verification results, and Node's own host name check).
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
 * Translate an error thrown by the KMS client into a CustodyError. The result carries only the AWS error
 * name, the HTTP status and the request id: never KMS's message, the request, ciphertexts, credentials
 * or key bytes. It has no `cause`, so nothing of the foreign error reaches logs or the wire.
 *
 * @internal Not part of the package's public surface.
 * @param error - What `KMSClient.send` threw.
 * @param operation - `Decrypt` or `GenerateDataKey`, for the message.
 * @returns AccessDeniedException → POLICY_DENIED; InvalidCiphertextException / IncorrectKeyException →
 *   INTEGRITY_ERROR; bad or expired credentials → UNAUTHENTICATED; network failures, throttling and KMS
 *   5xx → UNAVAILABLE (retryable); an unusable KMS key, or a TLS certificate outside the trusted roots →
 *   UNAVAILABLE (not retryable); anything else → INTERNAL.
 * @example
 * import { mapKmsError } from './mapKmsError.js'
 * try { await client.send(command) } catch (e) { throw mapKmsError(e, 'Decrypt') }
 */
export function mapKmsError(error: unknown, operation: string): CustodyError {
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

  if (name === 'AccessDeniedException') return new PolicyDeniedError({ reason: `KMS ${operation} was denied by the key policy or IAM (${ref})` })
  if (INTEGRITY.has(name)) {
    return new IntegrityError({
      reason: `KMS ${operation} rejected the sealed record: it does not match its keyId, encryption context or KMS key (${ref})`,
    })
  }
  if (UNAUTHENTICATED.has(name)) {
    return new CustodyError(ErrorCode.UNAUTHENTICATED, { shortMessage: `KMS ${operation} did not accept the forwarded AWS credentials (${ref})` })
  }
  if (KEY_UNUSABLE.has(name)) {
    return new CustodyError(ErrorCode.UNAVAILABLE, { shortMessage: `unavailable: the KMS key cannot be used for ${operation} (${ref})`, retryable: false })
  }
  if (TRANSIENT.has(name) || (status !== undefined && status >= 500)) return new UnavailableError({ reason: `KMS ${operation} failed transiently (${ref})` })
  if (status === undefined && code !== undefined && CERTIFICATE_CODES.has(code)) {
    // TLS ends in the enclave: whoever answered could not prove to be KMS. Retrying reaches the same peer.
    return new CustodyError(ErrorCode.UNAVAILABLE, {
      shortMessage: `unavailable: KMS's TLS certificate is not trusted by this enclave image, ${operation} was not sent (${code})`,
      retryable: false,
    })
  }
  if (status === undefined) {
    // No HTTP response: the request never completed (connection refused, DNS, timeout, aborted).
    const why = code !== undefined && NETWORK_CODES.has(code) ? code : name
    return new UnavailableError({ reason: `cannot reach KMS for ${operation} (${why})` })
  }
  return new InternalError({ reason: `KMS ${operation} failed (${ref})` })
}
