import { spawnSync } from 'node:child_process'
import { generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { IntegrityError, InvalidArgumentError } from '@enclave-custody/sdk'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { berElementLength } from './berLength.js'
import { decryptEnvelopedData, parseEnvelopedData } from './cms.js'
import { vectorsDir } from '../../../../test/vectors.js'

/** Every RSA-unwrapped content key, to check that it was zeroed. */
const unwrappedKeys: Buffer[] = []
vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:crypto')>()
  return {
    ...original,
    privateDecrypt: (...args: Parameters<typeof original.privateDecrypt>) => {
      const out = original.privateDecrypt(...args)
      unwrappedKeys.push(out)
      return out
    },
  }
})

/** The aws-nitro-enclaves-sdk-c KMS samples, in the repository (test/vectors/SOURCES.md §2): never skipped. */
const KMS_CMS = join(vectorsDir, 'kms-cms')
const OPENSSL = '/usr/bin/openssl'
const haveOpenssl = existsSync(OPENSSL)
const NO_OPENSSL = `SKIPPED: ${OPENSSL} not found, so the OpenSSL CMS interop tests cannot run (apt-get install openssl; .ci/run does)`
if (!haveOpenssl) console.warn(`[cms] ${NO_OPENSSL}`)

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

function integrityFailure(fn: () => unknown): IntegrityError {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(IntegrityError)
    return e as IntegrityError
  }
  throw new Error('expected an IntegrityError')
}

describe('parseEnvelopedData on the aws-nitro-enclaves-sdk-c KMS vectors', () => {
  const vectors = JSON.parse(readFileSync(join(KMS_CMS, 'sdk-c-cms-parse-vectors.json'), 'utf8')) as {
    cases: {
      name: string
      input_ber_hex: string
      expected: { subjectKeyIdentifier_hex: string; encrypted_key_hex: string; iv_hex: string; ciphertext_hex: string }
    }[]
  }

  it('has both cases, and they match the binary files', () => {
    expect(vectors.cases).toHaveLength(2)
    expect(hex(readFileSync(join(KMS_CMS, 'sdk-c-cms_test-input_ber.ber')))).toBe(vectors.cases[0]!.input_ber_hex)
    expect(hex(readFileSync(join(KMS_CMS, 'sdk-c-cms_test-input_ber_w_ctx.ber')))).toBe(vectors.cases[1]!.input_ber_hex)
  })

  for (const vector of vectors.cases) {
    it(`parses ${vector.name}`, () => {
      const input = Buffer.from(vector.input_ber_hex, 'hex')
      expect(input.subarray(0, 2)).toEqual(Buffer.from([0x30, 0x80])) // indefinite-length BER
      const parsed = parseEnvelopedData(input)
      expect(parsed.version).toBe(2)
      expect(parsed.recipient.version).toBe(2)
      expect(hex(parsed.recipient.subjectKeyIdentifier!)).toBe(vector.expected.subjectKeyIdentifier_hex)
      expect(parsed.keyEncryptionAlgorithm).toBe('RSAES-OAEP-SHA-256')
      expect(hex(parsed.encryptedKey)).toBe(vector.expected.encrypted_key_hex)
      expect(parsed.contentEncryptionAlgorithm).toBe('AES-256-CBC')
      expect(hex(parsed.iv)).toBe(vector.expected.iv_hex)
      expect(hex(parsed.ciphertext)).toBe(vector.expected.ciphertext_hex)
    })

    it(`rejects every truncation and trailing data of ${vector.name}`, () => {
      const input = Buffer.from(vector.input_ber_hex, 'hex')
      for (let cut = 1; cut < input.length; cut++) integrityFailure(() => parseEnvelopedData(input.subarray(0, input.length - cut)))
      expect(integrityFailure(() => parseEnvelopedData(Buffer.concat([input, Buffer.of(0)]))).shortMessage).toBe(
        'integrity check failed: CMS EnvelopedData: 1 trailing byte(s)',
      )
    })

    it(`does not decrypt ${vector.name} with a foreign key`, () => {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
      expect(integrityFailure(() => decryptEnvelopedData(Buffer.from(vector.input_ber_hex, 'hex'), privateKey)).shortMessage).toBe(
        'integrity check failed: the content-encryption key does not unwrap with the enclave key (RSAES-OAEP-SHA-256)',
      )
    })
  }

  it('rejects altered algorithm identifiers in the KMS form', () => {
    const input = Buffer.from(vectors.cases[0]!.input_ber_hex, 'hex')
    const replace = (from: string, to: string) => {
      const i = input.indexOf(Buffer.from(from, 'hex'))
      expect(i).toBeGreaterThan(0)
      const out = Buffer.from(input)
      Buffer.from(to, 'hex').copy(out, i)
      return out
    }
    const reason = (bytes: Uint8Array) => integrityFailure(() => parseEnvelopedData(bytes)).shortMessage
    // OAEP hash SHA-256 → SHA-384 (first occurrence: the OAEP hashAlgorithm)
    expect(reason(replace('0609608648016503040201', '0609608648016503040202'))).toMatch(/RSAES-OAEP hash is not SHA-256/)
    // RSAES-OAEP → rsaEncryption (PKCS#1 v1.5)
    expect(reason(replace('06092a864886f70d010107', '06092a864886f70d010101'))).toMatch(/key encryption is not RSAES-OAEP/)
    // aes256-CBC → aes128-CBC
    expect(reason(replace('060960864801650304012a', '0609608648016503040102'))).toMatch(/content encryption is not AES-256-CBC/)
    // id-envelopedData → id-signedData
    expect(reason(replace('06092a864886f70d010703', '06092a864886f70d010702'))).toMatch(/content type is not id-envelopedData/)
    // EnvelopedData version 2 → 3
    expect(reason(replace('3080020102', '3080020103'))).toMatch(/unsupported EnvelopedData version 3/)
  })
})

describe.skipIf(!haveOpenssl)(`decryptEnvelopedData with OpenSSL-made CMS${haveOpenssl ? '' : ` (${NO_OPENSSL})`}`, () => {
  let dir: string
  let privateKey: KeyObject
  let certPath: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cms-'))
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 })
    privateKey = pair.privateKey
    const keyPath = join(dir, 'key.pem')
    certPath = join(dir, 'cert.pem')
    await writeFile(keyPath, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 })
    openssl(['req', '-x509', '-new', '-key', keyPath, '-subj', '/CN=enclave-test', '-days', '1', '-out', certPath])
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  function openssl(args: string[], input?: Uint8Array): Buffer {
    const result = spawnSync(OPENSSL, args, { input, maxBuffer: 1 << 20 })
    if (result.status !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr.toString()}`)
    return result.stdout
  }

  const KMS_LIKE = ['-keyopt', 'rsa_padding_mode:oaep', '-keyopt', 'rsa_oaep_md:sha256', '-keyopt', 'rsa_mgf1_md:sha256']
  const encrypt = (plaintext: Uint8Array, extra: string[] = [], cipher = '-aes-256-cbc') =>
    openssl(['cms', '-encrypt', '-binary', '-outform', 'DER', cipher, '-recip', certPath, ...extra], plaintext)

  it.each([1, 15, 16, 32, 1000])('decrypts a %i-byte DER message (the brief’s exact command)', (size) => {
    const plaintext = randomBytes(size)
    const der = encrypt(plaintext, ['-keyid', ...KMS_LIKE])
    expect(der[0]).toBe(0x30)
    expect(der[1]).not.toBe(0x80) // definite lengths
    const parsed = parseEnvelopedData(der)
    expect(parsed.version).toBe(2)
    expect(parsed.recipient.subjectKeyIdentifier).toHaveLength(20)
    expect(Buffer.from(decryptEnvelopedData(der, privateKey))).toEqual(plaintext)
  })

  it('decrypts the streamed (indefinite-length BER, chunked content) form', () => {
    const plaintext = randomBytes(5000)
    const ber = encrypt(plaintext, ['-keyid', '-stream', ...KMS_LIKE])
    expect([...ber.subarray(0, 2)]).toEqual([0x30, 0x80])
    expect(berElementLength(ber)).toBe(ber.length)
    expect(Buffer.from(decryptEnvelopedData(ber, privateKey))).toEqual(plaintext)
  })

  it('decrypts a recipient identified by issuer and serial number (version 0)', () => {
    const plaintext = randomBytes(32)
    const der = encrypt(plaintext, KMS_LIKE)
    const parsed = parseEnvelopedData(der)
    expect(parsed.recipient).toEqual({ version: 0 })
    expect(Buffer.from(decryptEnvelopedData(der, privateKey))).toEqual(plaintext)
  })

  it('zeroes the unwrapped content key', () => {
    unwrappedKeys.length = 0
    decryptEnvelopedData(encrypt(randomBytes(32), ['-keyid', ...KMS_LIKE]), privateKey)
    expect(unwrappedKeys).toHaveLength(1)
    expect(unwrappedKeys[0]).toHaveLength(32)
    expect(unwrappedKeys[0]!.every((b) => b === 0)).toBe(true)
  })

  it.each([
    ['PKCS#1 v1.5 key transport', [] as string[], '-aes-256-cbc', /key encryption is not RSAES-OAEP/],
    ['OAEP with SHA-1 defaults', ['-keyopt', 'rsa_padding_mode:oaep'], '-aes-256-cbc', /RSAES-OAEP parameters are missing|hash is not SHA-256/],
    ['OAEP-SHA-256 with MGF1-SHA-1', ['-keyopt', 'rsa_padding_mode:oaep', '-keyopt', 'rsa_oaep_md:sha256', '-keyopt', 'rsa_mgf1_md:sha1'], '-aes-256-cbc', /mask generation is not MGF1 with SHA-256/],
    ['AES-128-CBC content', KMS_LIKE, '-aes-128-cbc', /content encryption is not AES-256-CBC/],
    ['AES-256-GCM content', KMS_LIKE, '-aes-256-gcm', /./],
  ])('rejects %s', (_name, options, cipher, message) => {
    const result = spawnSync(OPENSSL, ['cms', '-encrypt', '-binary', '-outform', 'DER', cipher, '-recip', certPath, ...options], { input: randomBytes(32) })
    if (result.status !== 0) return // this OpenSSL cannot produce the variant: nothing to reject
    expect(integrityFailure(() => decryptEnvelopedData(result.stdout, privateKey)).shortMessage).toMatch(message)
  })

  it('refuses a foreign RSA key and a flipped last padding block', () => {
    const plaintext = randomBytes(16)
    const der = encrypt(plaintext, ['-keyid', ...KMS_LIKE])
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
    integrityFailure(() => decryptEnvelopedData(der, other))
    // 16 bytes of plaintext → a full padding block; corrupting the IV-chained last block breaks the padding.
    const tampered = Buffer.from(der)
    tampered[tampered.length - 17]! ^= 0xff
    expect(integrityFailure(() => decryptEnvelopedData(tampered, privateKey)).shortMessage).toBe(
      'integrity check failed: the content does not decrypt (AES-256-CBC padding check failed)',
    )
  })

  it('rejects truncated DER', () => {
    const der = encrypt(randomBytes(32), ['-keyid', ...KMS_LIKE])
    for (const cut of [1, 2, 16, 17, 100, der.length - 1]) integrityFailure(() => decryptEnvelopedData(der.subarray(0, der.length - cut), privateKey))
  })
})

describe('parseEnvelopedData and decryptEnvelopedData arguments', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  it.each([
    ['empty input', () => parseEnvelopedData(new Uint8Array(0)), IntegrityError, 'integrity check failed: CMS EnvelopedData: must be 1..65536 bytes'],
    ['garbage', () => parseEnvelopedData(Uint8Array.of(1, 2, 3)), IntegrityError, 'integrity check failed: CMS EnvelopedData: truncated or malformed BER'],
    ['a SEQUENCE that is not a ContentInfo', () => parseEnvelopedData(Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00)), IntegrityError, 'integrity check failed: CMS EnvelopedData: ContentInfo does not parse'],
    ['a string', () => parseEnvelopedData('30' as never), InvalidArgumentError, '"der" must be a Uint8Array'],
    ['a public key', () => decryptEnvelopedData(new Uint8Array(1), publicKey), InvalidArgumentError, '"rsaPrivateKey" must be an RSA private KeyObject of at least 2048 bits'],
    ['an EC key', () => decryptEnvelopedData(new Uint8Array(1), generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey), InvalidArgumentError, '"rsaPrivateKey" must be an RSA private KeyObject of at least 2048 bits'],
    ['a PEM string key', () => decryptEnvelopedData(new Uint8Array(1), privateKey.export({ type: 'pkcs8', format: 'pem' }) as never), InvalidArgumentError, '"rsaPrivateKey" must be an RSA private KeyObject of at least 2048 bits'],
  ])('rejects %s', (_name, fn, type, message) => {
    expect(fn).toThrow(type)
    expect(fn).toThrow(message)
  })
})

describe('berElementLength', () => {
  it.each([
    ['definite', '020101', 3],
    ['definite with trailing', '02010100', 3],
    ['long-form length', `0481${'80'}${'00'.repeat(128)}`, 131],
    ['indefinite', '3080020101 0000', 5 + 2],
    ['nested indefinite', '3080 3080 0000 0000 ff', 8],
    ['truncated', '0205 01', undefined],
    ['indefinite primitive', '0480 0000', undefined],
    ['unterminated indefinite', '3080 020101', undefined],
    ['empty', '', undefined],
  ])('%s', (_name, input, expected) => {
    expect(berElementLength(Buffer.from(input.replaceAll(' ', ''), 'hex'))).toBe(expected)
  })
})
