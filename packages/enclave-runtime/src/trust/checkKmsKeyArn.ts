import { InvalidArgumentError } from '@enclave-custody/sdk'

/** Options of {@link checkKmsKeyArn}. */
export type CheckKmsKeyArnParameters = {
  /** The name the error reports the value under. @default 'kmsKeyArn' */
  field?: string
  /** When given, the ARN's region must be this one (the region the runtime calls KMS in). */
  region?: string
}

/** What {@link checkKmsKeyArn} returns: the checked ARN, unchanged. */
export type CheckKmsKeyArnReturnType = string

/** Thrown by {@link checkKmsKeyArn}. */
export type CheckKmsKeyArnErrorType = InvalidArgumentError

// arn:<partition>:kms:<region>:<12-digit account>:key/<uuid | mrk-<32 hex>>, lower case as KMS writes it.
const KEY_ARN =
  /^arn:aws(?:-[a-z]+)*:kms:([a-z]{2}(?:-[a-z]+)+-\d{1,2}):(\d{12}):key\/(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/
const ALIAS = /^(?:alias\/|arn:aws(?:-[a-z]+)*:kms:[^:]*:[^:]*:alias\/)/
const BARE_KEY_ID = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/i
/** An AWS region name (`us-east-1`, `ap-southeast-2`). */
export const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/

/**
 * Check that `value` is the full ARN of a KMS key — the form the enclave image pins its sealing key in —
 * and return it.
 *
 * Only `arn:aws[-<partition>]:kms:<region>:<12-digit account>:key/<key id>` passes, with a key id that is a
 * lower-case UUID or a multi-Region `mrk-` id. An alias (`alias/…`, `arn:…:alias/…`) is refused: whoever
 * administers the alias can point it at another key. A bare key id is refused: it does not name the
 * account, so another account's key with the same id would match. With `region`, the ARN must be in that
 * region (the runtime calls KMS in one region; a key elsewhere is a misconfiguration).
 *
 * The error never echoes the value (it may come from an untrusted source and be of any length).
 *
 * @param value - The candidate ARN.
 * @param parameters - The field name for errors, and the required region.
 * @returns `value`, now known to be a key ARN.
 * @throws InvalidArgumentError naming `field` and the rule broken.
 * @example
 * import { checkKmsKeyArn } from '@enclave-custody/enclave-runtime'
 * const arn = checkKmsKeyArn(process.env.CUSTODY_KMS_KEY_ID, { field: 'CUSTODY_KMS_KEY_ID', region: 'us-east-1' })
 */
export function checkKmsKeyArn(value: unknown, parameters: CheckKmsKeyArnParameters = {}): CheckKmsKeyArnReturnType {
  const { field = 'kmsKeyArn', region } = parameters
  if (region !== undefined && (typeof region !== 'string' || !REGION.test(region))) {
    throw new InvalidArgumentError({ field: 'region', rule: 'must be an AWS region name such as us-east-1' })
  }
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) {
    throw new InvalidArgumentError({ field, rule: 'must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>)' })
  }
  if (ALIAS.test(value)) {
    throw new InvalidArgumentError({ field, rule: 'must be a KMS key ARN, not an alias (an alias can be pointed at another key)' })
  }
  if (BARE_KEY_ID.test(value)) {
    throw new InvalidArgumentError({ field, rule: 'must be the full KMS key ARN, not a bare key id (the ARN pins the account and region)' })
  }
  const match = KEY_ARN.exec(value)
  if (match === null) {
    throw new InvalidArgumentError({ field, rule: 'must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>)' })
  }
  if (region !== undefined && match[1] !== region) {
    throw new InvalidArgumentError({ field, rule: `must be a key in ${region}, the region the runtime calls KMS in` })
  }
  return value
}
