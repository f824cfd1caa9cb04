import { DENY_GRANTS_EXCEPT_FOR_AWS_RESOURCES, KEY_ADMIN_ACTIONS, type KeyPolicyDocument } from '@enclave-custody/sdk'

export type BuildBootstrapKeyPolicyParameters = {
  /** Principals that administer the key (IAM ARNs or CloudFormation references): `KEY_ADMIN_ACTIONS`, never use. */
  adminArns: readonly string[]
}

/**
 * The sealing key's policy between its creation and the first deploy with an enclave image: the image must
 * be built with the key's ARN (measured into PCR0), so the key exists before any PCR0 is known. The
 * administrators get the administrative actions of `buildKeyPolicy` (listed one by one, no grants), and
 * every principal is denied every operation that yields or re-wraps key material (`kms:Decrypt`,
 * `kms:GenerateDataKey*`, `kms:ReEncrypt*`) and every grant not made by an AWS service for an AWS resource.
 * Nothing can be sealed or unsealed under it; the deploy with `-c eifPath` replaces it with `buildKeyPolicy`.
 *
 * @param parameters The administrators.
 * @returns The policy document (same shape and `Id` family as `buildKeyPolicy`'s).
 * @throws Error when no administrator is named (KMS would refuse a policy that locks out its creator).
 * @example
 * import { buildBootstrapKeyPolicy } from './buildBootstrapKeyPolicy.js'
 * buildBootstrapKeyPolicy({ adminArns: ['arn:aws:iam::111122223333:root'] })
 */
export function buildBootstrapKeyPolicy({ adminArns }: BuildBootstrapKeyPolicyParameters): KeyPolicyDocument {
  if (adminArns.length === 0) throw new Error('buildBootstrapKeyPolicy: adminArns must name at least one administrator')
  const everyone = { AWS: '*' }
  return {
    Version: '2012-10-17',
    Id: 'enclave-custody-bootstrap-key-policy',
    Statement: [
      {
        Sid: 'KeyAdministrationWithoutUse',
        Effect: 'Allow',
        Principal: { AWS: adminArns.length === 1 ? adminArns[0]! : [...adminArns] },
        Action: [...KEY_ADMIN_ACTIONS],
        Resource: '*',
      },
      { Sid: 'DenyUseUntilAnImageIsAttested', Effect: 'Deny', Principal: everyone, Action: ['kms:Decrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'], Resource: '*' },
      DENY_GRANTS_EXCEPT_FOR_AWS_RESOURCES,
    ],
  }
}
