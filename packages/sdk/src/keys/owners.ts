import { compressP256PublicKey } from '../auth/p256.js'
import { z } from 'zod'
import { assertObject, fail, typeName } from '../utils/assert.js'
import { bytesToHex, type Hex } from '../utils/hex.js'
import { contextDigest } from '../session/contextBytes.js'

/**
 * Who may use a key: the API keys (P-256 public keys, compressed 0x-hex, sorted, no duplicates) and how
 * many of them must stamp a request. Bound to the key's sealing (its hash is in the encryption context),
 * so a parent that edits a record's owners breaks its unsealing.
 */
export type Owners = { publicKeys: Hex[]; threshold: number }

/** What `importKey({ owners })` accepts: public keys in either SEC1 form, any order. @default threshold 1 */
export type OwnersInput = { publicKeys: readonly string[]; threshold?: number }

export const OWNERS_CONTEXT = 'enclave-custody/owners/v1'
/** Most API keys one key may list as owners. */
export const MAX_OWNERS = 16

/** The wire shape of owners (validated further by {@link normalizeOwners}). */
export const OwnersSchema = z.strictObject({
  publicKeys: z.array(z.string().regex(/^0x(?:0[23][0-9a-f]{64}|04[0-9a-f]{128})$/i, 'must be 0x-hex of a SEC1 P-256 point')).min(1).max(MAX_OWNERS),
  threshold: z.number().int().min(1).max(MAX_OWNERS),
})

/** An API public key as its one name: the compressed point, lower-case 0x-hex. @throws InvalidArgumentError */
export function canonicalApiKey(value: unknown, field: string): Hex {
  if (typeof value !== 'string' || !/^0x(?:0[23][0-9a-fA-F]{64}|04[0-9a-fA-F]{128})$/.test(value)) fail(field, 'must be 0x-hex of a SEC1 P-256 public key (33 or 65 bytes)')
  const key = compressP256PublicKey(value.slice(2))
  return key === null ? fail(field, 'is not a point on P-256') : bytesToHex(key)
}

/**
 * Check and canonicalise owners: 1 to 16 P-256 public keys (compared as points: a key given compressed and
 * uncompressed is one key), sorted and deduplicated, and a threshold from 1 to their number.
 * @throws InvalidArgumentError naming the field.
 */
export function normalizeOwners(value: unknown, field = 'owners'): Owners {
  const o = assertObject(value, field, ['publicKeys', 'threshold'])
  if (!Array.isArray(o.publicKeys) || o.publicKeys.length === 0 || o.publicKeys.length > MAX_OWNERS) fail(`${field}.publicKeys`, `must list 1 to ${MAX_OWNERS} API public keys`)
  const publicKeys = [...new Set((o.publicKeys as unknown[]).map((k, i) => canonicalApiKey(k, `${field}.publicKeys[${i}]`)))].sort()
  const threshold = o.threshold === undefined ? 1 : o.threshold
  if (typeof threshold !== 'number' || !Number.isInteger(threshold) || threshold < 1 || threshold > publicKeys.length) {
    fail(`${field}.threshold`, `must be an integer from 1 to the number of distinct owners (${publicKeys.length}) (got ${typeof threshold === 'number' ? threshold : typeName(threshold)})`)
  }
  return { publicKeys, threshold }
}

/** The owners' hash bound into a key's encryption context: SHA-256 of `enclave-custody/owners/v1` ‖ 0x00 ‖ canonical JSON, hex without `0x`. */
export function ownersHash(owners: Owners): string {
  return contextDigest(OWNERS_CONTEXT, { publicKeys: owners.publicKeys, threshold: owners.threshold }).slice(2)
}

/** Whether owners are already canonical (as a record must store them). */
export function isCanonicalOwners(owners: Owners): boolean {
  try {
    const n = normalizeOwners(owners)
    return n.threshold === owners.threshold && n.publicKeys.length === owners.publicKeys.length && n.publicKeys.every((k, i) => k === owners.publicKeys[i])
  } catch {
    return false
  }
}
