import type { AuthenticatedPrincipal } from '../auth/verifySigV4.js'
import type { IdentityPolicyDocument } from '../policy/types.js'
import type { AwsMessageMember } from '../protocol/AwsServiceError.js'
import type { JsonObject } from '../protocol/members.js'

/** What a handler knows about the request besides its input. */
export type RequestContext = {
  principal: AuthenticatedPrincipal
  /** The caller's IAM identity-based policies (from the configuration; none = no IAM permissions). */
  identityPolicies: readonly IdentityPolicyDocument[]
  requestId: string
}

/** One awsJson1_1 service behind the router, selected by the `X-Amz-Target` prefix. */
export interface AwsJsonService {
  /** `TrentService` (KMS) or `secretsmanager`. */
  readonly targetPrefix: string
  /** The SigV4 signing name the credential scope must carry. */
  readonly signingName: string
  /** Which member error bodies use for their text. */
  readonly messageMember: AwsMessageMember
  /** The error code for unexpected failures (HTTP 500). */
  readonly internalErrorCode: string
  /**
   * Run one operation.
   *
   * @returns the output structure (serialised as the JSON body)
   * @throws AwsServiceError for every modeled or protocol error
   */
  handle(operation: string, input: JsonObject, context: RequestContext): Promise<JsonObject>
}
