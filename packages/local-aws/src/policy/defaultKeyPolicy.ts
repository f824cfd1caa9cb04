/**
 * The key policy AWS KMS gives a key created without `Policy`: the account root may do `kms:*`, which
 * delegates to IAM: a principal of the account may do what its identity policies (`principals[…].policies`)
 * allow on the key, and nothing without them.
 *
 * @param accountId - the 12-digit account that owns the key
 * @returns the policy as JSON text (pretty-printed, as GetKeyPolicy returns it)
 * @example
 * import { defaultKeyPolicy } from '@enclave-custody/local-aws'
 * defaultKeyPolicy('111122223333')
 */
export function defaultKeyPolicy(accountId: string): string {
  return JSON.stringify(
    {
      Version: '2012-10-17',
      Id: 'key-default-1',
      Statement: [
        {
          Sid: 'Enable IAM User Permissions',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${accountId}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    },
    null,
    2,
  )
}
