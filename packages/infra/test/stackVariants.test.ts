import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { App, CfnElement } from 'aws-cdk-lib'
import { buildKeyPolicy } from '@enclave-custody/sdk'
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions'
import { AwsSolutionsChecks } from 'cdk-nag'
import { afterAll, describe, expect, test } from 'vitest'
import { DEBUG_PCR0 } from '../lib/config/readCustodyConfig.js'
import { DEFAULT_HOST_FILES_PATH } from '../lib/constructs/EnclaveFleet.js'
import { HOST_FILES, LOG_CHANNEL_FILES } from '../lib/host/hostLayout.js'
import { CustodyStack } from '../lib/stacks/CustodyStack.js'
import { buildTestApp, EIF_WITH_PCRS, FIXTURE_KMS_KEY_ARN, FIXTURE_PCRS, HOST_FIXTURES } from './support/fixtures.js'

const outdirs: string[] = []
afterAll(() => {
  for (const d of outdirs) rmSync(d, { recursive: true, force: true })
})

/** Text of the launch template's user data (references as <ref>). */
function userData(template: Template): string {
  const lt = Object.values(template.findResources('AWS::EC2::LaunchTemplate'))[0] as { Properties: { LaunchTemplateData: { UserData: { 'Fn::Base64': unknown } } } }
  const render = (x: unknown): string =>
    typeof x === 'string' ? x : (x as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'] ? (x as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1].map(render).join('') : '<ref>'
  return render(lt.Properties.LaunchTemplateData.UserData['Fn::Base64'])
}

describe('allowDebugEnclave=true without pcr0', () => {
  const { app, stack, keysStack, warnings } = buildTestApp({ eifPath: 'test/fixtures/eif-bare/custody.eif', allowDebugEnclave: 'true' })
  outdirs.push(app.outdir)

  test('synthesizes with the all-zero PCR0 in the key policy', () => {
    const template = Template.fromStack(stack)
    Template.fromStack(keysStack).hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: Match.objectLike({
        Statement: Match.arrayWith([Match.objectLike({ Sid: 'AttestedEnclaveDecrypts', Condition: Match.objectLike({ StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': DEBUG_PCR0 } }) })]),
      }),
    })
    template.hasOutput('ExpectedPCR0', { Value: DEBUG_PCR0 })
  })

  test('the signing Lambda accepts the debug-mode enclave too, explicitly (CUSTODY_ALLOW_DEBUG_ENCLAVE)', () => {
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ CUSTODY_PCR0: DEBUG_PCR0, CUSTODY_ALLOW_DEBUG_ENCLAVE: 'true' }) },
    })
  })

  test('warns loudly: on the console and as a stack warning', () => {
    expect(warnings.join('\n')).toMatch(/!! enclave-custody WARNING: allowDebugEnclave=true: .*DEBUG-MODE enclave/)
    Annotations.fromStack(keysStack).hasWarning('/EnclaveCustody-Keys', Match.stringLikeRegexp('allowDebugEnclave: the KMS key policy accepts PCR0 = 0…0'))
    Annotations.fromStack(stack).hasWarning('/EnclaveCustody', Match.stringLikeRegexp('allowDebugEnclave: the boot check does not compare'))
  })

  test('the boot script logs the EIF PCR0 instead of comparing it with zeros', () => {
    const text = userData(Template.fromStack(stack))
    expect(text).not.toContain('check_pcr 0')
    expect(text).toContain('WARNING: allowDebugEnclave=true')
    expect(() => execFileSync('bash', ['-n'], { input: text })).not.toThrow()
  })
})

describe('production context: admins, PCR1/PCR2, certificate, NAT, client networks, capacities', () => {
  const admin = 'arn:aws:iam::111122223333:role/KeyAdmin'
  const importers = 'arn:aws:iam::111122223333:role/KeyImportOperators'
  const certificateArn = 'arn:aws:acm:eu-west-1:111122223333:certificate/12345678-1234-1234-1234-123456789012'
  const { app, stack, keysStack } = buildTestApp({
    eifPath: 'test/fixtures/eif/custody.eif',
    pcr0: FIXTURE_PCRS.PCR0,
    pcr1: FIXTURE_PCRS.PCR1,
    pcr2: FIXTURE_PCRS.PCR2,
    adminArn: admin,
    importerPrincipalArn: importers,
    certificateArn,
    domainName: 'custody.example.com',
    enableNat: 'true',
    allowedClientCidrs: '10.99.0.0/16',
    minCapacity: '2',
    desiredCapacity: '3',
    maxCapacity: '4',
    instanceType: 'c6i.2xlarge',
  })
  outdirs.push(app.outdir)
  const template = Template.fromStack(stack)

  test('key policy: buildKeyPolicy with PCR0, PCR1, PCR2 and the admin plus the CloudFormation execution role', () => {
    const key = Object.values(Template.fromStack(keysStack).findResources('AWS::KMS::Key', { Properties: { Description: Match.stringLikeRegexp('seals private keys') } }))[0] as {
      Properties: { KeyPolicy: { Statement: { Sid: string; Principal: { AWS: unknown }; Condition?: unknown }[] } }
    }
    const generated = buildKeyPolicy({
      pcr0: FIXTURE_PCRS.PCR0,
      pcrs: { 1: FIXTURE_PCRS.PCR1, 2: FIXTURE_PCRS.PCR2 },
      instanceRoleArn: 'arn:aws:iam::111122223333:role/i',
      importerRoleArn: 'arn:aws:iam::111122223333:role/m',
      adminArns: [admin, 'arn:aws:iam::111122223333:role/cfn'],
    })
    const withoutPrincipals = (s: { Principal?: unknown }[]) => s.map(({ Principal: _p, ...rest }) => rest)
    expect(withoutPrincipals(key.Properties.KeyPolicy.Statement)).toEqual(withoutPrincipals(generated.Statement))
    expect(key.Properties.KeyPolicy.Statement[2]!.Condition).toEqual({
      StringEqualsIgnoreCase: {
        'kms:RecipientAttestation:ImageSha384': FIXTURE_PCRS.PCR0,
        'kms:RecipientAttestation:PCR1': FIXTURE_PCRS.PCR1,
        'kms:RecipientAttestation:PCR2': FIXTURE_PCRS.PCR2,
      },
      StringLike: { 'kms:EncryptionContext:keyId': '?*' },
    })
    expect(key.Properties.KeyPolicy.Statement[0]!.Principal).toEqual({
      // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax, not a JS template
      AWS: [admin, { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-hnb659fds-cfn-exec-role-${AWS::AccountId}-${AWS::Region}' }],
    })
  })

  test('the importer role: assumed by the named operators with MFA, never by Lambda; the signing Lambda runs as its own role', () => {
    const importer = Template.fromStack(keysStack).toJSON().Resources[keysStack.getLogicalId(keysStack.importerRole.node.defaultChild as CfnElement)]
    expect(importer.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      { Effect: 'Allow', Principal: { AWS: importers }, Action: 'sts:AssumeRole', Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'true' } } },
    ])
    template.hasResourceProperties('AWS::Lambda::Function', { Role: { 'Fn::GetAtt': [stack.getLogicalId(stack.signingRole.node.defaultChild as CfnElement), 'Arn'] } })
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'lambda.amazonaws.com' } })] },
      Description: Match.stringLikeRegexp('signing Lambda.*no use of the sealing key'),
    })
  })

  test('the boot script checks PCR0, PCR1 and PCR2', () => {
    const text = userData(template)
    for (const [i, v] of [[0, FIXTURE_PCRS.PCR0], [1, FIXTURE_PCRS.PCR1], [2, FIXTURE_PCRS.PCR2]]) expect(text).toContain(`check_pcr ${i} '${v}'`)
  })

  test('certificate and DNS name from context: no CloudFormation parameters', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Certificates: [{ CertificateArn: certificateArn }] })
    template.hasResourceProperties('AWS::Route53::HostedZone', { Name: 'custody.example.com.' })
    expect(Object.keys(template.toJSON().Parameters ?? {})).not.toContain('CertificateArn')
    template.hasOutput('ProxyURL', { Value: 'https://custody.example.com' })
  })

  test('NAT: public subnets only hold NAT gateways, instances still get no public IP', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 2)
    template.allResourcesProperties('AWS::EC2::Subnet', { MapPublicIpOnLaunch: false })
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({ InstanceType: 'c6i.2xlarge', NetworkInterfaces: [Match.objectLike({ AssociatePublicIpAddress: false })] }),
    })
  })

  test('capacities and the extra client network', () => {
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { MinSize: '2', MaxSize: '4', DesiredCapacity: '3' })
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('load balancer'),
      SecurityGroupIngress: [Match.objectLike({ CidrIp: '10.99.0.0/16', FromPort: 443, ToPort: 443, IpProtocol: 'tcp' })],
    })
  })

  test('the boot check and the Lambda use the key ARN the image pins', () => {
    template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ CUSTODY_KMS_KEY_ID: FIXTURE_KMS_KEY_ARN }) } })
    expect(userData(template)).toContain(`[ '${FIXTURE_KMS_KEY_ARN}' = '<ref>' ] || fail`)
  })

  test('cdk-nag: still zero findings', () => {
    expect(new AwsSolutionsChecks().validateScope(app).violations).toEqual([])
  })
})

describe('the hosts\' log shipper decides the CloudWatch Logs endpoint and log group (point 11)', () => {
  /** The host-file fixtures, plus the log channel's files (the real ones, so the agent fragment is the shipped one). */
  const withShipper = mkdtempSync(join(tmpdir(), 'custody-host-logs-'))
  cpSync(HOST_FIXTURES, withShipper, { recursive: true })
  for (const f of LOG_CHANNEL_FILES) cpSync(join(DEFAULT_HOST_FILES_PATH, f), join(withShipper, f))
  outdirs.push(withShipper)
  const shipping = buildTestApp({ eifPath: 'test/fixtures/eif/custody.eif', hostFilesPath: withShipper })
  const silent = buildTestApp({ eifPath: 'test/fixtures/eif/custody.eif' })
  outdirs.push(shipping.app.outdir, silent.app.outdir)
  const logsEndpoints = (t: Template) => Object.values(t.findResources('AWS::EC2::VPCEndpoint')).filter((r) => JSON.stringify(r.Properties.ServiceName).includes('.logs"'))
  const instancePolicies = (stack: typeof silent.stack) =>
    JSON.stringify(stack.instanceRole.node.findAll().filter((c) => c instanceof CfnElement).map((c) => stack.resolve((c as unknown as { policyDocument: unknown }).policyDocument)))

  test('without a shipper in the host files: no logs endpoint, no host log group, no logs permission', () => {
    const t = Template.fromStack(silent.stack)
    expect(logsEndpoints(t)).toHaveLength(0)
    expect(silent.stack.fleet.hostLogGroup).toBeUndefined()
    expect(instancePolicies(silent.stack)).toContain('secretsmanager:GetSecretValue')
    expect(instancePolicies(silent.stack)).not.toContain('logs:')
    expect(userData(t)).not.toContain('custody-enclave-logs')
  })

  test('with one: an encrypted, retained log group, write-only for the instances, named in custody.env; the unit starts last', () => {
    const stack = shipping.stack
    const t = Template.fromStack(stack)
    expect(logsEndpoints(t)).toHaveLength(1)
    const group = stack.getLogicalId(stack.fleet.hostLogGroup!.node.defaultChild as CfnElement)
    t.hasResource('AWS::Logs::LogGroup', { DeletionPolicy: 'Retain', Properties: { RetentionInDays: 365, KmsKeyId: { 'Fn::GetAtt': [stack.getLogicalId(stack.logsKey.key.node.defaultChild as CfnElement), 'Arn'] } } })
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          { Sid: 'ShipHostLogs', Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:DescribeLogStreams', 'logs:PutLogEvents'], Resource: { 'Fn::GetAtt': [group, 'Arn'] } },
        ]),
      },
    })
    const text = userData(t)
    expect(text).toContain("set_env CUSTODY_LOG_GROUP '<ref>'")
    expect(text).toContain("set_env CUSTODY_LOG_VSOCK_PORT '5010'")
    expect(text).toContain("set_env CUSTODY_LOG_RECEIVER_PORT '5011'")
    expect(text).toContain("set_env CUSTODY_AUDIT_LOG '/var/log/enclave-custody-audit/audit.jsonl'")
    // The whole channel, in this order, after custody.env and before the enclave starts (so its boot lines are kept).
    const steps = [
      "set_env CUSTODY_LOG_GROUP '<ref>'",
      'dnf install -y amazon-cloudwatch-agent logrotate',
      `install -m 0644 "$WORK/host/proxy/log-receiver.js" '/opt/enclave-custody/proxy/log-receiver.js'`,
      "install -d -m 0755 '/var/log/enclave-custody'",
      `install -m 0644 "$WORK/host/logrotate-enclave-custody" '/etc/logrotate.d/enclave-custody'`,
      "LOG_GROUP='<ref>'",
      `"$WORK/host/cloudwatch-agent-enclave-logs.json" "$LOG_GROUP" > "$WORK/cloudwatch-agent.json"`,
      `install -m 0644 "$WORK/cloudwatch-agent.json" '/etc/enclave-custody/cloudwatch-agent.json'`,
      `install -m 0644 "$WORK/host/systemd/custody-enclave-logs.service" "$WORK/host/systemd/custody-enclave-log-bridge.service" '/etc/systemd/system/'`,
      'systemctl enable --now custody-enclave-logs.service custody-enclave-log-bridge.service',
      'systemctl enable --now logrotate.timer',
      "'/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl' -a fetch-config -m ec2 -s -c 'file:/etc/enclave-custody/cloudwatch-agent.json'",
      'systemctl enable --now custody-vsock-proxy.service custody-vsock-proxy-secrets.service custody-enclave.service',
      'wait_healthy ||',
    ]
    const positions = steps.map((step) => [step, text.indexOf(step)] as const)
    for (const [step, position] of positions) expect(position, step).toBeGreaterThan(0)
    expect(positions.map(([, p]) => p)).toEqual(positions.map(([, p]) => p).sort((a, b) => a - b))
    expect(() => execFileSync('bash', ['-n'], { input: text })).not.toThrow()
    t.hasOutput('HostLogGroup', { Value: { Ref: group } })
  })

  test('the host-files asset carries the channel: both units, the agent fragment, the logrotate rule, the receiver bundle', () => {
    const dir = join(shipping.app.outdir, shipping.stack.fleet.hostFilesAsset.assetPath)
    for (const f of LOG_CHANNEL_FILES) expect(readFileSync(join(dir, f), 'utf8'), f).toBe(readFileSync(join(DEFAULT_HOST_FILES_PATH, f), 'utf8'))
    expect(execFileSync(process.execPath, [join(dir, 'proxy', 'log-receiver.js'), '--help'], { encoding: 'utf8' })).toMatch(/^custody-log-receiver/)
    expect(existsSync(join(silent.app.outdir, silent.stack.fleet.hostFilesAsset.assetPath, 'proxy', 'log-receiver.js'))).toBe(false)
  })

  test('the receiver unit without the rest of the channel is refused at synth, naming what is missing', () => {
    const partial = mkdtempSync(join(tmpdir(), 'custody-host-partial-'))
    outdirs.push(partial)
    cpSync(HOST_FIXTURES, partial, { recursive: true })
    cpSync(join(DEFAULT_HOST_FILES_PATH, HOST_FILES.logUnit), join(partial, HOST_FILES.logUnit))
    cpSync(join(DEFAULT_HOST_FILES_PATH, HOST_FILES.logrotateConfig), join(partial, HOST_FILES.logrotateConfig))
    expect(() => buildTestApp({ eifPath: 'test/fixtures/eif/custody.eif', hostFilesPath: partial })).toThrow(
      `EnclaveFleet: hostFilesPath ${partial} has systemd/custody-enclave-logs.service but lacks systemd/custody-enclave-log-bridge.service, cloudwatch-agent-enclave-logs.json (the log channel ships all of them)`,
    )
  })

  test('cdk-nag: zero findings either way', () => {
    expect(new AwsSolutionsChecks().validateScope(shipping.app).violations).toEqual([])
    expect(new AwsSolutionsChecks().validateScope(silent.app).violations).toEqual([])
  })
})

describe('the stack itself refuses an alias or a bare key id (point 6)', () => {
  const keys = {
    instanceRoleArn: 'arn:aws:iam::111122223333:role/i',
    importerRoleArn: 'arn:aws:iam::111122223333:role/m',
    sealingKeyArn: FIXTURE_KMS_KEY_ARN,
  }
  test.each([
    ['alias/custody', /CustodyStack: kmsKeyArn must be a KMS key ARN, not an alias/],
    ['arn:aws:kms:eu-west-1:111122223333:alias/custody', /CustodyStack: kmsKeyArn must be a KMS key ARN, not an alias/],
    ['1234abcd-12ab-34cd-56ef-1234567890ab', /CustodyStack: kmsKeyArn must be the full KMS key ARN, not a bare key id/],
  ])('kmsKeyArn %s', (kmsKeyArn, message) => {
    expect(() => new CustodyStack(new App(), 'S', { eifPath: EIF_WITH_PCRS, pcr0: FIXTURE_PCRS.PCR0, kmsKeyArn, keys, hostFilesPath: HOST_FIXTURES })).toThrow(message)
  })
})

describe('the signing Lambda\'s PCR0 allowlist is checked at synth', () => {
  const keys = {
    instanceRoleArn: 'arn:aws:iam::111122223333:role/i',
    importerRoleArn: 'arn:aws:iam::111122223333:role/m',
    sealingKeyArn: FIXTURE_KMS_KEY_ARN,
  }
  const props = { eifPath: EIF_WITH_PCRS, pcr0: FIXTURE_PCRS.PCR0, kmsKeyArn: FIXTURE_KMS_KEY_ARN, keys, hostFilesPath: HOST_FIXTURES }
  test.each([
    ['without the image the fleet runs', ['ab'.repeat(48)], /CustodyStack: acceptedPcr0s must include pcr0, the image the fleet runs/],
    ['with a malformed value', [FIXTURE_PCRS.PCR0, 'abc'], /SigningFunction: pcr0\[1\] must be 96 hex digits/],
    ['with the debug PCR0 of a production stack', [FIXTURE_PCRS.PCR0, DEBUG_PCR0], /SigningFunction: pcr0\[1\] is all zeros \(a debug-mode enclave\); set allowDebugEnclave to accept it/],
    ['with six values', [FIXTURE_PCRS.PCR0, ...['a', 'b', 'c', 'd', 'e'].map((c) => c.repeat(96))], /SigningFunction: pcr0 must list 1 to 5 PCR0 values/],
  ])('acceptedPcr0s %s is refused', (_name, acceptedPcr0s, message) => {
    expect(() => new CustodyStack(new App(), 'S', { ...props, acceptedPcr0s })).toThrow(message)
  })
})
