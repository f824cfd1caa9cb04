import { randomBytes } from 'node:crypto'
import { type BuildKeyPolicyParameters, buildKeyPolicy } from '@enclave-custody/sdk'
import { describe, expect, it } from 'vitest'
import { evaluatePolicy } from './evaluatePolicy.js'
import type { KeyPolicyDocument, KeyPolicyStatement, PolicyContext } from './types.js'

// The key policy every deployment uses (CDK, CLI, dev stack), evaluated by local-aws's IAM evaluator: the
// Deny statements must hold against every principal, including an administrator who appends Allows.

const ACCOUNT = '111122223333'
const KEY = `arn:aws:kms:eu-central-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`
const INSTANCE_ROLE = `arn:aws:iam::${ACCOUNT}:role/custody-instance`
const INSTANCE = `arn:aws:sts::${ACCOUNT}:assumed-role/custody-instance/i-0123456789abcdef0`
const IMPORTER = `arn:aws:iam::${ACCOUNT}:role/custody-importer`
const ADMIN = `arn:aws:iam::${ACCOUNT}:role/custody-admin`
const ROOT = `arn:aws:iam::${ACCOUNT}:root`
const OUTSIDER = 'arn:aws:iam::444455556666:role/mallory'
const CURRENT = randomBytes(48).toString('hex')
const NEXT = randomBytes(48).toString('hex')
const OTHER = randomBytes(48).toString('hex')
const PCR1 = randomBytes(48).toString('hex')

function policy(overrides: Partial<BuildKeyPolicyParameters> = {}): KeyPolicyDocument {
  return buildKeyPolicy({ pcr0: [CURRENT, NEXT], instanceRoleArn: INSTANCE_ROLE, importerRoleArn: IMPORTER, adminArns: ADMIN, ...overrides }) as KeyPolicyDocument
}

/** What an attacker with kms:PutKeyPolicy (but not the lock) appends. */
function withAppended(doc: KeyPolicyDocument, ...statements: KeyPolicyStatement[]): KeyPolicyDocument {
  return { ...doc, Statement: [...[doc.Statement].flat(), ...statements] }
}

const attested = (pcr0: string, extra: PolicyContext = {}): PolicyContext => ({
  'kms:RecipientAttestation:ImageSha384': pcr0,
  'kms:RecipientAttestation:PCR0': pcr0,
  'kms:EncryptionContext:keyId': 'treasury',
  'kms:EncryptionContextKeys': ['keyId'],
  ...extra,
})
const noRecipient: PolicyContext = { 'kms:EncryptionContext:keyId': 'treasury', 'kms:EncryptionContextKeys': ['keyId'] }

function decide(doc: KeyPolicyDocument, principalArn: string, action: string, context: PolicyContext = {}) {
  return evaluatePolicy(doc, { principalArn, action, resourceArn: KEY, context })
}

describe('buildKeyPolicy through the evaluator: the instance role', () => {
  it('without a Recipient (no attestation document) is explicitly denied by the Null statement', () => {
    for (const action of ['kms:Decrypt', 'kms:GenerateDataKey']) {
      const result = decide(policy(), INSTANCE, action, noRecipient)
      expect(result.decision).toBe('ExplicitDeny')
      expect(result.statements.map((s) => s.sid)).toEqual(['DenyUseWithoutAttestation', 'DenyUseByAnotherImage'])
    }
  })

  it('with an image outside the accepted list is explicitly denied', () => {
    const result = decide(policy(), INSTANCE, 'kms:Decrypt', attested(OTHER))
    expect(result.decision).toBe('ExplicitDeny')
    expect(result.statements.map((s) => s.sid)).toEqual(['DenyUseByAnotherImage'])
    expect(decide(policy(), INSTANCE, 'kms:Decrypt', attested('0'.repeat(96))).decision).toBe('ExplicitDeny')
  })

  it('with either accepted image (a rotation in progress) is allowed, in any hex case', () => {
    for (const pcr0 of [CURRENT, NEXT, NEXT.toUpperCase()]) {
      expect(decide(policy(), INSTANCE, 'kms:Decrypt', attested(pcr0)).decision).toBe('Allow')
      expect(decide(policy(), INSTANCE, 'kms:GenerateDataKey', attested(pcr0)).decision).toBe('Allow')
    }
    // After the rotation the policy names the new image only: the old one is denied.
    expect(decide(policy({ pcr0: NEXT }), INSTANCE, 'kms:Decrypt', attested(CURRENT)).decision).toBe('ExplicitDeny')
  })

  it('a required PCR1 that differs or is missing denies, though PCR0 matches', () => {
    const doc = policy({ pcrs: { 1: PCR1 } })
    expect(decide(doc, INSTANCE, 'kms:Decrypt', attested(CURRENT, { 'kms:RecipientAttestation:PCR1': PCR1 })).decision).toBe('Allow')
    const wrong = decide(doc, INSTANCE, 'kms:Decrypt', attested(CURRENT, { 'kms:RecipientAttestation:PCR1': OTHER }))
    expect(wrong).toMatchObject({ decision: 'ExplicitDeny', statements: [{ sid: 'DenyUseWithAnotherPCR1' }] })
    expect(decide(doc, INSTANCE, 'kms:Decrypt', attested(CURRENT)).decision).toBe('ExplicitDeny')
  })

  it('may not Encrypt, ReEncrypt, grant or administer', () => {
    expect(decide(policy(), INSTANCE, 'kms:Encrypt', noRecipient).decision).toBe('ImplicitDeny')
    expect(decide(policy(), INSTANCE, 'kms:ReEncryptFrom', attested(CURRENT)).decision).toBe('ExplicitDeny')
    expect(decide(policy(), INSTANCE, 'kms:CreateGrant').decision).toBe('ExplicitDeny')
    expect(decide(policy(), INSTANCE, 'kms:PutKeyPolicy').decision).toBe('ImplicitDeny')
  })
})

describe('buildKeyPolicy through the evaluator: importer and administrators', () => {
  it('the importer encrypts with a keyId context; the Denies do not touch Encrypt', () => {
    expect(decide(policy(), IMPORTER, 'kms:Encrypt', noRecipient).decision).toBe('Allow')
    expect(decide(policy(), IMPORTER, 'kms:Encrypt').decision).toBe('ImplicitDeny')
    expect(decide(policy(), IMPORTER, 'kms:Decrypt', noRecipient).decision).toBe('ExplicitDeny')
    expect(decide(policy(), IMPORTER, 'kms:GenerateDataKey', noRecipient).decision).toBe('ExplicitDeny')
  })

  it('an admin administers but cannot Decrypt, GenerateDataKey*, ReEncrypt or CreateGrant', () => {
    for (const action of ['kms:DescribeKey', 'kms:PutKeyPolicy', 'kms:GetKeyPolicy', 'kms:EnableKeyRotation', 'kms:ScheduleKeyDeletion', 'kms:CreateAlias']) {
      expect(decide(policy(), ADMIN, action).decision, action).toBe('Allow')
    }
    for (const action of ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:GenerateDataKeyPair', 'kms:ReEncryptFrom', 'kms:ReEncryptTo']) {
      expect(decide(policy(), ADMIN, action, noRecipient).decision, action).toBe('ExplicitDeny')
    }
    // A grant is denied whether the request says it is not for an AWS resource or says nothing.
    expect(decide(policy(), ADMIN, 'kms:CreateGrant').decision).toBe('ExplicitDeny')
    expect(decide(policy(), ADMIN, 'kms:CreateGrant', { 'kms:GrantIsForAWSResource': 'false' }).decision).toBe('ExplicitDeny')
    // Even an AWS service's grant is not *allowed* (nobody has CreateGrant); it is just not explicitly denied.
    expect(decide(policy(), ADMIN, 'kms:CreateGrant', { 'kms:GrantIsForAWSResource': 'true' }).decision).toBe('ImplicitDeny')
  })

  it('no admin action is reached through a wildcard (CreateGrant, GetParametersForImport, ReplicateKey are not allowed)', () => {
    for (const action of ['kms:GetParametersForImport', 'kms:ImportKeyMaterial', 'kms:ReplicateKey', 'kms:CreateKey', 'kms:CreateCustomKeyStore']) {
      expect(decide(policy(), ADMIN, action).decision, action).not.toBe('Allow')
    }
  })
})

describe('buildKeyPolicy through the evaluator: an administrator turned attacker', () => {
  const appended: KeyPolicyStatement[] = [
    { Sid: 'AttackerDecrypts', Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Resource: '*' },
    { Sid: 'AttackerEverything', Effect: 'Allow', Principal: { AWS: [ADMIN, OUTSIDER, ROOT] }, Action: 'kms:*', Resource: '*' },
  ]

  it('an appended "Allow * Decrypt" (and kms:*) is still blocked by the Denies unless attested', () => {
    const doc = withAppended(policy(), ...appended)
    for (const who of [ADMIN, OUTSIDER, ROOT, IMPORTER, INSTANCE]) {
      expect(decide(doc, who, 'kms:Decrypt', noRecipient).decision, who).toBe('ExplicitDeny')
      expect(decide(doc, who, 'kms:Decrypt', attested(OTHER)).decision, who).toBe('ExplicitDeny')
      expect(decide(doc, who, 'kms:GenerateDataKey', noRecipient).decision, who).toBe('ExplicitDeny')
      expect(decide(doc, who, 'kms:ReEncryptFrom', attested(CURRENT)).decision, who).toBe('ExplicitDeny')
      expect(decide(doc, who, 'kms:CreateGrant').decision, who).toBe('ExplicitDeny')
    }
    // With a genuine attestation of an accepted image the plaintext goes to that enclave's key only
    // (CiphertextForRecipient), which the attacker does not hold: the Allow gains nothing.
    expect(decide(doc, ADMIN, 'kms:Decrypt', attested(CURRENT)).decision).toBe('Allow')
  })

  it('the same attack against the policy without the Denies succeeds (what the Denies are for)', () => {
    const allowsOnly = policy()
    const bare = { ...allowsOnly, Statement: [allowsOnly.Statement].flat().filter((s) => s.Effect === 'Allow') }
    expect(decide(withAppended(bare, ...appended), ADMIN, 'kms:Decrypt', noRecipient).decision).toBe('Allow')
  })

  it('unlocked, the attacker can rewrite the policy (PutKeyPolicy); locked, nobody can', () => {
    expect(decide(policy(), ADMIN, 'kms:PutKeyPolicy').decision).toBe('Allow')
    const locked = policy({ lockKeyPolicy: true })
    const lockedAndAppended = withAppended(locked, ...appended)
    for (const who of [ADMIN, ROOT, OUTSIDER, IMPORTER, INSTANCE]) {
      expect(decide(locked, who, 'kms:PutKeyPolicy').decision, who).not.toBe('Allow')
      const result = decide(lockedAndAppended, who, 'kms:PutKeyPolicy')
      expect(result.decision, who).toBe('ExplicitDeny')
      expect(result.statements.map((s) => s.sid)).toEqual(['DenyKeyPolicyChangesForever'])
    }
    // The lock takes nothing else: the admin still administers, the enclave still decrypts.
    expect(decide(locked, ADMIN, 'kms:DescribeKey').decision).toBe('Allow')
    expect(decide(locked, INSTANCE, 'kms:Decrypt', attested(CURRENT)).decision).toBe('Allow')
  })
})
