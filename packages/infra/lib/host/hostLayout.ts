/**
 * Where the bootstrap puts things on the parent instance: the paths the host files of
 * `packages/enclave-runtime/host` (systemd units, README) expect. Change both together.
 */
export const HOST_LAYOUT = {
  /** The prebuilt enclave image, installed only after its PCRs matched (custody-enclave.service runs it). */
  eif: '/opt/enclave-custody/custody.eif',
  /** Helper scripts and the host README (custody-enclave-run.sh). */
  hostDir: '/opt/enclave-custody/host',
  /** The parent proxy, one esbuild bundle (ESM, with a `package.json` beside it); custody-proxy.service runs it with /usr/bin/node. */
  proxyDir: '/opt/enclave-custody/proxy',
  proxyScript: '/opt/enclave-custody/proxy/proxy.js',
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
  units: ['systemd/custody-vsock-proxy.service', 'systemd/custody-enclave.service', 'systemd/custody-enclave-bridge.service', 'systemd/custody-proxy.service'],
  vsockProxyConfig: 'vsock-proxy.yaml',
  allocatorConfig: 'allocator.yaml',
  envExample: 'custody.env.example',
  enclaveRunScript: 'custody-enclave-run.sh',
  /**
   * Optional: the host side of the enclave's vsock log channel, shipping to CloudWatch Logs. When the host files
   * have it, the fleet creates the log group, sets `CUSTODY_LOG_GROUP` in custody.env, grants the instance role
   * PutLogEvents on that group, keeps the CloudWatch Logs endpoint, and starts the unit after the others.
   */
  logUnit: 'systemd/custody-enclave-logs.service',
} as const

/** Every host file that must exist. */
export const REQUIRED_HOST_FILES: readonly string[] = [
  ...HOST_FILES.units,
  HOST_FILES.vsockProxyConfig,
  HOST_FILES.allocatorConfig,
  HOST_FILES.envExample,
  HOST_FILES.enclaveRunScript,
]

/** Copied when present (documentation the units link to; the log shipper). */
export const OPTIONAL_HOST_FILES: readonly string[] = ['README.md', HOST_FILES.logUnit]

/** systemd units started, in this order, once everything is in place. */
export const HOST_SERVICES = ['custody-vsock-proxy.service', 'custody-enclave.service', 'custody-enclave-bridge.service', 'custody-proxy.service'] as const
