import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { Annotations, CfnOutput, CfnParameter, Stack, type StackProps, Token } from 'aws-cdk-lib'
import * as ec2 from 'aws-cdk-lib/aws-ec2'
import * as iam from 'aws-cdk-lib/aws-iam'
import type { Construct } from 'constructs'
import { DEBUG_PCR0 } from '../config/readCustodyConfig.js'
import { parseKmsKeyArn } from '../config/parseKmsKeyArn.js'
import { DEFAULT_HOST_FILES_PATH, EnclaveFleet } from '../constructs/EnclaveFleet.js'
import { HOST_FILES } from '../host/hostLayout.js'
import { KeyRecords } from '../constructs/KeyRecords.js'
import { LogsKey } from '../constructs/LogsKey.js'
import { Network } from '../constructs/Network.js'
import { SigningFunction } from '../constructs/SigningFunction.js'

/** What the fleet stack takes from the keys stack (`CustodyKeysStack`): CloudFormation references are fine. */
export interface CustodyStackKeys {
  /** Role of the parent instances, named by the sealing key's attested Decrypt statement. */
  readonly instanceRoleArn: string
  /**
   * Role of the OFFLINE importer (`custody import-key`), named by the key's Encrypt statement: this stack lets it
   * write key records and signing policies. Not the signing Lambda's role (`CustodyStack.signingRole`).
   */
  readonly importerRoleArn: string
  /** ARN of the key the attested policy is on; every instance checks it equals `kmsKeyArn` at boot. */
  readonly sealingKeyArn: string
}

export interface CustodyStackProps extends StackProps {
  /** The prebuilt enclave image. */
  readonly eifPath: string
  /** Its PCR0 (96 hex digits), which every instance checks before running it; all zeros only with `allowDebugEnclave`. */
  readonly pcr0: string
  /**
   * PCR0 values the signing Lambda's client accepts from the enclave: the sealing key policy's list (this
   * image's PCR0 and, during a rotation, the previous one). @default [pcr0]
   */
  readonly acceptedPcr0s?: readonly string[]
  /** Further measurements the boot check requires. @default none */
  readonly pcrs?: Readonly<Partial<Record<1 | 2 | 8, string>>>
  /** Debug-mode enclave: the boot check only logs the EIF's PCR0. @default false */
  readonly allowDebugEnclave?: boolean
  /**
   * The sealing key's full ARN as measured into the image (`build-eif.sh --kms-key-arn`): every instance checks
   * it at boot; the Lambda's record store is configured with it, and its role is denied any use of it. Refused unless `arn:<partition>:kms:<region>:<account>:key/<id>` (no alias, no bare key id).
   */
  readonly kmsKeyArn: string
  /** The roles and the key of the keys stack. */
  readonly keys: CustodyStackKeys
  /** @default 'm6i.xlarge' */
  readonly instanceType?: string
  /** @default 2 */
  readonly minCapacity?: number
  /** @default max(2, minCapacity) */
  readonly maxCapacity?: number
  /** @default minCapacity */
  readonly desiredCapacity?: number
  /** @default false */
  readonly enableNat?: boolean
  /** ACM certificate of the load balancer. @default a `CertificateArn` CloudFormation parameter */
  readonly certificateArn?: string
  /** Name the certificate covers. @default a `ProxyDomainName` CloudFormation parameter */
  readonly domainName?: string
  /** Networks besides the signing Lambda that may call the load balancer. @default [] */
  readonly allowedClientCidrs?: readonly string[]
  /** keyId of Lambda payloads that name none. @default 'default' */
  readonly defaultKeyId?: string
  /** @default EnclaveFleet's DEFAULT_HOST_FILES_PATH (packages/parent-proxy/host) */
  readonly hostFilesPath?: string
  /** @default EnclaveFleet's DEFAULT_PROXY_ENTRY */
  readonly proxyEntry?: string
}

/** Every KMS operation that seals, unseals or re-wraps under a key, or delegates that (grants): denied to the signing Lambda on the sealing key. */
export const SEALING_KEY_USE_ACTIONS = ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*', 'kms:CreateGrant'] as const

const ACM_ARN_PATTERN = '^arn:aws[a-z-]*:acm:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:certificate/[0-9a-f-]{36}$'
const HOSTNAME_PATTERN = '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$'

/**
 * The fleet half of the custody deployment, deployed after the keys stack (`CustodyKeysStack`), whose
 * sealing key and roles it uses: LogsKey → Network → KeyRecords (Secrets Manager records, second key) →
 * EnclaveFleet (launch template, Auto Scaling group with resource signals, internal NLB) → SigningFunction
 * (the sample's Lambda, with its own role `SigningFunctionRole`). It never touches the sealing key's policy
 * (the keys stack owns it), so the two stacks reference each other in one direction only.
 *
 * Least privilege for the Lambda: it imports keys by HPKE to the attested enclave and stores the enclave's
 * signed records, so its role writes records and policies, reads its two secrets, manages its ENIs and writes
 * its logs — and has no permission on the sealing key. The key policy does not name it (only the instance
 * role and the offline importer role), and its own policy denies every KMS use of the sealing key besides, so
 * a compromised function can neither seal (kms:Encrypt) nor unseal anything under it.
 */
export class CustodyStack extends Stack {
  public readonly network: Network
  public readonly logsKey: LogsKey
  public readonly records: KeyRecords
  public readonly fleet: EnclaveFleet
  public readonly signing: SigningFunction
  /** The keys stack's instance role, imported (policies added here live in this stack). */
  public readonly instanceRole: iam.IRole
  /** The keys stack's (offline) importer role, imported: it gets the record and policy writes here. */
  public readonly importerRole: iam.IRole
  /** The signing Lambda's execution role: no permission on the sealing key (see the class comment). */
  public readonly signingRole: iam.Role

  constructor(scope: Construct, id: string, props: CustodyStackProps) {
    super(scope, id, { description: 'enclave-custody: keys usable only inside attested AWS Nitro Enclaves', ...props })
    const debug = props.allowDebugEnclave ?? false
    if (props.pcr0 === DEBUG_PCR0 && !debug) throw new Error('CustodyStack: an all-zero pcr0 is a debug-mode enclave; set allowDebugEnclave to accept it')
    if (props.acceptedPcr0s && !props.acceptedPcr0s.includes(props.pcr0)) throw new Error('CustodyStack: acceptedPcr0s must include pcr0, the image the fleet runs')
    if (debug) {
      Annotations.of(this).addWarningV2(
        '@enclave-custody/infra:debugEnclave',
        'allowDebugEnclave: the boot check does not compare the EIF with a PCR0, and the KMS key policy accepts ANY debug-mode enclave. Development only.',
      )
    }

    if (!Token.isUnresolved(props.kmsKeyArn)) {
      const parsed = parseKmsKeyArn(props.kmsKeyArn)
      if (!parsed.ok) throw new Error(`CustodyStack: kmsKeyArn ${parsed.rule}`)
    }

    this.instanceRole = iam.Role.fromRoleArn(this, 'InstanceRole', props.keys.instanceRoleArn, { mutable: true })
    this.importerRole = iam.Role.fromRoleArn(this, 'ImporterRole', props.keys.importerRoleArn, { mutable: true })
    this.logsKey = new LogsKey(this, 'LogsKey')
    // The CloudWatch Logs endpoint only serves the hosts' log shipper: without one in the host files, nothing calls it.
    const shipsLogs = existsSync(join(props.hostFilesPath ?? DEFAULT_HOST_FILES_PATH, HOST_FILES.logUnit))
    this.network = new Network(this, 'Network', { enableNat: props.enableNat ?? false, logsKey: this.logsKey.key, cloudWatchLogsEndpoint: shipsLogs })
    this.records = new KeyRecords(this, 'KeyRecords')
    this.records.grantRead(this.instanceRole)
    this.records.grantWrite(this.importerRole)

    this.signingRole = new iam.Role(this, 'SigningFunctionRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'enclave-custody signing Lambda: store enclave-signed key records and policies; no use of the sealing key',
    })
    this.records.grantWrite(this.signingRole)
    // Belt and braces: the key policy already grants this role nothing, and an explicit Deny here keeps it so
    // even if a later key policy named it or trusted the account for use. (IAM evaluation: unverified here.)
    const sealingKeyArns = [...new Set([props.kmsKeyArn, props.keys.sealingKeyArn])]
    this.signingRole.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'DenySealingKeyUse', effect: iam.Effect.DENY, actions: [...SEALING_KEY_USE_ACTIONS], resources: sealingKeyArns }),
    )

    const certificateArn =
      props.certificateArn ??
      new CfnParameter(this, 'CertificateArn', {
        type: 'String',
        allowedPattern: ACM_ARN_PATTERN,
        description: 'ACM certificate (same region) for the load balancer TLS listener; it must cover ProxyDomainName',
      }).valueAsString
    const domainName =
      props.domainName ??
      new CfnParameter(this, 'ProxyDomainName', {
        type: 'String',
        allowedPattern: HOSTNAME_PATTERN,
        description: 'DNS name of the parent proxies inside the VPC (a private hosted zone is created for it); the certificate must cover it',
      }).valueAsString

    this.fleet = new EnclaveFleet(this, 'Fleet', {
      vpc: this.network.vpc,
      subnets: this.network.privateSubnets,
      role: this.instanceRole,
      eifPath: props.eifPath,
      expectedPcrs: { 0: props.pcr0, ...props.pcrs },
      debugEnclave: debug,
      kmsKeyArn: props.kmsKeyArn,
      deployedKmsKeyArn: props.keys.sealingKeyArn,
      ...(props.instanceType ? { instanceType: props.instanceType } : {}),
      ...(props.minCapacity !== undefined ? { minCapacity: props.minCapacity } : {}),
      ...(props.maxCapacity !== undefined ? { maxCapacity: props.maxCapacity } : {}),
      ...(props.desiredCapacity !== undefined ? { desiredCapacity: props.desiredCapacity } : {}),
      certificateArn,
      domainName,
      secretsKey: this.records.recordsKey,
      secretPrefix: this.records.secretPrefix,
      clientCidrs: props.allowedClientCidrs ?? [],
      logsKey: this.logsKey.key,
      ...(props.hostFilesPath ? { hostFilesPath: props.hostFilesPath } : {}),
      ...(props.proxyEntry ? { proxyEntry: props.proxyEntry } : {}),
    })

    this.signing = new SigningFunction(this, 'Signing', {
      vpc: this.network.vpc,
      subnets: this.network.privateSubnets,
      role: this.signingRole,
      proxyUrl: this.fleet.proxyUrl,
      authTokenSecret: this.fleet.authTokenSecret,
      sealingKeyId: props.kmsKeyArn,
      recordsKeyArn: this.records.recordsKey.keyArn,
      secretPrefix: this.records.secretPrefix,
      defaultKeyId: props.defaultKeyId ?? 'default',
      logsKey: this.logsKey.key,
      pcr0: props.acceptedPcr0s ?? [props.pcr0],
      allowDebugEnclave: debug,
      apiKeySecretKey: this.records.recordsKey,
    })
    this.fleet.loadBalancerSecurityGroup.addIngressRule(this.signing.securityGroup, ec2.Port.tcp(this.fleet.listenerPort), 'The signing Lambda')
    this.network.allowEndpointsFrom(this.fleet.securityGroup, this.signing.securityGroup)

    new CfnOutput(this, 'ASGGroupName', { value: this.fleet.autoScalingGroup.autoScalingGroupName, description: 'Auto Scaling group of the parent instances (custody pcr0 --asg)' })
    new CfnOutput(this, 'EC2InstanceRoleARN', { value: this.instanceRole.roleArn, description: 'Role of the parent instances (the key policy instance role)' })
    new CfnOutput(this, 'KMSKeyID', { value: props.kmsKeyArn, description: 'The attested sealing key (full ARN, as measured into the image)' })
    new CfnOutput(this, 'LambdaExecutionRoleARN', { value: this.signingRole.roleArn, description: 'Role of the signing Lambda (SigningFunctionRole: no use of the sealing key; not the importer role)' })
    new CfnOutput(this, 'LoadBalancerDNS', { value: this.fleet.loadBalancer.loadBalancerDnsName, description: 'Internal NLB in front of the parent proxies' })
    new CfnOutput(this, 'ProxyURL', { value: this.fleet.proxyUrl, description: 'What clients in the VPC call (private DNS name of the NLB)' })
    new CfnOutput(this, 'LambdaFunctionName', { value: this.signing.function.functionName, description: 'aws lambda invoke --function-name …' })
    new CfnOutput(this, 'RecordsKMSKeyARN', { value: this.records.recordsKey.keyArn, description: 'Key Secrets Manager encrypts key records with' })
    new CfnOutput(this, 'ProxyAuthTokenSecretARN', { value: this.fleet.authTokenSecret.secretArn, description: 'Bearer token of the parent proxies' })
    new CfnOutput(this, 'SigningApiKeySecretARN', {
      value: this.signing.apiKeySecret.secretArn,
      description: 'The signing Lambda derives its API key from this secret (its public key: packages/infra README, "The signing Lambda\'s API key")',
    })
    if (this.fleet.hostLogGroup) new CfnOutput(this, 'HostLogGroup', { value: this.fleet.hostLogGroup.logGroupName, description: 'CloudWatch Logs group of the hosts (the enclave log channel)' })
    new CfnOutput(this, 'ExpectedPCR0', { value: props.pcr0, description: 'PCR0 the key policy and the boot check require' })
  }
}
