import { rmSync } from 'node:fs'
import { buildKeyPolicy, KEY_ADMIN_ACTIONS } from '@enclave-custody/sdk'
import { App, CfnElement, Stack } from 'aws-cdk-lib'
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions'
import { AwsSolutionsChecks } from 'cdk-nag'
import type { IConstruct } from 'constructs'
import { afterAll, describe, expect, test } from 'vitest'
import { ALARMING_KMS_EVENTS } from '../lib/constructs/KeyAlarms.js'
import { CustodyKeysStack } from '../lib/stacks/CustodyKeysStack.js'
import { buildAnyTestApp, buildTestApp, CDK_JSON_CONTEXT, FIXTURE_PCRS } from './support/fixtures.js'

const outdirs: string[] = []
afterAll(() => {
  for (const d of outdirs) rmSync(d, { recursive: true, force: true })
})
const PCR0_OLD = 'cd'.repeat(48)
type Statement = { Sid: string; Effect: string; Principal: unknown; Action: string | string[]; Condition?: Record<string, Record<string, unknown>> }

const idOf = (stack: Stack, c: IConstruct) => stack.getLogicalId((c instanceof CfnElement ? c : c.node.defaultChild) as CfnElement)
const arnOf = (stack: Stack, c: IConstruct) => ({ 'Fn::GetAtt': [idOf(stack, c), 'Arn'] })
const ROOT = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root']] }
/** The sealing key's policy statements. */
const sealingStatements = (keysStack: CustodyKeysStack) => {
  const key = Template.fromStack(keysStack).toJSON().Resources[idOf(keysStack, keysStack.sealingKey.key)]
  return { key, statements: key.Properties.KeyPolicy.Statement as Statement[] }
}

describe('the deploy with an image: the attested policy is buildKeyPolicy (point 8)', () => {
  const { app, keysStack } = buildTestApp({ eifPath: 'test/fixtures/eif/custody.eif' })
  outdirs.push(app.outdir)
  const template = Template.fromStack(keysStack)

  test('statement for statement buildKeyPolicy of @enclave-custody/sdk, with the stack roles as principals', () => {
    const placeholders = { instanceRoleArn: 'arn:aws:iam::111122223333:role/instance', importerRoleArn: 'arn:aws:iam::111122223333:role/importer', adminArns: 'arn:aws:iam::111122223333:root' }
    const generated = buildKeyPolicy({ pcr0: FIXTURE_PCRS.PCR0, ...placeholders })
    const principals: Record<string, unknown> = {
      '*': '*',
      [placeholders.instanceRoleArn]: arnOf(keysStack, keysStack.instanceRole),
      [placeholders.importerRoleArn]: arnOf(keysStack, keysStack.importerRole),
      [placeholders.adminArns]: ROOT,
    }
    const expected = { ...generated, Statement: generated.Statement.map((s) => ({ ...s, Principal: { AWS: principals[s.Principal.AWS as string] } })) }
    expect(sealingStatements(keysStack).key.Properties.KeyPolicy).toEqual(expected)
  })

  test('explicit Denies for every principal: unattested use (Null), another image, ReEncrypt, grants not for AWS resources', () => {
    const deny = (Sid: string, Action: unknown, Condition?: unknown) =>
      Match.objectLike({ Sid, Effect: 'Deny', Principal: { AWS: '*' }, Action, Resource: '*', ...(Condition ? { Condition } : {}) })
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: Match.objectLike({
        Statement: Match.arrayWith([
          deny('DenyUseWithoutAttestation', ['kms:Decrypt', 'kms:GenerateDataKey*'], { Null: { 'kms:RecipientAttestation:ImageSha384': 'true' } }),
          deny('DenyUseByAnotherImage', ['kms:Decrypt', 'kms:GenerateDataKey*'], { StringNotEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': FIXTURE_PCRS.PCR0 } }),
          deny('DenyReEncrypt', 'kms:ReEncrypt*'),
          deny('DenyGrantsExceptForAwsResources', 'kms:CreateGrant', { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false' } }),
        ]),
      }),
    })
  })

  test('administration: the explicit action list, no CreateGrant, no wildcard, no use; the policy stays changeable', () => {
    const { key, statements } = sealingStatements(keysStack)
    const admin = statements.find((s) => s.Sid === 'KeyAdministrationWithoutUse')!
    expect(admin).toEqual({ Sid: 'KeyAdministrationWithoutUse', Effect: 'Allow', Principal: { AWS: ROOT }, Action: [...KEY_ADMIN_ACTIONS], Resource: '*' })
    expect(admin.Action).not.toContain('kms:CreateGrant')
    expect((admin.Action as string[]).filter((a) => a.includes('*') || /Decrypt|Encrypt|GenerateDataKey/.test(a))).toEqual([])
    expect(admin.Action).toContain('kms:PutKeyPolicy')
    expect(statements.map((s) => s.Sid)).not.toContain('DenyKeyPolicyChangesForever')
    expect(key.Properties.BypassPolicyLockoutSafetyCheck).toBeUndefined()
  })

  test('Decrypt and GenerateDataKey: allowed to the instance role only, only under the PCR0 attestation condition', () => {
    const allowing = sealingStatements(keysStack).statements.filter((s) => s.Effect === 'Allow' && [s.Action].flat().some((a) => /^kms:(Decrypt|GenerateDataKey|ReEncrypt|\*)/.test(a)))
    expect(allowing).toEqual([
      {
        Sid: 'AttestedEnclaveDecrypts',
        Effect: 'Allow',
        Principal: { AWS: arnOf(keysStack, keysStack.instanceRole) },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: '*',
        Condition: { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': FIXTURE_PCRS.PCR0 }, StringLike: { 'kms:EncryptionContext:keyId': '?*' } },
      },
    ])
  })

  test('Encrypt: one statement, allowed to the importer role alone (not the signing Lambda, not the instance role, not the account)', () => {
    const { statements } = sealingStatements(keysStack)
    const encrypting = statements.filter((s) => s.Effect === 'Allow' && [s.Action].flat().some((a) => /^kms:(Encrypt|\*)/.test(a)))
    expect(encrypting).toEqual([
      {
        Sid: 'ImporterEncryptsKeyRecords',
        Effect: 'Allow',
        Principal: { AWS: arnOf(keysStack, keysStack.importerRole) },
        Action: 'kms:Encrypt',
        Resource: '*',
        Condition: { StringLike: { 'kms:EncryptionContext:keyId': '?*' } },
      },
    ])
    // Every principal any use of the key is allowed to: the two roles of this stack, nothing else.
    const use = statements.filter((s) => s.Effect === 'Allow' && [s.Action].flat().some((a) => /^kms:(Encrypt|Decrypt|GenerateDataKey|ReEncrypt|CreateGrant|\*)/.test(a)))
    expect(use.flatMap((s) => [(s.Principal as { AWS: unknown }).AWS].flat()).map((p) => JSON.stringify(p)).sort()).toEqual(
      [arnOf(keysStack, keysStack.importerRole), arnOf(keysStack, keysStack.instanceRole)].map((p) => JSON.stringify(p)).sort(),
    )
  })

  test('the importer role: the OFFLINE importer, not assumable by Lambda or any service; by default the account root with MFA', () => {
    const role = Template.fromStack(keysStack).toJSON().Resources[idOf(keysStack, keysStack.importerRole)]
    expect(role.Properties.AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'sts:AssumeRole', Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'true' } } }],
    })
    expect(JSON.stringify(role.Properties.AssumeRolePolicyDocument)).not.toMatch(/Service|lambda\.amazonaws/)
    expect(role.Properties.ManagedPolicyArns).toBeUndefined()
    template.hasOutput('ImporterRoleArn', { Value: arnOf(keysStack, keysStack.importerRole), Description: Match.stringLikeRegexp('offline importer') })
  })

  test('the key: symmetric, rotated, retained, roles created first; its alias; outputs', () => {
    const { key } = sealingStatements(keysStack)
    expect(key.Properties).toMatchObject({ EnableKeyRotation: true, KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', PendingWindowInDays: 30 })
    expect(key.DeletionPolicy).toBe('Retain')
    expect(key.DependsOn).toEqual(expect.arrayContaining([idOf(keysStack, keysStack.instanceRole), idOf(keysStack, keysStack.importerRole)]))
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/EnclaveCustody/sealing', TargetKeyId: { 'Fn::GetAtt': [idOf(keysStack, keysStack.sealingKey.key), 'KeyId'] } })
    template.hasOutput('SealingKeyArn', { Value: { 'Fn::GetAtt': [idOf(keysStack, keysStack.sealingKey.key), 'Arn'] } })
    template.hasOutput('KeyPolicyState', { Value: 'attested' })
    template.hasOutput('AcceptedPCR0s', { Value: FIXTURE_PCRS.PCR0 })
    expect(keysStack.stackName).toBe('EnclaveCustody-Keys')
  })

  test('the instance role carries the SSM managed policy (imported roles cannot take one in the fleet stack)', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'ec2.amazonaws.com' } })] },
      ManagedPolicyArns: [{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/AmazonSSMManagedInstanceCore']] }],
    })
    template.resourceCountIs('AWS::IAM::Policy', 0)
  })
})

describe('who may assume the importer role (importerPrincipalArns, importerRequireMfa)', () => {
  const trustOf = (keysStack: CustodyKeysStack) => Template.fromStack(keysStack).toJSON().Resources[idOf(keysStack, keysStack.importerRole)].Properties.AssumeRolePolicyDocument
  const alice = 'arn:aws:iam::111122223333:user/alice'
  const ops = 'arn:aws:iam::111122223333:role/KeyImportOperators'

  test('named principals: exactly them, still with MFA', () => {
    // cdk.json's feature flags (as `cdk synth`): one statement for both principals.
    const keysStack = new CustodyKeysStack(new App({ context: CDK_JSON_CONTEXT }), 'K', { importerPrincipalArns: [ops, alice] })
    expect(trustOf(keysStack)).toEqual({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: [ops, alice] }, Action: 'sts:AssumeRole', Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'true' } } }],
    })
    Annotations.fromStack(keysStack).hasNoWarning('*', Match.stringLikeRegexp('importerRequireMfa'))
  })

  test('importerRequireMfa=false: no condition, and a stack warning', () => {
    const keysStack = new CustodyKeysStack(new App(), 'K', { importerPrincipalArns: [ops], importerRequireMfa: false })
    expect(trustOf(keysStack)).toEqual({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: ops }, Action: 'sts:AssumeRole' }] })
    Annotations.fromStack(keysStack).hasWarning('/K', Match.stringLikeRegexp('importerRequireMfa=false: the importer role'))
  })

  test('from context (-c importerPrincipalArn, comma-separated), as bin/app.ts builds it', () => {
    const { app, keysStack } = buildTestApp({ eifPath: 'test/fixtures/eif/custody.eif', importerPrincipalArn: `${ops}, ${alice}` })
    outdirs.push(app.outdir)
    expect(trustOf(keysStack).Statement).toEqual([
      { Effect: 'Allow', Principal: { AWS: [ops, alice] }, Action: 'sts:AssumeRole', Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'true' } } },
    ])
    expect(new AwsSolutionsChecks().validateScope(app).violations).toEqual([])
  })

  test.each([
    [['lambda.amazonaws.com'], /importerPrincipalArns\[0\] must be an IAM role, user or account root ARN \(no service principal\)/],
    [[ops, 'arn:aws:iam::111122223333:group/ops'], /importerPrincipalArns\[1\] must be an IAM role, user or account root ARN/],
    [[], /importerPrincipalArns must name at least one principal/],
  ])('refuses %o', (arns, message) => {
    expect(() => new CustodyKeysStack(new App(), 'K', { importerPrincipalArns: arns })).toThrow(message)
  })
})

describe('the alarm: EventBridge on CloudTrail → encrypted SNS topic (point 8)', () => {
  const { app, keysStack } = buildTestApp({ eifPath: 'test/fixtures/eif/custody.eif', alarmEmail: 'ops@example.com' })
  outdirs.push(app.outdir)
  const template = Template.fromStack(keysStack)
  const topic = { Ref: idOf(keysStack, keysStack.alarms.topic) }

  test('the rule: aws.kms CloudTrail events PutKeyPolicy, CreateGrant, ScheduleKeyDeletion, DisableKey naming the sealing key', () => {
    expect([...ALARMING_KMS_EVENTS]).toEqual(['PutKeyPolicy', 'CreateGrant', 'ScheduleKeyDeletion', 'DisableKey'])
    template.hasResourceProperties('AWS::Events::Rule', {
      State: 'ENABLED',
      EventPattern: {
        source: ['aws.kms'],
        'detail-type': ['AWS API Call via CloudTrail'],
        detail: {
          eventSource: ['kms.amazonaws.com'],
          eventName: ['PutKeyPolicy', 'CreateGrant', 'ScheduleKeyDeletion', 'DisableKey'],
          resources: { ARN: [{ 'Fn::GetAtt': [idOf(keysStack, keysStack.sealingKey.key), 'Arn'] }] },
        },
      },
      Targets: [{ Arn: topic, Id: 'AlarmTopic' }],
    })
  })

  test('the topic: KMS-encrypted with its own rotating key, TLS only, publishable by this rule only; an output; the e-mail subscription', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [idOf(keysStack, keysStack.alarms.topicKey), 'Arn'] } })
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Sid: 'ThisRulePublishes',
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'sns:Publish',
            Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [idOf(keysStack, keysStack.alarms.rule), 'Arn'] } } },
          }),
        ]),
      },
    })
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Sid: 'EventBridgeEncryptsAlarms', Principal: { Service: 'events.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] })]) },
    })
    template.hasOutput('KeyAlarmTopicArn', { Value: topic })
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com', TopicArn: topic })
  })

  test('every KMS key of the stack rotates', () => {
    template.resourceCountIs('AWS::KMS::Key', 2)
    template.allResourcesProperties('AWS::KMS::Key', { EnableKeyRotation: true })
  })
})

describe('PCR0 rotation: the policy accepts the new and the previous image until the second deploy (point 9)', () => {
  const pcr2 = FIXTURE_PCRS.PCR2
  const { app, keysStack, stack } = buildTestApp({ eifPath: 'test/fixtures/eif/custody.eif', previousPcr0: PCR0_OLD, pcr2, previousPcr2: 'ef'.repeat(48) })
  outdirs.push(app.outdir)

  test('Allow and Deny both carry [new, previous] for PCR0 and each bound PCR', () => {
    const { statements } = sealingStatements(keysStack)
    const allow = statements.find((s) => s.Sid === 'AttestedEnclaveDecrypts')!
    expect(allow.Condition!.StringEqualsIgnoreCase).toEqual({
      'kms:RecipientAttestation:ImageSha384': [FIXTURE_PCRS.PCR0, PCR0_OLD],
      'kms:RecipientAttestation:PCR2': [pcr2, 'ef'.repeat(48)],
    })
    expect(statements.find((s) => s.Sid === 'DenyUseByAnotherImage')!.Condition).toEqual({
      StringNotEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': [FIXTURE_PCRS.PCR0, PCR0_OLD] },
    })
    expect(statements.find((s) => s.Sid === 'DenyUseWithAnotherPCR2')!.Condition).toEqual({ StringNotEqualsIgnoreCase: { 'kms:RecipientAttestation:PCR2': [pcr2, 'ef'.repeat(48)] } })
    Template.fromStack(keysStack).hasOutput('AcceptedPCR0s', { Value: `${FIXTURE_PCRS.PCR0},${PCR0_OLD}` })
  })

  test('new instances still boot only the new image: the boot check compares with the new PCR0 and PCR2 alone', () => {
    expect(stack.fleet.expectedPcrs).toEqual({ 0: FIXTURE_PCRS.PCR0, 2: pcr2 })
    Template.fromStack(stack).hasOutput('ExpectedPCR0', { Value: FIXTURE_PCRS.PCR0 })
  })

  test('the signing Lambda accepts either image meanwhile: CUSTODY_PCR0 is the key policy\'s list', () => {
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ CUSTODY_PCR0: `${FIXTURE_PCRS.PCR0},${PCR0_OLD}`, CUSTODY_ALLOW_DEBUG_ENCLAVE: 'false' }) },
    })
  })

  test('the second deploy, without previousPcr0, accepts the new image alone', () => {
    const after = buildTestApp({ eifPath: 'test/fixtures/eif/custody.eif', pcr2 })
    outdirs.push(after.app.outdir)
    const allow = sealingStatements(after.keysStack).statements.find((s) => s.Sid === 'AttestedEnclaveDecrypts')!
    expect(allow.Condition!.StringEqualsIgnoreCase).toEqual({ 'kms:RecipientAttestation:ImageSha384': FIXTURE_PCRS.PCR0, 'kms:RecipientAttestation:PCR2': pcr2 })
  })
})

describe('lockKeyPolicy: irreversible, applied with BypassPolicyLockoutSafetyCheck (point 8)', () => {
  const { app, keysStack, warnings } = buildTestApp({ eifPath: 'test/fixtures/eif/custody.eif', lockKeyPolicy: 'true' })
  outdirs.push(app.outdir)

  test('no one keeps kms:PutKeyPolicy, everyone is denied it, and KMS is told the lockout is intended', () => {
    const { key, statements } = sealingStatements(keysStack)
    expect(key.Properties.BypassPolicyLockoutSafetyCheck).toBe(true)
    expect(statements.filter((s) => s.Effect === 'Allow').flatMap((s) => [s.Action].flat())).not.toContain('kms:PutKeyPolicy')
    Template.fromStack(keysStack).hasResourceProperties('AWS::KMS::Key', {
      BypassPolicyLockoutSafetyCheck: true,
      KeyPolicy: Match.objectLike({ Statement: Match.arrayWith([{ Sid: 'DenyKeyPolicyChangesForever', Effect: 'Deny', Principal: { AWS: '*' }, Action: 'kms:PutKeyPolicy', Resource: '*' }]) }),
    })
    Template.fromStack(keysStack).hasOutput('KeyPolicyState', { Value: 'locked' })
  })

  test('warned loudly on the console and as a stack warning', () => {
    expect(warnings.join('\n')).toMatch(/!! enclave-custody WARNING: lockKeyPolicy=true: IRREVERSIBLE/)
    Annotations.fromStack(keysStack).hasWarning('/EnclaveCustody-Keys', Match.stringLikeRegexp('lockKeyPolicy: IRREVERSIBLE'))
  })

  test('the construct refuses to lock the bootstrap policy', () => {
    expect(() => new CustodyKeysStack(new App(), 'K', { lockKeyPolicy: true })).toThrow(/lockKeyPolicy needs an attestation/)
  })
})

describe('bootstrapKeys=true: the first deploy, before the image exists (point 6)', () => {
  const { app, keysStack, stack, warnings } = buildAnyTestApp({ bootstrapKeys: 'true' })
  outdirs.push(app.outdir)

  test('only the keys stack is synthesized: no fleet, no image needed', () => {
    expect(stack).toBeUndefined()
    expect(app.node.children.filter((c) => c instanceof Stack).map((c) => (c as Stack).stackName)).toEqual(['EnclaveCustody-Keys'])
  })

  test('the bootstrap policy: administration only, every use and every non-AWS grant denied', () => {
    const { statements } = sealingStatements(keysStack)
    expect(statements).toEqual([
      { Sid: 'KeyAdministrationWithoutUse', Effect: 'Allow', Principal: { AWS: ROOT }, Action: [...KEY_ADMIN_ACTIONS], Resource: '*' },
      { Sid: 'DenyUseUntilAnImageIsAttested', Effect: 'Deny', Principal: { AWS: '*' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'], Resource: '*' },
      {
        Sid: 'DenyGrantsExceptForAwsResources',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 'kms:CreateGrant',
        Resource: '*',
        Condition: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false' } },
      },
    ])
    Template.fromStack(keysStack).hasOutput('KeyPolicyState', { Value: 'bootstrap' })
    Template.fromStack(keysStack).hasOutput('AcceptedPCR0s', { Value: 'none' })
  })

  test('the same logical ids as the attested deploy, so the second deploy updates the key instead of replacing it', () => {
    const later = buildTestApp({ eifPath: 'test/fixtures/eif/custody.eif' })
    outdirs.push(later.app.outdir)
    const ids = (s: Stack) => Object.entries(Template.fromStack(s).toJSON().Resources as Record<string, { Type: string }>).map(([id, r]) => `${r.Type} ${id}`).sort()
    expect(ids(later.keysStack)).toEqual(ids(keysStack))
  })

  test('warned: deployed over an attested policy it cuts every enclave off', () => {
    expect(warnings.join('\n')).toMatch(/bootstrapKeys=true: the keys stack gets the BOOTSTRAP key policy/)
    Annotations.fromStack(keysStack).hasWarning('/EnclaveCustody-Keys', Match.stringLikeRegexp('Bootstrap key policy: nobody can use the sealing key'))
  })

  test('the importer role exists from the start, with the same trust (account root with MFA, no service)', () => {
    const role = Template.fromStack(keysStack).toJSON().Resources[idOf(keysStack, keysStack.importerRole)]
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      { Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'sts:AssumeRole', Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'true' } } },
    ])
  })

  test('cdk-nag: zero findings', () => {
    expect(new AwsSolutionsChecks().validateScope(app).violations).toEqual([])
  })
})

describe('the app never writes an all-zero PCR0 without allowDebugEnclave', () => {
  test('the keys stack passes allowDebugEnclave through; buildKeyPolicy refuses zeros without it', () => {
    const { app, keysStack } = buildTestApp({ eifPath: 'test/fixtures/eif-bare/custody.eif', allowDebugEnclave: 'true' })
    outdirs.push(app.outdir)
    expect(sealingStatements(keysStack).statements.find((s) => s.Sid === 'AttestedEnclaveDecrypts')!.Condition!.StringEqualsIgnoreCase).toEqual({
      'kms:RecipientAttestation:ImageSha384': '0'.repeat(96),
    })
    expect(
      () =>
        new CustodyKeysStack(new App(), 'K', {
          attestation: { pcr0: '0'.repeat(96) },
        }),
    ).toThrow(/pcr0.*all zeros/)
  })
})
