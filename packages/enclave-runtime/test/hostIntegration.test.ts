/**
 * The EC2 host's integration files (packages/parent-proxy/host), checked property by property: the
 * systemd units (parsed as INI), the vsock-proxy allowlist, the allocator settings, the proxy's environment
 * template, the consistency of ports, CIDs, sizes and log paths across them (the enclave log and the audit
 * log: written, shipped by the CloudWatch agent, rotated), and custody-enclave-run.sh against a fake
 * nitro-cli. systemd, nitro-cli, vsock-proxy, logrotate and the CloudWatch agent themselves cannot run here.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ENCLAVE_DIR, HOST_DIR, hasCommand, run, start, waitFor } from './shellHelpers.js'

type Unit = Record<string, Record<string, string[]>>

/** Parse a systemd unit file: sections of `Key=Value` lines; repeated keys keep every value in order. */
function parseUnit(text: string): Unit {
  const unit: Unit = {}
  let section: Record<string, string[]> | undefined
  for (const raw of text.replace(/\\\n/g, ' ').split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue
    const header = line.match(/^\[([A-Za-z]+)\]$/)
    if (header) {
      section = {}
      unit[header[1]!] = section
      continue
    }
    const eq = line.indexOf('=')
    if (section === undefined || eq < 1) throw new Error(`not a unit line: ${line}`)
    const key = line.slice(0, eq).trim()
    section[key] = [...(section[key] ?? []), line.slice(eq + 1).trim()]
  }
  return unit
}

/** The one value of `key` in `section` (fails on absent or repeated keys). */
function one(unit: Unit, section: string, key: string): string {
  const values = unit[section]?.[key]
  if (values?.length !== 1) throw new Error(`[${section}] ${key} has ${values?.length ?? 0} values`)
  return values[0]!
}

/** Non-comment text of a file, for "must not appear anywhere" checks. */
const code = (text: string) =>
  text
    .split('\n')
    .filter((l) => !l.trim().startsWith('#'))
    .join('\n')

const read = (...path: string[]) => readFile(join(HOST_DIR, ...path), 'utf8')

let enclaveUnitText: string
let enclaveUnit: Unit
let vsockUnit: Unit
let secretsVsockUnit: Unit
let proxyUnit: Unit
let allowlist: string
let allocator: string
let envExample: string
let entrypoint: string
beforeAll(async () => {
  enclaveUnitText = await read('systemd', 'custody-enclave.service')
  enclaveUnit = parseUnit(enclaveUnitText)
  vsockUnit = parseUnit(await read('systemd', 'custody-vsock-proxy.service'))
  secretsVsockUnit = parseUnit(await read('systemd', 'custody-vsock-proxy-secrets.service'))
  proxyUnit = parseUnit(await read('systemd', 'custody-proxy.service'))
  allowlist = await read('vsock-proxy.yaml')
  allocator = await read('allocator.yaml')
  envExample = await read('custody.env.example')
  entrypoint = await readFile(join(ENCLAVE_DIR, 'entrypoint.sh'), 'utf8')
})

/** The blocks of a logrotate file: each path with its directives (`rotate 7` → ['rotate', '7']). */
function parseLogrotate(text: string): Map<string, string[][]> {
  const blocks = new Map<string, string[][]>()
  for (const m of code(text).matchAll(/^(\S+)\s*\{([^}]*)\}/gm)) {
    blocks.set(m[1]!, m[2]!.split('\n').map((l) => l.trim().split(/\s+/)).filter((d) => d[0] !== ''))
  }
  return blocks
}
/** The value of a logrotate directive, e.g. `rotate` → 7. */
const directive = (block: string[][] | undefined, name: string) => block?.find((d) => d[0] === name)?.slice(1).join(' ')

type AgentConfig = { logs: { logs_collected: { files: { collect_list: { file_path: string; log_group_name: string; log_stream_name: string }[] } } } }
const agentFiles = async () => (JSON.parse(await read('cloudwatch-agent-enclave-logs.json')) as AgentConfig).logs.logs_collected.files.collect_list

/** `key: <integer>` of allocator.yaml. */
const allocatorValue = (key: string) => Number(allocator.match(new RegExp(`^${key}:\\s*(\\d+)\\s*$`, 'm'))?.[1])
/** The variables custody.env.example assigns, in order. */
const envVariables = () => [...envExample.matchAll(/^([A-Z_][A-Z0-9_]*)=(.*)$/gm)].map((m) => [m[1]!, m[2]!] as const)

describe('custody-enclave.service', () => {
  it('runs nitro-cli run-enclave with the installed EIF, CID 16 and the reserved CPUs and memory', () => {
    const execStart = one(enclaveUnit, 'Service', 'ExecStart')
    expect(execStart).toBe(
      `/opt/enclave-custody/host/custody-enclave-run.sh start /usr/bin/nitro-cli run-enclave --enclave-name custody --eif-path /opt/enclave-custody/custody.eif --cpu-count \${CUSTODY_ENCLAVE_CPU_COUNT} --memory \${CUSTODY_ENCLAVE_MEMORY_MIB} --enclave-cid 16`,
    )
    expect(enclaveUnit.Service!.Environment).toEqual(['CUSTODY_ENCLAVE_CPU_COUNT=2', 'CUSTODY_ENCLAVE_MEMORY_MIB=3072'])
  })

  it('is in production mode: no --debug-mode and no console anywhere in the unit', () => {
    expect(code(enclaveUnitText)).not.toMatch(/--debug-mode|--attach-console|nitro-cli console|debug_mode/)
  })

  it('restarts on failure, terminates the enclave on stop, and starts after the allocator', () => {
    expect(one(enclaveUnit, 'Service', 'Restart')).toBe('on-failure')
    expect(one(enclaveUnit, 'Service', 'ExecStop')).toBe('/opt/enclave-custody/host/custody-enclave-run.sh stop /usr/bin/nitro-cli terminate-enclave --enclave-name custody')
    expect(one(enclaveUnit, 'Service', 'RuntimeDirectory')).toBe('custody-enclave')
    expect(one(enclaveUnit, 'Unit', 'Requires')).toBe('nitro-enclaves-allocator.service')
    expect(one(enclaveUnit, 'Unit', 'After').split(/\s+/)).toEqual(expect.arrayContaining(['nitro-enclaves-allocator.service', 'custody-vsock-proxy.service', 'custody-vsock-proxy-secrets.service']))
    expect(one(enclaveUnit, 'Unit', 'Wants').split(/\s+/).sort()).toEqual(['custody-vsock-proxy-secrets.service', 'custody-vsock-proxy.service'])
    expect(one(enclaveUnit, 'Install', 'WantedBy')).toBe('multi-user.target')
  })

  it('asks for what the allocator reserves: the same CPUs, no more memory', () => {
    expect(Number.isInteger(allocatorValue('memory_mib'))).toBe(true)
    expect(allocatorValue('cpu_count')).toBe(2)
    expect(allocatorValue('cpu_count') % 2).toBe(0) // whole cores on x86_64
    expect(allocator).not.toMatch(/^cpu_pool:/m) // cpu_count and cpu_pool exclude each other
    const env = Object.fromEntries(enclaveUnit.Service!.Environment!.map((e) => e.split('=') as [string, string]))
    expect(Number(env.CUSTODY_ENCLAVE_CPU_COUNT)).toBe(allocatorValue('cpu_count'))
    expect(Number(env.CUSTODY_ENCLAVE_MEMORY_MIB)).toBeLessThanOrEqual(allocatorValue('memory_mib'))
  })
})

describe('custody-vsock-proxy.service and vsock-proxy.yaml', () => {
  it('forwards vsock port 8000 to the regional KMS endpoint only, checked against the allowlist file', () => {
    expect(one(vsockUnit, 'Service', 'ExecStart')).toBe(
      `/usr/bin/vsock-proxy 8000 kms.\${CUSTODY_REGION}.amazonaws.com 443 --config /etc/nitro_enclaves/vsock-proxy.yaml`,
    )
    expect(one(vsockUnit, 'Service', 'EnvironmentFile')).toBe('/etc/enclave-custody/custody.env')
    expect(one(vsockUnit, 'Service', 'Restart')).toBe('on-failure')
    expect(one(vsockUnit, 'Unit', 'Conflicts')).toBe('nitro-enclaves-vsock-proxy.service')
    expect(one(vsockUnit, 'Service', 'DynamicUser')).toBe('yes')
    expect(one(vsockUnit, 'Service', 'NoNewPrivileges')).toBe('yes')
    expect(one(vsockUnit, 'Service', 'CapabilityBoundingSet')).toBe('')
  })

  it('the allowlist has exactly two entries: kms.{{REGION}}.amazonaws.com and secretsmanager.{{REGION}}.amazonaws.com on 443', () => {
    const entries = code(allowlist)
      .split('\n')
      .filter((l) => l.trim().startsWith('-'))
    expect(code(allowlist).trim().split('\n')[0]).toBe('allowlist:')
    expect(entries).toEqual(['- {address: "kms.{{REGION}}.amazonaws.com", port: 443}', '- {address: "secretsmanager.{{REGION}}.amazonaws.com", port: 443}'])
    expect(allowlist).toMatch(/sed "s\/\{\{REGION\}\}\/\$\{REGION\}\/g" vsock-proxy\.yaml > \/etc\/nitro_enclaves\/vsock-proxy\.yaml/)
  })

  it('after substitution, the allowlisted hosts are the hosts the two units forward to', () => {
    const region = 'ap-southeast-2'
    const addresses = [...allowlist.replaceAll('{{REGION}}', region).matchAll(/address: "([^"]+)", port: (\d+)/g)].map((m) => [m[1], m[2]])
    const forwarded = [vsockUnit, secretsVsockUnit].map((u) => one(u, 'Service', 'ExecStart').replaceAll(`\${CUSTODY_REGION}`, region).split(' ').slice(2, 4))
    expect(addresses).toEqual(forwarded)
    expect(addresses.map(([host]) => host)).toEqual(['kms.ap-southeast-2.amazonaws.com', 'secretsmanager.ap-southeast-2.amazonaws.com'])
  })

  it('custody-vsock-proxy-secrets.service forwards vsock port 8001 to the regional Secrets Manager endpoint only, confined like the KMS one', () => {
    expect(one(secretsVsockUnit, 'Service', 'ExecStart')).toBe(
      `/usr/bin/vsock-proxy 8001 secretsmanager.\${CUSTODY_REGION}.amazonaws.com 443 --config /etc/nitro_enclaves/vsock-proxy.yaml`,
    )
    // The same unit as the KMS proxy but for its ExecStart, Description (and Conflicts: the package's own
    // proxy holds port 8000 only).
    const { ExecStart: _e, ...service } = secretsVsockUnit.Service!
    const { ExecStart: _k, ...kmsService } = vsockUnit.Service!
    expect(service).toEqual(kmsService)
    expect(one(secretsVsockUnit, 'Service', 'EnvironmentFile')).toBe('/etc/enclave-custody/custody.env')
    expect(secretsVsockUnit.Install).toEqual(vsockUnit.Install)
  })

  it('the enclave bridges to the same vsock ports (CID 3 is the parent)', () => {
    expect(entrypoint).toContain(`KMS_PROXY_CID="\${CUSTODY_KMS_PROXY_CID:-3}"`)
    expect(entrypoint).toContain(`KMS_PROXY_PORT="\${CUSTODY_KMS_PROXY_PORT:-8000}"`)
    expect(one(vsockUnit, 'Service', 'ExecStart').split(' ')[1]).toBe('8000')
    expect(entrypoint).toContain(`SECRETS_PROXY_PORT="\${CUSTODY_SECRETS_PROXY_PORT:-8001}"`)
    expect(entrypoint).toContain(`SECRETS_UPSTREAM="VSOCK-CONNECT:\${KMS_PROXY_CID}:\${SECRETS_PROXY_PORT}"`)
    expect(one(secretsVsockUnit, 'Service', 'ExecStart').split(' ')[1]).toBe('8001')
  })
})

describe('custody-proxy.service', () => {
  it('runs the proxy under node with the environment file and restarts on failure', () => {
    expect(one(proxyUnit, 'Service', 'ExecStart')).toBe('/usr/bin/node /opt/enclave-custody/proxy/proxy.js')
    expect(one(proxyUnit, 'Service', 'EnvironmentFile')).toBe('/etc/enclave-custody/custody.env')
    expect(one(proxyUnit, 'Service', 'Restart')).toBe('on-failure')
    expect(one(proxyUnit, 'Service', 'KillSignal')).toBe('SIGTERM')
    expect(Number(one(proxyUnit, 'Service', 'TimeoutStopSec'))).toBeGreaterThanOrEqual(10)
    expect(one(proxyUnit, 'Unit', 'After').split(/\s+/)).toContain('custody-enclave.service')
  })

  it('is confined: dynamic user, no privileges or capabilities, read-only system, private /tmp and devices', () => {
    const expected: Record<string, string> = {
      DynamicUser: 'yes',
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      ProtectKernelTunables: 'yes',
      ProtectKernelModules: 'yes',
      ProtectControlGroups: 'yes',
      RestrictSUIDSGID: 'yes',
      RestrictNamespaces: 'yes',
      LockPersonality: 'yes',
      CapabilityBoundingSet: '',
      AmbientCapabilities: '',
      UMask: '0077',
      SystemCallErrorNumber: 'EPERM',
    }
    for (const [key, value] of Object.entries(expected)) expect([key, one(proxyUnit, 'Service', key)]).toEqual([key, value])
    expect(one(proxyUnit, 'Service', 'RestrictAddressFamilies').split(' ').sort()).toEqual(['AF_INET', 'AF_INET6', 'AF_UNIX', 'AF_VSOCK'])
    expect(proxyUnit.Service!.SystemCallFilter).toEqual(['@system-service', '~@privileged'])
    // Node's JIT needs W+X memory: this one would crash the proxy.
    expect(proxyUnit.Service!.MemoryDenyWriteExecute).toBeUndefined()
  })

  it('can write the audit log and nothing else: systemd creates its directory for the dynamic user', () => {
    const auditLog = Object.fromEntries(envVariables()).CUSTODY_AUDIT_LOG!
    // LogsDirectory= is relative to /var/log; with DynamicUser=yes systemd creates it (under /var/log/private,
    // linked from /var/log/<name>) owned by the transient user, and makes it writable despite ProtectSystem=strict.
    expect(dirname(dirname(auditLog))).toBe('/var/log')
    expect(one(proxyUnit, 'Service', 'LogsDirectory')).toBe(basename(dirname(auditLog)))
    expect(one(proxyUnit, 'Service', 'LogsDirectoryMode')).toBe('0750')
    expect(one(proxyUnit, 'Service', 'DynamicUser')).toBe('yes')
    expect(one(proxyUnit, 'Service', 'ProtectSystem')).toBe('strict')
    // No other writable path, and no other managed directory.
    for (const key of ['ReadWritePaths', 'StateDirectory', 'CacheDirectory', 'RuntimeDirectory']) expect([key, proxyUnit.Service![key]]).toEqual([key, undefined])
  })

  it('gets its secrets as systemd credentials, at the paths custody.env points the proxy to', () => {
    const credentials = Object.fromEntries(proxyUnit.Service!.LoadCredential!.map((c) => c.split(':') as [string, string]))
    expect(credentials).toEqual({
      'tls-cert': '/etc/enclave-custody/tls/cert.pem',
      'tls-key': '/etc/enclave-custody/tls/key.pem',
      'auth-token': '/etc/enclave-custody/auth-token',
    })
    const env = Object.fromEntries(envVariables())
    expect(env.CUSTODY_TLS_CERT).toBe('/run/credentials/custody-proxy.service/tls-cert')
    expect(env.CUSTODY_TLS_KEY).toBe('/run/credentials/custody-proxy.service/tls-key')
    expect(env.CUSTODY_AUTH_TOKEN_FILE).toBe('/run/credentials/custody-proxy.service/auth-token')
  })
})

describe('custody.env.example', () => {
  it('defines exactly the proxy variables, the region as a placeholder', () => {
    expect(envVariables().map(([k]) => k)).toEqual([
      'CUSTODY_PROXY_HOST',
      'CUSTODY_PROXY_PORT',
      'CUSTODY_ENCLAVE_CID',
      'CUSTODY_ENCLAVE_VSOCK_PORT',
      'CUSTODY_ENCLAVE_HOST',
      'CUSTODY_ENCLAVE_PORT',
      'CUSTODY_LOG_VSOCK_PORT',
      'CUSTODY_LOG_RECEIVER_PORT',
      'CUSTODY_RECORDS',
      'CUSTODY_CREDENTIALS',
      'CUSTODY_REGION',
      'CUSTODY_TLS_CERT',
      'CUSTODY_TLS_KEY',
      'CUSTODY_AUTH_TOKEN_FILE',
      'CUSTODY_SECRET_PREFIX',
      'CUSTODY_AUDIT_LOG',
    ])
    expect(Object.fromEntries(envVariables()).CUSTODY_REGION).toMatch(/^<region/)
    expect(envExample).not.toMatch(/AKIA|aws_secret|BEGIN [A-Z ]*PRIVATE KEY/i)
  })

  it('has the proxy append the audit log to a file it reads from CUSTODY_AUDIT_LOG', async () => {
    expect(Object.fromEntries(envVariables()).CUSTODY_AUDIT_LOG).toBe('/var/log/enclave-custody-audit/audit.jsonl')
    const config = await readFile(join(HOST_DIR, '..', 'src', 'config.ts'), 'utf8')
    expect(config).toMatch(/auditLog: \{ flag: 'audit-log', env: 'CUSTODY_AUDIT_LOG'/)
    // Appended (O_APPEND), owner-only: after logrotate's copytruncate the next line lands at the new end.
    const sink = await readFile(join(HOST_DIR, '..', 'src', 'auditFile.ts'), 'utf8')
    expect(sink).toContain("createWriteStream(path, { flags: 'a', mode: 0o600 })")
  })

  it('points at the enclave the unit starts and the port its entrypoint listens on', () => {
    const env = Object.fromEntries(envVariables())
    expect(env.CUSTODY_ENCLAVE_CID).toBe('16')
    expect(one(enclaveUnit, 'Service', 'ExecStart')).toMatch(new RegExp(`--enclave-cid ${env.CUSTODY_ENCLAVE_CID}$`))
    expect(env.CUSTODY_ENCLAVE_VSOCK_PORT).toBe('5000')
    expect(entrypoint).toContain(`VSOCK_PORT="\${CUSTODY_ENCLAVE_VSOCK_PORT:-${env.CUSTODY_ENCLAVE_VSOCK_PORT}}"`)
  })

  it('runs the proxy in production shape: records from Secrets Manager, credentials from IMDSv2, the enclave through the loopback bridge', () => {
    const env = Object.fromEntries(envVariables())
    expect(env.CUSTODY_RECORDS).toBe('secretsmanager')
    expect(env.CUSTODY_CREDENTIALS).toBe('imds')
    expect(env.CUSTODY_ENCLAVE_HOST).toBe('127.0.0.1')
  })
})

describe('custody-enclave-bridge.service', () => {
  it('bridges loopback TCP (only) to the enclave vsock port named in custody.env, and restarts on failure', async () => {
    const bridge = parseUnit(await read('systemd/custody-enclave-bridge.service'))
    expect(one(bridge, 'Service', 'ExecStart')).toBe(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: systemd expands these ${…}, not JavaScript
      '/usr/bin/socat TCP-LISTEN:${CUSTODY_ENCLAVE_PORT},bind=127.0.0.1,fork,reuseaddr,max-children=64 VSOCK-CONNECT:${CUSTODY_ENCLAVE_CID}:${CUSTODY_ENCLAVE_VSOCK_PORT}',
    )
    expect(one(bridge, 'Service', 'EnvironmentFile')).toBe('/etc/enclave-custody/custody.env')
    expect(one(bridge, 'Service', 'Restart')).toBe('on-failure')
    expect(one(bridge, 'Service', 'DynamicUser')).toBe('yes')
    expect(one(bridge, 'Unit', 'After')).toContain('custody-enclave.service')
    expect(one(proxyUnit, 'Unit', 'After')).toContain('custody-enclave-bridge.service')
  })
})

describe('the enclave log channel: custody-enclave-log-bridge.service, custody-enclave-logs.service', () => {
  it('bridges the vsock port the entrypoint sends logs to, to the port the receiver listens on', async () => {
    const bridge = parseUnit(await read('systemd/custody-enclave-log-bridge.service'))
    const env = Object.fromEntries(envVariables())
    expect(one(bridge, 'Service', 'ExecStart')).toBe(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: systemd expands these ${…}, not JavaScript
      '/usr/bin/socat VSOCK-LISTEN:${CUSTODY_LOG_VSOCK_PORT},fork,reuseaddr,max-children=8 TCP:127.0.0.1:${CUSTODY_LOG_RECEIVER_PORT}',
    )
    expect(one(bridge, 'Service', 'EnvironmentFile')).toBe('/etc/enclave-custody/custody.env')
    expect(one(bridge, 'Service', 'DynamicUser')).toBe('yes')
    expect(one(bridge, 'Service', 'RestrictAddressFamilies').split(' ').sort()).toEqual(['AF_INET', 'AF_VSOCK'])
    // The entrypoint's defaults: it connects to CID 3 (the parent) on the same vsock port.
    expect(entrypoint).toContain(`LOG_PROXY_PORT="\${CUSTODY_LOG_VSOCK_PORT:-${env.CUSTODY_LOG_VSOCK_PORT}}"`)
    expect(entrypoint).toContain(`LOG_UPSTREAM="VSOCK-CONNECT:\${KMS_PROXY_CID}:\${LOG_PROXY_PORT}"`)
    // The receiver bin reads CUSTODY_LOG_RECEIVER_PORT, whose default is the same port.
    const receiverBin = await readFile(join(HOST_DIR, '..', 'src', 'bin', 'logReceiver.ts'), 'utf8')
    expect(receiverBin).toContain("env: 'CUSTODY_LOG_RECEIVER_PORT'")
    expect(receiverBin).toContain(`.default(${env.CUSTODY_LOG_RECEIVER_PORT})`)
  })

  it('runs the receiver confined, its stdout appended to the file the CloudWatch agent ships', async () => {
    const logs = parseUnit(await read('systemd/custody-enclave-logs.service'))
    expect(one(logs, 'Service', 'ExecStart')).toBe('/usr/bin/node /opt/enclave-custody/proxy/log-receiver.js')
    expect(one(logs, 'Service', 'StandardOutput')).toBe('append:/var/log/enclave-custody/enclave.log')
    expect(one(logs, 'Unit', 'AssertPathIsDirectory')).toBe('/var/log/enclave-custody')
    for (const [key, value] of [
      ['DynamicUser', 'yes'],
      ['NoNewPrivileges', 'yes'],
      ['ProtectSystem', 'strict'],
      ['CapabilityBoundingSet', ''],
      ['RestrictAddressFamilies', 'AF_INET'],
      ['Restart', 'on-failure'],
    ] as const) {
      expect(one(logs, 'Service', key)).toBe(value)
    }
    expect((await agentFiles()).map((c) => c.file_path)).toContain('/var/log/enclave-custody/enclave.log')
    const rotated = parseLogrotate(await read('logrotate-enclave-custody')).get('/var/log/enclave-custody/enclave.log')
    expect(rotated).toContainEqual(['copytruncate'])
  })
})

describe('the audit log: cloudwatch-agent-enclave-logs.json, logrotate-enclave-custody', () => {
  it('ships the enclave log and the audit log, each to its own stream', async () => {
    const auditLog = Object.fromEntries(envVariables()).CUSTODY_AUDIT_LOG!
    const files = await agentFiles()
    expect(files.map((c) => c.file_path)).toEqual(['/var/log/enclave-custody/enclave.log', auditLog])
    const [enclave, audit] = files
    expect(audit).toEqual({ file_path: auditLog, log_group_name: enclave!.log_group_name, log_stream_name: '{instance_id}/audit', timezone: 'UTC' })
    expect(audit!.log_stream_name).not.toBe(enclave!.log_stream_name)
  })

  it('rotates every shipped file in place (copytruncate: the writers keep it open), and keeps the audit log longest', async () => {
    const blocks = parseLogrotate(await read('logrotate-enclave-custody'))
    expect([...blocks.keys()].sort()).toEqual((await agentFiles()).map((c) => c.file_path).sort())
    for (const [path, block] of blocks) {
      expect([path, block]).toEqual([path, expect.arrayContaining([['copytruncate'], ['missingok'], ['compress']])])
      expect([path, block.some((d) => d[0] === 'create')]).toEqual([path, false]) // copytruncate keeps the file: no create
    }
    const audit = blocks.get(Object.fromEntries(envVariables()).CUSTODY_AUDIT_LOG!)
    const enclave = blocks.get('/var/log/enclave-custody/enclave.log')
    expect(Number(directive(audit, 'rotate'))).toBeGreaterThanOrEqual(90)
    expect(Number(directive(audit, 'rotate'))).toBeGreaterThan(Number(directive(enclave, 'rotate')))
    expect(directive(audit, 'maxsize')).toBe('100M')
  })
})

it('README.md explains every host file and the boot order', async () => {
  const readme = await read('README.md')
  for (const file of [
    'systemd/custody-enclave-log-bridge.service',
    'systemd/custody-enclave-logs.service',
    'cloudwatch-agent-enclave-logs.json',
    'logrotate-enclave-custody',
    'systemd/custody-enclave.service',
    'systemd/custody-vsock-proxy.service',
    'systemd/custody-vsock-proxy-secrets.service',
    'systemd/custody-proxy.service',
    'systemd/custody-enclave-bridge.service',
    'custody-enclave-run.sh',
    'vsock-proxy.yaml',
    'allocator.yaml',
    'custody.env.example',
    '{{REGION}}',
  ]) {
    expect(readme).toContain(file)
  }
  expect(readme).toMatch(/## Boot order/)
})

/**
 * A fake nitro-cli: one enclave whose state lives in $FAKE_NITRO_DIR/enclave (present = RUNNING, content =
 * its Flags), every call appended to $FAKE_NITRO_DIR/calls. FAKE_NITRO_DESCRIBE_FAILS=1 breaks describe.
 */
const FAKE_NITRO = `#!/usr/bin/env bash
set -u
echo "$*" >>"$FAKE_NITRO_DIR/calls"
state="$FAKE_NITRO_DIR/enclave"
case "$1" in
  run-enclave)
    printf '%s' "\${FAKE_NITRO_FLAGS:-NONE}" >"$state"
    echo '{ "EnclaveName": "custody", "EnclaveID": "i-0123456789abcdef0-enc0123456789abcdef", "EnclaveCID": 16, "MemoryMiB": 3072 }'
    ;;
  describe-enclaves)
    [[ -e "$FAKE_NITRO_DIR/describe-fails" ]] && { echo 'describe failed' >&2; exit 1; }
    if [[ -e "$state" ]]; then
      printf '[ { "EnclaveName": "custody", "EnclaveCID": 16, "State": "RUNNING", "Flags": "%s" } ]\\n' "$(cat "$state")"
    else
      echo '[]'
    fi
    ;;
  terminate-enclave)
    [[ -e "$state" ]] || { echo 'no such enclave' >&2; exit 1; }
    rm -f "$state"
    echo '{ "EnclaveName": "custody", "Terminated": true }'
    ;;
  *) exit 64 ;;
esac
`

const havePython = hasCommand('python3')
if (!havePython) console.warn('[host integration] SKIPPED custody-enclave-run.sh tests: python3 is not installed')

describe.runIf(havePython)('custody-enclave-run.sh with a fake nitro-cli', () => {
  const RUN = join(HOST_DIR, 'custody-enclave-run.sh')
  const START = ['run-enclave', '--enclave-name', 'custody', '--eif-path', '/opt/enclave-custody/custody.eif', '--cpu-count', '2', '--memory', '3072', '--enclave-cid', '16']
  let dir: string
  let nitro: string
  const running: ReturnType<typeof start>[] = []
  let n = 0
  let env: Record<string, string>
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'custody-enclave-run-'))
    nitro = join(dir, 'nitro-cli')
    await writeFile(nitro, FAKE_NITRO, { mode: 0o755 })
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })
  afterEach(() => {
    for (const p of running.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL')
  })
  const fresh = async () => {
    const state = join(dir, `state-${++n}`)
    await rm(state, { recursive: true, force: true })
    await import('node:fs/promises').then((fs) => fs.mkdir(state))
    env = { FAKE_NITRO_DIR: state, RUNTIME_DIRECTORY: join(state, 'run'), CUSTODY_ENCLAVE_POLL_SECONDS: '0.05' }
    return state
  }
  const launch = (args: string[], extra: Record<string, string> = {}) => {
    const p = start('bash', [RUN, 'start', nitro, ...args], { ...env, ...extra })
    running.push(p)
    return p
  }
  const calls = async (state: string) => (await readFile(join(state, 'calls'), 'utf8').catch(() => '')).trim().split('\n').filter(Boolean)

  it.each([['--debug-mode'], ['--attach-console'], ['--config']])('refuses %s without calling nitro-cli', async (flag) => {
    const state = await fresh()
    const p = launch([...START, flag])
    expect(await p.exited).toBe(2)
    expect(p.output()).toContain(`refusing ${flag}: the enclave runs in production mode only`)
    expect(await calls(state)).toEqual([])
  })

  it('refuses a command without --enclave-name', async () => {
    await fresh()
    const p = launch(['run-enclave', '--eif-path', '/x.eif'])
    expect(await p.exited).toBe(2)
    expect(p.output()).toContain('must name the enclave with --enclave-name')
  })

  it('starts the enclave, and exits 1 (restart) when it stops on its own', async () => {
    const state = await fresh()
    const p = launch(START)
    await waitFor(p.output, /enclave custody started/)
    expect((await calls(state)).slice(0, 2)).toEqual(['terminate-enclave --enclave-name custody', START.join(' ')])
    await rm(join(state, 'enclave')) // the enclave crashed
    expect(await p.exited).toBe(1)
    expect(await calls(state)).toContain('describe-enclaves')
    expect(p.output()).toContain('enclave custody is gone: exiting so that systemd restarts it')
  })

  it('exits 0 when `stop` (ExecStop) terminated it', async () => {
    const state = await fresh()
    const p = launch(START)
    await waitFor(p.output, /enclave custody started/)
    const stop = run('bash', [RUN, 'stop', nitro, 'terminate-enclave', '--enclave-name', 'custody'], { env })
    expect(stop.status).toBe(0)
    expect(await p.exited).toBe(0)
    expect(await calls(state)).toContain('terminate-enclave --enclave-name custody')
  })

  it('terminates the enclave and exits 0 on SIGTERM', async () => {
    const state = await fresh()
    const p = launch(START)
    await waitFor(p.output, /enclave custody started/)
    p.child.kill('SIGTERM')
    expect(await p.exited).toBe(0)
    expect(p.output()).toContain('stopping enclave custody (SIGTERM)')
    expect(run(nitro, ['describe-enclaves'], { env }).stdout.trim()).toBe('[]')
    // One for a leftover of a previous run, before starting; one on SIGTERM.
    expect((await calls(state)).filter((c) => c.startsWith('terminate-enclave'))).toHaveLength(2)
  })

  it('terminates an enclave that reports DEBUG_MODE', async () => {
    await fresh()
    const p = launch(START, { FAKE_NITRO_FLAGS: 'DEBUG_MODE' })
    expect(await p.exited).toBe(1)
    expect(p.output()).toContain('enclave custody runs in debug mode: terminating it')
    expect(run(nitro, ['describe-enclaves'], { env }).stdout.trim()).toBe('[]')
  })

  it('gives up after three failed describe-enclaves in a row', async () => {
    const state = await fresh()
    const p = launch(START)
    await waitFor(p.output, /enclave custody started/)
    await writeFile(join(state, 'describe-fails'), '')
    expect(await p.exited).toBe(1)
    expect(p.output()).toContain('nitro-cli describe-enclaves failed (3 in a row)')
  })

  it('stop succeeds when the enclave is already gone, and refuses a different command', async () => {
    await fresh()
    expect(run('bash', [RUN, 'stop', nitro, 'terminate-enclave', '--enclave-name', 'custody'], { env }).status).toBe(0)
    expect(run('bash', [RUN, 'stop', nitro, 'run-enclave', '--enclave-name', 'custody'], { env }).status).toBe(2)
  })
})
