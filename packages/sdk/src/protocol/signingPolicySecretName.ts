import { InvalidArgumentError } from '../errors/CustodyError.js'
import { KEY_ID_PATTERN, KEY_ID_RULE } from './keyId.js'

/** Secrets Manager name prefix of the signed signing policies (the importer writes, the enclave reads, IAM grants `<prefix>*`). */
export const DEFAULT_POLICY_SECRET_PREFIX = 'enclave-custody/policies/'

/** A secret name prefix: 1-200 characters of a secret name, ending with `/`. */
const PREFIX = /^[A-Za-z0-9/_+=.@-]{1,200}\/$/

/** Thrown by {@link signingPolicySecretName}. */
export type SigningPolicySecretNameErrorType = InvalidArgumentError

/**
 * The Secrets Manager name of a key's signed signing policy: `<prefix><keyId>/policy` — the one name the importer
 * writes (`KmsImporter.storeSigningPolicy`) and the enclave reads (`AWSCURRENT`, by partial ARN in its pinned
 * account and region).
 *
 * Why `/policy` after the keyId: Secrets Manager takes a partial ARN whose name ends in `-` and six characters
 * for a complete ARN (those six characters for its random suffix), so `<prefix>pay-eu0001` could not be read by
 * partial ARN. A keyId never contains `/` (`KEY_ID_PATTERN`), so this name always ends in `/policy`: never in `-`
 * and six characters, and no keyId's name is another's, or another's with a suffix.
 *
 * @param keyId - The key's id (`KEY_ID_PATTERN`).
 * @param prefix - The name prefix (1-200 characters of `[A-Za-z0-9/_+=.@-]`, ending with `/`). @default DEFAULT_POLICY_SECRET_PREFIX
 * @returns `<prefix><keyId>/policy`.
 * @throws InvalidArgumentError (field `keyId` or `prefix`) when either is malformed.
 * @example
 * import { signingPolicySecretName } from '@enclave-custody/sdk'
 * signingPolicySecretName('treasury') // 'enclave-custody/policies/treasury/policy'
 */
export function signingPolicySecretName(keyId: string, prefix: string = DEFAULT_POLICY_SECRET_PREFIX): string {
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw new InvalidArgumentError({ field: 'prefix', rule: 'must be 1-200 characters of a secret name ([A-Za-z0-9/_+=.@-]) ending with "/"' })
  }
  if (typeof keyId !== 'string' || !KEY_ID_PATTERN.test(keyId)) throw new InvalidArgumentError({ field: 'keyId', rule: KEY_ID_RULE })
  return `${prefix}${keyId}/policy`
}
