import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Aws, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib'
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling'
import * as ec2 from 'aws-cdk-lib/aws-ec2'
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2'
import * as iam from 'aws-cdk-lib/aws-iam'
import type * as kms from 'aws-cdk-lib/aws-kms'
import * as logs from 'aws-cdk-lib/aws-logs'
import * as route53 from 'aws-cdk-lib/aws-route53'
import * as route53Targets from 'aws-cdk-lib/aws-route53-targets'
import * as s3 from 'aws-cdk-lib/aws-s3'
import * as s3assets from 'aws-cdk-lib/aws-s3-assets'
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager'
import { Construct } from 'constructs'
import { bundleNodeEntry } from '../bundling/bundleNodeEntry.js'
import { parseKmsKeyArn } from '../config/parseKmsKeyArn.js'
import { HOST_FILES, LOG_CHANNEL_ENVIRONMENT, LOG_CHANNEL_FILES, OPTIONAL_HOST_FILES, REQUIRED_HOST_FILES } from '../host/hostLayout.js'
import { renderBootstrapScript } from '../host/renderBootstrapScript.js'

/** `packages/parent-proxy/host`: systemd units, vsock-proxy.yaml, allocator.yaml, custody.env.example. */
export const DEFAULT_HOST_FILES_PATH = fileURLToPath(new URL('../../../parent-proxy/host', import.meta.url))
/** The parent proxy's entry point, bundled into one file for the instances. */
export const DEFAULT_PROXY_ENTRY = fileURLToPath(new URL('../../../parent-proxy/src/bin/proxy.ts', import.meta.url))
/** The enclave log channel's receiver, bundled beside the proxy (`proxy/log-receiver.js`) when the host files ship logs. */
export const DEFAULT_LOG_RECEIVER_ENTRY = fileURLToPath(new URL('../../../parent-proxy/src/bin/logReceiver.ts', import.meta.url))

export interface EnclaveFleetProps {
  readonly vpc: ec2.IVpc
  /** Where the instances and the load balancer go. @default CDK's default selection (the private subnets) */
  readonly subnets?: ec2.SubnetSelection
  /**
   * Instance role (its KMS rights come from the sealing key's policy; this construct adds S3, Secrets Manager and
   * the CloudFormation signal). It may be imported from the keys stack (`Role.fromRoleArn(…, { mutable: true })`);
   * the SSM managed policy is attached where the role is defined.
   */
  readonly role: iam.IRole
  /** The prebuilt enclave image; it becomes an S3 asset. */
  readonly eifPath: string
  /** Measurements the EIF must have; the instance refuses to run it otherwise. PCR0 is required. */
  readonly expectedPcrs: Readonly<{ 0: string } & Partial<Record<1 | 2 | 8, string>>>
  /** The key policy accepts a debug-mode enclave; the boot check then only logs the EIF's PCR0. @default false */
  readonly debugEnclave?: boolean
  /** Nitro-capable instance type. @default 'm6i.xlarge' */
  readonly instanceType?: string
  /** @default 2 */
  readonly minCapacity?: number
  /** @default max(2, minCapacity) */
  readonly maxCapacity?: number
  /** @default minCapacity */
  readonly desiredCapacity?: number
  /** ACM certificate of the TLS listener (a token such as a CloudFormation parameter is fine). */
  readonly certificateArn: string
  /** Name the certificate covers; a private hosted zone in the VPC points it at the load balancer. */
  readonly domainName: string
  /** Key that encrypts the proxy's bearer-token secret. @default the account's aws/secretsmanager key */
  readonly secretsKey?: kms.IKey
  /** Secrets Manager prefix of key records (written to custody.env). @default 'enclave-custody/keys/' */
  readonly secretPrefix?: string
  /** Directory of the host files. @default DEFAULT_HOST_FILES_PATH */
  readonly hostFilesPath?: string
  /** Entry point of the parent proxy. @default DEFAULT_PROXY_ENTRY */
  readonly proxyEntry?: string
  /** Entry point of the enclave log channel's receiver (bundled only when the host files ship logs). @default DEFAULT_LOG_RECEIVER_ENTRY */
  readonly logReceiverEntry?: string
  /** Port the parent proxy serves HTTPS on. @default 8443 */
  readonly proxyPort?: number
  /** Port of the load balancer's TLS listener. @default 443 */
  readonly listenerPort?: number
  /** Root volume size in GiB. @default 30 */
  readonly volumeSize?: number
  /** The sealing key's full ARN, as measured into the image (`build-eif.sh --kms-key-arn`). */
  readonly kmsKeyArn: string
  /**
   * ARN of the key the attested policy was written onto (the keys stack's, a CloudFormation reference). Each
   * instance refuses to boot, and signals FAILURE, unless it equals `kmsKeyArn`. @default not compared
   */
  readonly deployedKmsKeyArn?: string
  /** How long CloudFormation waits for each instance's signal (create and rolling update). @default 30 minutes */
  readonly signalTimeout?: Duration
  /** How long an instance waits for `/healthz` through the enclave, after starting it, before signalling FAILURE. @default 10 minutes */
  readonly healthTimeout?: Duration
  /** Extra or overriding entries of /etc/enclave-custody/custody.env. @default {} */
  readonly environment?: Readonly<Record<string, string>>
  /** Networks besides explicitly allowed security groups that may reach the listener. @default [] */
  readonly clientCidrs?: readonly string[]
  /** Days the load balancer's access logs are kept. @default 365 */
  readonly accessLogRetentionDays?: number
  /** Encrypts the hosts' log group (when the host files ship logs). @default the CloudWatch Logs service key */
  readonly logsKey?: kms.IKey
  /** How long the hosts' log group keeps events. @default logs.RetentionDays.ONE_YEAR */
  readonly hostLogRetention?: logs.RetentionDays
}

/**
 * The parent instances and their load balancer:
 * - a launch template (enclave enabled, Amazon Linux 2023, IMDSv2 required with hop limit 1, encrypted
 *   gp3 root volume, no public IP, detailed monitoring) whose user data installs the Nitro Enclaves CLI,
 *   fetches the EIF and the host files (S3 assets), refuses the EIF unless its PCRs match, and starts
 *   vsock-proxy, the enclave and the parent proxy under systemd;
 * - an Auto Scaling group across the private subnets' AZs, replacing instances the load balancer finds
 *   unhealthy; CloudFormation waits for every instance's resource signal — sent by the boot script only
 *   once `/healthz` answers through the enclave, FAILURE otherwise — on creation and on rolling updates
 *   (one instance at a time, 100 % must succeed), so a bad image fails the deploy and rolls back
 *   (CloudFormation behaviour unverified here: tested through synth and the script's own tests);
 * - an internal Network Load Balancer with a TLS listener (ACM certificate, TLS 1.2+ policy) that
 *   re-encrypts to the proxies (each has its own key) and health-checks `GET /healthz` over HTTPS,
 *   which answers only after an enclave round trip; access logs to an encrypted bucket;
 * - the proxy's bearer token in Secrets Manager, a private DNS name for the certificate.
 */
export class EnclaveFleet extends Construct {
  public readonly securityGroup: ec2.SecurityGroup
  public readonly loadBalancerSecurityGroup: ec2.SecurityGroup
  public readonly launchTemplate: ec2.LaunchTemplate
  public readonly autoScalingGroup: autoscaling.AutoScalingGroup
  public readonly loadBalancer: elbv2.NetworkLoadBalancer
  public readonly listener: elbv2.NetworkListener
  public readonly targetGroup: elbv2.NetworkTargetGroup
  public readonly accessLogsBucket: s3.Bucket
  public readonly authTokenSecret: secretsmanager.Secret
  public readonly eifAsset: s3assets.Asset
  public readonly hostFilesAsset: s3assets.Asset
  public readonly hostedZone: route53.PrivateHostedZone
  /** `https://<domainName>[:port]`: what clients (the signing Lambda) call. */
  public readonly proxyUrl: string
  /** Port of the TLS listener clients connect to. */
  public readonly listenerPort: number
  /** The measurements every instance checks the EIF against before running it (the current image only). */
  public readonly expectedPcrs: Readonly<{ 0: string } & Partial<Record<1 | 2 | 8, string>>>
  /**
   * Where the hosts' log shipper (`HOST_FILES.logUnit`, the host side of the enclave's vsock log channel)
   * writes; absent when the host files have no shipper.
   */
  public readonly hostLogGroup: logs.LogGroup | undefined

  constructor(scope: Construct, id: string, props: EnclaveFleetProps) {
    super(scope, id)
    const {
      vpc,
      subnets,
      role,
      expectedPcrs,
      debugEnclave = false,
      instanceType = 'm6i.xlarge',
      minCapacity = 2,
      certificateArn,
      domainName,
      proxyPort = 8443,
      listenerPort = 443,
      volumeSize = 30,
      hostFilesPath = DEFAULT_HOST_FILES_PATH,
      proxyEntry = DEFAULT_PROXY_ENTRY,
      logReceiverEntry = DEFAULT_LOG_RECEIVER_ENTRY,
      clientCidrs = [],
      accessLogRetentionDays = 365,
      signalTimeout = Duration.minutes(30),
      healthTimeout = Duration.minutes(10),
    } = props
    const maxCapacity = props.maxCapacity ?? Math.max(2, minCapacity)
    const desiredCapacity = props.desiredCapacity ?? minCapacity
    if (!(0 <= minCapacity && minCapacity <= desiredCapacity && desiredCapacity <= maxCapacity && maxCapacity >= 1)) {
      throw new Error(`EnclaveFleet: need 0 ≤ minCapacity (${minCapacity}) ≤ desiredCapacity (${desiredCapacity}) ≤ maxCapacity (${maxCapacity}), maxCapacity ≥ 1`)
    }
    for (const [name, port] of [['proxyPort', proxyPort], ['listenerPort', listenerPort]] as const) {
      if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new Error(`EnclaveFleet: ${name} must be a TCP port`)
    }
    if (!Number.isInteger(volumeSize) || volumeSize < 8 || volumeSize > 1024) throw new Error('EnclaveFleet: volumeSize must be 8 to 1024 GiB')
    if (!/^[0-9a-f]{96}$/.test(expectedPcrs[0])) throw new Error('EnclaveFleet: expectedPcrs[0] must be 96 lower-case hex digits')
    if (!Token.isUnresolved(props.kmsKeyArn)) {
      const parsed = parseKmsKeyArn(props.kmsKeyArn)
      if (!parsed.ok) throw new Error(`EnclaveFleet: kmsKeyArn ${parsed.rule}`)
    }
    if (healthTimeout.toSeconds() < 60 || healthTimeout.toSeconds() >= signalTimeout.toSeconds()) {
      throw new Error('EnclaveFleet: healthTimeout must be at least a minute and shorter than signalTimeout (the boot before it takes time too)')
    }
    if (!existsSync(props.eifPath)) throw new Error(`EnclaveFleet: eifPath ${props.eifPath} does not exist`)
    const missing = REQUIRED_HOST_FILES.filter((f) => !existsSync(join(hostFilesPath, f)))
    if (missing.length > 0) throw new Error(`EnclaveFleet: hostFilesPath ${hostFilesPath} lacks ${missing.join(', ')} (context: -c hostFilesPath=<dir>)`)
    // The log channel is all or nothing: its receiver unit decides, and then every one of its files must be there.
    const shipsLogs = existsSync(join(hostFilesPath, HOST_FILES.logUnit))
    const missingLogFiles = shipsLogs ? LOG_CHANNEL_FILES.filter((f) => !existsSync(join(hostFilesPath, f))) : []
    if (missingLogFiles.length > 0) throw new Error(`EnclaveFleet: hostFilesPath ${hostFilesPath} has ${HOST_FILES.logUnit} but lacks ${missingLogFiles.join(', ')} (the log channel ships all of them)`)
    const region = Aws.REGION
    this.listenerPort = listenerPort
    this.expectedPcrs = expectedPcrs

    // Assets: the EIF as is; the host files plus the proxy bundle as one zipped directory.
    this.eifAsset = new s3assets.Asset(this, 'EnclaveImage', { path: props.eifPath })
    const staging = mkdtempSync(join(tmpdir(), 'enclave-custody-host-'))
    try {
      for (const f of [...REQUIRED_HOST_FILES, ...OPTIONAL_HOST_FILES.filter((o) => existsSync(join(hostFilesPath, o)))]) {
        mkdirSync(dirname(join(staging, f)), { recursive: true })
        copyFileSync(join(hostFilesPath, f), join(staging, f))
      }
      bundleNodeEntry({ entry: proxyEntry, outfile: join(staging, 'proxy', 'proxy.js') })
      if (shipsLogs) bundleNodeEntry({ entry: logReceiverEntry, outfile: join(staging, 'proxy', 'log-receiver.js') })
      this.hostFilesAsset = new s3assets.Asset(this, 'HostFiles', { path: staging })
    } finally {
      rmSync(staging, { recursive: true, force: true })
    }

    // The proxy's caller credential: generated by CloudFormation, read by the instances and the Lambda.
    this.authTokenSecret = new secretsmanager.Secret(this, 'ProxyAuthToken', {
      description: 'enclave-custody: bearer token callers present to the parent proxy',
      ...(props.secretsKey ? { encryptionKey: props.secretsKey } : {}),
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      removalPolicy: RemovalPolicy.DESTROY,
    })
    Validations.of(this.authTokenSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'The proxy reads its bearer token at start; rotating it means replacing the instances (a stack update with a new secret), not a rotation Lambda the proxy could not follow.',
    })

    // Instance permissions besides the key policy: its two boot assets, the bearer token, SSM.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadBootAssets',
        actions: ['s3:GetObject'],
        resources: [this.eifAsset.bucket.arnForObjects(this.eifAsset.s3ObjectKey), this.hostFilesAsset.bucket.arnForObjects(this.hostFilesAsset.s3ObjectKey)],
      }),
    )
    this.authTokenSecret.grantRead(role)
    // cloudformation:SignalResource on this stack (the boot script's signal) is granted by the group's `signals`.

    // The hosts' log shipper, if the host files have one: its own encrypted group, write-only for the instances.
    this.hostLogGroup = shipsLogs
      ? new logs.LogGroup(this, 'HostLogs', {
          retention: props.hostLogRetention ?? logs.RetentionDays.ONE_YEAR,
          ...(props.logsKey ? { encryptionKey: props.logsKey } : {}),
          removalPolicy: RemovalPolicy.RETAIN,
        })
      : undefined
    if (this.hostLogGroup) {
      role.addToPrincipalPolicy(
        // DescribeLogStreams: AWS's own agent policy (CloudWatchAgentServerPolicy) grants it; whether the current
        // agent still calls it (PutLogEvents needs no sequence token since 2023) is unverified. Read-only, this group only.
        new iam.PolicyStatement({
          sid: 'ShipHostLogs',
          actions: ['logs:CreateLogStream', 'logs:DescribeLogStreams', 'logs:PutLogEvents'],
          resources: [this.hostLogGroup.logGroupArn],
        }),
      )
    }

    // Security groups: the load balancer reaches the proxies; the proxies reach only HTTPS (endpoints, S3).
    this.loadBalancerSecurityGroup = new ec2.SecurityGroup(this, 'LoadBalancerSecurityGroup', {
      vpc,
      description: 'enclave-custody load balancer: TLS from allowed clients, to the parent proxies',
      allowAllOutbound: false,
    })
    this.securityGroup = new ec2.SecurityGroup(this, 'InstanceSecurityGroup', {
      vpc,
      description: 'enclave-custody parent instances: proxy port from the load balancer only; HTTPS out',
      allowAllOutbound: false,
    })
    this.securityGroup.addIngressRule(this.loadBalancerSecurityGroup, ec2.Port.tcp(proxyPort), 'Proxy traffic and health checks from the load balancer')
    this.loadBalancerSecurityGroup.addEgressRule(this.securityGroup, ec2.Port.tcp(proxyPort), 'To the parent proxies')
    this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to VPC endpoints and S3 (no internet route unless enableNat)')
    for (const cidr of clientCidrs) this.loadBalancerSecurityGroup.addIngressRule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(listenerPort), `Clients in ${cidr}`)

    // Launch template.
    const type = new ec2.InstanceType(instanceType)
    const userData = ec2.UserData.forLinux()
    this.launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      instanceType: type,
      machineImage: ec2.MachineImage.latestAmazonLinux2023({ cpuType: type.architecture === ec2.InstanceArchitecture.ARM_64 ? ec2.AmazonLinuxCpuType.ARM_64 : ec2.AmazonLinuxCpuType.X86_64 }),
      userData,
      role,
      securityGroup: this.securityGroup,
      nitroEnclaveEnabled: true,
      requireImdsv2: true,
      httpEndpoint: true,
      httpPutResponseHopLimit: 1,
      instanceMetadataTags: false,
      associatePublicIpAddress: false,
      detailedMonitoring: true,
      ebsOptimized: true,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(volumeSize, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3, deleteOnTermination: true }),
        },
      ],
    })

    this.autoScalingGroup = new autoscaling.AutoScalingGroup(this, 'Group', {
      vpc,
      vpcSubnets: subnets,
      launchTemplate: this.launchTemplate,
      minCapacity,
      maxCapacity,
      // Left out when equal to the minimum: CloudFormation then starts at the minimum and a later deploy
      // does not reset a size an operator changed.
      ...(desiredCapacity !== minCapacity ? { desiredCapacity } : {}),
      healthChecks: autoscaling.HealthChecks.withAdditionalChecks({
        additionalTypes: [autoscaling.AdditionalHealthCheckType.ELB],
        gracePeriod: Duration.minutes(10),
      }),
      // CloudFormation waits for a SUCCESS signal from every instance (the boot script sends it once /healthz
      // answers through the enclave, FAILURE on any error): on creation, and per batch of a rolling update,
      // where any FAILURE or a missing signal fails the update and rolls it back.
      signals: autoscaling.Signals.waitForMinCapacity({ timeout: signalTimeout, minSuccessPercentage: 100 }),
      updatePolicy: autoscaling.UpdatePolicy.rollingUpdate({
        maxBatchSize: 1,
        minInstancesInService: Math.min(minCapacity, maxCapacity - 1),
        minSuccessPercentage: 100,
        waitOnResourceSignals: true,
        pauseTime: signalTimeout,
      }),
      cooldown: Duration.minutes(5),
    })
    if (desiredCapacity !== minCapacity) {
      Validations.of(this.autoScalingGroup).acknowledge({
        id: 'Annotation::@aws-cdk/aws-autoscaling:desiredCapacitySet',
        reason: 'desiredCapacity was set explicitly (context desiredCapacity): every deploy sets the group to it, which is the intent.',
      })
    }
    Validations.of(this.autoScalingGroup).acknowledge({
      id: 'AwsSolutions-AS3',
      reason: 'Scaling events are in the group activity history, CloudTrail and EventBridge ("EC2 Instance Launch/Terminate"); subscribe there instead of an SNS topic nobody reads.',
    })

    // The boot script (rendered into the launch template lazily): it signals the group created above.
    userData.addCommands(
      ...renderBootstrapScript({
        region,
        eif: { bucket: this.eifAsset.s3BucketName, key: this.eifAsset.s3ObjectKey },
        hostFiles: { bucket: this.hostFilesAsset.s3BucketName, key: this.hostFilesAsset.s3ObjectKey },
        expectedPcrs,
        debugEnclave,
        authTokenSecretArn: this.authTokenSecret.secretArn,
        environment: {
          CUSTODY_REGION: region,
          CUSTODY_PROXY_HOST: '0.0.0.0',
          CUSTODY_PROXY_PORT: String(proxyPort),
          CUSTODY_RECORDS: 'secretsmanager',
          CUSTODY_SECRET_PREFIX: props.secretPrefix ?? 'enclave-custody/keys/',
          CUSTODY_CREDENTIALS: 'imds',
          ...(this.hostLogGroup ? { CUSTODY_LOG_GROUP: this.hostLogGroup.logGroupName, ...LOG_CHANNEL_ENVIRONMENT } : {}),
          ...props.environment,
        },
        kmsKeyArn: props.kmsKeyArn,
        ...(this.hostLogGroup ? { logChannel: { logGroupName: this.hostLogGroup.logGroupName } } : {}),
        ...(props.deployedKmsKeyArn !== undefined ? { deployedKmsKeyArn: props.deployedKmsKeyArn } : {}),
        healthGate: {
          stackName: Aws.STACK_NAME,
          logicalId: Stack.of(this).getLogicalId(this.autoScalingGroup.node.defaultChild as autoscaling.CfnAutoScalingGroup),
          healthUrl: `https://127.0.0.1:${proxyPort}/healthz`,
          timeoutSeconds: healthTimeout.toSeconds(),
        },
      }),
    )

    // Internal NLB: TLS in (ACM certificate), TLS to the proxies, HTTPS health checks on /healthz.
    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(accessLogRetentionDays) }],
      removalPolicy: RemovalPolicy.RETAIN,
    })
    Validations.of(this.accessLogsBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This bucket is itself the access-log destination (of the load balancer); logging its own requests would need yet another bucket. CloudTrail data events cover it when required.',
    })
    this.loadBalancer = new elbv2.NetworkLoadBalancer(this, 'LoadBalancer', {
      vpc,
      vpcSubnets: subnets,
      internetFacing: false,
      securityGroups: [this.loadBalancerSecurityGroup],
      crossZoneEnabled: true,
    })
    // Access logs (TLS listeners only): the log delivery service writes under AWSLogs/<account>/.
    // Written out rather than logAccessLogs(), which needs a concrete region; this keeps the stack region-agnostic.
    const logsPrefix = 'nlb'
    this.accessLogsBucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AWSLogDeliveryWrite',
        principals: [new iam.ServicePrincipal('delivery.logs.amazonaws.com')],
        actions: ['s3:PutObject'],
        resources: [this.accessLogsBucket.arnForObjects(`${logsPrefix}/AWSLogs/${Aws.ACCOUNT_ID}/*`)],
        conditions: {
          StringEquals: { 's3:x-amz-acl': 'bucket-owner-full-control', 'aws:SourceAccount': Aws.ACCOUNT_ID },
          ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:*` },
        },
      }),
    )
    this.accessLogsBucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AWSLogDeliveryAclCheck',
        principals: [new iam.ServicePrincipal('delivery.logs.amazonaws.com')],
        actions: ['s3:GetBucketAcl'],
        resources: [this.accessLogsBucket.bucketArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
          ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:*` },
        },
      }),
    )
    this.loadBalancer.setAttribute('access_logs.s3.enabled', 'true')
    this.loadBalancer.setAttribute('access_logs.s3.bucket', this.accessLogsBucket.bucketName)
    this.loadBalancer.setAttribute('access_logs.s3.prefix', logsPrefix)
    this.loadBalancer.node.addDependency(this.accessLogsBucket)
    this.targetGroup = new elbv2.NetworkTargetGroup(this, 'Proxies', {
      vpc,
      port: proxyPort,
      protocol: elbv2.Protocol.TLS,
      targetType: elbv2.TargetType.INSTANCE,
      preserveClientIp: false,
      deregistrationDelay: Duration.seconds(30),
      healthCheck: {
        protocol: elbv2.Protocol.HTTPS,
        path: '/healthz',
        port: String(proxyPort),
        interval: Duration.seconds(10),
        timeout: Duration.seconds(6),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 2,
      },
      targets: [this.autoScalingGroup],
    })
    this.listener = this.loadBalancer.addListener('Tls', {
      port: listenerPort,
      protocol: elbv2.Protocol.TLS,
      certificates: [elbv2.ListenerCertificate.fromArn(certificateArn)],
      sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
      defaultTargetGroups: [this.targetGroup],
    })

    // A private DNS name in the VPC that matches the certificate.
    this.hostedZone = new route53.PrivateHostedZone(this, 'Zone', { zoneName: domainName, vpc, comment: 'enclave-custody: the proxy name the TLS certificate covers' })
    new route53.ARecord(this, 'Alias', { zone: this.hostedZone, target: route53.RecordTarget.fromAlias(new route53Targets.LoadBalancerTarget(this.loadBalancer)) })
    this.proxyUrl = listenerPort === 443 ? `https://${domainName}` : `https://${domainName}:${listenerPort}`
  }
}
