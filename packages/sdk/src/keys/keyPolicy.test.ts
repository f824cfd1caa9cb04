import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { isCustodyError } from '../errors/CustodyError.js'
import { canonicalKeyPolicyJson, encryptionContextsEqual, keyEncryptionContext, keyPolicyHash, normalizeKeyPolicy } from './keyPolicy.js'
import { keyPolicyOfRecord, SealedKeyRecordSchema } from './sealedKeyRecord.js'

function failure(input: unknown): string {
  try {
    normalizeKeyPolicy(input)
  } catch (e) {
    if (!isCustodyError(e, 'INVALID_ARGUMENT')) throw e
    return e.message
  }
  throw new Error('expected INVALID_ARGUMENT')
}

describe('key policy', () => {
  it('defaults every permission to false', () => {
    expect(normalizeKeyPolicy(undefined)).toEqual({ allowRawDigest: false, allowReplayableLegacy: false, allowAnyChainAuthorization: false })
    expect(normalizeKeyPolicy({})).toEqual({ allowRawDigest: false, allowReplayableLegacy: false, allowAnyChainAuthorization: false })
    expect(normalizeKeyPolicy({ allowRawDigest: true })).toEqual({ allowRawDigest: true, allowReplayableLegacy: false, allowAnyChainAuthorization: false })
  })

  it.each([
    ['a non-boolean flag', { allowRawDigest: 'true' }, '"policy.allowRawDigest" must be a boolean (got string)'],
    ['a numeric flag', { allowReplayableLegacy: 1 }, '"policy.allowReplayableLegacy" must be a boolean (got number)'],
    ['an unknown permission', { allowEverything: true }, '"policy" has unknown field "allowEverything"'],
    ['not an object', true, '"policy" must be an object (got boolean)'],
    ['null', null, '"policy" must be an object (got null)'],
  ])('refuses %s', (_, input, message) => {
    expect(failure(input)).toBe(message)
  })

  it('hashes the canonical JSON (every field, sorted, no whitespace) with SHA-256', () => {
    const policy = normalizeKeyPolicy({ allowReplayableLegacy: true, allowRawDigest: true })
    expect(canonicalKeyPolicyJson(policy)).toBe('{"allowRawDigest":true,"allowReplayableLegacy":true}')
    expect(keyPolicyHash(policy)).toBe(createHash('sha256').update('{"allowRawDigest":true,"allowReplayableLegacy":true}').digest('hex'))
    expect(keyPolicyHash(normalizeKeyPolicy({ allowRawDigest: true }))).not.toBe(keyPolicyHash(policy))
  })

  it('binds only non-default policies into the encryption context, so existing records stay valid', () => {
    expect(keyEncryptionContext('k', normalizeKeyPolicy({}))).toEqual({ keyId: 'k' })
    const digest = normalizeKeyPolicy({ allowRawDigest: true })
    expect(keyEncryptionContext('k', digest)).toEqual({ keyId: 'k', policy: keyPolicyHash(digest) })
    expect(encryptionContextsEqual({ keyId: 'k', policy: 'x' }, { policy: 'x', keyId: 'k' })).toBe(true)
    expect(encryptionContextsEqual({ keyId: 'k' }, { keyId: 'k', policy: 'x' })).toBe(false)
    expect(encryptionContextsEqual({ keyId: 'k', other: 'x' }, { keyId: 'k', policy: 'x' })).toBe(false)
  })

  it('is an optional, strict field of the sealed record', () => {
    const record = {
      version: 1,
      keyId: 'k',
      curve: 'secp256k1',
      address: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
      sealing: 'local-aes-gcm',
      ciphertext: 'AAAA',
      encryptionContext: { keyId: 'k' },
      createdAt: '2026-01-01T00:00:00.000Z',
    } as const
    expect(keyPolicyOfRecord(SealedKeyRecordSchema.parse(record))).toEqual({ allowRawDigest: false, allowReplayableLegacy: false, allowAnyChainAuthorization: false })
    expect(keyPolicyOfRecord(SealedKeyRecordSchema.parse({ ...record, policy: { allowRawDigest: true } }))).toEqual({ allowRawDigest: true, allowReplayableLegacy: false, allowAnyChainAuthorization: false })
    expect(SealedKeyRecordSchema.safeParse({ ...record, policy: { allowRawDigest: 'yes' } }).success).toBe(false)
    expect(SealedKeyRecordSchema.safeParse({ ...record, policy: { allowAll: true } }).success).toBe(false)
  })
})

describe('sealed records with keys named like Object.prototype properties', () => {
  const record = {
    version: 1,
    keyId: 'k1',
    curve: 'secp256k1',
    address: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
    sealing: 'aws-kms',
    ciphertext: 'AAAA',
    createdAt: '2026-01-01T00:00:00.000Z',
  }
  for (const key of ['__proto__', 'constructor', 'prototype']) {
    it(`refuses an own ${key} in encryptionContext instead of dropping it`, () => {
      const parsed = JSON.parse(`{"keyId":"k1","${key}":"x"}`)
      const result = SealedKeyRecordSchema.safeParse({ ...record, encryptionContext: parsed })
      expect(result.success).toBe(false)
      expect(result.error?.issues[0]?.message).toBe('must not have a key named __proto__, constructor or prototype')
    })
  }
  it('accepts an ordinary context', () => {
    expect(SealedKeyRecordSchema.parse({ ...record, encryptionContext: { keyId: 'k1' } }).encryptionContext).toEqual({ keyId: 'k1' })
  })
})
