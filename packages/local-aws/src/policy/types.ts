/** A principal element: `"*"` or `{ "AWS": arn | account | "*" | [...] }` (other principal types never match a caller here). */
export type KeyPolicyPrincipal =
  | '*'
  | {
      AWS?: string | string[]
      Service?: string | string[]
      Federated?: string | string[]
      CanonicalUser?: string | string[]
    }

/** A condition value as written in JSON; numbers and booleans compare as their string form. */
export type KeyPolicyConditionValue = string | number | boolean | (string | number | boolean)[]

/** One statement of a key policy (IAM policy grammar). */
export type KeyPolicyStatement = {
  Sid?: string
  Effect: 'Allow' | 'Deny'
  Principal?: KeyPolicyPrincipal
  NotPrincipal?: KeyPolicyPrincipal
  Action?: string | string[]
  NotAction?: string | string[]
  Resource?: string | string[]
  NotResource?: string | string[]
  /** `{ "<operator>": { "<condition key>": value | [values] } }`, every operator and key must hold. */
  Condition?: Record<string, Record<string, KeyPolicyConditionValue>>
}

/** A KMS key policy document. */
export type KeyPolicyDocument = {
  Version?: '2012-10-17' | '2008-10-17'
  Id?: string
  Statement: KeyPolicyStatement | KeyPolicyStatement[]
}

/** One statement of an IAM identity-based policy: a key policy statement without a principal. */
export type IdentityPolicyStatement = Omit<KeyPolicyStatement, 'Principal' | 'NotPrincipal'>

/** An IAM identity-based policy, attached to a local-aws principal (`principals[accessKeyId].policies`). */
export type IdentityPolicyDocument = {
  Version?: '2012-10-17' | '2008-10-17'
  Id?: string
  Statement: IdentityPolicyStatement | IdentityPolicyStatement[]
}

/**
 * Request context for condition keys. Keys are matched case-insensitively (as IAM does). A `string[]` is a
 * multi-valued key (e.g. `kms:EncryptionContextKeys`); `undefined` or a missing key means "not in the request".
 */
export type PolicyContext = Readonly<Record<string, string | readonly string[] | undefined>>
