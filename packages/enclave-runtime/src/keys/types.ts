import type { KeyPolicy, Owners, SealedKeyRecord, SealingKind } from '@enclave-custody/sdk'

export type { SealedKeyRecord, SealingKind } from '@enclave-custody/sdk'

/** The sealed part of a record, as a sealer produces it. */
export type SealedSecret = Pick<SealedKeyRecord, 'sealing' | 'kmsKeyId' | 'ciphertext' | 'encryptionContext'>

/** Short-lived AWS credentials the parent forwards to the enclave (instance-role credentials). */
export type AwsCredentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string; expiration?: string }

/**
 * Facts the parent supplies with a request: the instance role's credentials for KMS and, when records
 * live outside the enclave (Secrets Manager), the sealed record of the key the request names.
 */
export type UnsealContext = { credentials?: AwsCredentials; record?: SealedKeyRecord; records?: SealedKeyRecord[] }

/**
 * Seals and unseals private keys. Implementations: a local AES-256-GCM sealer (dev, this issue) and the
 * attested KMS sealer (KMS Decrypt / GenerateDataKey with a Nitro attestation document as `Recipient`).
 * Every returned `Uint8Array` of key bytes is owned by the caller, who zeroes it when done.
 */
export interface Sealer {
  readonly kind: SealingKind
  /**
   * Seal 32 bytes for `keyId`: a v2 record's data key (`format` 2, what the handler asks for) or a v1 record's
   * private key (1, the default). Optional: the attested KMS path never seals in the enclave.
   * The sealing must bind `keyEncryptionContext(keyId, policy, owners, format)` (the default policy when
   * absent), and the returned `encryptionContext` must be exactly that: the handler refuses anything else.
   */
  seal?(keyId: string, secret: Uint8Array, context?: UnsealContext, policy?: KeyPolicy, owners?: Owners, format?: 1 | 2): Promise<SealedSecret>
  /**
   * Recover the 32 bytes a record seals: a v1 record's private key (`ciphertext`), a v2 record's data key
   * (`dataKey`). The record's `encryptionContext` (checked by the handler to be `recordEncryptionContext(record)`:
   * keyId, policy, owners, and `record: 'v2'` for v2) must be what the sealed bytes are bound to, or this throws:
   * a sealer derives the context it asks for from the record's facts, its format included, never from the
   * record's `encryptionContext` alone, so a v2 data key moved into a v1 record (or the reverse) does not unseal.
   */
  unseal(record: SealedKeyRecord, context?: UnsealContext): Promise<Uint8Array>
  /**
   * Create a fresh 32-byte secret for `keyId` (sealed under the context of `format`, as `seal`) that only this
   * sealer's side ever sees in plaintext: a v2 record's data key (`format` 2, what the handler asks for).
   */
  generate?(keyId: string, context?: UnsealContext, policy?: KeyPolicy, owners?: Owners, format?: 1 | 2): Promise<{ privateKey: Uint8Array; sealed: SealedSecret }>
}

/**
 * Where sealed records live. A store without `put` (records kept by the parent in Secrets Manager)
 * makes `key.generate` return the new record for the caller to store; one without `list` leaves listing
 * to the parent.
 */
export interface KeyStore {
  /** Persist a new record durably; throws KeyExistsError if the keyId is taken. */
  put?(record: SealedKeyRecord): Promise<void>
  get(keyId: string, context?: UnsealContext): Promise<SealedKeyRecord | undefined>
  list?(context?: UnsealContext): Promise<SealedKeyRecord[]>
}

/** Produces Nitro-format attestation documents (COSE_Sign1 bytes). */
export interface AttestationProvider {
  readonly kind: 'nsm' | 'software'
  attest(request: { publicKey?: Uint8Array; userData?: Uint8Array; nonce?: Uint8Array }): Promise<Uint8Array>
}
