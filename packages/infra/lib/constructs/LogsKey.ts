import { Aws, Duration, RemovalPolicy } from 'aws-cdk-lib'
import * as iam from 'aws-cdk-lib/aws-iam'
import * as kms from 'aws-cdk-lib/aws-kms'
import { Construct } from 'constructs'

export interface LogsKeyProps {
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy
  /** Waiting period of a scheduled deletion, in days. @default 30 */
  readonly pendingWindowInDays?: number
}

/**
 * The KMS key that encrypts the fleet stack's CloudWatch log groups (flow logs, the Lambda's, the enclave's):
 * rotated yearly, usable by CloudWatch Logs for log groups of this account and region only.
 */
export class LogsKey extends Construct {
  public readonly key: kms.Key

  constructor(scope: Construct, id: string, props: LogsKeyProps = {}) {
    super(scope, id)
    const { removalPolicy = RemovalPolicy.RETAIN, pendingWindowInDays = 30 } = props
    this.key = new kms.Key(this, 'Key', {
      description: 'enclave-custody: encrypts the CloudWatch log groups of the stack',
      enableKeyRotation: true,
      rotationPeriod: Duration.days(365),
      removalPolicy,
      pendingWindow: Duration.days(pendingWindowInDays),
    })
    // CloudWatch Logs encrypts and decrypts with the key for log groups of this account and region only.
    this.key.addToResourcePolicy(
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
