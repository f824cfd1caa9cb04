import { Aws, Duration, RemovalPolicy } from 'aws-cdk-lib'
import * as iam from 'aws-cdk-lib/aws-iam'
import * as kms from 'aws-cdk-lib/aws-kms'
import { DEFAULT_SECRET_PREFIX } from '@enclave-custody/sdk'
import { Construct } from 'constructs'
import { acknowledgeWildcardResource } from '../nag/acknowledgeWildcardResource.js'

export interface KeyRecordsProps {
  /** Secrets Manager name prefix of the sealed key records. @default 'enclave-custody/keys/' */
  readonly secretPrefix?: string
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy
}

const PREFIX = /^[A-Za-z0-9/_+=.@-]{1,200}\/$/

/**
 * Where sealed key records live: one Secrets Manager secret per key, `<prefix><keyId>`, created at run
 * time by the importer, encrypted at rest with `recordsKey` — a second KMS key, so a record is
 * protected twice (the KMS ciphertext inside, Secrets Manager's envelope outside). The grants scope
 * everything to the prefix: the secret ARNs, and for the records key the Secrets Manager service and
 * the `SecretARN` encryption context.
 */
export class KeyRecords extends Construct {
  public readonly recordsKey: kms.Key
  public readonly secretPrefix: string
  /** ARN pattern of every record secret (Secrets Manager appends a random suffix to names). */
  public readonly recordsArnPattern: string

  constructor(scope: Construct, id: string, props: KeyRecordsProps = {}) {
    super(scope, id)
    const { secretPrefix = DEFAULT_SECRET_PREFIX, removalPolicy = RemovalPolicy.RETAIN } = props
    if (!PREFIX.test(secretPrefix)) throw new Error('KeyRecords: secretPrefix must be 1-200 characters of a secret name and end with "/"')
    this.secretPrefix = secretPrefix
    this.recordsArnPattern = `arn:${Aws.PARTITION}:secretsmanager:${Aws.REGION}:${Aws.ACCOUNT_ID}:secret:${secretPrefix}*`
    this.recordsKey = new kms.Key(this, 'RecordsKey', {
      description: `enclave-custody: Secrets Manager encryption of the sealed key records under ${secretPrefix}`,
      enableKeyRotation: true,
      rotationPeriod: Duration.days(365),
      removalPolicy,
      pendingWindow: Duration.days(30),
    })
  }

  /** The parent instances: read records (GetSecretValue, DescribeSecret), list them, decrypt through Secrets Manager. */
  grantRead(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'ReadKeyRecords', actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], resources: [this.recordsArnPattern] }),
    )
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ListKeyRecords', actions: ['secretsmanager:ListSecrets'], resources: ['*'] }))
    grantee.grantPrincipal.addToPrincipalPolicy(this.keyStatement('DecryptKeyRecords', ['kms:Decrypt']))
    this.acknowledge(grantee, true)
  }

  /** The importer: create records and put values, encrypt through Secrets Manager. Never read, never delete. */
  grantWrite(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'WriteKeyRecords', actions: ['secretsmanager:CreateSecret', 'secretsmanager:PutSecretValue'], resources: [this.recordsArnPattern] }),
    )
    grantee.grantPrincipal.addToPrincipalPolicy(this.keyStatement('EncryptKeyRecords', ['kms:GenerateDataKey', 'kms:Decrypt']))
    this.acknowledge(grantee, false)
  }

  private keyStatement(sid: string, actions: string[]): iam.PolicyStatement {
    return new iam.PolicyStatement({
      sid,
      actions,
      resources: [this.recordsKey.keyArn],
      conditions: {
        StringEquals: { 'kms:ViaService': `secretsmanager.${Aws.REGION}.amazonaws.com` },
        StringLike: { 'kms:EncryptionContext:SecretARN': this.recordsArnPattern },
      },
    })
  }

  private acknowledge(grantee: iam.IGrantable, list: boolean): void {
    const principal = grantee.grantPrincipal
    // A role defined here or imported (mutable) from the keys stack: its policy is a child either way.
    if (!Construct.isConstruct(principal)) return
    acknowledgeWildcardResource(
      principal,
      this.recordsArnPattern,
      `Key records are created at run time, one secret per key, all named ${this.secretPrefix}<keyId>: the grant is that prefix and nothing else.`,
    )
    if (list) {
      acknowledgeWildcardResource(principal, '*', 'secretsmanager:ListSecrets has no resource-level permissions (IAM only accepts "*"); it returns names and metadata, never values.')
    }
  }
}
