/**
 * Where the bootstrap puts things on the parent instance: the paths the host files of
 * `packages/parent-proxy/host` (systemd units, README) expect. Change both together.
 */
export const HOST_LAYOUT = {
  /** The prebuilt enclave image, installed only after its PCRs matched (custody-enclave.service runs it). */
  eif: '/opt/enclave-custody/custody.eif',
  /** Helper scripts and the host README (custody-enclave-run.sh). */
  hostDir: '/opt/enclave-custody/host',
  /** The parent proxy, one esbuild bundle (ESM, with a `package.json` beside it); custody-proxy.service runs it with /usr/bin/node. */
  proxyDir: '/opt/enclave-custody/proxy',
  proxyScript: '/opt/enclave-custody/proxy/proxy.js',
  /** The enclave log channel's receiver, bundled like the proxy (custody-enclave-logs.service runs it with /usr/bin/node). */
  logReceiverScript: '/opt/enclave-custody/proxy/log-receiver.js',
  /** Where custody-enclave-logs.service appends the enclave's lines (the unit asserts the directory exists). */
  enclaveLogDir: '/var/log/enclave-custody',
  logrotateConfig: '/etc/logrotate.d/enclave-custody',
  /** The CloudWatch agent's configuration, rendered at boot from the host files' fragment with the stack's log group. */
  cloudWatchAgentConfig: '/etc/enclave-custody/cloudwatch-agent.json',
  cloudWatchAgentCtl: '/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl',
  /** Configuration. custody.env holds no secrets (0644); the TLS key, certificate and token are root-only and reach the proxy as systemd credentials. */
  configDir: '/etc/enclave-custody',
  envFile: '/etc/enclave-custody/custody.env',
  tlsDir: '/etc/enclave-custody/tls',
  tlsCert: '/etc/enclave-custody/tls/cert.pem',
  tlsKey: '/etc/enclave-custody/tls/key.pem',
  authToken: '/etc/enclave-custody/auth-token',
  /** Nitro Enclaves configuration read by the allocator and vsock-proxy. */
  allocatorConfig: '/etc/nitro_enclaves/allocator.yaml',
  vsockProxyConfig: '/etc/nitro_enclaves/vsock-proxy.yaml',
  systemdDir: '/etc/systemd/system',
} as const

/** The host files the bootstrap installs, relative to the host-files directory. */
export const HOST_FILES = {
  units: [
    'systemd/custody-vsock-proxy.service',
    'systemd/custody-vsock-proxy-secrets.service',
    'systemd/custody-enclave.service',
    'systemd/custody-enclave-bridge.service',
    'systemd/custody-proxy.service',
  ],
  vsockProxyConfig: 'vsock-proxy.yaml',
  allocatorConfig: 'allocator.yaml',
  envExample: 'custody.env.example',
  enclaveRunScript: 'custody-enclave-run.sh',
  /**
   * Optional: the host side of the enclave's vsock log channel, shipping to CloudWatch Logs. When the host files
   * have this unit (the receiver), the fleet creates the log group, sets `CUSTODY_LOG_GROUP` in custody.env, grants
   * the instance role PutLogEvents on that group, keeps the CloudWatch Logs endpoint, and installs the whole
   * channel ({@link LOG_CHANNEL_FILES}) before the enclave starts.
   */
  logUnit: 'systemd/custody-enclave-logs.service',
  /** socat: the enclave's vsock log port → the receiver on loopback. */
  logBridgeUnit: 'systemd/custody-enclave-log-bridge.service',
  /** CloudWatch agent fragment collecting the receiver's file; its `log_group_name` is replaced by the stack's group at boot. */
  cloudWatchAgentConfig: 'cloudwatch-agent-enclave-logs.json',
  logrotateConfig: 'logrotate-enclave-custody',
} as const

/** The log channel's host files: all of them when the receiver unit is there, none otherwise. */
export const LOG_CHANNEL_FILES: readonly string[] = [HOST_FILES.logUnit, HOST_FILES.logBridgeUnit, HOST_FILES.cloudWatchAgentConfig, HOST_FILES.logrotateConfig]

/** The log channel's ports (custody.env; the enclave image sends to vsock port 5010 by default). */
export const LOG_CHANNEL_ENVIRONMENT = {
  CUSTODY_LOG_VSOCK_PORT: '5010',
  CUSTODY_LOG_RECEIVER_PORT: '5011',
  /** The proxy appends the enclave's signed audit events here; the agent fragment ships it with the log. */
  CUSTODY_AUDIT_LOG: '/var/log/enclave-custody-audit/audit.jsonl',
} as const

/** Every host file that must exist. */
export const REQUIRED_HOST_FILES: readonly string[] = [
  ...HOST_FILES.units,
  HOST_FILES.vsockProxyConfig,
  HOST_FILES.allocatorConfig,
  HOST_FILES.envExample,
  HOST_FILES.enclaveRunScript,
]

/** Copied when present (documentation the units link to; the log channel, all or nothing). */
export const OPTIONAL_HOST_FILES: readonly string[] = ['README.md', ...LOG_CHANNEL_FILES]

/**
 * systemd units started, in this order, once everything is in place: the enclave's two ways out (KMS, and Secrets
 * Manager where it reads signing policies), the enclave, its bridge, the proxy.
 */
export const HOST_SERVICES = [
  'custody-vsock-proxy.service',
  'custody-vsock-proxy-secrets.service',
  'custody-enclave.service',
  'custody-enclave-bridge.service',
  'custody-proxy.service',
] as const
