import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { generateApiKey } from '../auth/generateApiKey.js'
import { isCustodyError } from '../errors/CustodyError.js'
import { canonicalKeyPolicyJson, encryptionContextsEqual, keyEncryptionContext, keyPolicyHash, normalizeKeyPolicy } from './keyPolicy.js'
import { normalizeOwners, ownersHash } from './owners.js'
import { keyPolicyOfRecord, recordEncryptionContext, SealedKeyRecordSchema } from './sealedKeyRecord.js'

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
    expect(normalizeKeyPolicy(undefined)).toEqual({ allowRawDigest: false, allowReplayableLegacy: false, allowAnyChainAuthorization: false, allowUnprovenBitcoinAmounts: false, allowBitcoinSighashTypes: false })
    expect(normalizeKeyPolicy({})).toEqual({ allowRawDigest: false, allowReplayableLegacy: false, allowAnyChainAuthorization: false, allowUnprovenBitcoinAmounts: false, allowBitcoinSighashTypes: false })
    expect(normalizeKeyPolicy({ allowRawDigest: true })).toEqual({ allowRawDigest: true, allowReplayableLegacy: false, allowAnyChainAuthorization: false, allowUnprovenBitcoinAmounts: false, allowBitcoinSighashTypes: false })
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

  it('names the record format in the context of a v2 data key only, so that it never stands in for a v1 private key', () => {
    const owners = normalizeOwners({ publicKeys: [generateApiKey().publicKey] })
    const digest = normalizeKeyPolicy({ allowRawDigest: true })
    const v1 = keyEncryptionContext('k', digest, owners)
    expect(v1).toEqual({ keyId: 'k', policy: keyPolicyHash(digest), owners: ownersHash(owners) })
    expect(keyEncryptionContext('k', digest, owners, 1)).toEqual(v1)
    expect(keyEncryptionContext('k', digest, owners, 2)).toEqual({ ...v1, record: 'v2' })
    expect(keyEncryptionContext('k', normalizeKeyPolicy({}), owners, 2)).toEqual({ keyId: 'k', owners: ownersHash(owners), record: 'v2' })
    expect(encryptionContextsEqual(v1, keyEncryptionContext('k', digest, owners, 2))).toBe(false)
    expect(() => keyEncryptionContext('k', digest, owners, 3 as never)).toThrow('keyEncryptionContext: format must be 1 or 2')
    // A record's context follows its version: the same facts, sealed for v1 and v2, call for different contexts.
    const facts = { keyId: 'k', policy: { allowRawDigest: true }, owners }
    expect(recordEncryptionContext({ version: 1, ...facts })).toEqual(v1)
    expect(recordEncryptionContext({ version: 2, ...facts })).toEqual({ ...v1, record: 'v2' })
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
    expect(keyPolicyOfRecord(SealedKeyRecordSchema.parse(record))).toEqual({ allowRawDigest: false, allowReplayableLegacy: false, allowAnyChainAuthorization: false, allowUnprovenBitcoinAmounts: false, allowBitcoinSighashTypes: false })
    expect(keyPolicyOfRecord(SealedKeyRecordSchema.parse({ ...record, policy: { allowRawDigest: true } }))).toEqual({ allowRawDigest: true, allowReplayableLegacy: false, allowAnyChainAuthorization: false, allowUnprovenBitcoinAmounts: false, allowBitcoinSighashTypes: false })
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
