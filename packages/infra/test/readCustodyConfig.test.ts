import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { CustodyConfigError, DEBUG_PCR0, readCustodyConfig } from '../lib/config/readCustodyConfig.js'
import { EIF_BARE, EIF_WITH_PCRS, FIXTURE_PCRS, INFRA_DIR } from './support/fixtures.js'

const PCR0 = 'ab'.repeat(48)
const read = (context: Record<string, unknown>) => readCustodyConfig({ context: (k) => context[k], cwd: INFRA_DIR })
const errorOf = (context: Record<string, unknown>) => {
  try {
    read(context)
  } catch (e) {
    expect(e).toBeInstanceOf(CustodyConfigError)
    return (e as Error).message.replaceAll(INFRA_DIR, '<infra>')
  }
  throw new Error('expected a CustodyConfigError')
}

/** A temporary EIF with the given PCR files beside it. */
function eifWith(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'custody-eif-'))
  writeFileSync(join(dir, 'custody.eif'), 'fixture')
  for (const [name, json] of Object.entries(files)) writeFileSync(join(dir, name), typeof json === 'string' ? json : JSON.stringify(json))
  return join(dir, 'custody.eif')
}

describe('PCR0', () => {
  test('synth is refused without pcr0 and without a PCR JSON', () => {
    expect(errorOf({ eifPath: 'test/fixtures/eif-bare/custody.eif' })).toMatchInlineSnapshot(
      `"enclave-custody: -c pcr0: no PCR0 for <infra>/test/fixtures/eif-bare/custody.eif: pass -c pcr0=<96 hex digits> (nitro-cli build-enclave / describe-eif prints it), or put nitro-cli's PCR JSON beside the EIF (<infra>/test/fixtures/eif-bare/custody.eif.pcrs.json or pcrs.json in its folder). For a throwaway debug-mode enclave only: -c allowDebugEnclave=true."`,
    )
  })

  test('allowDebugEnclave=true without pcr0: the all-zero PCR0 and a loud warning', () => {
    const config = read({ eifPath: EIF_BARE, allowDebugEnclave: 'true' })
    expect(config.pcr0).toBe(DEBUG_PCR0)
    expect(config.pcr0Source).toBe('debug')
    expect(config.allowDebugEnclave).toBe(true)
    expect(config.warnings.join(' ')).toMatch(/DEBUG-MODE enclave.*never hold real funds/)
  })

  test('pcr0 from -c pcr0, lower-cased, 0x accepted', () => {
    const config = read({ eifPath: EIF_BARE, pcr0: `0x${PCR0.toUpperCase()}` })
    expect(config).toMatchObject({ pcr0: PCR0, pcr0Source: 'context', allowDebugEnclave: false, warnings: [] })
  })

  test('pcr0 read from nitro-cli PCR JSON beside the EIF (<eif>.pcrs.json)', () => {
    const config = read({ eifPath: EIF_WITH_PCRS })
    expect(config.pcr0).toBe(FIXTURE_PCRS.PCR0)
    expect(config.pcr0Source).toBe('pcr-file')
    // PCR1/PCR2 only bind the policy when asked for explicitly.
    expect(config.pcrs).toEqual({})
  })

  test('pcr0 read from pcrs.json in the EIF folder', () => {
    const eif = eifWith({ 'pcrs.json': { Measurements: { HashAlgorithm: 'Sha384 { ... }', PCR0, PCR1: 'cd'.repeat(48), PCR2: 'ef'.repeat(48) } } })
    expect(read({ eifPath: eif }).pcr0).toBe(PCR0)
  })

  test('-c pcr0 and the PCR JSON agreeing is fine; differing is refused', () => {
    expect(read({ eifPath: EIF_WITH_PCRS, pcr0: FIXTURE_PCRS.PCR0 }).pcr0Source).toBe('context')
    expect(errorOf({ eifPath: EIF_WITH_PCRS, pcr0: PCR0 })).toMatch(/^enclave-custody: -c pcr0: abab.* differs from PCR0 3e63.* in .*custody\.eif\.pcrs\.json: the EIF is not the image you measured/)
    expect(errorOf({ eifPath: EIF_WITH_PCRS, pcr1: PCR0 })).toMatch(/-c pcr1: .* differs from PCR1/)
  })

  test('two PCR files that disagree are refused', () => {
    const eif = eifWith({ 'custody.eif.pcrs.json': { Measurements: { PCR0 } }, 'pcrs.json': { Measurements: { PCR0: 'cd'.repeat(48) } } })
    expect(() => read({ eifPath: eif })).toThrow(/custody\.eif\.pcrs\.json and pcrs\.json beside the EIF disagree on PCR0/)
  })

  test('a malformed PCR JSON is refused naming the file', () => {
    expect(() => read({ eifPath: eifWith({ 'pcrs.json': 'not json' }) })).toThrow(/pcrs\.json is not JSON/)
    expect(() => read({ eifPath: eifWith({ 'pcrs.json': { Measurements: { PCR0: 'abc' } } }) })).toThrow(/Measurements\.PCR0 must be 96 hex digits/)
    expect(() => read({ eifPath: eifWith({ 'pcrs.json': { PCR0 } }) })).toThrow(/has no "Measurements" object/)
  })

  test('an explicit all-zero pcr0 needs allowDebugEnclave; debug mode refuses explicit PCRs', () => {
    expect(errorOf({ eifPath: EIF_BARE, pcr0: DEBUG_PCR0 })).toMatch(/-c pcr0: is all zeros, the PCR0 of a debug-mode enclave/)
    expect(errorOf({ eifPath: EIF_BARE, pcr0: PCR0, allowDebugEnclave: true })).toMatch(/-c pcr0: conflicts with allowDebugEnclave=true/)
    expect(errorOf({ eifPath: EIF_BARE, pcr8: PCR0, allowDebugEnclave: 'true' })).toMatch(/-c pcr8: conflicts/)
  })

  test('PCR1, PCR2 and PCR8 are carried into the policy when given', () => {
    const config = read({ eifPath: EIF_WITH_PCRS, pcr1: FIXTURE_PCRS.PCR1, pcr2: FIXTURE_PCRS.PCR2, pcr8: 'cd'.repeat(48) })
    expect(config.pcrs).toEqual({ 1: FIXTURE_PCRS.PCR1, 2: FIXTURE_PCRS.PCR2, 8: 'cd'.repeat(48) })
  })
})

describe('other context', () => {
  const base = { eifPath: EIF_BARE, pcr0: PCR0 }

  test('defaults', () => {
    const { eifPath: _e, ...config } = read(base)
    expect(config).toEqual({
      stackName: 'EnclaveCustody',
      pcr0: PCR0,
      pcr0Source: 'context',
      pcrs: {},
      allowDebugEnclave: false,
      adminArns: undefined,
      instanceType: 'm6i.xlarge',
      minCapacity: 2,
      maxCapacity: 2,
      desiredCapacity: 2,
      enableNat: false,
      certificateArn: undefined,
      domainName: undefined,
      allowedClientCidrs: [],
      defaultKeyId: 'default',
      hostFilesPath: undefined,
      warnings: [],
    })
  })

  test('valid values are parsed', () => {
    const config = read({
      ...base,
      adminArn: 'arn:aws:iam::111122223333:role/KeyAdmin, arn:aws:iam::111122223333:user/alice',
      instanceType: 'c6a.2xlarge',
      minCapacity: '1',
      maxCapacity: 4,
      enableNat: 'true',
      certificateArn: 'arn:aws:acm:eu-west-1:111122223333:certificate/12345678-1234-1234-1234-123456789012',
      domainName: 'Custody.Example.COM',
      allowedClientCidrs: '10.1.0.0/16,192.168.0.0/24',
      keyId: 'treasury-1',
    })
    expect(config).toMatchObject({
      adminArns: ['arn:aws:iam::111122223333:role/KeyAdmin', 'arn:aws:iam::111122223333:user/alice'],
      instanceType: 'c6a.2xlarge',
      minCapacity: 1,
      desiredCapacity: 1,
      maxCapacity: 4,
      enableNat: true,
      domainName: 'custody.example.com',
      allowedClientCidrs: ['10.1.0.0/16', '192.168.0.0/24'],
      defaultKeyId: 'treasury-1',
    })
  })

  test.each([
    [{ eifPath: undefined }, /-c eifPath: is required/],
    [{ eifPath: 'nope.eif' }, /-c eifPath: .*nope\.eif is not a file/],
    [{ pcr0: 'abc' }, /-c pcr0: must be 96 hex digits/],
    [{ pcr0: 42 }, /-c pcr0: must be a string/],
    [{ allowDebugEnclave: 'yes' }, /-c allowDebugEnclave: must be true or false/],
    [{ enableNat: 1 }, /-c enableNat: must be true or false/],
    [{ adminArn: 'alice' }, /-c adminArn: entry 1 must be an IAM role/],
    [{ instanceType: 't3.xlarge' }, /-c instanceType: t3\.xlarge cannot run a Nitro Enclave/],
    [{ instanceType: 'm6i.large' }, /-c instanceType: m6i\.large has 2 vCPUs/],
    [{ instanceType: 'm6i.metal' }, /cannot run a Nitro Enclave/],
    [{ instanceType: 'm6i' }, /must look like m6i\.xlarge/],
    [{ minCapacity: 3, maxCapacity: 2 }, /-c desiredCapacity: must satisfy minCapacity \(3\) ≤ desiredCapacity \(3\) ≤ maxCapacity \(2\)/],
    [{ minCapacity: '1.5' }, /-c minCapacity: must be an integer from 0 to 100/],
    [{ certificateArn: 'arn:aws:iam::111122223333:role/x' }, /-c certificateArn: must be an ACM certificate ARN/],
    [{ domainName: 'not a name' }, /-c domainName: must be a DNS name/],
    [{ allowedClientCidrs: '10.0.0.0/33' }, /-c allowedClientCidrs: "10\.0\.0\.0\/33" is not an IPv4 CIDR/],
    [{ keyId: 'a'.repeat(64).replace(/a/g, 'f') }, /-c keyId: must be 1-64 characters/],
    [{ stackName: '1stack' }, /-c stackName: must start with a letter/],
    [{ hostFilesPath: 'no/such/dir' }, /-c hostFilesPath: .*no\/such\/dir is not a directory/],
  ])('refuses %o', (bad, message) => {
    expect(errorOf({ ...base, ...bad })).toMatch(message)
  })
})
