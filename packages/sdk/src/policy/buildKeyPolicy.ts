import type { InvalidArgumentError } from '../errors/CustodyError.js'
import { fail } from '../utils/assert.js'

/** An IAM policy document as KMS stores it. */
export type KeyPolicyDocument = {
  Version: '2012-10-17'
  Id: string
  Statement: {
    Sid: string
    Effect: 'Allow' | 'Deny'
    Principal: { AWS: string | string[] }
    Action: string | string[]
    Resource: '*'
    Condition?: Record<string, Record<string, string | string[]>>
  }[]
}

/** One measurement, or the list of accepted measurements (current and next image, for a rotation). */
export type PcrValues = string | readonly string[]

export type BuildKeyPolicyParameters = {
  /**
   * SHA-384 of the enclave image (PCR0), 96 hex digits, or a list of them: the images allowed to unseal.
   * Give the current and the next PCR0 during a rolling update (old instances keep Decrypt until the
   * update ends), then only the new one. Duplicates (in any letter case) count once; at most
   * {@link MAX_ACCEPTED_PCR_VALUES} values.
   */
  pcr0: PcrValues
  /**
   * Optional further measurements that must match too (PCR1 kernel, PCR2 application, PCR3 IAM role, PCR4
   * instance, PCR8 signing cert), each one value or a list of accepted values (as for `pcr0`).
   */
  pcrs?: Partial<Record<1 | 2 | 3 | 4 | 8, PcrValues>>
  /** Role of the parent instance: may Decrypt and GenerateDataKey, only for an attested enclave. */
  instanceRoleArn: string
  /** Role that imports keys: may Encrypt, only with a keyId encryption context. */
  importerRoleArn: string
  /** Principal(s) that administer the key: the actions of {@link KEY_ADMIN_ACTIONS}, never cryptographic use. */
  adminArns: string | string[]
  /**
   * Accept an all-zero measurement: the PCRs of a **debug-mode** enclave, which attests zeros whatever code it
   * runs, so that anyone able to start a debug enclave on the fleet could unseal every key. Development only.
   * @default false
   */
  allowDebugEnclave?: boolean
  /**
   * **Irreversible.** Nobody, not even the administrators or the account root, may ever change the policy
   * again: the admins lose `kms:PutKeyPolicy` and a Deny of `kms:PutKeyPolicy` for every principal is
   * added. KMS refuses such a policy unless it is applied with `BypassPolicyLockoutSafetyCheck: true`, and
   * AWS support cannot undo it. The PCR0 list becomes final: an image that is not in it can never unseal a
   * key sealed under this KMS key, so a new enclave build means new keys. Administrators can still disable
   * and schedule deletion of the key (a denial of service, never a disclosure).
   * @default false
   */
  lockKeyPolicy?: boolean
}

export type BuildKeyPolicyReturnType = KeyPolicyDocument

export type BuildKeyPolicyErrorType = InvalidArgumentError

/** At most this many accepted values per PCR (current, next, and a few spare for overlapping rotations). */
export const MAX_ACCEPTED_PCR_VALUES = 5

/**
 * Key administration without any cryptographic operation and without any way to delegate one: listed one by
 * one (no `kms:Create*` / `kms:Put*` / `kms:Get*` wildcards, which would take in `kms:CreateGrant`,
 * `kms:GetParametersForImport` and whatever AWS adds next). Never `kms:CreateGrant` (a grant hands
 * Decrypt to any principal), `kms:ReplicateKey` (a replica gets a policy of the caller's choosing),
 * key-material import, `kms:ReEncrypt*`, `kms:Decrypt`, `kms:Encrypt` or `kms:GenerateDataKey*`.
 * `kms:PutKeyPolicy` is here unless the policy is locked (`lockKeyPolicy`).
 */
export const KEY_ADMIN_ACTIONS = [
  'kms:DescribeKey',
  'kms:GetKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:ListKeyPolicies',
  'kms:ListKeyRotations',
  'kms:ListResourceTags',
  'kms:ListGrants',
  'kms:RevokeGrant',
  'kms:PutKeyPolicy',
  'kms:EnableKey',
  'kms:DisableKey',
  'kms:EnableKeyRotation',
  'kms:DisableKeyRotation',
  'kms:RotateKeyOnDemand',
  'kms:UpdateKeyDescription',
  'kms:CreateAlias',
  'kms:UpdateAlias',
  'kms:DeleteAlias',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
] as const

/** The operations that yield key material; denied to every principal unless the attestation holds. */
const USE_ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey*']

const HEX96 = /^[0-9a-fA-F]{96}$/
const ZEROS = /^0{96}$/
const ARN = /^arn:aws[a-z-]*:(?:iam::\d{12}:(?:root|role\/[\w+=,.@/-]{1,512}|user\/[\w+=,.@/-]{1,512})|sts::\d{12}:assumed-role\/[\w+=,.@/-]+)$/

/**
 * Every principal is denied `kms:CreateGrant` unless the grant is for an AWS service acting on the key's
 * behalf (`BoolIfExists` also denies when the condition key is absent): a grant is a path to Decrypt that no
 * key policy statement shows. Part of every policy {@link buildKeyPolicy} writes, and of the CDK's bootstrap
 * policy.
 */
export const DENY_GRANTS_EXCEPT_FOR_AWS_RESOURCES = Object.freeze({
  Sid: 'DenyGrantsExceptForAwsResources',
  Effect: 'Deny' as const,
  Principal: Object.freeze({ AWS: '*' }),
  Action: 'kms:CreateGrant',
  Resource: '*' as const,
  Condition: Object.freeze({ BoolIfExists: Object.freeze({ 'kms:GrantIsForAWSResource': 'false' }) }),
})

/**
 * The attested key policy of DESIGN.md, used by `custody key-policy`, the CDK stack and the local dev stack,
 * so that all three enforce the same document:
 *
 * - `kms:Decrypt` and `kms:GenerateDataKey` for the instance role only when the request carries a Nitro
 *   attestation document whose PCR0 (ImageSha384) is one of `pcr0` — and every other given PCR matches;
 * - `kms:Encrypt` for the importer role only with a `keyId` encryption context;
 * - key administration ({@link KEY_ADMIN_ACTIONS}) for the admins, without cryptographic use or grants;
 * - explicit Denies for every principal (`"AWS": "*"`), which no Allow added later can override: Decrypt and
 *   GenerateDataKey* without an attestation document (`Null`, so a request without one is denied whatever
 *   IAM does with missing keys) or with a measurement outside the accepted lists (`StringNotEqualsIgnoreCase`,
 *   one statement per PCR so that any single mismatch denies); every `kms:ReEncrypt*` (it would decrypt into
 *   a key of the caller's choosing); `kms:CreateGrant` unless an AWS service creates it for an AWS resource
 *   (`BoolIfExists kms:GrantIsForAWSResource false`, which covers the key's absence);
 * - with `lockKeyPolicy`, a Deny of `kms:PutKeyPolicy` for everyone (irreversible; see the parameter).
 *
 * An administrator who can still change the policy can remove these Denies: lock the policy, or alarm on
 * `PutKeyPolicy` (the CDK stack does).
 *
 * @param parameters - measurements, roles and options, see {@link BuildKeyPolicyParameters}
 * @returns the policy document (JSON-serialisable)
 * @throws InvalidArgumentError naming the bad field (e.g. `pcr0[1]`), also for an all-zero (debug-mode)
 *   measurement without `allowDebugEnclave`
 * @example
 * import { buildKeyPolicy } from '@enclave-custody/sdk'
 * const policy = buildKeyPolicy({
 *   pcr0: [currentPcr0, nextPcr0],
 *   instanceRoleArn: 'arn:aws:iam::111122223333:role/custody-instance',
 *   importerRoleArn: 'arn:aws:iam::111122223333:role/custody-importer',
 *   adminArns: 'arn:aws:iam::111122223333:role/custody-admin',
 * })
 */
export function buildKeyPolicy({
  pcr0,
  pcrs = {},
  instanceRoleArn,
  importerRoleArn,
  adminArns,
  allowDebugEnclave = false,
  lockKeyPolicy = false,
}: BuildKeyPolicyParameters): BuildKeyPolicyReturnType {
  if (typeof allowDebugEnclave !== 'boolean') fail('allowDebugEnclave', 'must be a boolean')
  if (typeof lockKeyPolicy !== 'boolean') fail('lockKeyPolicy', 'must be a boolean')
  const measurements: [string, string[]][] = [['ImageSha384', acceptedValues(pcr0, 'pcr0', allowDebugEnclave)]]
  if (typeof pcrs !== 'object' || pcrs === null || Array.isArray(pcrs)) fail('pcrs', 'must be an object of PCR index → value')
  for (const [i, v] of Object.entries(pcrs)) {
    if (!['1', '2', '3', '4', '8'].includes(i)) fail(`pcrs.${i.slice(0, 8)}`, 'must be one of PCR1, PCR2, PCR3, PCR4, PCR8')
    measurements.push([`PCR${i}`, acceptedValues(v as PcrValues, `pcr${i}`, allowDebugEnclave)])
  }
  const admins = Array.isArray(adminArns) ? adminArns : [adminArns]
  for (const [field, arn] of [['instanceRoleArn', instanceRoleArn], ['importerRoleArn', importerRoleArn], ...admins.map((a, i) => [`adminArns[${i}]`, a])] as const) {
    if (typeof arn !== 'string' || !ARN.test(arn)) fail(field, 'must be an IAM role, user or account root ARN')
  }
  if (admins.length === 0) fail('adminArns', 'must name at least one administrator')
  if (admins.includes(instanceRoleArn)) fail('adminArns', 'must not include the instance role (it would escape the attestation condition)')

  const one = (values: string[]): string | string[] => (values.length === 1 ? values[0]! : values)
  const attestation: Record<string, string | string[]> = {}
  for (const [key, values] of measurements) attestation[`kms:RecipientAttestation:${key}`] = one(values)
  const everyone = { AWS: '*' }
  const adminActions = KEY_ADMIN_ACTIONS.filter((a) => !(lockKeyPolicy && a === 'kms:PutKeyPolicy'))

  const statements: KeyPolicyDocument['Statement'] = [
    { Sid: 'KeyAdministrationWithoutUse', Effect: 'Allow', Principal: { AWS: one(admins) }, Action: adminActions, Resource: '*' },
    {
      Sid: 'ImporterEncryptsKeyRecords',
      Effect: 'Allow',
      Principal: { AWS: importerRoleArn },
      Action: 'kms:Encrypt',
      Resource: '*',
      Condition: { StringLike: { 'kms:EncryptionContext:keyId': '?*' } },
    },
    {
      Sid: 'AttestedEnclaveDecrypts',
      Effect: 'Allow',
      Principal: { AWS: instanceRoleArn },
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: '*',
      Condition: { StringEqualsIgnoreCase: attestation, StringLike: { 'kms:EncryptionContext:keyId': '?*' } },
    },
    {
      Sid: 'DenyUseWithoutAttestation',
      Effect: 'Deny',
      Principal: everyone,
      Action: USE_ACTIONS,
      Resource: '*',
      Condition: { Null: { 'kms:RecipientAttestation:ImageSha384': 'true' } },
    },
    ...measurements.map(([key, values]) => ({
      Sid: key === 'ImageSha384' ? 'DenyUseByAnotherImage' : `DenyUseWithAnother${key}`,
      Effect: 'Deny' as const,
      Principal: everyone,
      Action: USE_ACTIONS,
      Resource: '*' as const,
      Condition: { StringNotEqualsIgnoreCase: { [`kms:RecipientAttestation:${key}`]: one(values) } },
    })),
    { Sid: 'DenyReEncrypt', Effect: 'Deny', Principal: everyone, Action: 'kms:ReEncrypt*', Resource: '*' },
    DENY_GRANTS_EXCEPT_FOR_AWS_RESOURCES,
  ]
  if (lockKeyPolicy) statements.push({ Sid: 'DenyKeyPolicyChangesForever', Effect: 'Deny', Principal: everyone, Action: 'kms:PutKeyPolicy', Resource: '*' })
  return { Version: '2012-10-17', Id: 'enclave-custody-attested-key-policy', Statement: statements }
}

/** Lower-cased, deduplicated, checked list of accepted values for one PCR. */
function acceptedValues(value: PcrValues, field: string, allowDebugEnclave: boolean): string[] {
  const list = typeof value === 'string' ? [value] : Array.isArray(value) ? (value as readonly unknown[]) : fail(field, 'must be 96 hex digits (SHA-384) or a list of them')
  if (list.length === 0) fail(field, 'must name at least one value')
  const out: string[] = []
  list.forEach((v, i) => {
    const at = typeof value === 'string' ? field : `${field}[${i}]`
    if (typeof v !== 'string' || !HEX96.test(v)) fail(at, 'must be 96 hex digits (SHA-384)')
    if (ZEROS.test(v) && !allowDebugEnclave) {
      fail(at, 'is all zeros, the measurement of a debug-mode enclave (any code); pass allowDebugEnclave to accept it (development only)')
    }
    const lower = v.toLowerCase()
    if (!out.includes(lower)) out.push(lower)
  })
  if (out.length > MAX_ACCEPTED_PCR_VALUES) fail(field, `must list at most ${MAX_ACCEPTED_PCR_VALUES} distinct values`)
  return out
}
