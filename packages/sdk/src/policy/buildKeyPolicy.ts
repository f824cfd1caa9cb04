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

export type BuildKeyPolicyParameters = {
  /** SHA-384 of the enclave image (PCR0), 96 hex digits. */
  pcr0: string
  /** Optional further measurements that must match too (PCR1 kernel, PCR2 application, PCR3 IAM role, PCR4 instance, PCR8 signing cert). */
  pcrs?: Partial<Record<1 | 2 | 3 | 4 | 8, string>>
  /** Role of the parent instance: may Decrypt and GenerateDataKey, only for an attested enclave. */
  instanceRoleArn: string
  /** Role that imports keys: may Encrypt, only with a keyId encryption context. */
  importerRoleArn: string
  /** Principal(s) that administer the key: everything but cryptographic use. */
  adminArns: string | string[]
}

/** Key administration without any cryptographic operation (no Decrypt, Encrypt, GenerateDataKey, ReEncrypt). */
export const KEY_ADMIN_ACTIONS = [
  'kms:Create*',
  'kms:Describe*',
  'kms:Enable*',
  'kms:List*',
  'kms:Put*',
  'kms:Update*',
  'kms:Revoke*',
  'kms:Disable*',
  'kms:Get*',
  'kms:Delete*',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
  'kms:RotateKeyOnDemand',
] as const

const HEX96 = /^[0-9a-fA-F]{96}$/
const ARN = /^arn:aws[a-z-]*:(?:iam::\d{12}:(?:root|role\/[\w+=,.@/-]{1,512}|user\/[\w+=,.@/-]{1,512})|sts::\d{12}:assumed-role\/[\w+=,.@/-]+)$/

/**
 * The attested key policy of DESIGN.md: `kms:Decrypt` and `kms:GenerateDataKey` for the instance role
 * only when the request carries a Nitro attestation document whose PCR0 (ImageSha384) — and any other
 * given PCRs — match; `kms:Encrypt` for the importer role only with a `keyId` encryption context; key
 * administration, without cryptographic use, for the admin. Used by `custody key-policy`, the CDK stack
 * and the local dev stack, so that all three enforce the same document.
 *
 * @throws InvalidArgumentError naming the bad field.
 * @example
 * buildKeyPolicy({ pcr0: 'ab…', instanceRoleArn: 'arn:aws:iam::111122223333:role/custody-instance',
 *   importerRoleArn: 'arn:aws:iam::111122223333:role/custody-importer', adminArns: 'arn:aws:iam::111122223333:root' })
 */
export function buildKeyPolicy({ pcr0, pcrs = {}, instanceRoleArn, importerRoleArn, adminArns }: BuildKeyPolicyParameters): KeyPolicyDocument {
  if (typeof pcr0 !== 'string' || !HEX96.test(pcr0)) fail('pcr0', 'must be 96 hex digits (SHA-384)')
  for (const [i, v] of Object.entries(pcrs)) {
    if (!['1', '2', '3', '4', '8'].includes(i)) fail(`pcrs.${i}`, 'must be one of PCR1, PCR2, PCR3, PCR4, PCR8')
    if (typeof v !== 'string' || !HEX96.test(v)) fail(`pcr${i}`, 'must be 96 hex digits (SHA-384)')
  }
  const admins = Array.isArray(adminArns) ? adminArns : [adminArns]
  for (const [field, arn] of [['instanceRoleArn', instanceRoleArn], ['importerRoleArn', importerRoleArn], ...admins.map((a, i) => [`adminArns[${i}]`, a])] as const) {
    if (typeof arn !== 'string' || !ARN.test(arn)) fail(field, 'must be an IAM role, user or account root ARN')
  }
  if (admins.length === 0) fail('adminArns', 'must name at least one administrator')
  if (admins.includes(instanceRoleArn)) fail('adminArns', 'must not include the instance role (it would escape the attestation condition)')

  const attestation: Record<string, string> = { 'kms:RecipientAttestation:ImageSha384': pcr0.toLowerCase() }
  for (const [i, v] of Object.entries(pcrs)) attestation[`kms:RecipientAttestation:PCR${i}`] = (v as string).toLowerCase()

  return {
    Version: '2012-10-17',
    Id: 'enclave-custody-attested-key-policy',
    Statement: [
      { Sid: 'KeyAdministrationWithoutUse', Effect: 'Allow', Principal: { AWS: admins.length === 1 ? admins[0]! : admins }, Action: [...KEY_ADMIN_ACTIONS], Resource: '*' },
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
    ],
  }
}
