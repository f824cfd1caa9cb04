import { describe, expect, it } from 'vitest'
import { defaultKeyPolicy } from './defaultKeyPolicy.js'
import { evaluateIdentityPolicies, evaluatePolicy } from './evaluatePolicy.js'
import type { IdentityPolicyDocument, KeyPolicyDocument, KeyPolicyStatement } from './types.js'

const ACCOUNT = '111122223333'
const KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`
const ROLE = `arn:aws:iam::${ACCOUNT}:role/enclave`
const SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/enclave/i-0abc`
const ADMIN = `arn:aws:iam::${ACCOUNT}:user/admin`
const OUTSIDER = 'arn:aws:iam::444455556666:user/mallory'
const PCR0 = 'f4d48b81a460c9916d1e685119074bf24660afd3e34fae9fca0a0d28d9d5599936332687e6f66fc890ac8cf150142d8b'
const ZEROS = '0'.repeat(96)

function policy(...statements: KeyPolicyStatement[]): KeyPolicyDocument {
  return { Version: '2012-10-17', Statement: statements }
}

/** An IAM identity policy allowing every KMS action: what the generic grammar tests give every caller. */
const IAM_KMS_ALL: IdentityPolicyDocument = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }] }

function decide(
  doc: KeyPolicyDocument | string,
  principalArn: string,
  action: string,
  context: Record<string, string | string[]> = {},
  identityPolicies: readonly (IdentityPolicyDocument | string)[] = [IAM_KMS_ALL],
) {
  return evaluatePolicy(doc, { principalArn, action, resourceArn: KEY, context, identityPolicies }).decision
}

const enclaveDecrypt = (operator: string, value: string | string[], key = 'kms:RecipientAttestation:ImageSha384'): KeyPolicyStatement => ({
  Sid: 'EnclaveDecrypt',
  Effect: 'Allow',
  Principal: { AWS: ROLE },
  Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
  Resource: '*',
  Condition: { [operator]: { [key]: value } },
})

describe('evaluatePolicy: default key policy', () => {
  const doc = defaultKeyPolicy(ACCOUNT)

  it.each([ADMIN, SESSION, ROLE, `arn:aws:iam::${ACCOUNT}:root`])('allows every kms action to %s of the account whose IAM policy allows it', (arn) => {
    for (const action of ['kms:Decrypt', 'kms:Encrypt', 'kms:PutKeyPolicy', 'KMS:decrypt']) expect(decide(doc, arn, action)).toBe('Allow')
  })

  it('denies principals of other accounts implicitly', () => {
    expect(decide(doc, OUTSIDER, 'kms:Decrypt')).toBe('ImplicitDeny')
  })

  it('is not "everyone in the account": without an IAM policy that allows it, a user or role gets nothing', () => {
    for (const arn of [ADMIN, SESSION, ROLE]) {
      const result = evaluatePolicy(doc, { principalArn: arn, action: 'kms:Decrypt', resourceArn: KEY })
      expect(result).toEqual({ decision: 'ImplicitDeny', allowed: false, statements: [], deniedBy: 'identity-based' })
    }
    // The account root itself needs no IAM policy.
    expect(decide(doc, `arn:aws:iam::${ACCOUNT}:root`, 'kms:Decrypt', {}, [])).toBe('Allow')
  })

  it('does not grant non-kms actions', () => {
    expect(decide(doc, ADMIN, 's3:GetObject')).toBe('ImplicitDeny')
  })
})

describe('evaluatePolicy: principals, actions, resources', () => {
  it('a role ARN matches its assumed-role sessions, not other roles', () => {
    const doc = policy({ Effect: 'Allow', Principal: { AWS: ROLE }, Action: 'kms:Decrypt', Resource: '*' })
    expect(decide(doc, SESSION, 'kms:Decrypt')).toBe('Allow')
    expect(decide(doc, `arn:aws:sts::${ACCOUNT}:assumed-role/other/i-0abc`, 'kms:Decrypt')).toBe('ImplicitDeny')
    expect(decide(doc, `arn:aws:iam::${ACCOUNT}:role/enclave-2`, 'kms:Decrypt')).toBe('ImplicitDeny')
  })

  it('an account id enables everyone in that account whose IAM allows it; "*" matches anyone', () => {
    expect(decide(policy({ Effect: 'Allow', Principal: { AWS: ACCOUNT }, Action: 'kms:*', Resource: '*' }), ADMIN, 'kms:Encrypt')).toBe('Allow')
    expect(decide(policy({ Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' }), OUTSIDER, 'kms:Encrypt')).toBe('Allow')
    expect(decide(policy({ Effect: 'Allow', Principal: { AWS: ['*'] }, Action: 'kms:*', Resource: '*' }), OUTSIDER, 'kms:Encrypt')).toBe('Allow')
  })

  it('matches action wildcards case-insensitively and honours NotAction', () => {
    const doc = policy({ Effect: 'Allow', Principal: { AWS: ADMIN }, Action: ['kms:Describe*', 'kms:Get?eyPolicy'], Resource: '*' })
    expect(decide(doc, ADMIN, 'kms:DescribeKey')).toBe('Allow')
    expect(decide(doc, ADMIN, 'kms:GetKeyPolicy')).toBe('Allow')
    expect(decide(doc, ADMIN, 'kms:Decrypt')).toBe('ImplicitDeny')
    const admin = policy({ Effect: 'Allow', Principal: { AWS: ADMIN }, NotAction: ['kms:Decrypt', 'kms:GenerateDataKey*'], Resource: '*' })
    expect(decide(admin, ADMIN, 'kms:PutKeyPolicy')).toBe('Allow')
    expect(decide(admin, ADMIN, 'kms:Decrypt')).toBe('ImplicitDeny')
    expect(decide(admin, ADMIN, 'kms:GenerateDataKey')).toBe('ImplicitDeny')
  })

  it('matches Resource patterns and NotResource', () => {
    expect(decide(policy({ Effect: 'Allow', Principal: { AWS: ADMIN }, Action: 'kms:*', Resource: `arn:aws:kms:us-east-1:${ACCOUNT}:key/*` }), ADMIN, 'kms:Encrypt')).toBe('Allow')
    expect(decide(policy({ Effect: 'Allow', Principal: { AWS: ADMIN }, Action: 'kms:*', Resource: 'arn:aws:kms:eu-west-1:*' }), ADMIN, 'kms:Encrypt')).toBe('ImplicitDeny')
    expect(decide(policy({ Effect: 'Allow', Principal: { AWS: ADMIN }, Action: 'kms:*', NotResource: KEY }), ADMIN, 'kms:Encrypt')).toBe('ImplicitDeny')
  })

  it('NotPrincipal applies to everyone except the named principals', () => {
    const doc = policy(
      { Effect: 'Allow', Principal: { AWS: ACCOUNT }, Action: 'kms:*', Resource: '*' },
      { Effect: 'Deny', NotPrincipal: { AWS: ADMIN }, Action: 'kms:PutKeyPolicy', Resource: '*' },
    )
    expect(decide(doc, ADMIN, 'kms:PutKeyPolicy')).toBe('Allow')
    expect(decide(doc, SESSION, 'kms:PutKeyPolicy')).toBe('ExplicitDeny')
  })

  it('never matches Service principals to an IAM caller', () => {
    expect(decide(policy({ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'kms:*', Resource: '*' }), ADMIN, 'kms:Encrypt')).toBe(
      'ImplicitDeny',
    )
  })
})

describe('evaluatePolicy: the account root delegates to IAM identity policies', () => {
  const delegating = policy(
    { Sid: 'EnableIam', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' },
    { Sid: 'AdminDirect', Effect: 'Allow', Principal: { AWS: ADMIN }, Action: 'kms:DescribeKey', Resource: '*' },
  )
  const iam = (statement: Record<string, unknown>) => JSON.stringify({ Version: '2012-10-17', Statement: [statement] })

  it('a principal is allowed only what its identity policy allows on this key', () => {
    const decryptThisKey = iam({ Effect: 'Allow', Action: 'kms:Decrypt', Resource: KEY })
    expect(decide(delegating, SESSION, 'kms:Decrypt', {}, [decryptThisKey])).toBe('Allow')
    expect(decide(delegating, SESSION, 'kms:Encrypt', {}, [decryptThisKey])).toBe('ImplicitDeny')
    const otherKey = iam({ Effect: 'Allow', Action: 'kms:*', Resource: `arn:aws:kms:us-east-1:${ACCOUNT}:key/other` })
    expect(decide(delegating, SESSION, 'kms:Decrypt', {}, [otherKey])).toBe('ImplicitDeny')
    expect(decide(delegating, SESSION, 'kms:Decrypt', {}, [])).toBe('ImplicitDeny')
  })

  it('a statement naming the principal itself needs no IAM policy (same account)', () => {
    expect(decide(delegating, ADMIN, 'kms:DescribeKey', {}, [])).toBe('Allow')
    expect(decide(delegating, ADMIN, 'kms:Decrypt', {}, [])).toBe('ImplicitDeny')
  })

  it('an identity-policy Deny wins over every Allow', () => {
    const denied = evaluatePolicy(delegating, {
      principalArn: ADMIN,
      action: 'kms:DescribeKey',
      resourceArn: KEY,
      identityPolicies: [iam({ Sid: 'NoDescribe', Effect: 'Deny', Action: 'kms:Describe*', Resource: '*' })],
    })
    expect(denied).toEqual({ decision: 'ExplicitDeny', allowed: false, statements: [{ index: 0, sid: 'NoDescribe', effect: 'Deny', policy: 'identity' }], deniedBy: 'identity-based' })
  })

  it('identity policy conditions see the request context', () => {
    const withContext = iam({ Effect: 'Allow', Action: 'kms:Encrypt', Resource: '*', Condition: { StringEquals: { 'kms:EncryptionContext:keyId': 'k-1' } } })
    expect(decide(delegating, ADMIN, 'kms:Encrypt', { 'kms:EncryptionContext:keyId': 'k-1' }, [withContext])).toBe('Allow')
    expect(decide(delegating, ADMIN, 'kms:Encrypt', { 'kms:EncryptionContext:keyId': 'k-2' }, [withContext])).toBe('ImplicitDeny')
  })

  it('cross-account: the key policy must name the other account (or principal) AND the caller\'s IAM must allow it', () => {
    const crossAccount = policy({ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::444455556666:root' }, Action: 'kms:Decrypt', Resource: '*' })
    const theirIam = iam({ Effect: 'Allow', Action: 'kms:Decrypt', Resource: KEY })
    expect(decide(crossAccount, OUTSIDER, 'kms:Decrypt', {}, [theirIam])).toBe('Allow')
    expect(decide(crossAccount, OUTSIDER, 'kms:Decrypt', {}, [])).toBe('ImplicitDeny')
    expect(decide(delegating, OUTSIDER, 'kms:Decrypt', {}, [theirIam])).toBe('ImplicitDeny')
    // Naming the outsider itself is not enough either: cross-account use always needs the caller's IAM too.
    const byName = policy({ Effect: 'Allow', Principal: { AWS: OUTSIDER }, Action: 'kms:Decrypt', Resource: '*' })
    expect(decide(byName, OUTSIDER, 'kms:Decrypt', {}, [])).toBe('ImplicitDeny')
    expect(decide(byName, OUTSIDER, 'kms:Decrypt', {}, [theirIam])).toBe('Allow')
    // "*" in a key policy lets another account in only with that account's IAM permission.
    const everyone = policy({ Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Resource: '*' })
    expect(decide(everyone, OUTSIDER, 'kms:Decrypt', {}, [])).toBe('ImplicitDeny')
    expect(decide(everyone, ADMIN, 'kms:Decrypt', {}, [])).toBe('Allow')
  })

  it('a Deny naming the account applies to every principal of it, whatever their IAM says', () => {
    const doc = policy(
      { Effect: 'Allow', Principal: { AWS: ADMIN }, Action: 'kms:*', Resource: '*' },
      { Effect: 'Deny', Principal: { AWS: ACCOUNT }, Action: 'kms:Decrypt', Resource: '*' },
    )
    expect(decide(doc, ADMIN, 'kms:Decrypt')).toBe('ExplicitDeny')
    expect(decide(doc, ADMIN, 'kms:Encrypt')).toBe('Allow')
  })
})

describe('evaluateIdentityPolicies (IAM-only actions, Secrets Manager)', () => {
  const readRecords = JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], Resource: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:keys/*` },
      { Effect: 'Allow', Action: 'secretsmanager:ListSecrets', Resource: '*' },
    ],
  })
  const secret = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:keys/treasury-AbCdEf`
  const check = (action: string, resourceArn: string, principalArn = SESSION) => evaluateIdentityPolicies([readRecords], { principalArn, action, resourceArn }).decision

  it('allows what a statement allows, on the resources it names', () => {
    expect(check('secretsmanager:GetSecretValue', secret)).toBe('Allow')
    expect(check('secretsmanager:ListSecrets', '*')).toBe('Allow')
    expect(check('secretsmanager:GetSecretValue', `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:other-AbCdEf`)).toBe('ImplicitDeny')
    expect(check('secretsmanager:PutSecretValue', secret)).toBe('ImplicitDeny')
    expect(check('secretsmanager:DeleteSecret', secret)).toBe('ImplicitDeny')
  })

  it('the account root has every permission; nobody else has any without a policy', () => {
    expect(evaluateIdentityPolicies([], { principalArn: `arn:aws:iam::${ACCOUNT}:root`, action: 'kms:CreateKey', resourceArn: '*' }).decision).toBe('Allow')
    expect(evaluateIdentityPolicies([], { principalArn: ADMIN, action: 'kms:CreateKey', resourceArn: '*' }).decision).toBe('ImplicitDeny')
  })

  it('an identity policy with a Principal is malformed', () => {
    const withPrincipal = JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' }] })
    expect(() => evaluateIdentityPolicies([withPrincipal], { principalArn: ADMIN, action: 'kms:CreateKey', resourceArn: '*' })).toThrowErrorMatchingInlineSnapshot(
      `[PolicyDocumentError: invalid key policy: Statement[0]: an identity-based policy has no Principal or NotPrincipal (it applies to the principal it is attached to)]`,
    )
  })
})

describe('evaluatePolicy: Deny wins', () => {
  it('an applicable Deny overrides any Allow and is reported', () => {
    const doc = policy(
      { Sid: 'Root', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' },
      { Sid: 'NoDecryptOutsideEnclave', Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', Resource: '*', Condition: { Null: { 'kms:RecipientAttestation:ImageSha384': 'true' } } },
    )
    const denied = evaluatePolicy(doc, { principalArn: ADMIN, action: 'kms:Decrypt', resourceArn: KEY })
    expect(denied).toEqual({
      decision: 'ExplicitDeny',
      allowed: false,
      statements: [{ index: 1, sid: 'NoDecryptOutsideEnclave', effect: 'Deny' }],
      deniedBy: 'resource-based',
    })
    expect(decide(doc, ADMIN, 'kms:Decrypt', { 'kms:RecipientAttestation:ImageSha384': PCR0 })).toBe('Allow')
    expect(decide(doc, ADMIN, 'kms:Encrypt')).toBe('Allow')
  })
})

describe('evaluatePolicy: attestation conditions', () => {
  it('StringEqualsIgnoreCase on ImageSha384: met, unmet, absent', () => {
    const doc = policy(enclaveDecrypt('StringEqualsIgnoreCase', PCR0.toUpperCase()))
    expect(decide(doc, SESSION, 'kms:Decrypt', { 'kms:RecipientAttestation:ImageSha384': PCR0 })).toBe('Allow')
    expect(decide(doc, SESSION, 'kms:Decrypt', { 'kms:RecipientAttestation:ImageSha384': 'ab'.repeat(48) })).toBe('ImplicitDeny')
    expect(decide(doc, SESSION, 'kms:Decrypt')).toBe('ImplicitDeny')
  })

  it('compares PCR hex case-insensitively under StringEquals too', () => {
    const doc = policy(enclaveDecrypt('StringEquals', PCR0.toUpperCase(), 'kms:RecipientAttestation:PCR0'))
    expect(decide(doc, SESSION, 'kms:Decrypt', { 'kms:RecipientAttestation:PCR0': PCR0 })).toBe('Allow')
  })

  it('a debug enclave (all-zero PCRs) is denied unless the policy names zeros', () => {
    const zeros = { 'kms:RecipientAttestation:ImageSha384': ZEROS, 'kms:RecipientAttestation:PCR0': ZEROS }
    expect(decide(policy(enclaveDecrypt('StringEqualsIgnoreCase', PCR0)), SESSION, 'kms:Decrypt', zeros)).toBe('ImplicitDeny')
    expect(decide(policy(enclaveDecrypt('StringEqualsIgnoreCase', [PCR0, ZEROS])), SESSION, 'kms:Decrypt', zeros)).toBe('Allow')
  })

  it('requires every condition key (PCR0 and PCR8)', () => {
    const statement = enclaveDecrypt('StringEqualsIgnoreCase', PCR0)
    statement.Condition = { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:PCR0': PCR0, 'kms:RecipientAttestation:PCR8': 'cd'.repeat(48) } }
    const doc = policy(statement)
    expect(decide(doc, SESSION, 'kms:Decrypt', { 'kms:RecipientAttestation:PCR0': PCR0, 'kms:RecipientAttestation:PCR8': 'cd'.repeat(48) })).toBe('Allow')
    expect(decide(doc, SESSION, 'kms:Decrypt', { 'kms:RecipientAttestation:PCR0': PCR0, 'kms:RecipientAttestation:PCR8': ZEROS })).toBe('ImplicitDeny')
    expect(decide(doc, SESSION, 'kms:Decrypt', { 'kms:RecipientAttestation:PCR0': PCR0 })).toBe('ImplicitDeny')
  })

  it('a Deny with a negated operator applies when the attestation is absent (fails closed)', () => {
    const doc = policy(
      { Effect: 'Allow', Principal: { AWS: ACCOUNT }, Action: 'kms:*', Resource: '*' },
      { Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', Resource: '*', Condition: { StringNotEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': PCR0 } } },
    )
    expect(decide(doc, SESSION, 'kms:Decrypt')).toBe('ExplicitDeny')
    expect(decide(doc, SESSION, 'kms:Decrypt', { 'kms:RecipientAttestation:ImageSha384': ZEROS })).toBe('ExplicitDeny')
    expect(decide(doc, SESSION, 'kms:Decrypt', { 'kms:RecipientAttestation:ImageSha384': PCR0 })).toBe('Allow')
  })
})

describe('evaluatePolicy: other condition keys and operators', () => {
  const withCondition = (condition: KeyPolicyStatement['Condition']) =>
    policy({ Effect: 'Allow', Principal: { AWS: ACCOUNT }, Action: 'kms:*', Resource: '*', Condition: condition })

  it('kms:EncryptionContext:<key> with StringEquals / StringLike (key name case-insensitive, value case-sensitive)', () => {
    const doc = withCondition({ StringEquals: { 'kms:EncryptionContext:keyId': 'k-1' } })
    expect(decide(doc, ADMIN, 'kms:Decrypt', { 'kms:EncryptionContext:keyId': 'k-1' })).toBe('Allow')
    expect(decide(doc, ADMIN, 'kms:Decrypt', { 'kms:encryptioncontext:KEYID': 'k-1' })).toBe('Allow')
    expect(decide(doc, ADMIN, 'kms:Decrypt', { 'kms:EncryptionContext:keyId': 'K-1' })).toBe('ImplicitDeny')
    expect(decide(doc, ADMIN, 'kms:Decrypt')).toBe('ImplicitDeny')
    const like = withCondition({ StringLike: { 'kms:EncryptionContext:keyId': 'k-?*' } })
    expect(decide(like, ADMIN, 'kms:Decrypt', { 'kms:EncryptionContext:keyId': 'k-123' })).toBe('Allow')
    expect(decide(like, ADMIN, 'kms:Decrypt', { 'kms:EncryptionContext:keyId': 'k-' })).toBe('ImplicitDeny')
  })

  it('ForAllValues / ForAnyValue on kms:EncryptionContextKeys', () => {
    const all = withCondition({ 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['keyId', 'policyHash'] } })
    expect(decide(all, ADMIN, 'kms:Encrypt', { 'kms:EncryptionContextKeys': ['keyId'] })).toBe('Allow')
    expect(decide(all, ADMIN, 'kms:Encrypt', { 'kms:EncryptionContextKeys': ['keyId', 'other'] })).toBe('ImplicitDeny')
    const any = withCondition({ 'ForAnyValue:StringEquals': { 'kms:EncryptionContextKeys': 'keyId' } })
    expect(decide(any, ADMIN, 'kms:Encrypt', { 'kms:EncryptionContextKeys': ['x', 'keyId'] })).toBe('Allow')
    expect(decide(any, ADMIN, 'kms:Encrypt', {})).toBe('ImplicitDeny')
  })

  it('kms:CallerAccount and aws:PrincipalArn are derived from the caller', () => {
    expect(decide(withCondition({ StringEquals: { 'kms:CallerAccount': ACCOUNT } }), ADMIN, 'kms:Encrypt')).toBe('Allow')
    expect(decide(withCondition({ StringEquals: { 'kms:CallerAccount': '999999999999' } }), ADMIN, 'kms:Encrypt')).toBe('ImplicitDeny')
    const byRole = policy({ Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*', Condition: { ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/encl*` } } })
    expect(decide(byRole, SESSION, 'kms:Decrypt')).toBe('Allow')
    expect(decide(byRole, ADMIN, 'kms:Decrypt')).toBe('ImplicitDeny')
  })

  it('Bool, Null, IfExists and numeric operators', () => {
    expect(decide(withCondition({ Bool: { 'aws:SecureTransport': true } }), ADMIN, 'kms:Encrypt', { 'aws:SecureTransport': 'true' })).toBe('Allow')
    expect(decide(withCondition({ Bool: { 'aws:SecureTransport': 'true' } }), ADMIN, 'kms:Encrypt', { 'aws:SecureTransport': 'false' })).toBe('ImplicitDeny')
    expect(decide(withCondition({ Null: { 'kms:EncryptionContext:keyId': 'false' } }), ADMIN, 'kms:Encrypt', { 'kms:EncryptionContext:keyId': 'x' })).toBe('Allow')
    expect(decide(withCondition({ Null: { 'kms:EncryptionContext:keyId': 'false' } }), ADMIN, 'kms:Encrypt')).toBe('ImplicitDeny')
    expect(decide(withCondition({ StringEqualsIfExists: { 'kms:EncryptionContext:keyId': 'x' } }), ADMIN, 'kms:Encrypt')).toBe('Allow')
    expect(decide(withCondition({ StringEqualsIfExists: { 'kms:EncryptionContext:keyId': 'x' } }), ADMIN, 'kms:Encrypt', { 'kms:EncryptionContext:keyId': 'y' })).toBe(
      'ImplicitDeny',
    )
    expect(decide(withCondition({ NumericLessThanEquals: { 'test:n': 5 } }), ADMIN, 'kms:Encrypt', { 'test:n': '5' })).toBe('Allow')
    expect(decide(withCondition({ NumericLessThan: { 'test:n': 5 } }), ADMIN, 'kms:Encrypt', { 'test:n': '5' })).toBe('ImplicitDeny')
  })

  it('accepts the policy as JSON text', () => {
    const text = JSON.stringify(policy({ Effect: 'Allow', Principal: { AWS: ADMIN }, Action: 'kms:Encrypt', Resource: '*' }))
    expect(decide(text, ADMIN, 'kms:Encrypt')).toBe('Allow')
  })
})
