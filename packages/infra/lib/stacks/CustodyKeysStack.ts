import { Annotations, CfnOutput, Stack, type StackProps, Validations } from 'aws-cdk-lib'
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
}

/**
 * The long-lived half of the deployment, deployed first: the attested sealing key, the two roles its policy
 * names (parent instances, importer), and the alarm on changes to the key. Its `SealingKeyArn` output is the
 * ARN the enclave image is built with (`build-eif.sh --kms-key-arn`); the fleet stack (`CustodyStack`) uses
 * the roles and runs that image. Deployed again with the image's PCR0 (`attestation`), it replaces the
 * bootstrap policy with the attested one, in the same `cdk deploy --all` that then updates the fleet.
 *
 * The roles live here, not in the fleet stack, so that the key policy never references another stack: no
 * circular dependency, and tearing down the fleet leaves the policy's principals intact.
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
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'enclave-custody importer (the signing Lambda): KMS Encrypt on the sealing key, create key records',
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
    new CfnOutput(this, 'ImporterRoleArn', { value: this.importerRole.roleArn, description: 'Role of the signing Lambda (the key policy importer role)' })
  }
}
