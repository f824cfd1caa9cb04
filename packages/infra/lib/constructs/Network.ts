import { RemovalPolicy } from 'aws-cdk-lib'
import * as ec2 from 'aws-cdk-lib/aws-ec2'
import type * as kms from 'aws-cdk-lib/aws-kms'
import * as logs from 'aws-cdk-lib/aws-logs'
import { Construct } from 'constructs'

export interface NetworkProps {
  /** NAT gateways for outbound internet from the private subnets. Nothing here needs them: AWS APIs go through endpoints. @default false */
  readonly enableNat?: boolean
  /** Availability zones (the fleet spreads across them). @default 2 */
  readonly maxAzs?: number
  /** @default '10.40.0.0/16' */
  readonly cidr?: string
  /** Key that encrypts the flow-log group. @default the CloudWatch Logs service key */
  readonly logsKey?: kms.IKey
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly flowLogRetention?: logs.RetentionDays
  /**
   * The CloudWatch Logs interface endpoint: only when something in the VPC ships logs itself (the hosts' log
   * shipper). Flow logs and the Lambda's logs do not go through the VPC. @default true
   */
  readonly cloudWatchLogsEndpoint?: boolean
}

/** Name of the subnet group every workload runs in. */
export const PRIVATE_SUBNETS = 'Private'

/**
 * Interface endpoints: exactly what the instances and the Lambda call, without a route to the internet.
 * - KMS: the enclave (through the parent's vsock-proxy) and the Lambda's Encrypt;
 * - Secrets Manager: key records and the proxy's bearer token (proxy, boot script, Lambda);
 * - SSM, SSM Messages, EC2 Messages: the SSM agent (Run Command for `custody pcr0`, Session Manager);
 * - CloudFormation: the boot script's resource signal (`aws cloudformation signal-resource`);
 * - CloudWatch Logs (`cloudWatchLogsEndpoint`): the hosts' log shipper (the enclave's vsock log channel) writes
 *   to the fleet's log group; left out when the host files have no shipper, since then nothing calls it.
 * No ECR API / ECR Docker: the EIF is a CDK S3 asset fetched through the S3 gateway endpoint, and nothing on
 * the host pulls container images (the image is built into the EIF on the build host).
 */
export const INTERFACE_ENDPOINTS = {
  Kms: ec2.InterfaceVpcEndpointAwsService.KMS,
  SecretsManager: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
  Ssm: ec2.InterfaceVpcEndpointAwsService.SSM,
  SsmMessages: ec2.InterfaceVpcEndpointAwsService.SSM_MESSAGES,
  Ec2Messages: ec2.InterfaceVpcEndpointAwsService.EC2_MESSAGES,
  CloudFormation: ec2.InterfaceVpcEndpointAwsService.CLOUDFORMATION,
  CloudWatchLogs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
} as const

/**
 * The VPC: private subnets only (public ones exist only to hold NAT gateways when `enableNat`), no
 * public IPs, the interface endpoints of {@link INTERFACE_ENDPOINTS}, an S3 gateway endpoint (EIF and
 * host-file assets, Amazon Linux package repositories), and flow logs of all traffic to an encrypted log group.
 */
export class Network extends Construct {
  public readonly vpc: ec2.Vpc
  public readonly privateSubnets: ec2.SubnetSelection
  public readonly interfaceEndpoints: Readonly<Partial<Record<keyof typeof INTERFACE_ENDPOINTS, ec2.InterfaceVpcEndpoint>>>
  public readonly s3Endpoint: ec2.GatewayVpcEndpoint
  public readonly flowLogGroup: logs.LogGroup
  public readonly flowLog: ec2.FlowLog

  constructor(scope: Construct, id: string, props: NetworkProps = {}) {
    super(scope, id)
    const { enableNat = false, maxAzs = 2, cidr = '10.40.0.0/16', logsKey, flowLogRetention = logs.RetentionDays.ONE_YEAR, cloudWatchLogsEndpoint = true } = props
    if (!Number.isInteger(maxAzs) || maxAzs < 2 || maxAzs > 6) throw new Error(`Network: maxAzs must be an integer from 2 to 6 (got ${maxAzs})`)

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(cidr),
      maxAzs,
      natGateways: enableNat ? maxAzs : 0,
      subnetConfiguration: [
        ...(enableNat ? [{ name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false }] : []),
        { name: PRIVATE_SUBNETS, subnetType: enableNat ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 22 },
      ],
      enableDnsHostnames: true,
      enableDnsSupport: true,
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3, subnets: [{ subnetGroupName: PRIVATE_SUBNETS }] } },
    })
    this.privateSubnets = { subnetGroupName: PRIVATE_SUBNETS }
    this.s3Endpoint = this.vpc.node.findChild('S3') as ec2.GatewayVpcEndpoint

    const endpoints: Partial<Record<keyof typeof INTERFACE_ENDPOINTS, ec2.InterfaceVpcEndpoint>> = {}
    for (const [name, service] of Object.entries(INTERFACE_ENDPOINTS) as [keyof typeof INTERFACE_ENDPOINTS, ec2.InterfaceVpcEndpointAwsService][]) {
      if (name === 'CloudWatchLogs' && !cloudWatchLogsEndpoint) continue
      endpoints[name] = this.vpc.addInterfaceEndpoint(name, { service, subnets: this.privateSubnets, privateDnsEnabled: true, open: false })
    }
    this.interfaceEndpoints = endpoints

    this.flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      retention: flowLogRetention,
      ...(logsKey ? { encryptionKey: logsKey } : {}),
      removalPolicy: RemovalPolicy.RETAIN,
    })
    this.flowLog = this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(this.flowLogGroup),
      trafficType: ec2.FlowLogTrafficType.ALL,
    })
  }

  /** Open the interface endpoints (HTTPS) to these workloads only; nothing else in the VPC reaches them. */
  allowEndpointsFrom(...peers: ec2.IConnectable[]): void {
    for (const endpoint of Object.values(this.interfaceEndpoints)) {
      for (const peer of peers) endpoint!.connections.allowDefaultPortFrom(peer, 'HTTPS from an enclave-custody workload')
    }
  }
}
