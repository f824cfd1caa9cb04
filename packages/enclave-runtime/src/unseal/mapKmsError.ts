import { describeAwsFailure } from '../trust/awsClients.js'
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
  const { name, status, ref, certificate, unreachable } = describeAwsFailure(error)
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
  if (certificate !== undefined) {
    // TLS ends in the enclave: whoever answered could not prove to be KMS. Retrying reaches the same peer.
    return new CustodyError(ErrorCode.UNAVAILABLE, {
      shortMessage: `unavailable: KMS's TLS certificate is not trusted by this enclave image, ${operation} was not sent (${certificate})`,
      retryable: false,
    })
  }
  if (unreachable !== undefined) {
    // No HTTP response: the request never completed (connection refused, DNS, timeout, aborted).
    return new UnavailableError({ reason: `cannot reach KMS for ${operation} (${unreachable})` })
  }
  return new InternalError({ reason: `KMS ${operation} failed (${ref})` })
}
