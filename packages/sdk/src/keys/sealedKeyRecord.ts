import { z } from 'zod'
import { KEY_ID_PATTERN } from '../protocol/keyId.js'
import { isDefaultKeyPolicy, keyEncryptionContext, type KeyPolicy, KeyPolicySchema, normalizeKeyPolicy } from './keyPolicy.js'
import { type Owners, OwnersSchema } from './owners.js'
import { contextBytes } from '../session/contextBytes.js'

const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype'])

const EncryptionContextSchema = z
    .unknown()
    .superRefine((value, ctx) => {
      // zod's record copy skips an own `__proto__` silently: refuse such keys instead of dropping them.
      if (typeof value === 'object' && value !== null && Object.keys(value).some((k) => RESERVED_KEYS.has(k))) {
        ctx.addIssue({ code: 'custom', message: 'must not have a key named __proto__, constructor or prototype' })
      }
    })
    .pipe(z.record(z.string(), z.string()))

/**
 * The sealed key record (one per key; in AWS the Secrets Manager secret `enclave-custody/keys/<keyId>`):
 * public facts about a key plus its private key sealed by KMS (or, in development, by a local key).
 * It holds no plaintext: it may travel through the parent and the SDK, and is validated wherever it arrives.
 */
export const SealedKeyRecordV1Schema = z.strictObject({
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
  encryptionContext: EncryptionContextSchema,
  /** ISO-8601. */
  createdAt: z.iso.datetime(),
  /**
   * What the key may sign beyond the default (absent: nothing). Bound to the ciphertext: a non-default
   * policy's SHA-256 is part of `encryptionContext`, so an edited policy makes the unsealing fail.
   */
  policy: KeyPolicySchema.optional(),
  /**
   * Who may use the key (canonical: compressed keys, sorted, distinct). Bound to the ciphertext: its hash is
   * part of `encryptionContext`. Absent on records sealed before owners existed: those serve only the
   * image's `legacyOwners`.
   */
  owners: OwnersSchema.optional(),
})


/**
 * Record format v2: what the enclave creates (generated and imported keys). The key material is under
 * AES-256-GCM with a fresh 32-byte data key and the record header (`recordHeaderBytes`) as associated data;
 * the data key is sealed like a v1 key (KMS GenerateDataKey with the enclave's attestation as `Recipient`,
 * or the local sealer), bound to `encryptionContext` (a v1 key's context plus `record: 'v2'`, so that a data key
 * and a v1 private key never stand in for each other). `kind` names the key material (more kinds later:
 * ed25519 keys, HD seeds). `enclaveSignature` is the creating enclave's response-key signature over the
 * record (`recordSigningBytes`): the importer stores only a record whose signature verifies.
 */
export const SealedKeyRecordV2Schema = z.strictObject({
  version: z.literal(2),
  kind: z.literal('secp256k1'),
  keyId: z.string().regex(KEY_ID_PATTERN),
  address: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
  sealing: z.enum(['local-aes-gcm', 'aws-kms']),
  kmsKeyId: z.string().min(1).max(2048).optional(),
  /** Base64: the sealed data key (a KMS CiphertextBlob, or the local sealer's envelope). */
  dataKey: z.string().min(1).max(8192).regex(/^[A-Za-z0-9+/]+={0,2}$/),
  /** Base64: 12-byte IV ‖ AES-256-GCM ciphertext of the key material ‖ 16-byte tag. */
  ciphertext: z.string().min(1).max(8192).regex(/^[A-Za-z0-9+/]+={0,2}$/),
  encryptionContext: EncryptionContextSchema,
  createdAt: z.iso.datetime(),
  policy: KeyPolicySchema.optional(),
  owners: OwnersSchema,
  /**
   * The API key (compressed point) whose stamped request created the key: part of the header, so bound to the
   * sealing. A client accepts a key only from a creator it trusts (itself by default), so a key the parent
   * had the enclave create under its own API key — even one naming the victim as owner — is refused.
   */
  creator: z.string().regex(/^0x0[23][0-9a-f]{64}$/),
  enclaveSignature: z.strictObject({
    /** The creating enclave's response key id (SHA-256 of its attested point). */
    keyId: z.string().regex(/^0x[0-9a-f]{64}$/),
    signature: z.string().regex(/^0x[0-9a-f]{128}$/),
  }),
})

/** A sealed key record: v1 (sealed before record format v2; still readable) or v2. */
export const SealedKeyRecordSchema = z.discriminatedUnion('version', [SealedKeyRecordV1Schema, SealedKeyRecordV2Schema])

export type SealedKeyRecordV1 = z.infer<typeof SealedKeyRecordV1Schema>
export type SealedKeyRecordV2 = z.infer<typeof SealedKeyRecordV2Schema>

export type SealedKeyRecord = z.infer<typeof SealedKeyRecordSchema>
export type SealingKind = SealedKeyRecord['sealing']

/** The policy a record declares, every field present (absent fields and an absent policy are `false`). */
export function keyPolicyOfRecord(record: Pick<SealedKeyRecord, 'policy'>): KeyPolicy {
  return normalizeKeyPolicy(record.policy ?? {}, 'record.policy')
}

/** The public description of a record's key (what get/list answer): never its ciphertext or context. */
export function keyInfoOfRecord(record: SealedKeyRecord): { keyId: string; address: string; curve: 'secp256k1'; createdAt: string; policy?: KeyPolicy; owners?: Owners; creator?: string } {
  const policy = keyPolicyOfRecord(record)
  return {
    keyId: record.keyId,
    address: record.address,
    curve: record.version === 1 ? record.curve : record.kind,
    createdAt: record.createdAt,
    ...(isDefaultKeyPolicy(policy) ? {} : { policy }),
    ...(record.owners === undefined ? {} : { owners: record.owners as Owners }),
    ...(record.version === 2 ? { creator: record.creator } : {}),
  }
}

/**
 * The encryption context a record's own facts (format, keyId, policy, owners) call for: what its sealing must
 * bind — the private key's for v1, the data key's (with `record: 'v2'`) for v2.
 */
export function recordEncryptionContext(record: Pick<SealedKeyRecord, 'version' | 'keyId' | 'policy' | 'owners'>): Record<string, string> {
  return keyEncryptionContext(record.keyId, keyPolicyOfRecord(record), record.owners as Owners | undefined, record.version)
}

export const RECORD_HEADER_CONTEXT = 'enclave-custody/record-header/v2'
export const RECORD_CONTEXT = 'enclave-custody/record/v1'

/**
 * The associated data of a v2 record's AES-256-GCM: `enclave-custody/record-header/v2` ‖ 0x00 ‖ canonical JSON
 * of every field but `dataKey`, `ciphertext` and `enclaveSignature`. Any edit of the header breaks the unsealing.
 */
export function recordHeaderBytes(record: Omit<SealedKeyRecordV2, 'dataKey' | 'ciphertext' | 'enclaveSignature'> & Partial<SealedKeyRecordV2>): Uint8Array {
  const { dataKey: _, ciphertext: __, enclaveSignature: ___, ...header } = record
  return contextBytes(RECORD_HEADER_CONTEXT, JSON.parse(JSON.stringify(header)))
}

/** What an enclave's record signature covers: `enclave-custody/record/v1` ‖ 0x00 ‖ canonical JSON of the record without `enclaveSignature`. */
export function recordSigningBytes(record: Omit<SealedKeyRecordV2, 'enclaveSignature'> & Partial<SealedKeyRecordV2>): Uint8Array {
  const { enclaveSignature: _, ...body } = record
  return contextBytes(RECORD_CONTEXT, JSON.parse(JSON.stringify(body)))
}
