import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isCustodyError } from '@enclave-custody/sdk'
import { describe, expect, it } from 'vitest'
import { resolveLocalAwsConfig, type StartLocalAwsParameters } from './config.js'

describe('resolveLocalAwsConfig', () => {
  it('applies the documented defaults', () => {
    const config = resolveLocalAwsConfig()
    expect(config).toMatchObject({ port: 0, host: '127.0.0.1', dataDir: undefined, accountId: '000000000000', region: 'us-east-1', latencyMs: 0 })
    expect([...config.principals]).toEqual([['test', { secretAccessKey: 'test', arn: 'arn:aws:iam::000000000000:root' }]])
    expect(config.attestationRoots).toEqual([])
    expect(config.clock()).toBeInstanceOf(Date)
  })

  it('defaults the test principal to the configured account', () => {
    expect(resolveLocalAwsConfig({ accountId: '111122223333' }).principals.get('test')?.arn).toBe('arn:aws:iam::111122223333:root')
  })

  it('accepts a PEM attestation root', () => {
    const dir = mkdtempSync(join(tmpdir(), 'local-aws-config-'))
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-nodes', '-subj', '/CN=root', '-days', '1', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')], { stdio: 'pipe' })
      const pem = readFileSync(join(dir, 'c.pem'), 'utf8')
      expect(resolveLocalAwsConfig({ attestationRoots: [pem] }).attestationRoots).toEqual([pem])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  const bad: [string, unknown][] = [
    ['port', { port: -1 }],
    ['port', { port: 65_536 }],
    ['port', { port: 1.5 }],
    ['port', { port: '80' }],
    ['host', { host: '' }],
    ['dataDir', { dataDir: '' }],
    ['accountId', { accountId: '1234' }],
    ['accountId', { accountId: 111122223333 }],
    ['region', { region: 'US-EAST-1' }],
    ['latencyMs', { latencyMs: -5 }],
    ['attestationRoots', { attestationRoots: 'pem' }],
    ['attestationRoots[0]', { attestationRoots: ['not a certificate'] }],
    ['attestationRoots[0]', { attestationRoots: ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'] }],
    ['principals', { principals: [] }],
    ['principals', { principals: {} }],
    ['principals.AK', { principals: { AK: 'secret' } }],
    ['principals.AK.secretAccessKey', { principals: { AK: { secretAccessKey: '', arn: 'arn:aws:iam::111122223333:root' } } }],
    ['principals.AK.arn', { principals: { AK: { secretAccessKey: 's', arn: 'arn:aws:iam::1:root' } } }],
    ['principals.AK.arn', { principals: { AK: { secretAccessKey: 's', arn: 'arn:aws:s3:::bucket' } } }],
    ['principals.AK.sessionToken', { principals: { AK: { secretAccessKey: 's', arn: 'arn:aws:iam::111122223333:root', sessionToken: 7 } } }],
    ['principals.a b', { principals: { 'a b': { secretAccessKey: 's', arn: 'arn:aws:iam::111122223333:root' } } }],
    ['verifyAttestation', { verifyAttestation: 'yes' }],
    ['clock', { clock: Date.now() }],
    ['log', { log: true }],
    ['prot', { prot: 1 }],
  ]

  it.each(bad)('rejects a bad %s with INVALID_ARGUMENT naming the field', (field, options) => {
    let caught: unknown
    try {
      resolveLocalAwsConfig(options as StartLocalAwsParameters)
    } catch (e) {
      caught = e
    }
    expect(isCustodyError(caught, 'INVALID_ARGUMENT')).toBe(true)
    expect((caught as { details?: { field?: string } }).details?.field).toBe(field)
  })
})
