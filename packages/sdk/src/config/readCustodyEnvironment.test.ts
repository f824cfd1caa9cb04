/**
 * The deployment settings read from the environment: each missing or malformed variable is named, and no
 * message quotes an API key, whichever way it came in. What comes out is what `nitroEnclave` accepts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { p256 } from '@noble/curves/nist.js'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { AWS_NITRO_ENCLAVES_ROOT_G1_PEM } from '../attestation/awsNitroRootCertificate.js'
import { generateApiKey } from '../auth/generateApiKey.js'
import { isCustodyError } from '../errors/CustodyError.js'
import { nitroEnclave } from '../transports/nitroEnclave.js'
import { bytesToHex, hexToBytes } from '../utils/hex.js'
import { type CustodyEnvironmentVariables, readCustodyEnvironment } from './readCustodyEnvironment.js'

const PCR0 = 'ab'.repeat(48)
const OTHER_PCR0 = `0x${'CD'.repeat(48)}`
const DEBUG_PCR0 = '0'.repeat(96)
const apiKey = generateApiKey()
const base = { CUSTODY_URL: 'https://custody.internal:8443', CUSTODY_PCR0: PCR0, CUSTODY_API_KEY: apiKey.privateKey }
const { CUSTODY_API_KEY: _, ...noKey } = base

/** Files by path; anything else is ENOENT, like the file system. */
const filesOf =
  (files: Record<string, string>) =>
  (path: string): string => {
    if (Object.hasOwn(files, path)) return files[path]!
    throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' })
  }

/** The error `readCustodyEnvironment` throws, as `name: message`; it must be an INVALID_ARGUMENT. */
const message = (env: CustodyEnvironmentVariables, files: Record<string, string> = {}) => {
  try {
    readCustodyEnvironment(env, { readFile: filesOf(files) })
  } catch (e) {
    if (!isCustodyError(e, 'INVALID_ARGUMENT')) throw e
    return `${e.name}: ${e.message}`
  }
  throw new Error('no error')
}

afterEach(() => {
  vi.unstubAllEnvs()
})

describe('readCustodyEnvironment', () => {
  it('builds the transport settings and a stamper for the key; the default root is left to the SDK (AWS Nitro)', async () => {
    const config = readCustodyEnvironment({ ...base, CUSTODY_AUTH_TOKEN: 't0ken' })
    expect(config.url).toBe(base.CUSTODY_URL)
    expect(config.attestation).toEqual({ pcr0: [PCR0] })
    expect(config.headers).toEqual({ authorization: 'Bearer t0ken' })
    expect(config.stamper.publicKey).toBe(apiKey.publicKey)
    const digest = new Uint8Array(32).fill(7)
    const signature = await config.stamper.stamp(digest)
    expect(p256.verify(signature, digest, hexToBytes(apiKey.publicKey), { prehash: true })).toBe(true)
    expect(JSON.stringify(config)).not.toContain(apiKey.privateKey.slice(2))
    expect(readCustodyEnvironment({ ...base, CUSTODY_AUTH_TOKEN: '' }).headers).toEqual({})
  })

  it('a comma-separated allowlist (a rotation), a root file, the key from a key file', () => {
    const files = {
      '/etc/root.pem': `# bundle\n${AWS_NITRO_ENCLAVES_ROOT_G1_PEM.trim()}\n`,
      '/run/api-key.json': JSON.stringify(apiKey),
    }
    const config = readCustodyEnvironment(
      { ...noKey, CUSTODY_PCR0: ` ${PCR0} , ${OTHER_PCR0} `, CUSTODY_ATTESTATION_ROOT: '/etc/root.pem', CUSTODY_API_KEY_FILE: '/run/api-key.json' },
      { readFile: filesOf(files) },
    )
    expect(config.attestation).toEqual({ pcr0: [PCR0, OTHER_PCR0], roots: [AWS_NITRO_ENCLAVES_ROOT_G1_PEM.trim()] })
    expect(config.stamper.publicKey).toBe(apiKey.publicKey)
  })

  it('a key file without "publicKey", or with it uncompressed or without 0x, is the same key', () => {
    const uncompressed = bytesToHex(p256.Point.fromHex(apiKey.publicKey.slice(2)).toBytes(false))
    for (const file of [{ privateKey: apiKey.privateKey }, { ...apiKey, publicKey: uncompressed }, { ...apiKey, publicKey: apiKey.publicKey.slice(2).toUpperCase() }]) {
      const config = readCustodyEnvironment({ ...noKey, CUSTODY_API_KEY_FILE: '/k.json' }, { readFile: filesOf({ '/k.json': JSON.stringify(file) }) })
      expect(config.stamper.publicKey).toBe(apiKey.publicKey)
    }
  })

  it('the all-zero PCR0 of a debug-mode enclave only with CUSTODY_ALLOW_DEBUG_ENCLAVE=true, which the policy then carries', () => {
    const debug = readCustodyEnvironment({ ...base, CUSTODY_PCR0: `${DEBUG_PCR0},${PCR0}`, CUSTODY_ALLOW_DEBUG_ENCLAVE: 'true' })
    expect(debug.attestation).toEqual({ pcr0: [DEBUG_PCR0, PCR0], allowDebugEnclave: true })
    expect(readCustodyEnvironment({ ...base, CUSTODY_ALLOW_DEBUG_ENCLAVE: 'false' }).attestation).toEqual({ pcr0: [PCR0] })
    expect(message({ ...base, CUSTODY_PCR0: DEBUG_PCR0, CUSTODY_ALLOW_DEBUG_ENCLAVE: 'false' })).toMatchInlineSnapshot(
      `"InvalidArgumentError: "CUSTODY_PCR0" value 1 is all zeros, the PCR0 of a debug-mode enclave: refused unless CUSTODY_ALLOW_DEBUG_ENCLAVE=true"`,
    )
    for (const loose of ['1', 'yes', 'TRUE']) {
      expect(message({ ...base, CUSTODY_PCR0: DEBUG_PCR0, CUSTODY_ALLOW_DEBUG_ENCLAVE: loose })).toBe('InvalidArgumentError: "CUSTODY_ALLOW_DEBUG_ENCLAVE" must be true or false')
    }
  })

  it('what it returns is what nitroEnclave accepts, the debug case included', () => {
    for (const env of [base, { ...base, CUSTODY_PCR0: `${DEBUG_PCR0}, ${OTHER_PCR0}`, CUSTODY_ALLOW_DEBUG_ENCLAVE: 'true', CUSTODY_AUTH_TOKEN: 't' }]) {
      const { url, attestation, headers } = readCustodyEnvironment(env)
      expect(nitroEnclave({ url, attestation, headers }).attestation).toEqual({
        pcr0: attestation.pcr0.map((v) => v.replace(/^0x/, '').toLowerCase()),
        allowDebugEnclave: attestation.allowDebugEnclave === true,
      })
    }
  })

  it('reads process.env and the file system by default', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'custody-env-'))
    try {
      await writeFile(join(dir, 'root.pem'), AWS_NITRO_ENCLAVES_ROOT_G1_PEM)
      await writeFile(join(dir, 'api-key.json'), JSON.stringify(apiKey), { mode: 0o600 })
      for (const [name, value] of Object.entries({ ...noKey, CUSTODY_ATTESTATION_ROOT: join(dir, 'root.pem'), CUSTODY_API_KEY_FILE: join(dir, 'api-key.json') })) vi.stubEnv(name, value)
      for (const name of ['CUSTODY_API_KEY', 'CUSTODY_AUTH_TOKEN', 'CUSTODY_ALLOW_DEBUG_ENCLAVE']) vi.stubEnv(name, undefined)
      const config = readCustodyEnvironment()
      expect(config.attestation.roots).toEqual([AWS_NITRO_ENCLAVES_ROOT_G1_PEM.trim()])
      expect(config.stamper.publicKey).toBe(apiKey.publicKey)
      vi.stubEnv('CUSTODY_API_KEY_FILE', join(dir, 'missing.json'))
      expect(() => readCustodyEnvironment()).toThrow(`"CUSTODY_API_KEY_FILE" (${join(dir, 'missing.json')}) cannot be read: ENOENT`)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('names each missing or malformed variable', () => {
    const other = generateApiKey()
    expect(message({ ...base, CUSTODY_URL: '' })).toMatchInlineSnapshot(
      `"InvalidArgumentError: "CUSTODY_URL" is not set (the parent proxy of your custody deployment, e.g. https://custody.internal:8443)"`,
    )
    expect(message({ ...base, CUSTODY_URL: 'custody.internal:8443' })).toMatchInlineSnapshot(`"InvalidArgumentError: "CUSTODY_URL" must be an http(s) URL"`)
    expect(message({ ...base, CUSTODY_PCR0: undefined })).toMatchInlineSnapshot(
      `"InvalidArgumentError: "CUSTODY_PCR0" is not set (the enclave image's PCR0, 96 hex digits; two, comma-separated, during a rotation)"`,
    )
    expect(message({ ...base, CUSTODY_PCR0: ' , ' })).toMatchInlineSnapshot(`"InvalidArgumentError: "CUSTODY_PCR0" must list 1 to 5 PCR0 values, comma-separated"`)
    expect(message({ ...base, CUSTODY_PCR0: Array(6).fill(PCR0).join(',') })).toMatchInlineSnapshot(`"InvalidArgumentError: "CUSTODY_PCR0" must list 1 to 5 PCR0 values, comma-separated"`)
    expect(message({ ...base, CUSTODY_PCR0: `${PCR0},abc` })).toMatchInlineSnapshot(`"InvalidArgumentError: "CUSTODY_PCR0" value 2 is not a PCR0 (48 bytes, 96 hex digits)"`)
    expect(message({ ...base, CUSTODY_PCR0: DEBUG_PCR0 })).toMatchInlineSnapshot(
      `"InvalidArgumentError: "CUSTODY_PCR0" value 1 is all zeros, the PCR0 of a debug-mode enclave: refused unless CUSTODY_ALLOW_DEBUG_ENCLAVE=true"`,
    )
    expect(message({ ...base, CUSTODY_ATTESTATION_ROOT: '/nope.pem' })).toMatchInlineSnapshot(`"InvalidArgumentError: "CUSTODY_ATTESTATION_ROOT" (/nope.pem) cannot be read: ENOENT"`)
    expect(message({ ...base, CUSTODY_ATTESTATION_ROOT: '/root.pem' }, { '/root.pem': 'not a certificate' })).toMatchInlineSnapshot(
      `"InvalidArgumentError: "CUSTODY_ATTESTATION_ROOT" (/root.pem) holds no PEM certificate"`,
    )
    expect(message({ ...base, CUSTODY_ATTESTATION_ROOT: AWS_NITRO_ENCLAVES_ROOT_G1_PEM })).toMatchInlineSnapshot(
      `"InvalidArgumentError: "CUSTODY_ATTESTATION_ROOT" takes the path of a PEM file, not the certificate itself"`,
    )
    expect(message(noKey)).toMatchInlineSnapshot(
      `"InvalidArgumentError: "CUSTODY_API_KEY" is not set (the P-256 private key of your API key, hex), nor CUSTODY_API_KEY_FILE (a JSON file { publicKey, privateKey }, as \`custody api-key create --out <file>\` writes one)"`,
    )
    expect(message({ ...base, CUSTODY_API_KEY_FILE: '/k.json' })).toMatchInlineSnapshot(
      `"InvalidArgumentError: "CUSTODY_API_KEY" is set, and so is CUSTODY_API_KEY_FILE: set one of them"`,
    )
    expect(message({ ...noKey, CUSTODY_API_KEY_FILE: '/k.json' })).toMatchInlineSnapshot(`"InvalidArgumentError: "CUSTODY_API_KEY_FILE" (/k.json) cannot be read: ENOENT"`)
    expect(message({ ...noKey, CUSTODY_API_KEY_FILE: '/k.json' }, { '/k.json': '{}' })).toMatchInlineSnapshot(
      `"InvalidArgumentError: "CUSTODY_API_KEY_FILE" (/k.json) has no "privateKey" string"`,
    )
    expect(message({ ...noKey, CUSTODY_API_KEY_FILE: '/k.json' }, { '/k.json': JSON.stringify({ ...apiKey, publicKey: other.publicKey }) })).toMatchInlineSnapshot(
      `"InvalidArgumentError: "CUSTODY_API_KEY_FILE" (/k.json): its "publicKey" is not the public key of its "privateKey""`,
    )
    expect(message({ ...noKey, CUSTODY_API_KEY_FILE: '/k.json' }, { '/k.json': JSON.stringify({ ...apiKey, publicKey: 42 }) })).toMatchInlineSnapshot(
      `"InvalidArgumentError: "CUSTODY_API_KEY_FILE" (/k.json): its "publicKey" is not the public key of its "privateKey""`,
    )
    expect(message({ ...noKey, CUSTODY_API_KEY_FILE: '/k.json' }, { '/k.json': `${JSON.stringify(apiKey)}${' '.repeat(5000)}` })).toMatchInlineSnapshot(
      `"InvalidArgumentError: "CUSTODY_API_KEY_FILE" (/k.json) is not an API key file (too large)"`,
    )
  })

  it('the error is typed: INVALID_ARGUMENT, `details.field` the variable', () => {
    let error: unknown
    try {
      readCustodyEnvironment({ ...base, CUSTODY_PCR0: 'abc' })
    } catch (e) {
      error = e
    }
    expect(isCustodyError(error, 'INVALID_ARGUMENT')).toBe(true)
    expect((error as { details?: unknown }).details).toEqual({ field: 'CUSTODY_PCR0', rule: 'value 1 is not a PCR0 (48 bytes, 96 hex digits)' })
  })

  it('never quotes the key: not a malformed one, not the n of P-256, not a key file that is not JSON, not a key in the file variable', () => {
    const secret = apiKey.privateKey.slice(2)
    const n = 'ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551'
    const notAKey = 'InvalidArgumentError: "CUSTODY_API_KEY" is not a P-256 private key (64 hex digits, 1..n-1)'
    const notAPath = 'InvalidArgumentError: "CUSTODY_API_KEY_FILE" takes the path of an API key file, never the key itself'
    const cases: [CustodyEnvironmentVariables, Record<string, string>, string][] = [
      [{ ...base, CUSTODY_API_KEY: `${secret}00` }, {}, notAKey],
      [{ ...base, CUSTODY_API_KEY: n }, {}, notAKey],
      [{ ...base, CUSTODY_API_KEY: JSON.stringify(apiKey) }, {}, notAKey],
      [{ ...noKey, CUSTODY_API_KEY_FILE: '/k' }, { '/k': secret }, 'InvalidArgumentError: "CUSTODY_API_KEY_FILE" (/k) is not JSON'],
      [{ ...noKey, CUSTODY_API_KEY_FILE: '/k' }, { '/k': `{"privateKey":"${secret}x"}` }, 'InvalidArgumentError: "CUSTODY_API_KEY_FILE" is not a P-256 private key (64 hex digits, 1..n-1)'],
      [{ ...noKey, CUSTODY_API_KEY_FILE: apiKey.privateKey }, {}, notAPath],
      [{ ...noKey, CUSTODY_API_KEY_FILE: ` ${secret} ` }, {}, notAPath],
      [{ ...noKey, CUSTODY_API_KEY_FILE: JSON.stringify(apiKey) }, {}, notAPath],
    ]
    for (const [env, files, expected] of cases) {
      const text = message(env, files)
      expect(text).toBe(expected)
      expect(text).not.toContain(secret.slice(0, 16))
      expect(text).not.toContain(n.slice(0, 16))
    }
  })

  it('never quotes CUSTODY_URL, which may carry credentials, nor a file error other than its code', () => {
    expect(message({ ...base, CUSTODY_URL: 'ftp://admin:hunter2@custody.internal' })).toBe('InvalidArgumentError: "CUSTODY_URL" must be an http(s) URL')
    const odd = () => {
      throw Object.assign(new Error('hunter2'), { code: 'hunter2 and more' })
    }
    expect(() => readCustodyEnvironment({ ...base, CUSTODY_ATTESTATION_ROOT: '/r.pem' }, { readFile: odd })).toThrow(/^"CUSTODY_ATTESTATION_ROOT" \(\/r\.pem\) cannot be read: error$/)
  })
})
