import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isCustodyError } from '@enclave-custody/sdk'
import { describe, expect, it } from 'vitest'
import { resolveLocalAwsConfig, type StartLocalAwsParameters } from './config.js'
import type { IdentityPolicyDocument } from './policy/types.js'

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

  it('parses each principal’s identity policies once (text or object); the account of a principal is its ARN’s', () => {
    const policy: IdentityPolicyDocument = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:CreateKey', Resource: '*' }] }
    const config = resolveLocalAwsConfig({
      principals: {
        AK1: { secretAccessKey: 's', arn: 'arn:aws:iam::111122223333:role/a', policies: [policy, JSON.stringify(policy)] },
        AK2: { secretAccessKey: 's', arn: 'arn:aws:iam::444455556666:role/b' },
      },
    })
    expect(config.principals.get('AK1')?.policies).toEqual([policy, policy])
    expect(config.principals.get('AK2')?.policies).toBeUndefined()
  })

  it('names the broken statement of a bad identity policy', () => {
    expect(() =>
      resolveLocalAwsConfig({
        principals: { AK: { secretAccessKey: 's', arn: 'arn:aws:iam::111122223333:role/r', policies: [{ Statement: [{ Effect: 'Maybe' as 'Allow', Action: 'kms:*', Resource: '*' }] }] } },
      }),
    ).toThrowErrorMatchingInlineSnapshot(`[InvalidArgumentError: "principals.AK.policies[0]" is not a valid identity policy: Statement[0].Effect: Effect must be "Allow" or "Deny"]`)
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
    ['principals.AK.policies', { principals: { AK: { secretAccessKey: 's', arn: 'arn:aws:iam::111122223333:role/r', policies: {} } } }],
    ['principals.AK.policies[0]', { principals: { AK: { secretAccessKey: 's', arn: 'arn:aws:iam::111122223333:role/r', policies: ['{'] } } }],
    ['principals.AK.policies[0]', { principals: { AK: { secretAccessKey: 's', arn: 'arn:aws:iam::111122223333:role/r', policies: [7] } } }],
    [
      'principals.AK.policies[0]',
      { principals: { AK: { secretAccessKey: 's', arn: 'arn:aws:iam::111122223333:role/r', policies: [{ Statement: [{ Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' }] }] } } },
    ],
    ['principals.AK.policies', { principals: { AK: { secretAccessKey: 's', arn: 'arn:aws:iam::111122223333:root', policies: [{ Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }] }] } } }],
    ['principals.AK.secret', { principals: { AK: { secretAccessKey: 's', arn: 'arn:aws:iam::111122223333:role/r', secret: 'typo' } } }],
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
