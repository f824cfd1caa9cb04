import { Aws, DefaultStackSynthesizer, Duration, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib'
import * as iam from 'aws-cdk-lib/aws-iam'
import * as kms from 'aws-cdk-lib/aws-kms'
import { buildKeyPolicy, type KeyPolicyDocument } from '@enclave-custody/sdk'
import { Construct } from 'constructs'

export interface KeysProps {
  /** Expected PCR0 (ImageSha384) of the enclave image: 96 hex digits. */
  readonly pcr0: string
  /** Further measurements the key policy requires too. @default none */
  readonly pcrs?: Readonly<Partial<Record<1 | 2 | 8, string>>>
  /** Role of the parent instances: Decrypt and GenerateDataKey only with a matching attestation document. */
  readonly instanceRole: iam.IRole
  /** Role that imports keys: Encrypt only. */
  readonly importerRole: iam.IRole
  /**
   * Key administrators (no cryptographic use). When given, the CloudFormation execution role of the
   * CDK bootstrap is added, because CloudFormation must be able to update the policy when PCR0 changes
   * (and KMS refuses a policy that locks its creator out).
   * @default the account root: administration is delegated to IAM policies in the account
   */
  readonly adminArns?: readonly string[]
  /** @default RemovalPolicy.RETAIN — deleting the sealing key destroys every sealed key for good */
  readonly removalPolicy?: RemovalPolicy
  /** Waiting period of a scheduled deletion, in days. @default 30 */
  readonly pendingWindowInDays?: number
  /** @default `alias/<stack name>/sealing` */
  readonly aliasName?: string
}

/** Stand-ins for the role ARNs, which are CloudFormation references the policy generator cannot validate. */
const SENTINELS = {
  instance: 'arn:aws:iam::000000000000:role/enclave-custody-sentinel-instance',
  importer: 'arn:aws:iam::000000000000:role/enclave-custody-sentinel-importer',
  root: 'arn:aws:iam::000000000000:root',
  cfnExec: 'arn:aws:iam::000000000000:role/enclave-custody-sentinel-cloudformation',
} as const

/**
 * The stack's KMS keys.
 * - `sealingKey`: symmetric, rotated yearly, whose policy is exactly `buildKeyPolicy` of
 *   `@enclave-custody/sdk` (the generator behind `custody key-policy` and the local stack): Decrypt and
 *   GenerateDataKey for the instance role only under `kms:RecipientAttestation:ImageSha384` = PCR0
 *   (and any PCR1/2/8), Encrypt for the importer role only, administration without use for the admins.
 *   No statement trusts the account root for use, so no IAM policy can grant Decrypt.
 * - `logsKey`: encrypts the stack's CloudWatch log groups.
 */
export class Keys extends Construct {
  public readonly sealingKey: kms.CfnKey
  public readonly sealingKeyArn: string
  public readonly sealingKeyId: string
  public readonly sealingKeyAlias: kms.CfnAlias
  /** The key policy as deployed (principals are CloudFormation references). */
  public readonly keyPolicy: KeyPolicyDocument
  public readonly logsKey: kms.Key

  constructor(scope: Construct, id: string, props: KeysProps) {
    super(scope, id)
    const { pcr0, pcrs = {}, instanceRole, importerRole, adminArns, removalPolicy = RemovalPolicy.RETAIN, pendingWindowInDays = 30 } = props
    if (!Number.isInteger(pendingWindowInDays) || pendingWindowInDays < 7 || pendingWindowInDays > 30) throw new Error('Keys: pendingWindowInDays must be 7 to 30')
    if (adminArns && adminArns.length === 0) throw new Error('Keys: adminArns must name at least one principal (omit it for the account root)')
    const stack = Stack.of(this)

    const synthesizer = stack.synthesizer
    const cfnExecRoleArn = synthesizer instanceof DefaultStackSynthesizer ? Fn.sub(synthesizer.cloudFormationExecutionRoleArn) : undefined
    const admins = adminArns ? [...adminArns, ...(cfnExecRoleArn ? [SENTINELS.cfnExec] : [])] : [SENTINELS.root]
    const generated = buildKeyPolicy({
      pcr0,
      pcrs: { ...pcrs },
      instanceRoleArn: SENTINELS.instance,
      importerRoleArn: SENTINELS.importer,
      adminArns: admins.length === 1 ? admins[0]! : admins,
    })
    const substitutes: Record<string, string> = {
      [SENTINELS.instance]: instanceRole.roleArn,
      [SENTINELS.importer]: importerRole.roleArn,
      [SENTINELS.root]: `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:root`,
      ...(cfnExecRoleArn ? { [SENTINELS.cfnExec]: cfnExecRoleArn } : {}),
    }
    const principal = (arn: string) => substitutes[arn] ?? arn
    this.keyPolicy = {
      ...generated,
      Statement: generated.Statement.map((s) => ({
        ...s,
        Principal: { AWS: Array.isArray(s.Principal.AWS) ? s.Principal.AWS.map(principal) : principal(s.Principal.AWS) },
      })),
    }

    this.sealingKey = new kms.CfnKey(this, 'SealingKey', {
      description: `enclave-custody: seals private keys; only an attested enclave (PCR0 ${pcr0.slice(0, 16)}…) can unseal`,
      keySpec: 'SYMMETRIC_DEFAULT',
      keyUsage: 'ENCRYPT_DECRYPT',
      enableKeyRotation: true,
      rotationPeriodInDays: 365,
      pendingWindowInDays,
      keyPolicy: this.keyPolicy,
    })
    this.sealingKey.applyRemovalPolicy(removalPolicy)
    // The policy names the roles, so they must exist (with their final ARNs) before KMS validates it.
    for (const role of [instanceRole, importerRole]) {
      if (role instanceof iam.Role) this.sealingKey.node.addDependency(role.node.defaultChild as iam.CfnRole)
    }
    this.sealingKeyArn = this.sealingKey.attrArn
    this.sealingKeyId = this.sealingKey.attrKeyId
    this.sealingKeyAlias = new kms.CfnAlias(this, 'SealingKeyAlias', {
      aliasName: props.aliasName ?? `alias/${stack.stackName}/sealing`,
      targetKeyId: this.sealingKey.attrKeyId,
    })

    this.logsKey = new kms.Key(this, 'LogsKey', {
      description: 'enclave-custody: encrypts the CloudWatch log groups of the stack',
      enableKeyRotation: true,
      rotationPeriod: Duration.days(365),
      removalPolicy,
      pendingWindow: Duration.days(pendingWindowInDays),
    })
    // CloudWatch Logs encrypts and decrypts with the key for log groups of this account and region only.
    this.logsKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchLogsUse',
        principals: [new iam.ServicePrincipal(`logs.${Aws.REGION}.amazonaws.com`)],
        actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:DescribeKey'],
        resources: ['*'],
        conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:*` } },
      }),
    )
  }
}
