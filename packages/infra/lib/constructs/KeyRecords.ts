import { Aws, Duration, RemovalPolicy } from 'aws-cdk-lib'
import * as iam from 'aws-cdk-lib/aws-iam'
import * as kms from 'aws-cdk-lib/aws-kms'
import { DEFAULT_POLICY_SECRET_PREFIX, DEFAULT_SECRET_PREFIX } from '@enclave-custody/sdk'
import { Construct } from 'constructs'
import { acknowledgeWildcardResource } from '../nag/acknowledgeWildcardResource.js'

/**
 * Secrets Manager name prefix of the signed signing policies: the SDK's `DEFAULT_POLICY_SECRET_PREFIX`, under which
 * the importer writes and the enclave reads `signingPolicySecretName(keyId)` (`enclave-custody/policies/<keyId>/policy`).
 */
export { DEFAULT_POLICY_SECRET_PREFIX }

export interface KeyRecordsProps {
  /** Secrets Manager name prefix of the sealed key records. @default 'enclave-custody/keys/' */
  readonly secretPrefix?: string
  /** Secrets Manager name prefix of the signed signing policies (the enclave image reads this one). @default 'enclave-custody/policies/' */
  readonly policySecretPrefix?: string
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
 *
 * Beside them, the signed signing policies: one secret per key, `<policySecretPrefix><keyId>/policy`, which the importer
 * creates and updates (each new version becomes `AWSCURRENT`) and the enclave reads itself with the instance
 * role's forwarded credentials — `GetSecretValue` only: the instance role can neither write a policy nor roll
 * one back.
 */
export class KeyRecords extends Construct {
  public readonly recordsKey: kms.Key
  public readonly secretPrefix: string
  /** ARN pattern of every record secret (Secrets Manager appends a random suffix to names). */
  public readonly recordsArnPattern: string
  public readonly policySecretPrefix: string
  /** ARN pattern of every signing-policy secret. */
  public readonly policiesArnPattern: string

  constructor(scope: Construct, id: string, props: KeyRecordsProps = {}) {
    super(scope, id)
    const { secretPrefix = DEFAULT_SECRET_PREFIX, policySecretPrefix = DEFAULT_POLICY_SECRET_PREFIX, removalPolicy = RemovalPolicy.RETAIN } = props
    if (!PREFIX.test(secretPrefix)) throw new Error('KeyRecords: secretPrefix must be 1-200 characters of a secret name and end with "/"')
    if (!PREFIX.test(policySecretPrefix)) throw new Error('KeyRecords: policySecretPrefix must be 1-200 characters of a secret name and end with "/"')
    // Neither prefix may contain the other: a grant on one would reach the other's secrets.
    if (secretPrefix.startsWith(policySecretPrefix) || policySecretPrefix.startsWith(secretPrefix)) {
      throw new Error('KeyRecords: secretPrefix and policySecretPrefix must not be prefixes of each other')
    }
    this.secretPrefix = secretPrefix
    this.policySecretPrefix = policySecretPrefix
    this.recordsArnPattern = `arn:${Aws.PARTITION}:secretsmanager:${Aws.REGION}:${Aws.ACCOUNT_ID}:secret:${secretPrefix}*`
    this.policiesArnPattern = `arn:${Aws.PARTITION}:secretsmanager:${Aws.REGION}:${Aws.ACCOUNT_ID}:secret:${policySecretPrefix}*`
    this.recordsKey = new kms.Key(this, 'RecordsKey', {
      description: `enclave-custody: Secrets Manager encryption of the sealed key records under ${secretPrefix}`,
      enableKeyRotation: true,
      rotationPeriod: Duration.days(365),
      removalPolicy,
      pendingWindow: Duration.days(30),
    })
  }

  /**
   * The parent instances: read records (GetSecretValue, DescribeSecret), list them, decrypt through Secrets Manager;
   * read signing policies (GetSecretValue only — the enclave does, with these credentials).
   */
  grantRead(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'ReadKeyRecords', actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], resources: [this.recordsArnPattern] }),
    )
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'ReadSigningPolicies', actions: ['secretsmanager:GetSecretValue'], resources: [this.policiesArnPattern] }),
    )
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ListKeyRecords', actions: ['secretsmanager:ListSecrets'], resources: ['*'] }))
    grantee.grantPrincipal.addToPrincipalPolicy(this.keyStatement('DecryptKeyRecords', ['kms:Decrypt']))
    this.acknowledge(grantee, true)
  }

  /**
   * The importer: create records and put values, encrypt through Secrets Manager; never read a record, never
   * delete. Store approved signing policies: create, put a new version (it becomes AWSCURRENT), read the current
   * one (to refuse a lower version); never delete one, never move a staging label back.
   */
  grantWrite(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'WriteKeyRecords', actions: ['secretsmanager:CreateSecret', 'secretsmanager:PutSecretValue'], resources: [this.recordsArnPattern] }),
    )
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'StoreSigningPolicies',
        actions: ['secretsmanager:CreateSecret', 'secretsmanager:PutSecretValue', 'secretsmanager:GetSecretValue'],
        resources: [this.policiesArnPattern],
      }),
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
        StringLike: { 'kms:EncryptionContext:SecretARN': [this.recordsArnPattern, this.policiesArnPattern] },
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
    acknowledgeWildcardResource(
      principal,
      this.policiesArnPattern,
      `Signing policies are stored at run time, one secret per key, all named ${this.policySecretPrefix}<keyId>/policy: the grant is that prefix and nothing else${list ? ' (GetSecretValue only)' : ''}.`,
    )
    if (list) {
      acknowledgeWildcardResource(principal, '*', 'secretsmanager:ListSecrets has no resource-level permissions (IAM only accepts "*"); it returns names and metadata, never values.')
    }
  }
}
