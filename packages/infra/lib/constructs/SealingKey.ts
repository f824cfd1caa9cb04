import { Aws, DefaultStackSynthesizer, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib'
import * as iam from 'aws-cdk-lib/aws-iam'
import * as kms from 'aws-cdk-lib/aws-kms'
import { buildKeyPolicy, type KeyPolicyDocument, type PcrValues } from '@enclave-custody/sdk'
import { Construct } from 'constructs'
import { buildBootstrapKeyPolicy } from '../policy/buildBootstrapKeyPolicy.js'

/** The enclave images the key policy lets unseal. */
export interface SealingKeyAttestation {
  /** Accepted PCR0 values (ImageSha384): the current image, and during a rotation the one it replaces. */
  readonly pcr0: PcrValues
  /** Further measurements that must match too, each one value or the accepted list. @default none */
  readonly pcrs?: Readonly<Partial<Record<1 | 2 | 8, PcrValues>>>
  /** Accept the all-zero PCR0 of a debug-mode enclave. Development only. @default false */
  readonly allowDebugEnclave?: boolean
}

export interface SealingKeyProps {
  /**
   * The images allowed to unseal. Absent: the bootstrap policy of `buildBootstrapKeyPolicy` (administration
   * only, every use denied), for the first deploy before the image, which pins this key's ARN, exists.
   * @default the bootstrap policy
   */
  readonly attestation?: SealingKeyAttestation
  /**
   * IRREVERSIBLE. Nobody may change the policy again: `buildKeyPolicy`'s `lockKeyPolicy`, applied with
   * `BypassPolicyLockoutSafetyCheck`. Every later CloudFormation update of the policy fails. Needs `attestation`.
   * @default false
   */
  readonly lockKeyPolicy?: boolean
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

/** Stand-ins for the role ARNs, which are CloudFormation references the policy generators cannot validate. */
const SENTINELS = {
  instance: 'arn:aws:iam::000000000000:role/enclave-custody-sentinel-instance',
  importer: 'arn:aws:iam::000000000000:role/enclave-custody-sentinel-importer',
  root: 'arn:aws:iam::000000000000:root',
  cfnExec: 'arn:aws:iam::000000000000:role/enclave-custody-sentinel-cloudformation',
} as const

/**
 * The attested sealing key: symmetric, rotated yearly, retained, whose policy is exactly `buildKeyPolicy` of
 * `@enclave-custody/sdk` (the generator behind `custody key-policy` and the local stack) — Decrypt and
 * GenerateDataKey for the instance role only under `kms:RecipientAttestation:ImageSha384` ∈ accepted PCR0s
 * (and any PCR1/2/8), Encrypt for the importer role only, administration without use or grants for the
 * admins, and the explicit Denies for everyone else — or, before an image exists, the bootstrap policy.
 * No statement trusts the account root for use, so no IAM policy can grant Decrypt.
 */
export class SealingKey extends Construct {
  public readonly key: kms.CfnKey
  /** `arn:aws:kms:<region>:<account>:key/<uuid>` (a CloudFormation reference). */
  public readonly keyArn: string
  public readonly keyId: string
  public readonly alias: kms.CfnAlias
  /** The key policy as deployed (principals are CloudFormation references). */
  public readonly keyPolicy: KeyPolicyDocument
  /** `attested`, `locked` (attested and irreversible) or `bootstrap` (no use possible). */
  public readonly policyState: 'bootstrap' | 'attested' | 'locked'

  constructor(scope: Construct, id: string, props: SealingKeyProps) {
    super(scope, id)
    const { attestation, lockKeyPolicy = false, instanceRole, importerRole, adminArns, removalPolicy = RemovalPolicy.RETAIN, pendingWindowInDays = 30 } = props
    if (!Number.isInteger(pendingWindowInDays) || pendingWindowInDays < 7 || pendingWindowInDays > 30) throw new Error('SealingKey: pendingWindowInDays must be 7 to 30')
    if (adminArns && adminArns.length === 0) throw new Error('SealingKey: adminArns must name at least one principal (omit it for the account root)')
    if (lockKeyPolicy && !attestation) throw new Error('SealingKey: lockKeyPolicy needs an attestation (locking the bootstrap policy would leave a key nobody can ever use)')
    const stack = Stack.of(this)

    const synthesizer = stack.synthesizer
    const cfnExecRoleArn = synthesizer instanceof DefaultStackSynthesizer ? Fn.sub(synthesizer.cloudFormationExecutionRoleArn) : undefined
    const admins = adminArns ? [...adminArns, ...(cfnExecRoleArn ? [SENTINELS.cfnExec] : [])] : [SENTINELS.root]
    const generated = attestation
      ? buildKeyPolicy({
          pcr0: attestation.pcr0,
          pcrs: { ...attestation.pcrs },
          instanceRoleArn: SENTINELS.instance,
          importerRoleArn: SENTINELS.importer,
          adminArns: admins.length === 1 ? admins[0]! : admins,
          allowDebugEnclave: attestation.allowDebugEnclave ?? false,
          lockKeyPolicy,
        })
      : buildBootstrapKeyPolicy({ adminArns: admins })
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
        Principal: { AWS: Array.isArray(s.Principal.AWS) ? s.Principal.AWS.map(principal) : principal(s.Principal.AWS as string) },
      })),
    }
    this.policyState = !attestation ? 'bootstrap' : lockKeyPolicy ? 'locked' : 'attested'

    this.key = new kms.CfnKey(this, 'Key', {
      description: 'enclave-custody: seals private keys; only an attested enclave image (see the key policy) can unseal',
      keySpec: 'SYMMETRIC_DEFAULT',
      keyUsage: 'ENCRYPT_DECRYPT',
      enableKeyRotation: true,
      rotationPeriodInDays: 365,
      pendingWindowInDays,
      keyPolicy: this.keyPolicy,
      // KMS refuses a policy that denies its caller PutKeyPolicy unless told this is intended: only when locking.
      ...(lockKeyPolicy ? { bypassPolicyLockoutSafetyCheck: true } : {}),
    })
    this.key.applyRemovalPolicy(removalPolicy)
    // The policy names the roles, so they must exist (with their final ARNs) before KMS validates it.
    for (const role of [instanceRole, importerRole]) {
      if (role instanceof iam.Role) this.key.node.addDependency(role.node.defaultChild as iam.CfnRole)
    }
    this.keyArn = this.key.attrArn
    this.keyId = this.key.attrKeyId
    this.alias = new kms.CfnAlias(this, 'Alias', {
      aliasName: props.aliasName ?? `alias/${stack.stackName}/sealing`,
      targetKeyId: this.key.attrKeyId,
    })
  }
}
