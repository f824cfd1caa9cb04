/**
 * The deployment settings `pnpm start` reads: each missing or malformed variable is named, and no message
 * quotes an API key, whichever way it came in.
 */
import { AWS_NITRO_ENCLAVES_ROOT_G1_PEM, generateApiKey } from '@enclave-custody/sdk'
import { describe, expect, it } from 'vitest'
import { readCustodyEnvironment } from '../src/readCustodyEnvironment.js'

const PCR0 = 'ab'.repeat(48)
const OTHER_PCR0 = `0x${'CD'.repeat(48)}`
const apiKey = generateApiKey()
const base = { CUSTODY_URL: 'https://custody.internal:8443', CUSTODY_PCR0: PCR0, CUSTODY_API_KEY: apiKey.privateKey }

/** Files by path; anything else is ENOENT, like the file system. */
const filesOf =
  (files: Record<string, string>) =>
  (path: string): string => {
    if (path in files) return files[path]!
    throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' })
  }

const message = (env: NodeJS.ProcessEnv, files: Record<string, string> = {}) => {
  try {
    readCustodyEnvironment(env, { readFile: filesOf(files) })
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`
  }
  throw new Error('no error')
}

describe('readCustodyEnvironment', () => {
  it('builds the transport settings and a stamper for the key; the default root is left to the SDK (AWS Nitro)', async () => {
    const config = readCustodyEnvironment({ ...base, CUSTODY_TOKEN: 't0ken' })
    expect(config.url).toBe(base.CUSTODY_URL)
    expect(config.attestation).toEqual({ pcr0: [PCR0] })
    expect(config.headers).toEqual({ authorization: 'Bearer t0ken' })
    expect(config.stamper.publicKey).toBe(apiKey.publicKey)
    expect(await config.stamper.stamp(new Uint8Array(32))).toHaveLength(64)
    expect(JSON.stringify(config)).not.toContain(apiKey.privateKey.slice(2))
    expect(readCustodyEnvironment({ ...base, CUSTODY_TOKEN: '' }).headers).toEqual({})
  })

  it('a comma-separated allowlist (a rotation), a root file, the key from a key file', () => {
    const files = {
      '/etc/root.pem': `# bundle\n${AWS_NITRO_ENCLAVES_ROOT_G1_PEM.trim()}\n`,
      '/run/api-key.json': JSON.stringify(apiKey),
    }
    const { CUSTODY_API_KEY: _, ...noKey } = base
    const config = readCustodyEnvironment(
      { ...noKey, CUSTODY_PCR0: ` ${PCR0} , ${OTHER_PCR0} `, CUSTODY_ATTESTATION_ROOT: '/etc/root.pem', CUSTODY_API_KEY_FILE: '/run/api-key.json' },
      { readFile: filesOf(files) },
    )
    expect(config.attestation).toEqual({ pcr0: [PCR0, OTHER_PCR0], roots: [AWS_NITRO_ENCLAVES_ROOT_G1_PEM.trim()] })
    expect(config.stamper.publicKey).toBe(apiKey.publicKey)
  })

  it('names each missing or malformed variable', () => {
    const { CUSTODY_API_KEY: _, ...noKey } = base
    const other = generateApiKey()
    expect(message({ ...base, CUSTODY_URL: '' })).toMatchInlineSnapshot(
      `"EnvironmentError: CUSTODY_URL is not set (the parent proxy of your custody deployment, e.g. https://custody.internal:8443): copy .env.example to .env and fill it in"`,
    )
    expect(message({ ...base, CUSTODY_PCR0: undefined })).toMatchInlineSnapshot(
      `"EnvironmentError: CUSTODY_PCR0 is not set (the enclave image's PCR0 (96 hex digits; two, comma-separated, during a rotation)): copy .env.example to .env and fill it in"`,
    )
    expect(message({ ...base, CUSTODY_PCR0: ' , ' })).toMatchInlineSnapshot(`"EnvironmentError: CUSTODY_PCR0 must list 1 to 5 PCR0 values, comma-separated"`)
    expect(message({ ...base, CUSTODY_PCR0: `${PCR0},abc` })).toMatchInlineSnapshot(`"EnvironmentError: CUSTODY_PCR0 value 2 is not a PCR0 (96 hex digits)"`)
    expect(message({ ...base, CUSTODY_PCR0: '0'.repeat(96) })).toMatchInlineSnapshot(
      `"EnvironmentError: CUSTODY_PCR0 value 1 is all zeros, the PCR0 of a debug-mode enclave: refusing it"`,
    )
    expect(message({ ...base, CUSTODY_ATTESTATION_ROOT: '/nope.pem' })).toMatchInlineSnapshot(`"EnvironmentError: CUSTODY_ATTESTATION_ROOT (/nope.pem) cannot be read: ENOENT"`)
    expect(message({ ...base, CUSTODY_ATTESTATION_ROOT: '/root.pem' }, { '/root.pem': 'not a certificate' })).toMatchInlineSnapshot(
      `"EnvironmentError: CUSTODY_ATTESTATION_ROOT (/root.pem) holds no PEM certificate"`,
    )
    expect(message(noKey)).toMatchInlineSnapshot(
      `"EnvironmentError: CUSTODY_API_KEY is not set (the P-256 private key of your API key, hex), nor CUSTODY_API_KEY_FILE (a JSON file { publicKey, privateKey }, as \`custody api-key create --out <file>\` writes one)"`,
    )
    expect(message({ ...base, CUSTODY_API_KEY_FILE: '/k.json' })).toMatchInlineSnapshot(
      `"EnvironmentError: CUSTODY_API_KEY and CUSTODY_API_KEY_FILE are both set: set one of them"`,
    )
    expect(message({ ...noKey, CUSTODY_API_KEY_FILE: '/k.json' })).toMatchInlineSnapshot(`"EnvironmentError: CUSTODY_API_KEY_FILE (/k.json) cannot be read: ENOENT"`)
    expect(message({ ...noKey, CUSTODY_API_KEY_FILE: '/k.json' }, { '/k.json': '{}' })).toMatchInlineSnapshot(
      `"EnvironmentError: CUSTODY_API_KEY_FILE (/k.json) has no "privateKey" string"`,
    )
    expect(message({ ...noKey, CUSTODY_API_KEY_FILE: '/k.json' }, { '/k.json': JSON.stringify({ ...apiKey, publicKey: other.publicKey }) })).toMatchInlineSnapshot(
      `"EnvironmentError: CUSTODY_API_KEY_FILE (/k.json): its "publicKey" is not the public key of its "privateKey""`,
    )
  })

  it('never quotes the key: not a malformed one, not the n of P-256, not a key file that is not JSON', () => {
    const { CUSTODY_API_KEY: _, ...noKey } = base
    const secret = apiKey.privateKey.slice(2)
    const n = 'ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551'
    const cases: [NodeJS.ProcessEnv, Record<string, string>, string][] = [
      [{ ...base, CUSTODY_API_KEY: `${secret}00` }, {}, 'EnvironmentError: CUSTODY_API_KEY is not a P-256 private key (64 hex digits, 1..n-1)'],
      [{ ...base, CUSTODY_API_KEY: n }, {}, 'EnvironmentError: CUSTODY_API_KEY is not a P-256 private key (64 hex digits, 1..n-1)'],
      [{ ...noKey, CUSTODY_API_KEY_FILE: '/k' }, { '/k': secret }, 'EnvironmentError: CUSTODY_API_KEY_FILE (/k) is not JSON'],
      [{ ...noKey, CUSTODY_API_KEY_FILE: '/k' }, { '/k': `{"privateKey":"${secret}x"}` }, 'EnvironmentError: CUSTODY_API_KEY_FILE is not a P-256 private key (64 hex digits, 1..n-1)'],
    ]
    for (const [env, files, expected] of cases) {
      const text = message(env, files)
      expect(text).toBe(expected)
      expect(text).not.toContain(secret.slice(0, 16))
      expect(text).not.toContain(n.slice(0, 16))
    }
  })
})
