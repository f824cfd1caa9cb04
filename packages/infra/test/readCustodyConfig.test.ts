import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { type CustodyConfig, CustodyConfigError, DEBUG_PCR0, readCustodyConfig } from '../lib/config/readCustodyConfig.js'
import { EIF_BARE, EIF_WITH_PCRS, FIXTURE_KMS_KEY_ARN, FIXTURE_PCRS, INFRA_DIR } from './support/fixtures.js'

const PCR0 = 'ab'.repeat(48)
const PCR0_OLD = 'cd'.repeat(48)
const KEY = { kmsKeyArn: FIXTURE_KMS_KEY_ARN }
const readAny = (context: Record<string, unknown>) => readCustodyConfig({ context: (k) => context[k], cwd: INFRA_DIR })
/** Deploy mode (the default in these tests: the fixture key ARN unless the context says otherwise). */
const read = (context: Record<string, unknown>) => {
  const config = readAny({ ...KEY, ...context })
  if (config.mode !== 'deploy') throw new Error(`expected deploy mode, got ${config.mode}`)
  return config
}
const errorOf = (context: Record<string, unknown>, withKey = true) => {
  try {
    readAny(withKey ? { ...KEY, ...context } : context)
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
      mode: 'deploy',
      stackName: 'EnclaveCustody',
      keysStackName: 'EnclaveCustody-Keys',
      pcr0: PCR0,
      pcr0Source: 'context',
      pcrs: {},
      previousPcrs: undefined,
      allowDebugEnclave: false,
      lockKeyPolicy: false,
      kmsKeyArn: FIXTURE_KMS_KEY_ARN,
      kmsKeyArnSource: 'context',
      alarmEmail: undefined,
      adminArns: undefined,
      importerPrincipalArns: undefined,
      importerRequireMfa: true,
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

  test('importerRequireMfa=false: carried, and warned loudly (the importer role seals under the sealing key)', () => {
    const config = read({ ...base, importerPrincipalArn: 'arn:aws:iam::111122223333:role/ImportPipeline', importerRequireMfa: 'false' })
    expect(config).toMatchObject({ importerPrincipalArns: ['arn:aws:iam::111122223333:role/ImportPipeline'], importerRequireMfa: false })
    expect(config.warnings).toEqual([expect.stringMatching(/^importerRequireMfa=false: the importer role \(kms:Encrypt on the sealing key\) can be assumed without MFA/)])
  })

  test('valid values are parsed', () => {
    const config = read({
      ...base,
      adminArn: 'arn:aws:iam::111122223333:role/KeyAdmin, arn:aws:iam::111122223333:user/alice',
      importerPrincipalArn: 'arn:aws:iam::111122223333:role/KeyImportOperators',
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
      importerPrincipalArns: ['arn:aws:iam::111122223333:role/KeyImportOperators'],
      importerRequireMfa: true,
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
    [{ importerPrincipalArn: 'arn:aws:iam::111122223333:root,lambda.amazonaws.com' }, /-c importerPrincipalArn: entry 2 must be an IAM role, user or account root ARN .*no service principal/],
    [{ importerRequireMfa: 'no' }, /-c importerRequireMfa: must be true or false/],
    [{ instanceType: 't3.xlarge' }, /-c instanceType: t3\.xlarge cannot run a Nitro Enclave/],
    [{ instanceType: 'm6i.large' }, /-c instanceType: m6i\.large has 2 vCPUs/],
    [{ instanceType: 'm6i.metal' }, /cannot run a Nitro Enclave/],
    [{ instanceType: 'm6i' }, /must look like m6i\.xlarge/],
    [{ minCapacity: 3, maxCapacity: 2 }, /-c desiredCapacity: must satisfy minCapacity \(3\) ≤ desiredCapacity \(3\) ≤ maxCapacity \(2\)/],
    [{ minCapacity: '1.5' }, /-c minCapacity: must be an integer from 1 to 100/],
    [{ minCapacity: 0 }, /-c minCapacity: must be an integer from 1 to 100/],
    [{ alarmEmail: 'a@b.c, d@e.f' }, /-c alarmEmail: must be one e-mail address/],
    [{ lockKeyPolicy: 'yes' }, /-c lockKeyPolicy: must be true or false/],
    [{ certificateArn: 'arn:aws:iam::111122223333:role/x' }, /-c certificateArn: must be an ACM certificate ARN/],
    [{ domainName: 'not a name' }, /-c domainName: must be a DNS name/],
    [{ allowedClientCidrs: '10.0.0.0/33' }, /-c allowedClientCidrs: "10\.0\.0\.0\/33" is not an IPv4 CIDR/],
    [{ keyId: 'a'.repeat(64).replace(/a/g, 'f') }, /-c keyId: must be 1-64 characters/],
    [{ stackName: '1stack' }, /-c stackName: must start with a letter/],
    [{ stackName: `S${'x'.repeat(123)}` }, /-c stackName: .*at most 123: the keys stack adds "-Keys"/],
    [{ hostFilesPath: 'no/such/dir' }, /-c hostFilesPath: .*no\/such\/dir is not a directory/],
  ])('refuses %o', (bad, message) => {
    expect(errorOf({ ...base, ...bad })).toMatch(message)
  })
})

describe('deployment order: bootstrapKeys, then the image with its key ARN (point 6)', () => {
  test('bootstrapKeys=true: keys only, the bootstrap policy, a loud warning; no eifPath needed', () => {
    const config = readAny({ bootstrapKeys: 'true', adminArn: 'arn:aws:iam::111122223333:role/KeyAdmin', alarmEmail: 'ops@example.com' })
    expect(config).toEqual({
      mode: 'bootstrap-keys',
      stackName: 'EnclaveCustody',
      keysStackName: 'EnclaveCustody-Keys',
      adminArns: ['arn:aws:iam::111122223333:role/KeyAdmin'],
      importerPrincipalArns: undefined,
      importerRequireMfa: true,
      alarmEmail: 'ops@example.com',
      lockKeyPolicy: false,
      warnings: [expect.stringMatching(/^bootstrapKeys=true: the keys stack gets the BOOTSTRAP key policy, under which nobody can unseal anything/)],
    } satisfies CustodyConfig)
  })

  test.each(['eifPath', 'kmsKeyArn', 'pcr0', 'previousPcr0', 'previousPcrsPath', 'lockKeyPolicy', 'allowDebugEnclave'])('bootstrapKeys=true refuses %s', (key) => {
    expect(errorOf({ bootstrapKeys: true, [key]: key === 'kmsKeyArn' ? FIXTURE_KMS_KEY_ARN : key.startsWith('pcr') || key === 'previousPcr0' ? PCR0 : 'true' }, false)).toMatch(
      new RegExp(`^enclave-custody: -c ${key}: conflicts with bootstrapKeys=true, which creates only the keys stack`),
    )
  })

  test('without bootstrapKeys and without eifPath: the message says how to start', () => {
    expect(errorOf({}, false)).toMatchInlineSnapshot(
      `"enclave-custody: -c eifPath: is required: the prebuilt enclave image (build-eif.sh --kms-key-arn …), e.g. -c eifPath=build/custody.eif. First deploy, before the image exists: -c bootstrapKeys=true creates the keys stack, whose SealingKeyArn output the image is built with."`,
    )
  })

  test('an image without its key ARN is refused', () => {
    expect(errorOf({ eifPath: EIF_WITH_PCRS }, false)).toMatchInlineSnapshot(
      `"enclave-custody: -c kmsKeyArn: is required: the sealing key ARN the image was built with (build-eif.sh --kms-key-arn; the SealingKeyArn output of the keys stack), or build-eif.sh's build-info.txt beside the EIF"`,
    )
  })

  test.each([
    ['alias/enclave-custody', 'must be a KMS key ARN, not an alias (an alias can be pointed at another key)'],
    ['arn:aws:kms:eu-west-1:111122223333:alias/EnclaveCustody/sealing', 'must be a KMS key ARN, not an alias (an alias can be pointed at another key)'],
    ['1234abcd-12ab-34cd-56ef-1234567890ab', 'must be the full KMS key ARN, not a bare key id (the ARN pins the account and region)'],
    ['arn:aws:kms:eu-west-1:111122223333:key/nope', 'must be a full KMS key ARN: arn:aws:kms:<region>:<12-digit account>:key/<key id>'],
  ])('kmsKeyArn %s is refused', (kmsKeyArn, rule) => {
    expect(errorOf({ eifPath: EIF_WITH_PCRS, kmsKeyArn })).toBe(`enclave-custody: -c kmsKeyArn: ${rule}`)
  })

  test("kmsKeyArn from build-eif.sh's build-info.txt beside the EIF; a different -c kmsKeyArn or region is refused", () => {
    const eif = eifWith({ 'pcrs.json': { Measurements: { PCR0 } }, 'build-info.txt': `commit=abc\naws_region=eu-west-1\nkms_key_arn=${FIXTURE_KMS_KEY_ARN}\n` })
    const fromFile = readAny({ eifPath: eif })
    expect(fromFile).toMatchObject({ mode: 'deploy', kmsKeyArn: FIXTURE_KMS_KEY_ARN, kmsKeyArnSource: 'build-info' })
    expect(read({ eifPath: eif }).kmsKeyArnSource).toBe('context')
    const other = FIXTURE_KMS_KEY_ARN.replace('1234abcd', 'ffffffff')
    expect(errorOf({ eifPath: eif, kmsKeyArn: other })).toMatch(/^enclave-custody: -c kmsKeyArn: differs from kms_key_arn in .*build-info\.txt: the EIF was built for another key/)
    const elsewhere = eifWith({ 'pcrs.json': { Measurements: { PCR0 } }, 'build-info.txt': `aws_region=us-east-1\nkms_key_arn=${FIXTURE_KMS_KEY_ARN}\n` })
    expect(errorOf({ eifPath: elsewhere }, false)).toMatch(/-c kmsKeyArn: is a key in eu-west-1 but .*build-info\.txt says the image calls KMS in us-east-1/)
    const aliased = eifWith({ 'pcrs.json': { Measurements: { PCR0 } }, 'build-info.txt': 'kms_key_arn=alias/custody\n' })
    expect(errorOf({ eifPath: aliased }, false)).toMatch(/-c kmsKeyArn: \(from .*build-info\.txt\) must be a KMS key ARN, not an alias/)
  })
})

describe('PCR0 rotation: previousPcr0 / previousPcrsPath (point 9)', () => {
  test('previousPcr0 is carried next to the new PCR0, with a warning to finish the rotation', () => {
    const config = read({ eifPath: EIF_BARE, pcr0: PCR0, previousPcr0: PCR0_OLD })
    expect(config.pcr0).toBe(PCR0)
    expect(config.previousPcrs).toEqual({ 0: PCR0_OLD })
    expect(config.warnings.join('\n')).toMatch(/PCR0 rotation: the key policy accepts the previous image \(PCR0 cdcdcdcdcdcdcdcd…\) as well as the new one\. .*deploy again without previousPcr0/)
  })

  test("previousPcrsPath: the old build's PCR JSON; only the PCRs the policy binds are taken from it", () => {
    const old = eifWith({ 'pcrs.json': { Measurements: { PCR0: PCR0_OLD, PCR1: 'ee'.repeat(48), PCR2: 'ff'.repeat(48) } } }).replace(/custody\.eif$/, 'pcrs.json')
    expect(read({ eifPath: EIF_BARE, pcr0: PCR0, previousPcrsPath: old }).previousPcrs).toEqual({ 0: PCR0_OLD })
    expect(read({ eifPath: EIF_BARE, pcr0: PCR0, pcr2: '12'.repeat(48), previousPcrsPath: old }).previousPcrs).toEqual({ 0: PCR0_OLD, 2: 'ff'.repeat(48) })
    expect(errorOf({ eifPath: EIF_BARE, pcr0: PCR0, previousPcrsPath: old, previousPcr0: PCR0 })).toMatch(/-c previousPcr0: differs from PCR0 in .*pcrs\.json/)
    expect(errorOf({ eifPath: EIF_BARE, pcr0: PCR0, previousPcrsPath: 'no/such.json' })).toMatch(/-c previousPcrsPath: .*no\/such\.json is not JSON/)
  })

  test.each([
    [{ previousPcr0: PCR0 }, /-c previousPcr0: equals pcr0: nothing is being rotated; drop it/],
    [{ previousPcr0: DEBUG_PCR0 }, /-c previousPcr0: is all zeros/],
    [{ previousPcr0: 'abc' }, /-c previousPcr0: must be 96 hex digits/],
    [{ previousPcr2: PCR0_OLD }, /-c previousPcr2: the key policy does not bind PCR2/],
    [{ pcr2: '12'.repeat(48), previousPcr0: PCR0_OLD }, /-c previousPcr2: is required: the key policy binds PCR2, so instances of the previous image need their PCR2 accepted too/],
    [{ pcr2: '12'.repeat(48), previousPcr2: PCR0_OLD }, /-c previousPcr0: is required with any other previousPcr<i>/],
    [{ previousPcr0: PCR0_OLD, lockKeyPolicy: 'true' }, /-c previousPcr0: conflicts with lockKeyPolicy=true: a locked policy would accept the previous image forever/],
  ])('refuses %o', (bad, message) => {
    expect(errorOf({ eifPath: EIF_BARE, pcr0: PCR0, ...bad })).toMatch(message)
  })

  test('debug mode has nothing to rotate from', () => {
    expect(errorOf({ eifPath: EIF_BARE, allowDebugEnclave: 'true', previousPcr0: PCR0_OLD })).toMatch(/-c previousPcr0: conflicts with allowDebugEnclave=true/)
  })
})

describe('lockKeyPolicy (point 8)', () => {
  test('opt-in, with a loud warning that says irreversible', () => {
    const config = read({ eifPath: EIF_WITH_PCRS, lockKeyPolicy: 'true' })
    expect(config.lockKeyPolicy).toBe(true)
    expect(config.warnings.join('\n')).toMatch(/lockKeyPolicy=true: IRREVERSIBLE\. .*BypassPolicyLockoutSafetyCheck .*a new enclave image means new keys/)
  })

  test('never with a debug enclave', () => {
    expect(errorOf({ eifPath: EIF_BARE, allowDebugEnclave: 'true', lockKeyPolicy: 'true' })).toMatch(/-c lockKeyPolicy: conflicts with allowDebugEnclave=true: it would accept every debug-mode enclave forever/)
  })
})
