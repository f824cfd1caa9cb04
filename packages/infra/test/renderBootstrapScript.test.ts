import { execFileSync } from 'node:child_process'
import { describe, expect, test } from 'vitest'
import { renderBootstrapScript, type RenderBootstrapScriptParameters } from '../lib/host/renderBootstrapScript.js'
import { renderLogChannelSetup } from '../lib/host/renderLogChannelSetup.js'

const PCR = (c: string) => c.repeat(96)
const KEY_ARN = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'
const base: RenderBootstrapScriptParameters = {
  region: 'eu-west-1',
  eif: { bucket: 'assets-bucket', key: 'abc.eif' },
  hostFiles: { bucket: 'assets-bucket', key: 'def.zip' },
  expectedPcrs: { 0: PCR('a') },
  debugEnclave: false,
  authTokenSecretArn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:token-AbCdEf',
  environment: { CUSTODY_PROXY_HOST: '0.0.0.0' },
  kmsKeyArn: KEY_ARN,
  healthGate: { stackName: 'EnclaveCustody', logicalId: 'FleetGroupASG', healthUrl: 'https://127.0.0.1:8443/healthz', timeoutSeconds: 600 },
}
const bashSyntaxOk = (lines: string[]) => execFileSync('bash', ['-n'], { input: ['#!/bin/bash', ...lines].join('\n') })

describe('renderBootstrapScript', () => {
  test('checks every expected PCR, in order, before installing the EIF', () => {
    const text = renderBootstrapScript({ ...base, expectedPcrs: { 0: PCR('a'), 1: PCR('b'), 2: PCR('c'), 8: PCR('d') } }).join('\n')
    const positions = [0, 1, 2, 8].map((i) => text.indexOf(`check_pcr ${i} '`))
    expect(positions.every((p) => p > 0)).toBe(true)
    expect(Math.max(...positions)).toBeLessThan(text.indexOf('install -m 0644 "$WORK/custody.eif"'))
    expect(() => bashSyntaxOk(text.split('\n'))).not.toThrow()
  })

  test('debug mode only logs the measured PCR0', () => {
    const lines = renderBootstrapScript({ ...base, debugEnclave: true })
    expect(lines.join('\n')).not.toMatch(/^check_pcr /m)
    expect(() => bashSyntaxOk(lines)).not.toThrow()
  })

  test('the check_pcr function refuses a mismatch and accepts a match (run in bash against a fake describe-eif output)', () => {
    const lines = renderBootstrapScript(base)
    const fn = lines.slice(lines.indexOf('check_pcr() {'), lines.indexOf('}', lines.indexOf('check_pcr() {')) + 1).join('\n')
    const run = (pcr0: string) =>
      execFileSync('bash', ['-c', `set -euo pipefail; WORK="$(mktemp -d)"; fail() { echo "$*" >&2; exit 1; }\n${fn}\necho '{"Measurements":{"PCR0":"${pcr0}"}}' > "$WORK/eif.json"; check_pcr 0 '${PCR('a')}'`], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      })
    expect(run(PCR('A'))).toContain('EIF PCR0 matches')
    expect(() => run(PCR('b'))).toThrow(/EIF PCR0 is b+, expected a+: refusing to run an image the key policy was not written for/)
  })

  test('the pinned key ARN must be the deployed one: compared in bash before anything else happens', () => {
    const lines = renderBootstrapScript({ ...base, deployedKmsKeyArn: '__DEPLOYED__' })
    const check = lines.find((l) => l.startsWith(`[ '${KEY_ARN}' = `))!
    expect(lines.indexOf(check)).toBeLessThan(lines.findIndex((l) => l.startsWith('dnf install')))
    const run = (deployed: string) =>
      execFileSync('bash', ['-c', `set -euo pipefail; fail() { echo "$*" >&2; exit 1; }\n${check.replaceAll('__DEPLOYED__', deployed)}\necho ok`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    expect(run(KEY_ARN)).toBe('ok\n')
    expect(() => run(KEY_ARN.replace('1234abcd', 'ffffffff'))).toThrow(/the image was built for KMS key .*1234abcd.* but the keys stack's sealing key is .*ffffffff.*: rebuild the image with the SealingKeyArn output/)
    expect(renderBootstrapScript(base).some((l) => l.includes('SealingKeyArn output'))).toBe(false)
  })

  test('Node.js 22 is the node the units run', () => {
    const text = renderBootstrapScript(base).join('\n')
    expect(text).toContain('dnf install -y aws-nitro-enclaves-cli unzip openssl socat nodejs22')
    expect(text).toContain('alternatives --set node /usr/bin/node-22 2>/dev/null || ln -sf /usr/bin/node-22 /usr/bin/node')
    expect(text).toMatch(/process\.versions\.node.*= '22' \] \|\| fail/)
  })

  test('the log channel: set up after custody.env and before the enclave starts; absent unless asked for', () => {
    const lines = renderBootstrapScript({ ...base, logChannel: { logGroupName: 'HostLogs-Group' } })
    const text = lines.join('\n')
    const setup = renderLogChannelSetup({ logGroupName: 'HostLogs-Group' }).join('\n')
    const at = text.indexOf(setup)
    expect(at).toBeGreaterThan(text.indexOf("set_env CUSTODY_PROXY_HOST '0.0.0.0'"))
    expect(at + setup.length).toBeLessThan(text.indexOf('systemctl enable --now custody-vsock-proxy.service'))
    expect(() => bashSyntaxOk(lines)).not.toThrow()
    const without = renderBootstrapScript(base).join('\n')
    for (const absent of ['custody-enclave-logs', 'custody-enclave-log-bridge', 'amazon-cloudwatch-agent', 'log-receiver.js', '/var/log/enclave-custody', 'logrotate']) expect(without).not.toContain(absent)
    expect(() => renderBootstrapScript({ ...base, logChannel: { logGroupName: "g'; rm -rf /; '" } })).toThrow(/logGroupName contains a quote, backslash or newline/)
  })

  test.each([
    [{ 'bad name': 'x' }, /is not an environment variable name/],
    [{ CUSTODY_X: "it's" }, /contains a quote, backslash or newline/],
    [{ CUSTODY_X: 'a\nb' }, /contains a quote, backslash or newline/],
  ])('refuses unsafe environment %o', (environment, message) => {
    expect(() => renderBootstrapScript({ ...base, environment })).toThrow(message)
  })
})
