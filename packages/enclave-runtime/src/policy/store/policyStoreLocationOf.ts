import type { InvalidArgumentError } from '@enclave-custody/sdk'
import { checkKmsKeyArn } from '../../trust/checkKmsKeyArn.js'

/** Where the enclave reads signing policies: the partition, region and account of its pinned sealing key. */
export type PolicyStoreLocation = {
  /** `aws`, `aws-cn`, `aws-us-gov`, … */
  partition: string
  region: string
  /** 12 digits. */
  account: string
}

/** What {@link policyStoreLocationOf} returns. */
export type PolicyStoreLocationOfReturnType = PolicyStoreLocation

/** Thrown by {@link policyStoreLocationOf}. */
export type PolicyStoreLocationOfErrorType = InvalidArgumentError

/**
 * The account, region and partition the enclave reads signing policies in, taken from the pinned sealing key's
 * ARN: the key ARN is measured into the image (PCR0), so the parent cannot choose another account — whose
 * Secrets Manager would hold whatever policy the parent likes, or none.
 *
 * @param kmsKeyArn - The pinned sealing key's full ARN (`checkKmsKeyArn`: no alias, no bare key id).
 * @returns `{ partition, region, account }` of the key.
 * @throws InvalidArgumentError (field `kmsKeyArn`) when `kmsKeyArn` is not a KMS key ARN.
 * @example
 * import { policyStoreLocationOf } from './policyStoreLocationOf.js'
 * policyStoreLocationOf('arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab')
 * // { partition: 'aws', region: 'eu-west-1', account: '111122223333' }
 */
export function policyStoreLocationOf(kmsKeyArn: string): PolicyStoreLocationOfReturnType {
  const [, partition, , region, account] = checkKmsKeyArn(kmsKeyArn, { field: 'kmsKeyArn' }).split(':') as [string, string, string, string, string]
  return { partition, region, account }
}
