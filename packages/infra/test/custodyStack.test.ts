import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { App, CfnElement, Stack, Validations } from 'aws-cdk-lib'
import * as s3 from 'aws-cdk-lib/aws-s3'
import { Match, Template } from 'aws-cdk-lib/assertions'
import type { IConstruct } from 'constructs'
import * as iam from 'aws-cdk-lib/aws-iam'
import { AwsSolutionsChecks } from 'cdk-nag'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { CustodyStack } from '../lib/stacks/CustodyStack.js'
import { DEFAULT_HOST_FILES_PATH } from '../lib/constructs/EnclaveFleet.js'
import { HOST_FILES } from '../lib/host/hostLayout.js'
import type { CustodyKeysStack } from '../lib/stacks/CustodyKeysStack.js'
import { buildTestApp, FIXTURE_KMS_KEY_ARN, FIXTURE_PCRS } from './support/fixtures.js'

// One synthesized app shared by every assertion: the stack exactly as `cdk synth -c eifPath=…` builds it
// (PCR0 from the fixture EIF's nitro-cli PCR JSON, the real host files, no certificate context: the
// certificate and DNS name become CloudFormation parameters).
let app: App
let stack: CustodyStack
let keysStack: CustodyKeysStack
let template: Template
type Resource = {
  Type: string
  Properties: Record<string, unknown>
  DependsOn?: string[]
  DeletionPolicy?: string
  UpdatePolicy?: Record<string, unknown>
  CreationPolicy?: Record<string, unknown>
}
let resources: Record<string, Resource>

beforeAll(() => {
  // The real host files of packages/parent-proxy/host (the default), not the fixtures.
  ;({ app, stack, keysStack } = buildTestApp({ eifPath: 'test/fixtures/eif/custody.eif', hostFilesPath: undefined }))
  template = Template.fromStack(stack)
  resources = template.toJSON().Resources
})
afterAll(() => rmSync(app.outdir, { recursive: true, force: true }))

const idOf = (c: IConstruct) => stack.getLogicalId((c instanceof CfnElement ? c : c.node.defaultChild) as CfnElement)
const arnOf = (c: IConstruct) => ({ 'Fn::GetAtt': [idOf(c), 'Arn'] })
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type)
const statementsOf = (policyDocument: unknown) => (policyDocument as { Statement: Record<string, unknown>[] }).Statement
const asList = <T>(v: T | T[]) => (Array.isArray(v) ? v : [v])
/** The cloud-assembly directory of the asset that holds `file`. */
const findAssetWith = (file: string) => {
  const dir = readdirSync(app.outdir).find((d) => d.startsWith('asset.') && existsSync(join(app.outdir, d, file)))
  if (!dir) throw new Error(`no asset with ${file}`)
  return join(app.outdir, dir)
}
/** User data as text, CloudFormation references shown as <LogicalId> / <LogicalId.Attr>. */
function userDataText(): string {
  const [[, lt]] = ofType('AWS::EC2::LaunchTemplate') as [[string, Resource]]
  const render = (x: unknown): string => {
    if (typeof x === 'string') return x
    const o = x as Record<string, unknown>
    if (o['Fn::Join']) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]]
      return parts.map(render).join(sep)
    }
    if (o.Ref) return `<${o.Ref}>`
    if (o['Fn::GetAtt']) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`
    if (o['Fn::Sub']) return o['Fn::Sub'] as string
    if (o['Fn::GetStackOutput']) return `<out:${(o['Fn::GetStackOutput'] as { OutputName: string }).OutputName}>`
    return JSON.stringify(x)
  }
  return render(((lt.Properties.LaunchTemplateData as Record<string, unknown>).UserData as Record<string, unknown>)['Fn::Base64'])
}

/** A role's value as the fleet stack sees it: the keys stack's output, read with Fn::GetStackOutput. */
const importedArnOf = (role: IConstruct) => {
  const output = Object.entries(Template.fromStack(keysStack).toJSON().Outputs as Record<string, { Value: unknown }>).find(
    ([name, o]) => name.startsWith('PublishOutput') && JSON.stringify(o.Value) === JSON.stringify({ 'Fn::GetAtt': [keysStack.getLogicalId((role as iam.Role).node.defaultChild as CfnElement), 'Arn'] }),
  )
  if (!output) throw new Error('no published output for the role')
  return { 'Fn::GetStackOutput': { StackName: keysStack.stackName, Region: { Ref: 'AWS::Region' }, OutputName: output[0] } }
}

/** The keys stack's sealing key ARN as the fleet stack sees it (Fn::GetStackOutput of its published output). */
const importedArnOfKey = () => {
  const keyArn = { 'Fn::GetAtt': [keysStack.getLogicalId(keysStack.sealingKey.key), 'Arn'] }
  const output = Object.entries(Template.fromStack(keysStack).toJSON().Outputs as Record<string, { Value: unknown }>).find(
    ([name, o]) => name.startsWith('PublishOutput') && JSON.stringify(o.Value) === JSON.stringify(keyArn),
  )
  if (!output) throw new Error('no published output for the sealing key ARN')
  return { 'Fn::GetStackOutput': { StackName: keysStack.stackName, Region: { Ref: 'AWS::Region' }, OutputName: output[0] } }
}
/** Statements of every policy attached (here) to a role. */
const statementsOfImported = (role: IConstruct) =>
  role.node
    .findAll()
    .filter((c): c is iam.CfnPolicy => c instanceof iam.CfnPolicy)
    .flatMap((p) => statementsOf(resources[idOf(p)]!.Properties.PolicyDocument))

/** Whether packages/parent-proxy/host has the log shipper unit (the fleet adapts; stackVariants tests both ways). */
const SHIPS_LOGS = existsSync(join(DEFAULT_HOST_FILES_PATH, HOST_FILES.logUnit))

describe('keys from the keys stack (point 6)', () => {
  test('the fleet depends on the keys stack, never the reverse', () => {
    expect(stack.dependencies.map((s) => s.stackName)).toEqual(['EnclaveCustody-Keys'])
    expect(keysStack.dependencies).toEqual([])
    expect(JSON.stringify(Template.fromStack(keysStack).toJSON())).not.toContain('EnclaveCustody"')
  })

  test('no KMS key and no key policy for the sealing key here: the keys stack owns both; no IAM Allow here names it', () => {
    const sealing = JSON.stringify(FIXTURE_KMS_KEY_ARN)
    expect(ofType('AWS::KMS::Key').map(([id]) => id).sort()).toEqual([idOf(stack.logsKey.key), idOf(stack.records.recordsKey)].sort())
    // The only statement naming the sealing key is the signing Lambda's explicit Deny.
    const naming = ofType('AWS::IAM::Policy').flatMap(([, p]) => statementsOf(p.Properties.PolicyDocument).filter((s) => JSON.stringify(s).includes(sealing.slice(1, -1))))
    expect(naming.map((s) => `${s.Sid} ${s.Effect}`)).toEqual(['DenySealingKeyUse Deny'])
  })

  test('every KMS key rotates', () => {
    template.allResourcesProperties('AWS::KMS::Key', { EnableKeyRotation: true })
  })

  test('the instance role is the keys stack\'s, imported; the signing Lambda has its own role, created here (not the importer role)', () => {
    // Roles EC2 or Lambda assume here: the signing Lambda's and CDK's own (the default-security-group custom resource).
    const assumedByComputeHere = ofType('AWS::IAM::Role')
      .filter(([, r]) => /ec2\.amazonaws|"lambda\.amazonaws/.test(JSON.stringify(r.Properties.AssumeRolePolicyDocument)))
      .map(([id]) => id)
    expect(assumedByComputeHere.sort()).toEqual([idOf(stack.signingRole), ...ofType('AWS::IAM::Role').filter(([id]) => id.startsWith('CustomVpcRestrictDefaultSG')).map(([id]) => id)].sort())
    const roleName = (role: IConstruct) => ({ 'Fn::Select': [1, { 'Fn::Split': ['/', { 'Fn::Select': [5, { 'Fn::Split': [':', importedArnOf(role)] }] }] }] })
    template.hasResourceProperties('AWS::IAM::InstanceProfile', { Roles: [roleName(keysStack.instanceRole)] })
    template.hasResourceProperties('AWS::Lambda::Function', { Role: arnOf(stack.signingRole) })
    expect(JSON.stringify(resources[idOf(stack.signing.function)]!.Properties.Role)).not.toContain('Fn::GetStackOutput')
  })
})

describe('launch template', () => {
  const data = () => (ofType('AWS::EC2::LaunchTemplate')[0]![1].Properties.LaunchTemplateData ?? {}) as Record<string, unknown>

  test('IMDSv2 required, hop limit 1, no instance tags in metadata', () => {
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({ MetadataOptions: { HttpEndpoint: 'enabled', HttpTokens: 'required', HttpPutResponseHopLimit: 1, InstanceMetadataTags: 'disabled' } }),
    })
  })

  test('Nitro Enclaves enabled on m6i.xlarge', () => {
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', { LaunchTemplateData: Match.objectLike({ EnclaveOptions: { Enabled: true }, InstanceType: 'm6i.xlarge' }) })
  })

  test('Amazon Linux 2023 (x86_64) from the public SSM parameter', () => {
    const ref = (data().ImageId as { Ref: string }).Ref
    expect(template.toJSON().Parameters[ref]).toMatchObject({ Default: '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-x86_64' })
  })

  test('no public IP', () => {
    expect(data().NetworkInterfaces).toEqual([expect.objectContaining({ AssociatePublicIpAddress: false, DeviceIndex: 0 })])
  })

  test('encrypted gp3 root volume', () => {
    expect(data().BlockDeviceMappings).toEqual([{ DeviceName: '/dev/xvda', Ebs: { DeleteOnTermination: true, Encrypted: true, VolumeSize: 30, VolumeType: 'gp3' } }])
  })

  test('detailed monitoring', () => {
    expect(data().Monitoring).toEqual({ Enabled: true })
  })
})

describe('user data', () => {
  test('installs the Nitro Enclaves CLI, Node.js 22 (made /usr/bin/node, checked) and keeps the SSM agent on', () => {
    const text = userDataText()
    expect(text).toContain('dnf install -y aws-nitro-enclaves-cli unzip openssl socat nodejs22')
    expect(text).toContain('alternatives --set node /usr/bin/node-22')
    expect(text).toContain(`[ "$(/usr/bin/node -p 'process.versions.node.split(".")[0]')" = '22' ] || fail "/usr/bin/node is not Node.js 22"`)
    expect(text).toContain('systemctl enable --now amazon-ssm-agent')
  })

  test('refuses to go on unless the key the image pins is the keys stack\'s key (checked at boot, before anything is fetched)', () => {
    const text = userDataText()
    const output = Object.keys(Template.fromStack(keysStack).toJSON().Outputs).find((n) => n.startsWith('PublishOutputFnGetAttSealingKey'))
    const check = `[ '${FIXTURE_KMS_KEY_ARN}' = '<out:${output}>' ] || fail "the image was built for KMS key ${FIXTURE_KMS_KEY_ARN} (-c kmsKeyArn) but the keys stack's sealing key is <out:${output}>`
    expect(text).toContain(check)
    expect(text.indexOf(check)).toBeLessThan(text.indexOf('aws s3 cp'))
  })

  test('signals CloudFormation: SUCCESS after /healthz answers through the enclave on the proxy port, FAILURE on any error', () => {
    const text = userDataText()
    expect(text).toContain(
      `aws cloudformation signal-resource --region "$REGION" --stack-name '<AWS::StackName>' --logical-resource-id '${idOf(stack.fleet.autoScalingGroup)}' --unique-id "$id" --status "$1"`,
    )
    expect(text).toContain("curl -sS --insecure --fail --max-time 5 'https://127.0.0.1:8443/healthz'")
    expect(text).toContain('trap on_exit EXIT')
    expect(text.trimEnd().split('\n').slice(-5)).toEqual([
      'wait_healthy || fail "/healthz did not answer through the enclave within 600 s"',
      'signal_cfn SUCCESS',
      'SIGNALLED=1',
      'echo "enclave-custody bootstrap: signalled SUCCESS to CloudFormation"',
      'echo "enclave-custody bootstrap: done"',
    ])
  })

  test('checks the EIF PCR0 with nitro-cli describe-eif before installing or running it', () => {
    const text = userDataText()
    const describe = text.indexOf('nitro-cli describe-eif --eif-path "$WORK/custody.eif"')
    const check = text.indexOf(`check_pcr 0 '${FIXTURE_PCRS.PCR0}'`)
    const install = text.indexOf(`install -m 0644 "$WORK/custody.eif" '/opt/enclave-custody/custody.eif'`)
    const start = text.indexOf('systemctl enable --now custody-vsock-proxy.service custody-vsock-proxy-secrets.service custody-enclave.service custody-enclave-bridge.service custody-proxy.service')
    expect([describe, check, install, start].every((i) => i > 0)).toBe(true)
    expect(describe).toBeLessThan(check)
    expect(check).toBeLessThan(install)
    expect(install).toBeLessThan(start)
    expect(text).toMatch(/set -euo pipefail/)
    expect(text).toContain('refusing to run an image the key policy was not written for')
  })

  test('configures the allocator, vsock-proxy (region filled in), custody.env, TLS, token and the host files', () => {
    const text = userDataText()
    expect(text).toContain(`install -D -m 0644 "$WORK/host/allocator.yaml" '/etc/nitro_enclaves/allocator.yaml'`)
    expect(text).toContain('systemctl enable --now nitro-enclaves-allocator.service')
    expect(text).toContain(`sed "s/{{REGION}}/$REGION/g" "$WORK/host/vsock-proxy.yaml" > '/etc/nitro_enclaves/vsock-proxy.yaml'`)
    expect(text).toContain("REGION='<AWS::Region>'")
    expect(text).toContain(`install -m 0644 "$WORK/host/custody.env.example" '/etc/enclave-custody/custody.env'`)
    for (const [k, v] of [
      ['CUSTODY_REGION', '<AWS::Region>'],
      ['CUSTODY_PROXY_HOST', '0.0.0.0'],
      ['CUSTODY_PROXY_PORT', '8443'],
      ['CUSTODY_RECORDS', 'secretsmanager'],
      ['CUSTODY_SECRET_PREFIX', 'enclave-custody/keys/'],
      ['CUSTODY_CREDENTIALS', 'imds'],
    ]) {
      expect(text).toContain(`set_env ${k} '${v}'`)
    }
    expect(text).toContain("-keyout '/etc/enclave-custody/tls/key.pem' -out '/etc/enclave-custody/tls/cert.pem'")
    expect(text).toContain(`--secret-id '<${idOf(stack.fleet.authTokenSecret)}>' --query SecretString --output text > '/etc/enclave-custody/auth-token'`)
    expect(text).toContain(`install -m 0644 "$WORK/host/proxy/proxy.js" '/opt/enclave-custody/proxy/proxy.js'`)
    expect(text).toContain(`install -m 0755 "$WORK/host/custody-enclave-run.sh" '/opt/enclave-custody/host/custody-enclave-run.sh'`)
    for (const unit of ['custody-enclave.service', 'custody-vsock-proxy.service', 'custody-vsock-proxy-secrets.service', 'custody-enclave-bridge.service', 'custody-proxy.service']) {
      expect(text).toContain(`install -m 0644 "$WORK/host/systemd/${unit}" '/etc/systemd/system/'`)
    }
    expect(text).toContain('systemctl disable --now nitro-enclaves-vsock-proxy.service')
  })

  test('the paths it installs to are the ones the host files use', () => {
    const dir = join(app.outdir, stack.fleet.hostFilesAsset.assetPath)
    const units = ['custody-enclave.service', 'custody-proxy.service'].map((u) => readFileSync(join(dir, 'systemd', u), 'utf8')).join('\n')
    for (const path of ['/opt/enclave-custody/custody.eif', '/opt/enclave-custody/host/custody-enclave-run.sh', '/opt/enclave-custody/proxy/proxy.js', '/etc/enclave-custody/custody.env', '/etc/enclave-custody/tls/cert.pem', '/etc/enclave-custody/tls/key.pem', '/etc/enclave-custody/auth-token']) {
      expect(units, path).toContain(path)
      expect(userDataText(), path).toContain(path)
    }
    if (SHIPS_LOGS) {
      const logUnits = ['custody-enclave-logs.service', 'custody-enclave-log-bridge.service'].map((u) => readFileSync(join(dir, 'systemd', u), 'utf8')).join('\n')
      for (const path of ['/opt/enclave-custody/proxy/log-receiver.js', '/var/log/enclave-custody', '/etc/enclave-custody/custody.env']) {
        expect(logUnits, path).toContain(path)
        expect(userDataText(), path).toContain(path)
      }
      expect(readFileSync(join(dir, 'logrotate-enclave-custody'), 'utf8')).toContain('/var/log/enclave-custody/enclave.log')
      // The units read these from custody.env; the bootstrap sets them (the example has them too).
      for (const name of ['CUSTODY_LOG_VSOCK_PORT', 'CUSTODY_LOG_RECEIVER_PORT']) expect(logUnits).toContain(`\${${name}}`)
    }
  })

  test('is valid bash', () => {
    const script = userDataText()
    expect(() => execFileSync('bash', ['-n'], { input: script })).not.toThrow()
  })

  test('the host-files asset holds the host files and the esbuild proxy bundle', () => {
    const dir = join(app.outdir, stack.fleet.hostFilesAsset.assetPath)
    expect(readdirSync(dir).sort()).toEqual(
      [
        'README.md',
        'allocator.yaml',
        'custody-enclave-run.sh',
        'custody.env.example',
        'proxy',
        'systemd',
        'vsock-proxy.yaml',
        ...(SHIPS_LOGS ? ['cloudwatch-agent-enclave-logs.json', 'logrotate-enclave-custody'] : []),
      ].sort(),
    )
    expect(readdirSync(join(dir, 'systemd')).sort()).toEqual(
      [
        'custody-enclave-bridge.service',
        'custody-enclave.service',
        'custody-proxy.service',
        'custody-vsock-proxy.service',
        'custody-vsock-proxy-secrets.service',
        ...(SHIPS_LOGS ? ['custody-enclave-logs.service', 'custody-enclave-log-bridge.service'] : []),
      ].sort(),
    )
    expect(readdirSync(join(dir, 'proxy')).sort()).toEqual(['package.json', 'proxy.js', ...(SHIPS_LOGS ? ['log-receiver.js'] : [])].sort())
    const help = execFileSync(process.execPath, [join(dir, 'proxy', 'proxy.js'), '--help'], { encoding: 'utf8' })
    expect(help).toMatch(/^custody-proxy/)
    if (SHIPS_LOGS) {
      // The receiver bundle runs on its own (the unit runs it with /usr/bin/node from /opt/enclave-custody/proxy).
      expect(execFileSync(process.execPath, [join(dir, 'proxy', 'log-receiver.js'), '--help'], { encoding: 'utf8' })).toMatch(/^custody-log-receiver/)
    }
    expect(existsSync(join(app.outdir, stack.fleet.eifAsset.assetPath))).toBe(true)
  })
})

describe('fleet and load balancer', () => {
  test('Auto Scaling group: 2 instances across the two private subnets, ELB health checks', () => {
    const [[, asg]] = ofType('AWS::AutoScaling::AutoScalingGroup') as [[string, Resource]]
    expect(asg.Properties).toMatchObject({ MinSize: '2', MaxSize: '2', HealthCheckType: 'ELB', HealthCheckGracePeriod: 600 })
    expect(asg.Properties.DesiredCapacity).toBeUndefined()
    expect(asg.Properties.VPCZoneIdentifier).toHaveLength(2)
  })

  test('creation waits for a SUCCESS signal from every instance, 30 minutes at most (point 12)', () => {
    template.hasResource('AWS::AutoScaling::AutoScalingGroup', {
      CreationPolicy: { ResourceSignal: { Count: 2, Timeout: 'PT30M' }, AutoScalingCreationPolicy: { MinSuccessfulInstancesPercent: 100 } },
    })
  })

  test('rolling updates: one instance at a time, each waits for its signal, 100 % must succeed, or the update rolls back (point 12)', () => {
    template.hasResource('AWS::AutoScaling::AutoScalingGroup', {
      UpdatePolicy: Match.objectLike({
        AutoScalingRollingUpdate: Match.objectLike({ MaxBatchSize: 1, MinInstancesInService: 1, MinSuccessfulInstancesPercent: 100, WaitOnResourceSignals: true, PauseTime: 'PT30M' }),
      }),
    })
  })

  test('internal network load balancer with security group and access logs', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Type: 'network',
      Scheme: 'internal',
      SecurityGroups: [{ 'Fn::GetAtt': [idOf(stack.fleet.loadBalancerSecurityGroup), 'GroupId'] }],
    })
    const [[, lb]] = ofType('AWS::ElasticLoadBalancingV2::LoadBalancer') as [[string, Resource]]
    expect(lb.Properties.LoadBalancerAttributes).toEqual(
      expect.arrayContaining([
        { Key: 'access_logs.s3.enabled', Value: 'true' },
        { Key: 'access_logs.s3.bucket', Value: { Ref: idOf(stack.fleet.accessLogsBucket) } },
        { Key: 'load_balancing.cross_zone.enabled', Value: 'true' },
      ]),
    )
  })

  test('TLS listener with the certificate (a CloudFormation parameter when not in context) and a TLS 1.2+ policy', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Protocol: 'TLS',
      Port: 443,
      SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
      Certificates: [{ CertificateArn: { Ref: 'CertificateArn' } }],
    })
    expect(template.toJSON().Parameters.CertificateArn).toMatchObject({ Type: 'String', AllowedPattern: expect.stringMatching(/acm/) })
    expect(template.toJSON().Parameters.ProxyDomainName).toMatchObject({ Type: 'String' })
  })

  test('targets: the proxies over TLS on 8443, HTTPS health checks on /healthz', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Protocol: 'TLS',
      Port: 8443,
      TargetType: 'instance',
      HealthCheckProtocol: 'HTTPS',
      HealthCheckPath: '/healthz',
      HealthCheckPort: '8443',
    })
  })

  test('instances accept only the load balancer, which accepts only the Lambda', () => {
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: { 'Fn::GetAtt': [idOf(stack.fleet.securityGroup), 'GroupId'] },
      SourceSecurityGroupId: { 'Fn::GetAtt': [idOf(stack.fleet.loadBalancerSecurityGroup), 'GroupId'] },
      FromPort: 8443,
      ToPort: 8443,
    })
    const ingressToLb = ofType('AWS::EC2::SecurityGroupIngress').filter(([, r]) => JSON.stringify(r.Properties.GroupId).includes(idOf(stack.fleet.loadBalancerSecurityGroup)))
    expect(ingressToLb.map(([, r]) => r.Properties.SourceSecurityGroupId)).toEqual([{ 'Fn::GetAtt': [idOf(stack.signing.securityGroup), 'GroupId'] }])
    for (const [, sg] of ofType('AWS::EC2::SecurityGroup')) {
      for (const rule of (sg.Properties.SecurityGroupIngress ?? []) as Record<string, unknown>[]) expect(rule.CidrIp).not.toBe('0.0.0.0/0')
    }
  })

  test('a private DNS name for the certificate, aliased to the load balancer', () => {
    template.hasResourceProperties('AWS::Route53::HostedZone', { Name: { 'Fn::Join': ['', [{ Ref: 'ProxyDomainName' }, '.']] }, VPCs: Match.anyValue() })
    template.hasResourceProperties('AWS::Route53::RecordSet', { Type: 'A', AliasTarget: Match.anyValue() })
  })
})

describe('network', () => {
  test('private subnets only: no internet gateway, no NAT, no public IPs on launch', () => {
    template.resourceCountIs('AWS::EC2::InternetGateway', 0)
    template.resourceCountIs('AWS::EC2::NatGateway', 0)
    template.allResourcesProperties('AWS::EC2::Subnet', { MapPublicIpOnLaunch: false })
    expect(ofType('AWS::EC2::Subnet')).toHaveLength(2)
  })

  test.each([
    'kms',
    'secretsmanager',
    'ssm',
    'ssmmessages',
    'ec2messages',
    'cloudformation',
  ])('interface endpoint %s with private DNS', (service) => {
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Interface',
      PrivateDnsEnabled: true,
      ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, `.${service}`]] },
    })
  })

  test('S3 gateway endpoint on the private route tables', () => {
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.s3']] },
      RouteTableIds: Match.anyValue(),
    })
    expect(ofType('AWS::EC2::VPCEndpoint')).toHaveLength(SHIPS_LOGS ? 8 : 7)
  })

  test('the CloudWatch Logs endpoint and the hosts\' log group exist exactly when the host files ship logs (point 11)', () => {
    const logsEndpoints = ofType('AWS::EC2::VPCEndpoint').filter(([, r]) => JSON.stringify(r.Properties.ServiceName).includes('.logs"'))
    expect(logsEndpoints).toHaveLength(SHIPS_LOGS ? 1 : 0)
    expect(stack.fleet.hostLogGroup !== undefined).toBe(SHIPS_LOGS)
  })

  test('no ECR endpoints: the EIF comes from S3 and nothing on the host pulls images (point 11)', () => {
    const services = ofType('AWS::EC2::VPCEndpoint').map(([, r]) => JSON.stringify(r.Properties.ServiceName))
    expect(services.filter((s) => s.includes('.ecr.'))).toEqual([])
  })

  test('flow logs of all traffic to an encrypted log group', () => {
    template.hasResourceProperties('AWS::EC2::FlowLog', { ResourceType: 'VPC', TrafficType: 'ALL', LogDestinationType: 'cloud-watch-logs' })
  })
})

describe('encryption at rest', () => {
  test('every log group with the logs KMS key', () => {
    expect(ofType('AWS::Logs::LogGroup').length).toBeGreaterThanOrEqual(2)
    template.allResourcesProperties('AWS::Logs::LogGroup', { KmsKeyId: arnOf(stack.logsKey.key) })
  })

  test('Secrets Manager with the records key (key records are written with it by the Lambda)', () => {
    template.allResourcesProperties('AWS::SecretsManager::Secret', { KmsKeyId: arnOf(stack.records.recordsKey) })
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ CUSTODY_RECORDS_KMS_KEY_ID: arnOf(stack.records.recordsKey), CUSTODY_SECRET_PREFIX: 'enclave-custody/keys/' }) },
    })
  })

  test('S3 buckets encrypted, private, TLS only', () => {
    template.allResourcesProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    })
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    })
  })
})

describe('least privilege', () => {
  /** Every identity-policy statement of a role (inline policies attached to it). */
  const statementsOfRole = (role: IConstruct) => {
    const ids = role.node.findAll().filter((c): c is iam.CfnPolicy => c instanceof iam.CfnPolicy).map(idOf)
    expect(ids.length).toBeGreaterThan(0)
    return ids.flatMap((id) => statementsOf(resources[id]!.Properties.PolicyDocument))
  }

  test('no wildcard actions in any Allow (only the signing Lambda\'s Deny on the sealing key uses them, to cover every variant)', () => {
    for (const [, p] of ofType('AWS::IAM::Policy')) {
      for (const s of statementsOf(p.Properties.PolicyDocument)) {
        if (s.Effect === 'Deny') {
          expect(s.Sid).toBe('DenySealingKeyUse')
          continue
        }
        for (const a of asList(s.Action as string | string[])) expect(a).not.toContain('*')
      }
    }
  })

  test('the instance role: records read-only (GetSecretValue, DescribeSecret, ListSecrets), its boot assets, the proxy token, the signal', () => {
    const statements = statementsOfRole(stack.instanceRole)
    const actions = new Set(statements.flatMap((s) => asList(s.Action as string | string[])))
    expect([...actions].sort()).toEqual([
      'cloudformation:SignalResource',
      'kms:Decrypt',
      ...(SHIPS_LOGS ? ['logs:CreateLogStream', 'logs:DescribeLogStreams', 'logs:PutLogEvents'] : []),
      's3:GetObject',
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
      'secretsmanager:ListSecrets',
    ])
    expect(statements.filter((s) => s.Action === 'cloudformation:SignalResource').map((s) => s.Resource)).toEqual([{ Ref: 'AWS::StackId' }])
    const star = statements.filter((s) => asList(s.Resource as unknown).includes('*'))
    expect(star.map((s) => s.Action)).toEqual(['secretsmanager:ListSecrets'])
    const decrypt = statements.find((s) => s.Sid === 'DecryptKeyRecords')!
    expect(decrypt.Resource).toEqual(arnOf(stack.records.recordsKey))
    expect(Object.keys(decrypt.Condition as object).sort()).toEqual(['StringEquals', 'StringLike'])
  })

  test('the importer role: create and put records under the prefix, no read, no delete', () => {
    const actions = statementsOfRole(stack.importerRole).flatMap((s) => asList(s.Action as string | string[]))
    expect(actions).toEqual(expect.arrayContaining(['secretsmanager:CreateSecret', 'secretsmanager:PutSecretValue']))
    expect(actions.filter((a) => /^secretsmanager:(Delete|Restore|Update|TagResource|PutResourcePolicy)/.test(a))).toEqual([])
    const write = statementsOfRole(stack.importerRole).find((s) => s.Sid === 'WriteKeyRecords')!
    expect(JSON.stringify(write.Resource)).toContain(':secret:enclave-custody/keys/*')
  })

  /** Statements whose resource names the signing-policy secrets, anywhere in the fleet stack. */
  const POLICIES_PATTERN = ':secret:enclave-custody/policies/*'
  const policyStatements = () =>
    ofType('AWS::IAM::Policy').flatMap(([id, p]) =>
      statementsOf(p.Properties.PolicyDocument)
        .filter((s) => JSON.stringify(s.Resource).includes(POLICIES_PATTERN))
        .map((s) => ({ ...s, id }) as Record<string, unknown> & { id: string }),
    )
  const policyIdOf = (role: IConstruct) => role.node.findAll().filter((c): c is iam.CfnPolicy => c instanceof iam.CfnPolicy).map(idOf)
  const partialArn = {
    'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':secretsmanager:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `${POLICIES_PATTERN}`]],
  }

  test('signing policies: the instance role (the enclave, with its forwarded credentials) may only GetSecretValue under enclave-custody/policies/', () => {
    const statements = statementsOfRole(stack.instanceRole)
    expect(statements.filter((s) => JSON.stringify(s.Resource).includes(POLICIES_PATTERN))).toEqual([
      { Sid: 'ReadSigningPolicies', Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: partialArn },
    ])
    // It decrypts them only through Secrets Manager, for secrets under the records or the policies prefix.
    const decrypt = statements.find((s) => s.Sid === 'DecryptKeyRecords')!
    expect(decrypt).toMatchObject({ Action: 'kms:Decrypt', Resource: arnOf(stack.records.recordsKey) })
    expect(JSON.stringify((decrypt.Condition as { StringLike: Record<string, unknown> }).StringLike['kms:EncryptionContext:SecretARN'])).toContain(POLICIES_PATTERN)
    expect(JSON.stringify((decrypt.Condition as { StringEquals: Record<string, unknown> }).StringEquals['kms:ViaService'])).toContain('secretsmanager.')
  })

  test('signing policies: the importer role creates, puts and reads them under the prefix, never deletes or moves a staging label', () => {
    const statements = statementsOfRole(stack.importerRole)
    expect(statements.filter((s) => JSON.stringify(s.Resource).includes(POLICIES_PATTERN))).toEqual([
      {
        Sid: 'StoreSigningPolicies',
        Effect: 'Allow',
        Action: ['secretsmanager:CreateSecret', 'secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue'], // CDK sorts them
        Resource: partialArn,
      },
    ])
    const actions = statements.flatMap((s) => asList(s.Action as string | string[]))
    expect(actions.filter((a) => /^secretsmanager:(Delete|Restore|Update|TagResource|PutResourcePolicy|RotateSecret)/.test(a))).toEqual([])
    const encrypt = statements.find((s) => s.Sid === 'EncryptKeyRecords')!
    expect(JSON.stringify((encrypt.Condition as { StringLike: Record<string, unknown> }).StringLike['kms:EncryptionContext:SecretARN'])).toContain(POLICIES_PATTERN)
  })

  test('signing policies: no other principal of the stack is granted anything on them', () => {
    const owners = new Set([...policyIdOf(stack.instanceRole), ...policyIdOf(stack.importerRole), ...policyIdOf(stack.signingRole)])
    expect(policyStatements().filter((s) => !owners.has(s.id))).toEqual([])
    expect(policyStatements().map((s) => s.Sid).sort()).toEqual(['ReadSigningPolicies', 'StoreSigningPolicies', 'StoreSigningPolicies'])
  })
})

describe('the signing Lambda\'s role: no use of the sealing key (least privilege)', () => {
  const sealingArn = FIXTURE_KMS_KEY_ARN
  const keyUse = /^kms:(\*|Encrypt|Decrypt|GenerateDataKey|ReEncrypt|CreateGrant)/
  const lambdaStatements = () =>
    stack.signingRole.node
      .findAll()
      .filter((c): c is iam.CfnPolicy => c instanceof iam.CfnPolicy)
      .flatMap((p) => statementsOf(resources[idOf(p)]!.Properties.PolicyDocument))
  const role = () => resources[idOf(stack.signingRole)]!

  test('assumed by lambda.amazonaws.com alone; no managed policies, no inline policies besides its own', () => {
    expect(role().Properties.AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
    })
    expect(role().Properties.ManagedPolicyArns).toBeUndefined()
    expect(role().Properties.Policies).toBeUndefined()
  })

  test('exactly: write key records and signing policies, read its two secrets, VPC ENIs, its own logs', () => {
    const allowed = lambdaStatements().filter((s) => s.Effect === 'Allow')
    expect(allowed.map((s) => s.Sid ?? `(${asList(s.Action as string | string[]).join(',')})`).sort()).toEqual(
      [
        'DecryptOwnApiKey',
        'EncryptKeyRecords',
        'ReadOwnApiKey',
        'StoreSigningPolicies',
        'VpcNetworkInterfaces',
        'WriteKeyRecords',
        'WriteOwnLogs',
        // The proxy bearer token: ISecret.grantRead (no Sid) on that one secret.
        '(secretsmanager:DescribeSecret,secretsmanager:GetSecretValue)',
      ].sort(),
    )
    const token = allowed.find((s) => s.Sid === undefined)!
    expect(token.Resource).toEqual({ Ref: idOf(stack.fleet.authTokenSecret) })
    expect(allowed.find((s) => s.Sid === 'WriteOwnLogs')!.Resource).toEqual({ 'Fn::Join': ['', [arnOf(stack.signing.logGroup), ':*']] })
  })

  test('no Allow grants any KMS use on the sealing key: its only KMS actions are on the records key, via Secrets Manager', () => {
    const kmsAllows = lambdaStatements().filter((s) => s.Effect === 'Allow' && asList(s.Action as string | string[]).some((a) => a.startsWith('kms:')))
    expect(kmsAllows.map((s) => s.Sid).sort()).toEqual(['DecryptOwnApiKey', 'EncryptKeyRecords'])
    for (const s of kmsAllows) {
      expect(s.Resource).toEqual(arnOf(stack.records.recordsKey))
      expect(asList(s.Action as string | string[]).filter((a) => /^kms:(Encrypt|\*|ReEncrypt|CreateGrant)/.test(a))).toEqual([])
      expect(JSON.stringify((s.Condition as { StringEquals: Record<string, unknown> }).StringEquals['kms:ViaService'])).toContain('secretsmanager.')
    }
    for (const s of lambdaStatements().filter((x) => x.Effect === 'Allow')) {
      expect(JSON.stringify(s.Resource)).not.toContain(sealingArn)
      // "*" only for actions without resource-level permissions (the ENI actions), never a KMS action.
      if (asList(s.Resource as unknown).includes('*')) expect(asList(s.Action as string | string[]).filter((a) => a.startsWith('kms:'))).toEqual([])
    }
  })

  test('its own policy denies every KMS use of the sealing key (the ARN the image pins and the deployed key): Encrypt, Decrypt, GenerateDataKey*, ReEncrypt*, CreateGrant', () => {
    const deny = lambdaStatements().filter((s) => s.Effect === 'Deny')
    expect(deny).toEqual([
      {
        Sid: 'DenySealingKeyUse',
        Effect: 'Deny',
        Action: ['kms:CreateGrant', 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'], // CDK sorts them
        Resource: [sealingArn, importedArnOfKey()],
      },
    ])
  })

  test('the sealing key policy names neither this role nor anything of this stack; Encrypt/Decrypt/GenerateDataKey go to the keys stack\'s roles only', () => {
    const keyResource = Template.fromStack(keysStack).toJSON().Resources[keysStack.getLogicalId(keysStack.sealingKey.key)]
    const policy = keyResource.Properties.KeyPolicy as { Statement: Record<string, unknown>[] }
    expect(JSON.stringify(policy)).not.toMatch(/SigningFunctionRole|Fn::GetStackOutput|Fn::ImportValue/)
    const using = policy.Statement.filter((s) => s.Effect === 'Allow' && asList(s.Action as string | string[]).some((a) => keyUse.test(a)))
    const principals = using.flatMap((s) => asList((s.Principal as { AWS: unknown }).AWS))
    const keysRoleArn = (r: IConstruct) => ({ 'Fn::GetAtt': [keysStack.getLogicalId((r as iam.Role).node.defaultChild as CfnElement), 'Arn'] })
    const sorted = (list: unknown[]) => list.map((p) => JSON.stringify(p)).sort()
    expect(sorted(principals)).toEqual(sorted([keysRoleArn(keysStack.instanceRole), keysRoleArn(keysStack.importerRole)]))
    // The Lambda role is a different role from both.
    expect(idOf(stack.signingRole)).not.toBe(keysStack.getLogicalId(keysStack.importerRole.node.defaultChild as CfnElement))
  })

  test('the offline importer role keeps the record and policy writes here, and nothing else (its Encrypt comes from the key policy)', () => {
    const statements = statementsOfImported(stack.importerRole)
    expect(statements.map((s) => s.Sid).sort()).toEqual(['EncryptKeyRecords', 'StoreSigningPolicies', 'WriteKeyRecords'])
    expect(JSON.stringify(statements)).not.toContain(sealingArn)
  })
})

describe('signing Lambda', () => {
  test('Node.js 22 in the VPC, the bundled handler, its environment', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Handler: 'index.handler',
      Role: arnOf(stack.signingRole),
      VpcConfig: { SecurityGroupIds: [{ 'Fn::GetAtt': [idOf(stack.signing.securityGroup), 'GroupId'] }], SubnetIds: Match.anyValue() },
      Environment: {
        Variables: {
          CUSTODY_URL: { 'Fn::Join': ['', ['https://', { Ref: 'ProxyDomainName' }]] },
          CUSTODY_AUTH_TOKEN_SECRET_ARN: { Ref: idOf(stack.fleet.authTokenSecret) },
          CUSTODY_KMS_KEY_ID: FIXTURE_KMS_KEY_ARN,
          CUSTODY_RECORDS_KMS_KEY_ID: arnOf(stack.records.recordsKey),
          CUSTODY_SECRET_PREFIX: 'enclave-custody/keys/',
          CUSTODY_KEY_ID: 'default',
          CUSTODY_API_KEY_SECRET_ARN: { Ref: idOf(stack.signing.apiKeySecret) },
          CUSTODY_PCR0: FIXTURE_PCRS.PCR0,
          CUSTODY_ALLOW_DEBUG_ENCLAVE: 'false',
        },
      },
    })
  })

  test('its PCR0 allowlist is the one the sealing key policy accepts', () => {
    const variables = (resources[idOf(stack.signing.function)]!.Properties.Environment as { Variables: Record<string, unknown> }).Variables
    const accepted = Template.fromStack(keysStack).findOutputs('AcceptedPCR0s').AcceptedPCR0s!.Value
    expect(variables.CUSTODY_PCR0).toBe(accepted)
  })

  test('its API key secret: generated by CloudFormation (64 characters), encrypted with the records key, retained', () => {
    const id = idOf(stack.signing.apiKeySecret)
    expect(resources[id]).toMatchObject({
      Type: 'AWS::SecretsManager::Secret',
      Properties: { GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true, IncludeSpace: false }, KmsKeyId: arnOf(stack.records.recordsKey) },
      DeletionPolicy: 'Retain',
    })
  })

  test('least privilege on the API key: GetSecretValue on that secret alone, KMS Decrypt only via Secrets Manager for it; nobody else reads it', () => {
    const secret = { Ref: idOf(stack.signing.apiKeySecret) }
    const mentions = (s: Record<string, unknown>) => JSON.stringify(s).includes(JSON.stringify(secret))
    const policies = stack.signingRole.node.findAll().filter((c): c is iam.CfnPolicy => c instanceof iam.CfnPolicy)
    const statements = policies.flatMap((p) => statementsOf(resources[idOf(p)]!.Properties.PolicyDocument))
    expect(statements.filter(mentions)).toEqual([
      { Sid: 'ReadOwnApiKey', Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: secret },
      {
        Sid: 'DecryptOwnApiKey',
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: arnOf(stack.records.recordsKey),
        Condition: {
          StringEquals: {
            'kms:ViaService': { 'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
            'kms:EncryptionContext:SecretARN': secret,
          },
        },
      },
    ])
    for (const [, p] of ofType('AWS::IAM::Policy')) {
      const others = statementsOf(p.Properties.PolicyDocument).filter((s) => mentions(s) && !['ReadOwnApiKey', 'DecryptOwnApiKey'].includes(s.Sid as string))
      expect(others).toEqual([])
    }
    expect(ofType('AWS::SecretsManager::ResourcePolicy')).toEqual([])
  })

  test('the bundle loads in Node and answers 503 UNAVAILABLE when its environment is missing', async () => {
    const asset = stack.signing.function.node.tryFindChild('Code') as { assetPath: string } | undefined
    const dir = asset ? join(app.outdir, asset.assetPath) : findAssetWith('index.mjs')
    expect(readdirSync(dir).sort()).toEqual(['index.mjs', 'package.json'])
    const { handler } = (await import(pathToFileURL(join(dir, 'index.mjs')).href)) as { handler: (e: unknown) => Promise<unknown> }
    expect(await handler({ operation: 'get_address' })).toEqual({
      statusCode: 503,
      body: { code: 'UNAVAILABLE', message: 'the signing service is not configured or cannot reach its secrets' },
    })
  })
})

test('outputs', () => {
  for (const name of ['ASGGroupName', 'EC2InstanceRoleARN', 'KMSKeyID', 'LambdaExecutionRoleARN', 'LoadBalancerDNS']) template.hasOutput(name, {})
  template.hasOutput('KMSKeyID', { Value: FIXTURE_KMS_KEY_ARN })
  template.hasOutput('EC2InstanceRoleARN', { Value: importedArnOf(keysStack.instanceRole) })
  template.hasOutput('LambdaExecutionRoleARN', { Value: arnOf(stack.signingRole) })
  template.hasOutput('ExpectedPCR0', { Value: FIXTURE_PCRS.PCR0 })
  template.hasOutput('SigningApiKeySecretARN', { Value: { Ref: idOf(stack.signing.apiKeySecret) } })
})

describe('cdk-nag AwsSolutions', () => {
  test('zero unacknowledged errors or warnings', () => {
    const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(app)
    expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([])
    expect(report.success).toBe(true)
  })

  test('every acknowledgment carries a specific reason; the list is reviewed here', () => {
    const acknowledged: string[] = []
    const visit = (c: IConstruct) => {
      for (const entry of c.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
          expect(reason.length, `reason of ${id} at ${c.node.path}`).toBeGreaterThan(60)
          acknowledged.push(`${c.node.path.replace(`${stack.stackName}/`, '')}: ${id.replace(/^annotation::/i, '')}`)
        }
      }
      for (const child of c.node.children) visit(child)
    }
    visit(app)
    expect(acknowledged.sort()).toMatchInlineSnapshot(`
      [
        "EnclaveCustody-Keys/InstanceRole: AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]",
        "EnclaveCustody: CloudFormation-Validate::W3010",
        "Fleet/AccessLogs: AwsSolutions-S1",
        "Fleet/Group: AwsSolutions-AS3",
        "Fleet/ProxyAuthToken: AwsSolutions-SMG4",
        "ImporterRole: AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:enclave-custody/keys/*]",
        "ImporterRole: AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:enclave-custody/policies/*]",
        "InstanceRole: AwsSolutions-IAM5[Resource::*]",
        "InstanceRole: AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:enclave-custody/keys/*]",
        "InstanceRole: AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:enclave-custody/policies/*]",
        "Network/Vpc/FlowLog: CloudFormation-Validate::F3002",
        "Network/Vpc/FlowLog: CloudFormation-Validate::F3003",
        "Signing/ApiKey: AwsSolutions-SMG4",
        "Signing/Function: AwsSolutions-L1",
        "SigningFunctionRole: AwsSolutions-IAM5[Resource::*]",
        "SigningFunctionRole: AwsSolutions-IAM5[Resource::<SigningLogs6DED6561.Arn>:*]",
        "SigningFunctionRole: AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:enclave-custody/keys/*]",
        "SigningFunctionRole: AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:enclave-custody/policies/*]",
      ]
    `)
  })

  test('the pack does fire (a bare bucket in another app is reported)', () => {
    const other = new Stack(new App(), 'Other')
    new s3.Bucket(other, 'Bare')
    const report = new AwsSolutionsChecks().validateScope(other)
    expect(report.violations.map((v) => v.ruleName)).toEqual(expect.arrayContaining(['AwsSolutions-S1', 'AwsSolutions-S10']))
  })
})
