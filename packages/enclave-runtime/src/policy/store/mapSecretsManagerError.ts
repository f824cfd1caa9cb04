import { CustodyError, ErrorCode, UnavailableError } from '@enclave-custody/sdk'
import { describeAwsFailure } from '../../trust/awsClients.js'

// Worth a retry of the same request; any other refusal (access denied, bad or expired credentials, a secret that
// cannot be decrypted or is scheduled for deletion) is not.
const TRANSIENT = new Set(['ThrottlingException', 'LimitExceededException', 'InternalServiceError', 'InternalFailure', 'ServiceUnavailable', 'RequestTimeout'])
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
  const { name, status, ref, certificate, unreachable } = describeAwsFailure(error)

  if (certificate !== undefined) {
    // TLS ends in the enclave: whoever answered could not prove to be Secrets Manager. Retrying reaches the same peer.
    return new CustodyError(ErrorCode.UNAVAILABLE, {
      shortMessage: `unavailable: Secrets Manager's TLS certificate is not trusted by this enclave image, the signing policy was not read (${certificate})`,
      retryable: false,
    })
  }
  if (unreachable !== undefined || status === undefined) {
    // No HTTP response: connection refused, DNS, time-out, aborted at the deadline.
    return new UnavailableError({ reason: `cannot reach Secrets Manager to read the signing policy (${unreachable ?? name})` })
  }
  if (TRANSIENT.has(name) || status >= 500) return new UnavailableError({ reason: `Secrets Manager could not return the signing policy (${ref})` })
  return new CustodyError(ErrorCode.UNAVAILABLE, { shortMessage: `unavailable: Secrets Manager refused to return the signing policy (${ref})`, retryable: false })
}
