import { CustodyError, ErrorCode } from '@enclave-custody/sdk'

/**
 * A key policy that is not valid JSON or breaks the policy grammar local-aws enforces. KMS reports it as
 * `MalformedPolicyDocumentException`. `details.path` points at the offending element (e.g. `Statement[1].Principal`).
 */
export class PolicyDocumentError extends CustodyError {
  override name = 'PolicyDocumentError'
  readonly reason: string
  readonly path: string | undefined

  constructor({ reason, path }: { reason: string; path?: string }) {
    super(ErrorCode.INVALID_ARGUMENT, {
      shortMessage: path === undefined ? `invalid key policy: ${reason}` : `invalid key policy: ${path}: ${reason}`,
      details: { field: 'policy', rule: reason, ...(path === undefined ? {} : { path }) },
    })
    this.reason = reason
    this.path = path
  }
}
