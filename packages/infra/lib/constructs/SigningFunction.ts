import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib'
import * as ec2 from 'aws-cdk-lib/aws-ec2'
import * as iam from 'aws-cdk-lib/aws-iam'
import type * as kms from 'aws-cdk-lib/aws-kms'
import * as lambda from 'aws-cdk-lib/aws-lambda'
import * as logs from 'aws-cdk-lib/aws-logs'
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager'
import { Construct } from 'constructs'
import { HANDLER_ENVIRONMENT } from '../../lambda/environment.js'
import { bundleNodeEntry } from '../bundling/bundleNodeEntry.js'
import { acknowledgeWildcardResource } from '../nag/acknowledgeWildcardResource.js'

/** `packages/infra/lambda/handler.ts`. */
export const DEFAULT_HANDLER_ENTRY = fileURLToPath(new URL('../../lambda/handler.ts', import.meta.url))

export interface SigningFunctionProps {
  readonly vpc: ec2.IVpc
  /** @default CDK's default selection (the private subnets) */
  readonly subnets?: ec2.SubnetSelection
  /** Execution role: the importer role of the key policy (kms:Encrypt). Logging and VPC permissions are added here. */
  readonly role: iam.IRole
  /** `https://…` of the parent proxies' load balancer. */
  readonly proxyUrl: string
  /** Bearer token the proxies accept; read once per cold start. */
  readonly authTokenSecret: secretsmanager.ISecret
  /** The attested sealing key (Encrypt on import). */
  readonly sealingKeyId: string
  /** The key Secrets Manager encrypts records with. */
  readonly recordsKeyArn: string
  /** @default 'enclave-custody/keys/' */
  readonly secretPrefix?: string
  /** keyId of payloads that name none. @default 'default' */
  readonly defaultKeyId?: string
  /** Encrypts the function's log group. @default the CloudWatch Logs service key */
  readonly logsKey?: kms.IKey
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays
  /** @default DEFAULT_HANDLER_ENTRY */
  readonly entry?: string
  /** @default 512 */
  readonly memorySize?: number
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration
}

/**
 * The sample's signing Lambda (Node.js 22, in the VPC, one esbuild bundle built locally without
 * Docker): `set_key` seals with KMS Encrypt as the importer role, `get_address` and
 * `sign_transaction` go to the enclave through the internal load balancer with the bearer token.
 * Its security group only opens HTTPS out (load balancer, VPC endpoints).
 */
export class SigningFunction extends Construct {
  public readonly function: lambda.Function
  public readonly securityGroup: ec2.SecurityGroup
  public readonly logGroup: logs.LogGroup

  constructor(scope: Construct, id: string, props: SigningFunctionProps) {
    super(scope, id)
    const { vpc, subnets, role, entry = DEFAULT_HANDLER_ENTRY, memorySize = 512, timeout = Duration.seconds(30), logRetention = logs.RetentionDays.ONE_YEAR } = props
    if (!Number.isInteger(memorySize) || memorySize < 256 || memorySize > 10_240) throw new Error('SigningFunction: memorySize must be 256 to 10240 MB')
    if (timeout.toSeconds() < 5 || timeout.toSeconds() > 900) throw new Error('SigningFunction: timeout must be 5 s to 15 min')

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc,
      description: 'enclave-custody signing Lambda: HTTPS out only (load balancer, VPC endpoints)',
      allowAllOutbound: false,
    })
    this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to the load balancer and the KMS / Secrets Manager endpoints')

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: logRetention,
      ...(props.logsKey ? { encryptionKey: props.logsKey } : {}),
      removalPolicy: RemovalPolicy.RETAIN,
    })

    // Explicit execution permissions instead of AWSLambdaBasicExecutionRole / AWSLambdaVPCAccessExecutionRole.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'WriteOwnLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [`${this.logGroup.logGroupArn}:*`] }),
    )
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'VpcNetworkInterfaces',
        actions: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
        resources: ['*'],
      }),
    )
    props.authTokenSecret.grantRead(role)
    acknowledgeWildcardResource(role, `${this.logGroup.logGroupArn}:*`, 'Lambda names its log streams; the grant is the streams of this function\'s own log group only.')
    acknowledgeWildcardResource(role, '*', 'Lambda manages the network interfaces of a VPC function with these EC2 actions, which IAM only grants on "*" (the same set as AWSLambdaVPCAccessExecutionRole).')

    const staging = mkdtempSync(join(tmpdir(), 'enclave-custody-lambda-'))
    try {
      bundleNodeEntry({ entry, outfile: join(staging, 'index.mjs') })
      const code = lambda.Code.fromAsset(staging)
      // Bind now so the asset is staged (copied into the cloud assembly) before the temporary directory goes.
      this.function = new lambda.Function(this, 'Function', {
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        handler: 'index.handler',
        code,
        role,
        vpc,
        vpcSubnets: subnets,
        securityGroups: [this.securityGroup],
        memorySize,
        timeout,
        logGroup: this.logGroup,
        loggingFormat: lambda.LoggingFormat.JSON,
        description: 'enclave-custody: set_key / get_address / sign_transaction (the AWS sample operations) through the attested enclave',
        environment: {
          [HANDLER_ENVIRONMENT.proxyUrl]: props.proxyUrl,
          [HANDLER_ENVIRONMENT.authTokenSecretArn]: props.authTokenSecret.secretArn,
          [HANDLER_ENVIRONMENT.kmsKeyId]: props.sealingKeyId,
          [HANDLER_ENVIRONMENT.recordsKmsKeyId]: props.recordsKeyArn,
          [HANDLER_ENVIRONMENT.secretPrefix]: props.secretPrefix ?? 'enclave-custody/keys/',
          [HANDLER_ENVIRONMENT.defaultKeyId]: props.defaultKeyId ?? 'default',
        },
      })
    } finally {
      rmSync(staging, { recursive: true, force: true })
    }
    this.function.node.addDependency(role)
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'Pinned to Node.js 22 (LTS), the version this repository supports and tests (engines >=20.19); moving to a newer runtime is a tested upgrade, not an automatic one.',
    })
  }
}
