import { z } from 'zod'
import { KEY_ID_PATTERN } from '../protocol/keyId.js'
import { isDefaultKeyPolicy, type KeyPolicy, KeyPolicySchema, normalizeKeyPolicy } from './keyPolicy.js'

const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype'])

/**
 * The sealed key record (one per key; in AWS the Secrets Manager secret `enclave-custody/keys/<keyId>`):
 * public facts about a key plus its private key sealed by KMS (or, in development, by a local key).
 * It holds no plaintext: it may travel through the parent and the SDK, and is validated wherever it arrives.
 */
export const SealedKeyRecordSchema = z.strictObject({
  version: z.literal(1),
  keyId: z.string().regex(KEY_ID_PATTERN),
  curve: z.literal('secp256k1'),
  /** EIP-55 address derived from the key. */
  address: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
  /** Which sealer produced `ciphertext`. */
  sealing: z.enum(['local-aes-gcm', 'aws-kms']),
  /** KMS key id or ARN (aws-kms sealing). */
  kmsKeyId: z.string().min(1).max(2048).optional(),
  /** Base64: a KMS CiphertextBlob (aws-kms) or an AES-GCM envelope (local-aes-gcm). */
  ciphertext: z.string().min(1).max(8192).regex(/^[A-Za-z0-9+/]+={0,2}$/),
  /** Bound to the ciphertext (KMS encryption context): a record moved to another keyId does not unseal. */
  encryptionContext: z
    .unknown()
    .superRefine((value, ctx) => {
      // zod's record copy skips an own `__proto__` silently: refuse such keys instead of dropping them.
      if (typeof value === 'object' && value !== null && Object.keys(value).some((k) => RESERVED_KEYS.has(k))) {
        ctx.addIssue({ code: 'custom', message: 'must not have a key named __proto__, constructor or prototype' })
      }
    })
    .pipe(z.record(z.string(), z.string())),
  /** ISO-8601. */
  createdAt: z.iso.datetime(),
  /**
   * What the key may sign beyond the default (absent: nothing). Bound to the ciphertext: a non-default
   * policy's SHA-256 is part of `encryptionContext`, so an edited policy makes the unsealing fail.
   */
  policy: KeyPolicySchema.optional(),
})

export type SealedKeyRecord = z.infer<typeof SealedKeyRecordSchema>
export type SealingKind = SealedKeyRecord['sealing']

/** The policy a record declares, every field present (absent fields and an absent policy are `false`). */
export function keyPolicyOfRecord(record: Pick<SealedKeyRecord, 'policy'>): KeyPolicy {
  return normalizeKeyPolicy(record.policy ?? {}, 'record.policy')
}

/** The public description of a record's key (what get/list answer): never its ciphertext or context. */
export function keyInfoOfRecord(record: SealedKeyRecord): { keyId: string; address: string; curve: 'secp256k1'; createdAt: string; policy?: KeyPolicy } {
  const policy = keyPolicyOfRecord(record)
  return {
    keyId: record.keyId,
    address: record.address,
    curve: record.curve,
    createdAt: record.createdAt,
    ...(isDefaultKeyPolicy(policy) ? {} : { policy }),
  }
}
