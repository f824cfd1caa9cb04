import { execFile } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { renderBootstrapScript } from '../lib/host/renderBootstrapScript.js'
import { renderHealthGate } from '../lib/host/renderHealthGate.js'

// The health gate of the parent bootstrap, run in bash exactly as rendered, against a fake on loopback that
// plays both IMDSv2 and the proxy's /healthz, with a fake `aws` first on PATH that records its arguments.
// CloudFormation itself is not here: what it does with the signals is unverified.

let server: Server
let base: string
let dir: string
/** What /healthz answers next (the last entry repeats). */
let healthAnswers: { status: number; body: string }[]
let healthCalls: number
let imdsTokenOk: boolean

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.method === 'PUT' && req.url === '/latest/api/token') {
      imdsTokenOk = req.headers['x-aws-ec2-metadata-token-ttl-seconds'] === '300'
      return res.end('imds-token')
    }
    if (req.method === 'GET' && req.url === '/latest/meta-data/instance-id') {
      if (req.headers['x-aws-ec2-metadata-token'] !== 'imds-token') return res.writeHead(401).end()
      return res.end('i-0123456789abcdef0')
    }
    if (req.method === 'GET' && req.url === '/healthz') {
      const answer = healthAnswers[Math.min(healthCalls++, healthAnswers.length - 1)]!
      return res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body)
    }
    res.writeHead(404).end()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((r) => server.close(() => r())))
beforeEach(() => {
  healthAnswers = [{ status: 200, body: '{"status":"ok","enclaveRoundTripMs":3}' }]
  healthCalls = 0
  imdsTokenOk = false
  dir = mkdtempSync(join(tmpdir(), 'custody-health-gate-'))
  // A fake `aws`: records each call, one per line.
  writeFileSync(join(dir, 'aws'), `#!/bin/bash\necho "$*" >> '${dir}/aws-calls'\n`)
  chmodSync(join(dir, 'aws'), 0o755)
  return () => rmSync(dir, { recursive: true, force: true })
})

const gate = (timeoutSeconds = 3) =>
  renderHealthGate({ stackName: 'EnclaveCustody', logicalId: 'FleetGroupASGF037160E', healthUrl: `${base}/healthz`, timeoutSeconds, intervalSeconds: 1, imdsEndpoint: base })

/** Run a bootstrap-shaped script: the real prologue, the gate's prelude, `steps`, the gate. */
function run(steps: string[], timeoutSeconds?: number): Promise<{ code: number; stderr: string; calls: string[] }> {
  const { prelude, gate: tail } = gate(timeoutSeconds)
  const script = ['set -euo pipefail', "REGION='eu-west-1'", 'WORK="$(mktemp -d)"', 'fail() { echo "enclave-custody bootstrap: $*" >&2; exit 1; }', ...prelude, ...steps, ...tail].join('\n')
  return new Promise((resolve) => {
    execFile('bash', ['-c', script], { env: { PATH: `${dir}:${process.env.PATH}` }, timeout: 20_000 }, (error, _stdout, stderr) => {
      let calls: string[] = []
      try {
        calls = readFileSync(join(dir, 'aws-calls'), 'utf8').trim().split('\n')
      } catch {}
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stderr, calls })
    })
  })
}
const signal = (status: 'SUCCESS' | 'FAILURE') =>
  `cloudformation signal-resource --region eu-west-1 --stack-name EnclaveCustody --logical-resource-id FleetGroupASGF037160E --unique-id i-0123456789abcdef0 --status ${status}`

describe('renderHealthGate, run in bash (point 12)', () => {
  test('healthz answers through the enclave: one SUCCESS signal with the instance id from IMDSv2', async () => {
    const { code, calls } = await run(['echo step'])
    expect(code).toBe(0)
    expect(calls).toEqual([signal('SUCCESS')])
    expect(imdsTokenOk).toBe(true)
  })

  test('healthz comes up after a few failed tries (enclave still booting): SUCCESS', async () => {
    healthAnswers = [{ status: 503, body: '{"error":{}}' }, { status: 502, body: '' }, { status: 200, body: '{"status":"ok","enclaveRoundTripMs":9}' }]
    const { code, calls } = await run([], 10)
    expect(code).toBe(0)
    expect(calls).toEqual([signal('SUCCESS')])
    expect(healthCalls).toBe(3)
  })

  test('healthz never answers 200 (a bad image): FAILURE after the timeout, and the script fails', async () => {
    healthAnswers = [{ status: 503, body: '{"error":{"code":"UNAVAILABLE"}}' }]
    const started = Date.now()
    const { code, stderr, calls } = await run([], 2)
    expect(code).not.toBe(0)
    expect(stderr).toContain('/healthz did not answer through the enclave within 2 s')
    expect(calls).toEqual([signal('FAILURE')])
    // bash's SECONDS counts whole seconds from the shell's start, so a 2 s deadline can pass after just over 1 s.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000)
  })

  test('a 200 that is not the proxy\'s ok answer does not count', async () => {
    healthAnswers = [{ status: 200, body: '<html>some other server</html>' }]
    const { code, calls } = await run([], 2)
    expect(code).not.toBe(0)
    expect(calls).toEqual([signal('FAILURE')])
  })

  test('a bootstrap step fails before the gate: FAILURE at once, /healthz never asked', async () => {
    const { code, stderr, calls } = await run(['fail "EIF PCR0 is x, expected y"', 'echo unreachable'])
    expect(code).toBe(1)
    expect(stderr).toContain('signalling FAILURE to CloudFormation')
    expect(calls).toEqual([signal('FAILURE')])
    expect(healthCalls).toBe(0)
  })

  test('a failing command (set -e) signals FAILURE too and keeps its exit code', async () => {
    const { code, calls } = await run(['(exit 7)'])
    expect(code).toBe(7)
    expect(calls).toEqual([signal('FAILURE')])
  })

  test('when the signal itself cannot be sent, the script still fails (CloudFormation then times out)', async () => {
    writeFileSync(join(dir, 'aws'), `#!/bin/bash\necho "$*" >> '${dir}/aws-calls'\nexit 255\n`)
    const { code, stderr, calls } = await run([])
    expect(code).not.toBe(0)
    // SUCCESS failed to send; the exit trap then tries FAILURE, which fails as well.
    expect(calls).toEqual([signal('SUCCESS'), signal('FAILURE')])
    expect(stderr).toContain('could not signal CloudFormation')
  })

  test('the bootstrap script carries exactly this prelude (at the top) and gate (last, after the services start)', () => {
    const parameters = { stackName: 'S', logicalId: 'L', healthUrl: 'https://127.0.0.1:8443/healthz', timeoutSeconds: 600 }
    const { prelude, gate: tail } = renderHealthGate(parameters)
    const lines = renderBootstrapScript({
      region: 'eu-west-1',
      eif: { bucket: 'b', key: 'k.eif' },
      hostFiles: { bucket: 'b', key: 'k.zip' },
      expectedPcrs: { 0: 'a'.repeat(96) },
      debugEnclave: false,
      authTokenSecretArn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:t-AbCdEf',
      environment: {},
      kmsKeyArn: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      healthGate: parameters,
    })
    const text = lines.join('\n')
    const at = (snippet: string[]) => text.indexOf(snippet.join('\n'))
    expect(at(prelude)).toBeGreaterThan(0)
    expect(at(prelude)).toBeLessThan(text.indexOf('dnf install'))
    expect(at(tail)).toBeGreaterThan(text.indexOf('systemctl enable --now custody-vsock-proxy.service'))
    expect(lines.slice(-tail.length - 1, -1)).toEqual(tail)
  })

  test.each([
    [{ stackName: "x'; rm -rf /" }, /stackName contains a quote/],
    [{ timeoutSeconds: 0 }, /timeoutSeconds must be 1 to 3600/],
    [{ intervalSeconds: 0.5 }, /intervalSeconds must be 1 to 60/],
  ])('refuses %o', (bad, message) => {
    expect(() => renderHealthGate({ stackName: 'S', logicalId: 'L', healthUrl: 'https://127.0.0.1:8443/healthz', timeoutSeconds: 600, ...bad })).toThrow(message)
  })
})
