import { Annotations, CfnOutput, Stack, type StackProps, Token, Validations } from 'aws-cdk-lib'
import * as iam from 'aws-cdk-lib/aws-iam'
import type { Construct } from 'constructs'
import { KeyAlarms } from '../constructs/KeyAlarms.js'
import { SealingKey, type SealingKeyAttestation } from '../constructs/SealingKey.js'

export interface CustodyKeysStackProps extends StackProps {
  /**
   * The enclave images allowed to unseal (PCR0 list, further PCRs, debug mode). Absent: the bootstrap policy,
   * under which nobody can use the key — the first deploy, before the image that pins this key's ARN exists.
   * @default the bootstrap policy
   */
  readonly attestation?: SealingKeyAttestation
  /** IRREVERSIBLE: nobody may change the key policy again. Needs `attestation`. @default false */
  readonly lockKeyPolicy?: boolean
  /** Key administrators. @default the account root */
  readonly adminArns?: readonly string[]
  /** Subscribed to the key-alarm topic. @default none */
  readonly alarmEmail?: string
  /** Alias of the sealing key. @default `alias/<stack name>/sealing` */
  readonly aliasName?: string
  /**
   * Who may assume the importer role (the OFFLINE importer, `custody import-key`): IAM role, user or account
   * root ARNs. Never a service: in particular not `lambda.amazonaws.com` — the signing Lambda has its own role,
   * which the sealing key's policy does not name.
   * @default the account root: IAM policies in this account decide who may assume it (with `importerRequireMfa`)
   */
  readonly importerPrincipalArns?: readonly string[]
  /**
   * Assuming the importer role requires MFA (`aws:MultiFactorAuthPresent` = true in its trust policy). The role can
   * seal keys under the attested sealing key, and offline imports are run by people: MFA is the standard guard on
   * a privileged, human-assumed role. Set false only for a principal that cannot present MFA (a pipeline role).
   * @default true
   */
  readonly importerRequireMfa?: boolean
}

/** An IAM role, user or account root ARN; CloudFormation tokens are accepted as they are. */
const IMPORTER_PRINCIPAL_ARN = /^arn:aws[a-z-]*:iam::\d{12}:(?:root|role\/[\w+=,.@/-]{1,512}|user\/[\w+=,.@/-]{1,512})$/

/**
 * The long-lived half of the deployment, deployed first: the attested sealing key, the two roles its policy
 * names (parent instances, the offline importer), and the alarm on changes to the key. Its `SealingKeyArn` output is the
 * ARN the enclave image is built with (`build-eif.sh --kms-key-arn`); the fleet stack (`CustodyStack`) uses
 * the roles and runs that image. Deployed again with the image's PCR0 (`attestation`), it replaces the
 * bootstrap policy with the attested one, in the same `cdk deploy --all` that then updates the fleet.
 *
 * The roles live here, not in the fleet stack, so that the key policy never references another stack: no
 * circular dependency, and tearing down the fleet leaves the policy's principals intact. The signing Lambda's
 * role is NOT one of them: the Lambda imports keys by HPKE to the attested enclave and only stores the
 * enclave's signed records, so the key policy does not name it and it lives in the fleet stack.
 */
export class CustodyKeysStack extends Stack {
  public readonly sealingKey: SealingKey
  public readonly alarms: KeyAlarms
  public readonly instanceRole: iam.Role
  public readonly importerRole: iam.Role

  constructor(scope: Construct, id: string, props: CustodyKeysStackProps = {}) {
    super(scope, id, { description: 'enclave-custody keys: the sealing KMS key (attested policy), the roles it names, its alarm', ...props })
    const { attestation, lockKeyPolicy = false } = props

    this.instanceRole = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'enclave-custody parent instances: read key records; KMS use only through the attested key policy',
      // Attached here because a role imported into the fleet stack cannot take a managed policy from there.
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    })
    Validations.of(this.instanceRole).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
      reason: 'The SSM agent needs exactly this AWS-maintained policy (no wildcard actions) for Run Command — `custody pcr0` reads PCRs through it — and Session Manager instead of SSH.',
    })
    this.importerRole = new iam.Role(this, 'ImporterRole', {
      assumedBy: importerTrust(this, props.importerPrincipalArns, props.importerRequireMfa ?? true),
      description: 'enclave-custody OFFLINE importer (custody import-key): KMS Encrypt on the sealing key, create key records',
    })

    this.sealingKey = new SealingKey(this, 'Sealing', {
      ...(attestation ? { attestation } : {}),
      lockKeyPolicy,
      instanceRole: this.instanceRole,
      importerRole: this.importerRole,
      ...(props.adminArns ? { adminArns: props.adminArns } : {}),
      ...(props.aliasName ? { aliasName: props.aliasName } : {}),
    })
    this.alarms = new KeyAlarms(this, 'Alarms', { keyArn: this.sealingKey.keyArn, ...(props.alarmEmail ? { email: props.alarmEmail } : {}) })

    if (!attestation) {
      Annotations.of(this).addWarningV2(
        '@enclave-custody/infra:bootstrapKeyPolicy',
        'Bootstrap key policy: nobody can use the sealing key until a deploy with -c eifPath writes the attested policy. Deployed over an attested policy, this one cuts every enclave off.',
      )
    }
    if (attestation?.allowDebugEnclave) {
      Annotations.of(this).addWarningV2(
        '@enclave-custody/infra:debugEnclave',
        'allowDebugEnclave: the KMS key policy accepts PCR0 = 0…0, i.e. ANY debug-mode enclave. Development only; never hold real funds with this stack.',
      )
    }
    if (lockKeyPolicy) {
      Annotations.of(this).addWarningV2(
        '@enclave-custody/infra:lockKeyPolicy',
        'lockKeyPolicy: IRREVERSIBLE. The sealing key policy denies kms:PutKeyPolicy to everyone and is applied with BypassPolicyLockoutSafetyCheck; no later deploy, administrator or AWS support can change it.',
      )
    }

    const pcr0List = attestation ? (typeof attestation.pcr0 === 'string' ? [attestation.pcr0] : [...attestation.pcr0]) : []
    new CfnOutput(this, 'SealingKeyArn', { value: this.sealingKey.keyArn, description: 'Full ARN of the sealing key: build the enclave image with it (build-eif.sh --kms-key-arn), then -c kmsKeyArn' })
    new CfnOutput(this, 'KeyPolicyState', { value: this.sealingKey.policyState, description: 'bootstrap (nobody can unseal), attested, or locked (attested, irreversible)' })
    new CfnOutput(this, 'AcceptedPCR0s', { value: pcr0List.length > 0 ? pcr0List.join(',') : 'none', description: 'PCR0 values the key policy accepts (two during a rotation)' })
    new CfnOutput(this, 'KeyAlarmTopicArn', { value: this.alarms.topic.topicArn, description: 'SNS topic: PutKeyPolicy, CreateGrant, ScheduleKeyDeletion, DisableKey on the sealing key' })
    new CfnOutput(this, 'InstanceRoleArn', { value: this.instanceRole.roleArn, description: 'Role of the parent instances (the key policy instance role)' })
    new CfnOutput(this, 'ImporterRoleArn', {
      value: this.importerRole.roleArn,
      description: 'Role of the offline importer, custody import-key (the key policy importer role: kms:Encrypt); not the signing Lambda\'s',
    })
  }
}

/**
 * The importer role's trust: the named IAM principals (default: the account root, i.e. whoever IAM policies in
 * the account allow to call sts:AssumeRole on it), with `aws:MultiFactorAuthPresent` unless told otherwise.
 * (How STS evaluates the MFA condition for each kind of caller is AWS behaviour, not verified here.)
 */
function importerTrust(scope: Construct, arns: readonly string[] | undefined, requireMfa: boolean): iam.IPrincipal {
  if (arns && arns.length === 0) throw new Error('CustodyKeysStack: importerPrincipalArns must name at least one principal (omit it for the account root)')
  for (const [i, arn] of (arns ?? []).entries()) {
    if (!Token.isUnresolved(arn) && !IMPORTER_PRINCIPAL_ARN.test(arn)) {
      throw new Error(`CustodyKeysStack: importerPrincipalArns[${i}] must be an IAM role, user or account root ARN (no service principal)`)
    }
  }
  const principals = arns ? arns.map((arn) => new iam.ArnPrincipal(arn)) : [new iam.AccountRootPrincipal()]
  const principal = principals.length === 1 ? principals[0]! : new iam.CompositePrincipal(...principals)
  if (!requireMfa) {
    Annotations.of(scope).addWarningV2(
      '@enclave-custody/infra:importerWithoutMfa',
      'importerRequireMfa=false: the importer role (kms:Encrypt on the sealing key) can be assumed without MFA. Only for a pipeline principal that cannot present MFA.',
    )
    return principal
  }
  return new iam.PrincipalWithConditions(principal, { Bool: { 'aws:MultiFactorAuthPresent': 'true' } })
}
