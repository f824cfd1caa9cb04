import { HOST_FILES, HOST_LAYOUT, HOST_SERVICES } from './hostLayout.js'
import { type RenderHealthGateParameters, renderHealthGate } from './renderHealthGate.js'
import { type RenderLogChannelSetupParameters, renderLogChannelSetup } from './renderLogChannelSetup.js'

/** An object in S3 (CDK asset): bucket name and key, either may be a CDK token. */
export type S3ObjectLocation = { bucket: string; key: string }

export type RenderBootstrapScriptParameters = {
  /** AWS region (token allowed). */
  region: string
  /** The EIF asset. */
  eif: S3ObjectLocation
  /** The host-files asset: a zip of packages/parent-proxy/host plus `proxy/proxy.js` (and `proxy/log-receiver.js` with the log channel). */
  hostFiles: S3ObjectLocation
  /** Expected measurements; the EIF is refused unless every one matches `nitro-cli describe-eif`. */
  expectedPcrs: Partial<Record<0 | 1 | 2 | 8, string>>
  /** Debug-mode enclave: the all-zero PCR0 of the key policy cannot be compared to the image, so the check only logs. */
  debugEnclave: boolean
  /** Secrets Manager secret holding the proxy's bearer token (token allowed). */
  authTokenSecretArn: string
  /** Entries set in `/etc/enclave-custody/custody.env` over the example's values. */
  environment: Readonly<Record<string, string>>
  /** The sealing key ARN the image was built with (measured into PCR0), as the app was told (`-c kmsKeyArn`). */
  kmsKeyArn: string
  /**
   * The ARN of the key the keys stack wrote the attested policy onto (a CloudFormation reference). The boot
   * refuses to go on — and signals FAILURE — when it is not `kmsKeyArn`: the image would pin a key whose
   * policy does not name it. @default not compared
   */
  deployedKmsKeyArn?: string
  /** When to tell CloudFormation this instance works: `/healthz` through the enclave, then a resource signal. */
  healthGate: RenderHealthGateParameters
  /**
   * The enclave's log channel (`renderLogChannelSetup`): set up after custody.env, before the enclave starts.
   * @default none: no receiver, no bridge, no CloudWatch agent
   */
  logChannel?: RenderLogChannelSetupParameters
}

const ENV_NAME = /^[A-Z][A-Z0-9_]*$/
/** The Node.js major version the parent proxy runs on (AL2023's namespaced nodejs22 package). */
export const HOST_NODE_MAJOR = 22
const SAFE_VALUE = /^[^'\n\\]*$/

/**
 * The parent instance's boot script (bash, run once by cloud-init as root): install the Nitro
 * Enclaves CLI and Node.js 22, fetch the EIF and the host files from S3 through the gateway endpoint,
 * refuse the EIF unless `nitro-cli describe-eif` reports the expected PCRs, install the allocator
 * settings, the vsock-proxy allowlist (KMS and Secrets Manager of the region only), the proxy bundle, a per-instance TLS key, the bearer
 * token and custody.env, optionally the enclave's log channel (`renderLogChannelSetup`: receiver, vsock
 * bridge, logrotate, CloudWatch agent), then start the two vsock-proxies, the enclave and the parent proxy as systemd services,
 * wait until the proxy's `/healthz` answers through the enclave and signal SUCCESS to CloudFormation
 * (`renderHealthGate`). Any failed step stops the script and signals FAILURE, so a bad image fails the
 * stack update (which rolls back) instead of leaving instances the load balancer never admits.
 *
 * @returns Script lines without the shebang (CDK's `UserData.forLinux()` adds it).
 * @throws Error when an environment entry has an unsafe name or value.
 * @example
 * import { renderBootstrapScript } from './renderBootstrapScript.js'
 * userData.addCommands(...renderBootstrapScript({ region: Aws.REGION, eif, hostFiles, expectedPcrs: { 0: pcr0 }, debugEnclave: false, authTokenSecretArn,
 *   environment: {}, kmsKeyArn, healthGate: { stackName: Aws.STACK_NAME, logicalId, healthUrl: 'https://127.0.0.1:8443/healthz', timeoutSeconds: 600 } }))
 */
export function renderBootstrapScript({
  region,
  eif,
  hostFiles,
  expectedPcrs,
  debugEnclave,
  authTokenSecretArn,
  environment,
  kmsKeyArn,
  deployedKmsKeyArn,
  healthGate,
  logChannel,
}: RenderBootstrapScriptParameters): string[] {
  for (const [k, v] of Object.entries(environment)) {
    if (!ENV_NAME.test(k)) throw new Error(`bootstrap environment: ${JSON.stringify(k)} is not an environment variable name`)
    if (!SAFE_VALUE.test(v)) throw new Error(`bootstrap environment: the value of ${k} contains a quote, backslash or newline`)
  }
  for (const [k, v] of Object.entries({ kmsKeyArn, deployedKmsKeyArn: deployedKmsKeyArn ?? '' })) {
    if (!SAFE_VALUE.test(v)) throw new Error(`bootstrap: ${k} contains a quote, backslash or newline`)
  }
  const L = HOST_LAYOUT
  const { prelude, gate } = renderHealthGate(healthGate)
  const N = HOST_NODE_MAJOR
  return [
    '# enclave-custody parent bootstrap. Every step must succeed; on failure CloudFormation gets a FAILURE signal.',
    'set -euo pipefail',
    'umask 077',
    `REGION='${region}'`,
    'WORK="$(mktemp -d)"',
    'fail() { echo "enclave-custody bootstrap: $*" >&2; exit 1; }',
    ...prelude,
    ...(deployedKmsKeyArn === undefined
      ? []
      : [
          '',
          '# 0. The image pins its sealing key ARN (PCR0); it must be the key the keys stack wrote the attested policy onto.',
          `[ '${kmsKeyArn}' = '${deployedKmsKeyArn}' ] || fail "the image was built for KMS key ${kmsKeyArn} (-c kmsKeyArn) but the keys stack's sealing key is ${deployedKmsKeyArn}: rebuild the image with the SealingKeyArn output"`,
        ]),
    '',
    `# 1. Packages: Nitro Enclaves CLI (nitro-cli, allocator, vsock-proxy), Node.js ${N} for the proxy, tools.`,
    `dnf install -y aws-nitro-enclaves-cli unzip openssl socat nodejs${N}`,
    `# AL2023 namespaces Node.js (node-${N}); /usr/bin/node is an alternatives link that must point at it.`,
    `alternatives --set node /usr/bin/node-${N} 2>/dev/null || ln -sf /usr/bin/node-${N} /usr/bin/node`,
    `[ "$(/usr/bin/node -p 'process.versions.node.split(".")[0]')" = '${N}' ] || fail "/usr/bin/node is not Node.js ${N}"`,
    'systemctl enable --now amazon-ssm-agent',
    '',
    '# 2. Enclave image and host files, from the CDK assets through the S3 gateway endpoint.',
    `aws s3 cp --region "$REGION" --only-show-errors 's3://${eif.bucket}/${eif.key}' "$WORK/custody.eif"`,
    `aws s3 cp --region "$REGION" --only-show-errors 's3://${hostFiles.bucket}/${hostFiles.key}' "$WORK/host.zip"`,
    'unzip -q "$WORK/host.zip" -d "$WORK/host"',
    '',
    '# 3. Measure the EIF before anything runs it: the KMS key policy only unseals for these PCRs.',
    'nitro-cli describe-eif --eif-path "$WORK/custody.eif" > "$WORK/eif.json"',
    'check_pcr() {',
    '  local actual',
    '  actual="$(python3 -c \'import json, sys; print(json.load(open(sys.argv[1])).get("Measurements", {}).get("PCR" + sys.argv[2], ""))\' "$WORK/eif.json" "$1" | tr \'A-F\' \'a-f\')"',
    '  [ -n "$actual" ] || fail "nitro-cli describe-eif reported no PCR$1"',
    '  [ "$actual" = "$2" ] || fail "EIF PCR$1 is $actual, expected $2: refusing to run an image the key policy was not written for"',
    '  echo "enclave-custody bootstrap: EIF PCR$1 matches ($actual)"',
    '}',
    ...(debugEnclave
      ? [
          'echo "enclave-custody bootstrap: WARNING: allowDebugEnclave=true; the key policy accepts any debug-mode enclave (PCR0 = 0...0)." >&2',
          'echo "enclave-custody bootstrap: WARNING: EIF measurements (not compared): $(cat "$WORK/eif.json")" >&2',
        ]
      : Object.entries(expectedPcrs).map(([i, value]) => `check_pcr ${i} '${value}'`)),
    `install -d -m 0755 /opt/enclave-custody '${L.hostDir}' '${L.proxyDir}'`,
    `install -m 0644 "$WORK/custody.eif" '${L.eif}'`,
    '',
    '# 4. Nitro Enclaves allocator (memory and CPUs reserved for the enclave) and the vsock-proxy allowlist (this region\'s KMS and Secrets Manager only).',
    `install -D -m 0644 "$WORK/host/${HOST_FILES.allocatorConfig}" '${L.allocatorConfig}'`,
    `sed "s/{{REGION}}/$REGION/g" "$WORK/host/${HOST_FILES.vsockProxyConfig}" > '${L.vsockProxyConfig}'`,
    `chmod 0644 '${L.vsockProxyConfig}'`,
    `! grep -q '{{' '${L.vsockProxyConfig}' || fail "unreplaced placeholder in ${L.vsockProxyConfig}"`,
    '',
    '# 5. Parent proxy: the bundle, a per-instance TLS key (the load balancer re-encrypts to it), the bearer token.',
    `install -m 0644 "$WORK/host/proxy/proxy.js" '${L.proxyScript}'`,
    `install -m 0644 "$WORK/host/proxy/package.json" '${L.proxyDir}/package.json'`,
    `install -m 0755 "$WORK/host/${HOST_FILES.enclaveRunScript}" '${L.hostDir}/${HOST_FILES.enclaveRunScript}'`,
    `[ ! -f "$WORK/host/README.md" ] || install -m 0644 "$WORK/host/README.md" '${L.hostDir}/README.md'`,
    `install -d -m 0755 '${L.configDir}'`,
    `install -d -m 0700 '${L.tlsDir}'`,
    `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 -subj '/CN=enclave-custody-proxy' -keyout '${L.tlsKey}' -out '${L.tlsCert}' 2>/dev/null`,
    `aws secretsmanager get-secret-value --region "$REGION" --secret-id '${authTokenSecretArn}' --query SecretString --output text > '${L.authToken}'`,
    `[ "$(wc -c < '${L.authToken}')" -ge 32 ] || fail "the proxy bearer token is shorter than 32 characters"`,
    `chmod 0600 '${L.tlsKey}' '${L.tlsCert}' '${L.authToken}'`,
    '',
    "# 6. custody.env (no secrets, 0644): the example with this deployment's values set over it.",
    `install -m 0644 "$WORK/host/${HOST_FILES.envExample}" '${L.envFile}'`,
    `set_env() { sed -i "/^$1=/d" '${L.envFile}'; printf '%s=%s\\n' "$1" "$2" >> '${L.envFile}'; }`,
    ...Object.entries(environment).map(([k, v]) => `set_env ${k} '${v}'`),
    `! grep -q '^[A-Z_]*=<' '${L.envFile}' || fail "a <placeholder> is left in ${L.envFile}"`,
    ...(logChannel ? ['', '# 7. Enclave log channel.', ...renderLogChannelSetup(logChannel)] : []),
    '',
    "# 8. systemd: the package's own vsock-proxy (every region) makes way for ours (KMS, Secrets Manager); start in order.",
    ...HOST_FILES.units.map((u) => `install -m 0644 "$WORK/host/${u}" '${L.systemdDir}/'`),
    'systemctl disable --now nitro-enclaves-vsock-proxy.service 2>/dev/null || true',
    'systemctl daemon-reload',
    'systemctl enable --now nitro-enclaves-allocator.service',
    `systemctl enable --now ${HOST_SERVICES.join(' ')}`,
    '',
    '# 9. Tell CloudFormation: SUCCESS once /healthz answers through the enclave (else FAILURE, and the update rolls back).',
    ...gate,
    'echo "enclave-custody bootstrap: done"',
  ]
}
