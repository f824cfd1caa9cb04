import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { isCustodyError } from '../errors/CustodyError.js'
import { type BuildKeyPolicyParameters, buildKeyPolicy, KEY_ADMIN_ACTIONS, MAX_ACCEPTED_PCR_VALUES } from './buildKeyPolicy.js'

const ACCOUNT = '111122223333'
const ROLES = {
  instanceRoleArn: `arn:aws:iam::${ACCOUNT}:role/custody-instance`,
  importerRoleArn: `arn:aws:iam::${ACCOUNT}:role/custody-importer`,
  adminArns: `arn:aws:iam::${ACCOUNT}:role/custody-admin`,
}
const PCR0 = randomBytes(48).toString('hex')
const NEXT = randomBytes(48).toString('hex')
const ZEROS = '0'.repeat(96)

function build(overrides: Partial<BuildKeyPolicyParameters> = {}) {
  return buildKeyPolicy({ pcr0: PCR0, ...ROLES, ...overrides })
}

function failure(overrides: Record<string, unknown>): string {
  try {
    build(overrides as Partial<BuildKeyPolicyParameters>)
  } catch (e) {
    if (!isCustodyError(e, 'INVALID_ARGUMENT')) throw e
    return e.message
  }
  throw new Error('expected INVALID_ARGUMENT')
}

const statement = (policy: ReturnType<typeof build>, sid: string) => {
  const found = policy.Statement.find((s) => s.Sid === sid)
  if (!found) throw new Error(`no statement ${sid}`)
  return found
}

describe('buildKeyPolicy: administration', () => {
  it('lists the admin actions one by one: no wildcard, no grant, no cryptographic use, no replica, no import', () => {
    const admin = statement(build(), 'KeyAdministrationWithoutUse')
    expect(admin.Effect).toBe('Allow')
    expect(admin.Principal).toEqual({ AWS: ROLES.adminArns })
    expect(admin.Action).toEqual([...KEY_ADMIN_ACTIONS])
    for (const action of KEY_ADMIN_ACTIONS) expect(action, 'no wildcards').toMatch(/^kms:[A-Za-z]+$/)
    for (const forbidden of [
      'kms:CreateGrant',
      'kms:Decrypt',
      'kms:Encrypt',
      'kms:GenerateDataKey',
      'kms:ReEncryptFrom',
      'kms:ReEncryptTo',
      'kms:ReplicateKey',
      'kms:ImportKeyMaterial',
      'kms:GetParametersForImport',
    ]) {
      expect(KEY_ADMIN_ACTIONS).not.toContain(forbidden)
    }
    expect(KEY_ADMIN_ACTIONS).toContain('kms:PutKeyPolicy')
  })

  it('no Allow statement in the document uses a wildcard action', () => {
    const policy = build({ pcr0: [PCR0, NEXT], pcrs: { 1: PCR0 } })
    for (const s of policy.Statement.filter((s) => s.Effect === 'Allow')) {
      for (const a of [s.Action].flat()) expect(a).not.toContain('*')
    }
  })
})

describe('buildKeyPolicy: attestation', () => {
  it('one PCR0 stays a single condition value (the shape existing policies have)', () => {
    const allow = statement(build({ pcr0: PCR0.toUpperCase() }), 'AttestedEnclaveDecrypts')
    expect(allow.Principal).toEqual({ AWS: ROLES.instanceRoleArn })
    expect(allow.Action).toEqual(['kms:Decrypt', 'kms:GenerateDataKey'])
    expect(allow.Condition).toEqual({
      StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': PCR0 },
      StringLike: { 'kms:EncryptionContext:keyId': '?*' },
    })
  })

  it('a list of PCR0s (rotation) becomes one condition list, lower-cased and deduplicated in order', () => {
    const policy = build({ pcr0: [PCR0, NEXT.toUpperCase(), PCR0.toUpperCase(), NEXT] })
    expect(statement(policy, 'AttestedEnclaveDecrypts').Condition?.StringEqualsIgnoreCase).toEqual({ 'kms:RecipientAttestation:ImageSha384': [PCR0, NEXT] })
    expect(statement(policy, 'DenyUseByAnotherImage').Condition).toEqual({ StringNotEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': [PCR0, NEXT] } })
  })

  it('every extra PCR is required by the Allow and denied on its own by a Deny (any one mismatch denies)', () => {
    const pcr1 = randomBytes(48).toString('hex')
    const pcr8 = [randomBytes(48).toString('hex'), randomBytes(48).toString('hex')]
    const policy = build({ pcrs: { 1: pcr1, 8: pcr8 } })
    expect(statement(policy, 'AttestedEnclaveDecrypts').Condition?.StringEqualsIgnoreCase).toEqual({
      'kms:RecipientAttestation:ImageSha384': PCR0,
      'kms:RecipientAttestation:PCR1': pcr1,
      'kms:RecipientAttestation:PCR8': pcr8,
    })
    expect(statement(policy, 'DenyUseWithAnotherPCR1').Condition).toEqual({ StringNotEqualsIgnoreCase: { 'kms:RecipientAttestation:PCR1': pcr1 } })
    expect(statement(policy, 'DenyUseWithAnotherPCR8').Condition).toEqual({ StringNotEqualsIgnoreCase: { 'kms:RecipientAttestation:PCR8': pcr8 } })
  })

  it('denies use to every principal without an attestation document, by Null, and never touches Encrypt', () => {
    const policy = build()
    const missing = statement(policy, 'DenyUseWithoutAttestation')
    expect(missing).toEqual({
      Sid: 'DenyUseWithoutAttestation',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      Resource: '*',
      Condition: { Null: { 'kms:RecipientAttestation:ImageSha384': 'true' } },
    })
    for (const s of policy.Statement.filter((s) => s.Effect === 'Deny')) expect([s.Action].flat()).not.toContain('kms:Encrypt')
    expect(statement(policy, 'DenyReEncrypt')).toMatchObject({ Effect: 'Deny', Principal: { AWS: '*' }, Action: 'kms:ReEncrypt*' })
    expect(statement(policy, 'DenyReEncrypt').Condition).toBeUndefined()
  })

  it('denies CreateGrant unless an AWS service makes it for an AWS resource (a missing key denies too)', () => {
    expect(statement(build(), 'DenyGrantsExceptForAwsResources')).toEqual({
      Sid: 'DenyGrantsExceptForAwsResources',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'kms:CreateGrant',
      Resource: '*',
      Condition: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false' } },
    })
  })
})

describe('buildKeyPolicy: lockKeyPolicy', () => {
  it('is off by default: the admins keep PutKeyPolicy and nothing denies it', () => {
    const policy = build()
    expect(policy.Statement.some((s) => [s.Action].flat().includes('kms:PutKeyPolicy') && s.Effect === 'Deny')).toBe(false)
    expect(statement(policy, 'KeyAdministrationWithoutUse').Action).toContain('kms:PutKeyPolicy')
  })

  it('takes PutKeyPolicy from the admins and denies it to everyone', () => {
    const policy = build({ lockKeyPolicy: true })
    expect(statement(policy, 'KeyAdministrationWithoutUse').Action).toEqual(KEY_ADMIN_ACTIONS.filter((a) => a !== 'kms:PutKeyPolicy'))
    expect(statement(policy, 'DenyKeyPolicyChangesForever')).toEqual({
      Sid: 'DenyKeyPolicyChangesForever',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'kms:PutKeyPolicy',
      Resource: '*',
    })
  })
})

describe('buildKeyPolicy: refuses', () => {
  it('an all-zero (debug-mode) measurement unless allowDebugEnclave', () => {
    expect(failure({ pcr0: ZEROS })).toMatchInlineSnapshot(
      `""pcr0" is all zeros, the measurement of a debug-mode enclave (any code); pass allowDebugEnclave to accept it (development only)"`,
    )
    expect(failure({ pcr0: [PCR0, ZEROS] })).toMatch(/^"pcr0\[1\]" is all zeros/)
    expect(failure({ pcrs: { 2: ZEROS } })).toMatch(/^"pcr2" is all zeros/)
    expect(statement(build({ pcr0: ZEROS, allowDebugEnclave: true }), 'AttestedEnclaveDecrypts').Condition?.StringEqualsIgnoreCase).toEqual({
      'kms:RecipientAttestation:ImageSha384': ZEROS,
    })
  })

  it.each([
    ['a short PCR0', { pcr0: 'ab'.repeat(47) }, '"pcr0" must be 96 hex digits (SHA-384)'],
    ['a bad entry in a list', { pcr0: [PCR0, 'zz'] }, '"pcr0[1]" must be 96 hex digits (SHA-384)'],
    ['an empty list', { pcr0: [] }, '"pcr0" must name at least one value'],
    ['a number', { pcr0: 7 }, '"pcr0" must be 96 hex digits (SHA-384) or a list of them'],
    [
      'too many distinct PCR0s',
      { pcr0: Array.from({ length: MAX_ACCEPTED_PCR_VALUES + 1 }, () => randomBytes(48).toString('hex')) },
      '"pcr0" must list at most 5 distinct values',
    ],
    ['PCR5', { pcrs: { 5: PCR0 } }, '"pcrs.5" must be one of PCR1, PCR2, PCR3, PCR4, PCR8'],
    ['a bad PCR8', { pcrs: { 8: 'x' } }, '"pcr8" must be 96 hex digits (SHA-384)'],
    ['an alias-like role', { instanceRoleArn: 'custody-instance' }, '"instanceRoleArn" must be an IAM role, user or account root ARN'],
    ['no admin', { adminArns: [] }, '"adminArns" must name at least one administrator'],
    ['the instance role as admin', { adminArns: [ROLES.instanceRoleArn] }, '"adminArns" must not include the instance role (it would escape the attestation condition)'],
    ['a non-boolean lock', { lockKeyPolicy: 'yes' }, '"lockKeyPolicy" must be a boolean'],
    ['a non-boolean debug flag', { allowDebugEnclave: 1 }, '"allowDebugEnclave" must be a boolean'],
  ])('%s', (_, overrides, message) => {
    expect(failure(overrides)).toBe(message)
  })

  it('five distinct values, given with duplicates, are fine', () => {
    const five = Array.from({ length: 5 }, () => randomBytes(48).toString('hex'))
    const value = statement(build({ pcr0: [...five, ...five.map((v) => v.toUpperCase())] }), 'AttestedEnclaveDecrypts').Condition?.StringEqualsIgnoreCase
    expect(value?.['kms:RecipientAttestation:ImageSha384']).toEqual(five)
  })
})
