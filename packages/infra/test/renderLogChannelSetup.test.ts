import { execFile } from 'node:child_process'
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeEach, describe, expect, test } from 'vitest'
import { DEFAULT_HOST_FILES_PATH } from '../lib/constructs/EnclaveFleet.js'
import { HOST_LAYOUT } from '../lib/host/hostLayout.js'
import { renderLogChannelSetup } from '../lib/host/renderLogChannelSetup.js'

// The log-channel step of the parent bootstrap, run in bash as rendered except that every absolute path it
// writes to is moved under a scratch root. The host files are the real ones (packages/parent-proxy/host);
// `dnf`, `systemctl` and the CloudWatch agent's ctl are fakes that record their arguments. What systemd, dnf,
// logrotate and the agent do on a real Amazon Linux 2023 instance is unverified.

let dir: string
let root: string
let work: string

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'custody-log-channel-'))
  root = join(dir, 'root')
  work = join(dir, 'work')
  // What the bootstrap has made by then: the proxy and config directories, the unzipped host files.
  for (const d of ['opt/enclave-custody/proxy', 'etc/enclave-custody', 'etc/systemd/system', 'etc/logrotate.d', 'opt/aws/amazon-cloudwatch-agent/bin']) mkdirSync(join(root, d), { recursive: true })
  mkdirSync(join(dir, 'bin'))
  cpSync(DEFAULT_HOST_FILES_PATH, join(work, 'host'), { recursive: true })
  mkdirSync(join(work, 'host', 'proxy'))
  writeFileSync(join(work, 'host', 'proxy', 'log-receiver.js'), '// the receiver bundle\n')
  const fake = (path: string, body: string) => {
    writeFileSync(path, `#!/bin/bash\n${body}\n`)
    chmodSync(path, 0o755)
  }
  fake(join(dir, 'bin', 'dnf'), `echo "dnf $*" >> '${dir}/calls'`)
  // systemctl notes whether the log directory exists when it starts units (the receiver unit asserts it).
  fake(join(dir, 'bin', 'systemctl'), `echo "systemctl $* (log dir: $([ -d '${root}${HOST_LAYOUT.enclaveLogDir}' ] && echo yes || echo no))" >> '${dir}/calls'`)
  // The agent's ctl keeps a copy of the configuration it was handed.
  fake(join(root, HOST_LAYOUT.cloudWatchAgentCtl), `echo "ctl $*" >> '${dir}/calls'\nfor a in "$@"; do case "$a" in file:*) cp "\${a#file:}" '${dir}/fetched.json';; esac; done\n[ ! -e '${dir}/ctl-fails' ] || exit 3`)
  return () => rmSync(dir, { recursive: true, force: true })
})

/** The rendered lines, absolute paths moved under the scratch root, after the bootstrap's prologue. */
function run(logGroupName: string): Promise<{ code: number; stderr: string; calls: string[] }> {
  const lines = renderLogChannelSetup({ logGroupName }).map((l) => l.replaceAll("'/", `'${root}/`).replaceAll('file:/', `file:${root}/`))
  const script = ['set -euo pipefail', 'umask 077', `WORK='${work}'`, 'fail() { echo "enclave-custody bootstrap: $*" >&2; exit 1; }', ...lines].join('\n')
  return new Promise((resolve) => {
    execFile('bash', ['-c', script], { cwd: dir, env: { PATH: `${join(dir, 'bin')}:${process.env.PATH}` }, timeout: 20_000 }, (error, _stdout, stderr) => {
      const calls = existsSync(join(dir, 'calls')) ? readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n') : []
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stderr, calls })
    })
  })
}
const at = (path: string) => join(root, path)
const mode = (path: string) => (statSync(at(path)).mode & 0o777).toString(8)
const fragment = () => JSON.parse(readFileSync(join(DEFAULT_HOST_FILES_PATH, 'cloudwatch-agent-enclave-logs.json'), 'utf8'))

describe('renderLogChannelSetup, run in bash with fakes (point 11)', () => {
  test('installs the receiver, the log directory, logrotate and the agent configuration, then starts the units and the agent', async () => {
    const { code, stderr, calls } = await run('EnclaveCustody-FleetHostLogs1234-AbCd')
    expect(stderr).not.toContain('enclave-custody bootstrap')
    expect(code).toBe(0)
    expect(calls).toEqual([
      'dnf install -y amazon-cloudwatch-agent logrotate',
      'systemctl daemon-reload (log dir: yes)',
      'systemctl enable --now custody-enclave-logs.service custody-enclave-log-bridge.service (log dir: yes)',
      'systemctl enable --now logrotate.timer (log dir: yes)',
      `ctl -a fetch-config -m ec2 -s -c file:${at(HOST_LAYOUT.cloudWatchAgentConfig)}`,
    ])
    // Modes are explicit, whatever the bootstrap's umask 077.
    expect(mode(HOST_LAYOUT.enclaveLogDir)).toBe('755')
    expect(mode(HOST_LAYOUT.logReceiverScript)).toBe('644')
    expect(readFileSync(at(HOST_LAYOUT.logReceiverScript), 'utf8')).toBe('// the receiver bundle\n')
    expect(mode(HOST_LAYOUT.logrotateConfig)).toBe('644')
    expect(readFileSync(at(HOST_LAYOUT.logrotateConfig), 'utf8')).toBe(readFileSync(join(DEFAULT_HOST_FILES_PATH, 'logrotate-enclave-custody'), 'utf8'))
    for (const unit of ['custody-enclave-logs.service', 'custody-enclave-log-bridge.service']) {
      expect(readFileSync(at(`/etc/systemd/system/${unit}`), 'utf8')).toBe(readFileSync(join(DEFAULT_HOST_FILES_PATH, 'systemd', unit), 'utf8'))
      expect(mode(`/etc/systemd/system/${unit}`)).toBe('644')
    }
    // The agent gets the host files' fragment with the stack's log group instead of the placeholder group, and nothing else changed.
    expect(mode(HOST_LAYOUT.cloudWatchAgentConfig)).toBe('644')
    const expected = fragment()
    for (const entry of expected.logs.logs_collected.files.collect_list) entry.log_group_name = 'EnclaveCustody-FleetHostLogs1234-AbCd'
    expect(JSON.parse(readFileSync(join(dir, 'fetched.json'), 'utf8'))).toEqual(expected)
    expect(readFileSync(join(dir, 'fetched.json'), 'utf8')).not.toContain('/enclave-custody/enclave"')
  })

  test('a log group name is data, never shell: $(…) and backticks are written to the configuration as they are', async () => {
    const name = '$(touch pwned)`touch pwned2`'
    const { code } = await run(name)
    expect(code).toBe(0)
    expect(existsSync(join(dir, 'pwned')) || existsSync(join(dir, 'pwned2'))).toBe(false)
    expect(JSON.parse(readFileSync(join(dir, 'fetched.json'), 'utf8')).logs.logs_collected.files.collect_list[0].log_group_name).toBe(name)
  })

  test('an agent fragment that collects nothing stops the boot before any unit or the agent starts', async () => {
    writeFileSync(join(work, 'host', 'cloudwatch-agent-enclave-logs.json'), '{"logs":{"logs_collected":{"files":{"collect_list":[]}}}}')
    const { code, stderr, calls } = await run('G')
    expect(code).toBe(1)
    expect(stderr).toContain('no logs.logs_collected.files.collect_list entry')
    expect(stderr).toContain('enclave-custody bootstrap: cannot render the CloudWatch agent configuration from cloudwatch-agent-enclave-logs.json')
    expect(calls).toEqual(['dnf install -y amazon-cloudwatch-agent logrotate'])
  })

  test('an empty log group name is refused before the agent is configured', async () => {
    const { code, stderr, calls } = await run('')
    expect(code).toBe(1)
    expect(stderr).toContain("no log group for the enclave's logs")
    expect(calls.some((c) => c.startsWith('ctl') || c.includes('enable'))).toBe(false)
  })

  test('a missing unit file or a failing agent fails the step (set -e)', async () => {
    rmSync(join(work, 'host', 'systemd', 'custody-enclave-log-bridge.service'))
    const missing = await run('G')
    expect(missing.code).not.toBe(0)
    expect(missing.calls.some((c) => c.includes('enable'))).toBe(false)
    cpSync(join(DEFAULT_HOST_FILES_PATH, 'systemd', 'custody-enclave-log-bridge.service'), join(work, 'host', 'systemd', 'custody-enclave-log-bridge.service'))
    writeFileSync(join(dir, 'ctl-fails'), '')
    rmSync(join(dir, 'calls'))
    const agent = await run('G')
    expect(agent.code).toBe(3)
    expect(agent.calls.at(-1)).toMatch(/^ctl -a fetch-config/)
  })

  test.each([["g'x"], ['g\\x'], ['g\nx']])('refuses a log group name %j that could leave its quotes', (logGroupName) => {
    expect(() => renderLogChannelSetup({ logGroupName })).toThrow('bootstrap: logGroupName contains a quote, backslash or newline')
  })
})
