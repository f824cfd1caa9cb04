import type { EvaluatePolicyReturnType } from '../policy/evaluatePolicy.js'
import { AwsServiceError } from '../protocol/AwsServiceError.js'

/**
 * AWS's `AccessDeniedException` for a denied request, naming the kind of policy that denied it explicitly or
 * failed to allow it: `User: <caller> is not authorized to perform: <action> on resource: <resource> because no
 * identity-based policy allows the <action> action` (or `… with an explicit deny in a resource-based policy`).
 *
 * @param callerArn - the authenticated caller
 * @param action - e.g. `kms:Decrypt`
 * @param resource - the key or secret ARN, or `*`
 * @param result - the policy evaluation that denied
 * @returns the error to throw (message member `Message`, HTTP 400)
 */
export function accessDenied(callerArn: string, action: string, resource: string, result: Pick<EvaluatePolicyReturnType, 'decision' | 'deniedBy'>): AwsServiceError {
  const why =
    result.decision === 'ExplicitDeny'
      ? `with an explicit deny in ${result.deniedBy === 'identity-based' ? 'an identity-based' : 'a resource-based'} policy`
      : `because no ${result.deniedBy ?? 'resource-based'} policy allows the ${action} action`
  return new AwsServiceError({
    code: 'AccessDeniedException',
    messageMember: 'Message',
    message: `User: ${callerArn} is not authorized to perform: ${action} on resource: ${resource} ${why}`,
  })
}
