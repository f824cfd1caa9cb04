import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { AwsServiceError } from '../protocol/AwsServiceError.js'
import { canonicalEncryptionContext, ciphertextBlobKeyId, MIN_BLOB_LENGTH, openCiphertextBlob, sealCiphertextBlob } from './ciphertextBlob.js'

const keyId = '1234abcd-12ab-34cd-56ef-1234567890ab'
const material = randomBytes(32)
const plaintext = new TextEncoder().encode('sealed private key bytes')
const context = { keyId: 'k-1', purpose: 'custody' }

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (e) {
    if (e instanceof AwsServiceError) return e.code
    throw e
  }
  return undefined
}

describe('ciphertext blob', () => {
  const blob = sealCiphertextBlob({ keyId, material, plaintext, encryptionContext: context })

  it('round-trips and names its key', () => {
    expect(ciphertextBlobKeyId(blob)).toBe(keyId)
    expect(openCiphertextBlob({ blob, material, encryptionContext: context })).toEqual(plaintext)
    expect(blob.length).toBe(1 + 16 + 12 + plaintext.length + 16)
  })

  it('treats the encryption context as an unordered map', () => {
    expect(openCiphertextBlob({ blob, material, encryptionContext: { purpose: 'custody', keyId: 'k-1' } })).toEqual(plaintext)
    expect(canonicalEncryptionContext({ b: '1', a: '2' })).toBe(canonicalEncryptionContext({ a: '2', b: '1' }))
    expect(canonicalEncryptionContext(undefined)).toBe(canonicalEncryptionContext({}))
  })

  it.each([
    ['no context', undefined],
    ['a missing pair', { keyId: 'k-1' }],
    ['an extra pair', { ...context, extra: '' }],
    ['another value', { ...context, keyId: 'k-2' }],
    ['a key differing in case', { keyid: 'k-1', purpose: 'custody' }],
    ['pairs that concatenate alike', { keyId: 'k-1purpose', '': 'custody' }],
  ])('fails with InvalidCiphertextException for %s', (_, other) => {
    expect(codeOf(() => openCiphertextBlob({ blob, material, encryptionContext: other }))).toBe('InvalidCiphertextException')
  })

  it('fails for another key material', () => {
    expect(codeOf(() => openCiphertextBlob({ blob, material: randomBytes(32), encryptionContext: context }))).toBe('InvalidCiphertextException')
  })

  it('fails when any single byte is flipped', () => {
    for (let i = 0; i < blob.length; i++) {
      const tampered = new Uint8Array(blob)
      tampered[i]! ^= 0x01
      expect(codeOf(() => openCiphertextBlob({ blob: tampered, material, encryptionContext: context })), `byte ${i}`).toBe('InvalidCiphertextException')
    }
  })

  it('fails when truncated or extended', () => {
    for (const length of [0, 1, 17, MIN_BLOB_LENGTH - 1, MIN_BLOB_LENGTH, blob.length - 1]) {
      expect(codeOf(() => openCiphertextBlob({ blob: blob.subarray(0, length), material, encryptionContext: context })), `length ${length}`).toBe(
        'InvalidCiphertextException',
      )
    }
    const extended = new Uint8Array([...blob, 0])
    expect(codeOf(() => openCiphertextBlob({ blob: extended, material, encryptionContext: context }))).toBe('InvalidCiphertextException')
  })

  it('produces a different blob each time (random IV)', () => {
    const again = sealCiphertextBlob({ keyId, material, plaintext, encryptionContext: context })
    expect(Buffer.compare(again, blob)).not.toBe(0)
  })
})
