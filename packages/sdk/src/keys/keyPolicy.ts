import { sha256 } from '@noble/hashes/sha2.js'
import { z } from 'zod'
import { assertObject, fail, typeName } from '../utils/assert.js'
import { bytesToHex } from '../utils/hex.js'
import { type Owners, ownersHash } from './owners.js'

/**
 * What a key may sign beyond the default, chosen once when the key is imported or generated and bound to
 * its sealed ciphertext (the KMS encryption context or the local sealer's AAD carries the policy hash), so
 * that nobody who can edit the stored record can widen it.
 */
export type KeyPolicy = {
  /** Sign arbitrary 32-byte digests (`signDigest`): a blank cheque, off unless asked for. */
  allowRawDigest: boolean
  /** Sign legacy transactions without a chainId (pre-EIP-155, valid on every chain). */
  allowReplayableLegacy: boolean
  /**
   * Sign EIP-7702 authorizations with chainId 0, which delegate the account's code on every chain: the
   * same replay class as a legacy transaction without chainId. The request must opt in too (`allowAnyChain`).
   */
  allowAnyChainAuthorization: boolean
  /**
   * Sign Bitcoin segwit v0 inputs whose amount only their `witnessUtxo` states (no `nonWitnessUtxo` proves it):
   * the PSBT's author could then lie about the fee. The request must opt in too (`allow.unprovenSegwitAmounts`).
   */
  allowUnprovenBitcoinAmounts: boolean
  /**
   * Sign Bitcoin inputs with sighash types other than ALL (and DEFAULT on taproot): NONE, SINGLE and
   * ANYONECANPAY let others change what the signature covers. The request must name them (`allow.sighashTypes`).
   */
  allowBitcoinSighashTypes: boolean
}

/** What callers pass as `policy`: omitted fields are `false`. */
export type KeyPolicyInput = {
  allowRawDigest?: boolean | undefined
  allowReplayableLegacy?: boolean | undefined
  allowAnyChainAuthorization?: boolean | undefined
  allowUnprovenBitcoinAmounts?: boolean | undefined
  allowBitcoinSighashTypes?: boolean | undefined
}

/** The policy of keys imported or generated without one: nothing beyond structured signing. */
export const DEFAULT_KEY_POLICY: Readonly<KeyPolicy> = Object.freeze({
  allowRawDigest: false,
  allowReplayableLegacy: false,
  allowAnyChainAuthorization: false,
  allowUnprovenBitcoinAmounts: false,
  allowBitcoinSighashTypes: false,
})

const POLICY_FIELDS = ['allowRawDigest', 'allowReplayableLegacy', 'allowAnyChainAuthorization', 'allowUnprovenBitcoinAmounts', 'allowBitcoinSighashTypes'] as const

/** The policy as it appears in sealed records and on the wire (fields optional, default `false`). */
export const KeyPolicySchema = z.strictObject({
  allowRawDigest: z.boolean().optional(),
  allowReplayableLegacy: z.boolean().optional(),
  allowAnyChainAuthorization: z.boolean().optional(),
  allowUnprovenBitcoinAmounts: z.boolean().optional(),
  allowBitcoinSighashTypes: z.boolean().optional(),
})

/**
 * Validate a key policy: a plain object whose only fields are `allowRawDigest`, `allowReplayableLegacy`,
 * `allowAnyChainAuthorization`, `allowUnprovenBitcoinAmounts` and `allowBitcoinSighashTypes`, each a boolean when
 * present.
 *
 * @param value - The caller's policy (`undefined` means the default).
 * @param field - Field name for error messages. @default 'policy'
 * @returns The policy with every field present.
 * @throws InvalidArgumentError naming the field.
 * @example
 * normalizeKeyPolicy({ allowRawDigest: true }) // { allowRawDigest: true, allowReplayableLegacy: false, allowAnyChainAuthorization: false, … }
 */
export function normalizeKeyPolicy(value: unknown, field = 'policy'): KeyPolicy {
  if (value === undefined) return { ...DEFAULT_KEY_POLICY }
  const p = assertObject(value, field, POLICY_FIELDS)
  const flag = (name: (typeof POLICY_FIELDS)[number]): boolean => {
    const v = p[name]
    if (v === undefined) return false
    if (typeof v !== 'boolean') fail(`${field}.${name}`, `must be a boolean (got ${typeName(v)})`)
    return v
  }
  return Object.fromEntries(POLICY_FIELDS.map((name) => [name, flag(name)])) as KeyPolicy
}

/** Whether a policy grants nothing beyond the default. */
export function isDefaultKeyPolicy(policy: KeyPolicy): boolean {
  return POLICY_FIELDS.every((name) => !policy[name])
}

/**
 * The canonical JSON of a policy, keys sorted, no whitespace: `allowRawDigest` and `allowReplayableLegacy`
 * always, and each later flag only when it is true — so that a policy sealed before that flag existed keeps
 * its bytes, its hash and so its sealing. Its SHA-256 is what the sealing binds.
 *
 * @example
 * canonicalKeyPolicyJson({ allowRawDigest: true, allowReplayableLegacy: false, allowAnyChainAuthorization: false })
 * // '{"allowRawDigest":true,"allowReplayableLegacy":false}'
 */
export function canonicalKeyPolicyJson(policy: KeyPolicy): string {
  return JSON.stringify({
    ...(policy.allowAnyChainAuthorization === true ? { allowAnyChainAuthorization: true } : {}),
    ...(policy.allowBitcoinSighashTypes === true ? { allowBitcoinSighashTypes: true } : {}),
    allowRawDigest: policy.allowRawDigest === true,
    allowReplayableLegacy: policy.allowReplayableLegacy === true,
    ...(policy.allowUnprovenBitcoinAmounts === true ? { allowUnprovenBitcoinAmounts: true } : {}),
  })
}

/** SHA-256 (64 lower-case hex digits, no 0x) of the canonical policy JSON. */
export function keyPolicyHash(policy: KeyPolicy): string {
  return bytesToHex(sha256(new TextEncoder().encode(canonicalKeyPolicyJson(policy)))).slice(2)
}

/**
 * The encryption context that seals a key: `{ keyId }` for the default policy (so records sealed before
 * policies existed stay valid) and `{ keyId, policy: <sha256 hex of the canonical policy JSON> }` otherwise.
 * KMS (and the local sealer's AES-GCM AAD) refuse a ciphertext under any other context, so a record whose
 * policy was edited does not unseal. A key with owners (every key created since owners exist) also binds
 * `owners: <ownersHash>`, so a record whose owners were edited does not unseal either.
 *
 * The data key of a v2 record (`format` 2) also binds `record: 'v2'`: a v2 data key (a 32-byte AES key that
 * may well be a valid secp256k1 scalar) never unseals as a v1 record's private key, nor a v1 private key as
 * a v2 data key. v1 contexts have no `record` entry (the records the offline importer made stay valid).
 *
 * @param keyId - The key's id.
 * @param policy - The key's policy.
 * @param owners - The key's owners (absent only for v1 records sealed before owners existed).
 * @param format - The format of the record the sealing belongs to: 1, a v1 record's private key (what the offline
 *   importer seals); 2, a v2 record's data key (what the enclave seals). @default 1
 * @returns The context, a fresh object.
 * @example
 * keyEncryptionContext('treasury', { allowRawDigest: true, allowReplayableLegacy: false, allowAnyChainAuthorization: false })
 * // { keyId: 'treasury', policy: '…64 hex digits…' }
 * keyEncryptionContext('treasury', DEFAULT_KEY_POLICY, owners, 2)
 * // { keyId: 'treasury', owners: '…64 hex digits…', record: 'v2' }
 */
export function keyEncryptionContext(keyId: string, policy: KeyPolicy, owners?: Owners, format: 1 | 2 = 1): Record<string, string> {
  if (format !== 1 && format !== 2) throw new RangeError('keyEncryptionContext: format must be 1 or 2')
  return {
    keyId,
    ...(isDefaultKeyPolicy(policy) ? {} : { policy: keyPolicyHash(policy) }),
    ...(owners === undefined ? {} : { owners: ownersHash(owners) }),
    ...(format === 2 ? { record: 'v2' } : {}),
  }
}

/** Whether two encryption contexts hold exactly the same entries. */
export function encryptionContextsEqual(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a)
  if (ka.length !== Object.keys(b).length) return false
  return ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k])
}
