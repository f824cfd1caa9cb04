import { createECDH, hkdfSync, randomBytes } from 'node:crypto'
import { apiKeyStamper } from '@enclave-custody/sdk'
import { describe, expect, test } from 'vitest'
import { deriveApiKey, LAMBDA_API_KEY_INFO } from '../lambda/deriveApiKey.js'

const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n

describe('deriveApiKey: the signing Lambda\'s P-256 API key from its Secrets Manager string', () => {
  // Computed independently (Python: hmac/hashlib HKDF per RFC 5869, then int mod (n - 1) + 1; the public key
  // with pyca/cryptography), not with this code.
  test.each([
    ['a'.repeat(64), '0xe95fec269f672f528bf304d0a7390ce399b880b001d8b6164d4c05bf53bc3150'],
    ['Zq3kV9xYb2LmN7pR4tW8cD1fG6hJ0sA5eU2iO9yT3rE7wQ1zX4vB8nM6kL0jH5gF', '0x67aa036508944a562c97de91a3dd1597137730ec345e5e301d0fe4436ace609e'],
  ])('known answer for %s', (secret, expected) => {
    expect(deriveApiKey(secret)).toBe(expected)
  })

  test('the known key\'s public key, as apiKeyStamper and node:crypto compute it', () => {
    const privateKey = deriveApiKey('a'.repeat(64))
    const ecdh = createECDH('prime256v1')
    ecdh.setPrivateKey(Buffer.from(privateKey.slice(2), 'hex'))
    expect(apiKeyStamper({ privateKey }).publicKey).toBe('0x0316933e8d787bfbf8c914bdae467615b01f4ca2adc78b4aa6ee75dae684c7e775')
    expect(`0x${ecdh.getPublicKey('hex', 'compressed')}`).toBe(apiKeyStamper({ privateKey }).publicKey)
  })

  test('is the documented formula: HKDF-SHA-256 (empty salt, the versioned info, 48 bytes), mod n - 1, + 1', () => {
    for (let i = 0; i < 200; i++) {
      const secret = randomBytes(48).toString('base64url')
      const okm = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), LAMBDA_API_KEY_INFO, 48))
      const d = BigInt(deriveApiKey(secret))
      expect(d).toBe((BigInt(`0x${okm.toString('hex')}`) % (N - 1n)) + 1n)
      expect(d >= 1n && d < N).toBe(true)
      expect(deriveApiKey(secret)).toMatch(/^0x[0-9a-f]{64}$/)
    }
    expect(LAMBDA_API_KEY_INFO).toBe('enclave-custody/signing-lambda/api-key/v1')
  })

  test('deterministic per secret; one character apart, unrelated keys', () => {
    const secret = randomBytes(48).toString('base64url')
    expect(deriveApiKey(secret)).toBe(deriveApiKey(secret))
    expect(deriveApiKey(`${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`)).not.toBe(deriveApiKey(secret))
  })

  test('refuses a short or non-string secret without quoting it', () => {
    const short = 'hunter2-but-longer-31-characters'.slice(0, 31)
    expect(() => deriveApiKey(short)).toThrowErrorMatchingInlineSnapshot(`[TypeError: the API key secret must be a string of at least 32 characters]`)
    for (const bad of [undefined, null, 42, {}, ['x'.repeat(64)]]) expect(() => deriveApiKey(bad as never)).toThrow(TypeError)
  })
})
