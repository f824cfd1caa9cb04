/**
 * The sealed key record (DESIGN.md): public facts about a key plus its secret, sealed. This is what a
 * key store persists (locally, or in Secrets Manager as `enclave-custody/keys/<keyId>`).
 */
export type SealedKeyRecord = {
  version: 1
  keyId: string
  curve: 'secp256k1'
  /** EIP-55 address derived from the key. */
  address: string
  /** Which sealer produced `ciphertext`: `local-aes-gcm` (dev) or `aws-kms`. */
  sealing: SealingKind
  /** KMS key id or ARN (aws-kms sealing). */
  kmsKeyId?: string
  /** Base64 ciphertext: an AES-GCM envelope locally, a KMS CiphertextBlob with aws-kms. */
  ciphertext: string
  /** Bound to the ciphertext: a record moved to another keyId fails to unseal. */
  encryptionContext: Record<string, string>
  /** ISO-8601. */
  createdAt: string
}

export type SealingKind = 'local-aes-gcm' | 'aws-kms'

/** The sealed part of a record, as a sealer produces it. */
export type SealedSecret = Pick<SealedKeyRecord, 'sealing' | 'kmsKeyId' | 'ciphertext' | 'encryptionContext'>

/** Short-lived AWS credentials the parent forwards to the enclave (instance-role credentials). */
export type AwsCredentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string; expiration?: string }

/** Facts the parent supplies with a request that the enclave may need to unseal. */
export type UnsealContext = { credentials?: AwsCredentials }

/**
 * Seals and unseals private keys. Implementations: a local AES-256-GCM sealer (dev, this issue) and the
 * attested KMS sealer (KMS Decrypt / GenerateDataKey with a Nitro attestation document as `Recipient`).
 * Every returned `Uint8Array` of key bytes is owned by the caller, who zeroes it when done.
 */
export interface Sealer {
  readonly kind: SealingKind
  /** Seal a 32-byte private key for `keyId`. Optional: the attested KMS path never seals in the enclave. */
  seal?(keyId: string, privateKey: Uint8Array, context?: UnsealContext): Promise<SealedSecret>
  /** Recover the 32-byte private key of a record. */
  unseal(record: SealedKeyRecord, context?: UnsealContext): Promise<Uint8Array>
  /** Create a fresh key for `keyId` that only this sealer's side ever sees in plaintext. */
  generate?(keyId: string, context?: UnsealContext): Promise<{ privateKey: Uint8Array; sealed: SealedSecret }>
}

/** Where sealed records live. */
export interface KeyStore {
  /** Persist a new record durably; throws KeyExistsError if the keyId is taken. */
  put(record: SealedKeyRecord): Promise<void>
  get(keyId: string): Promise<SealedKeyRecord | undefined>
  list(): Promise<SealedKeyRecord[]>
}

/** Produces Nitro-format attestation documents (COSE_Sign1 bytes). */
export interface AttestationProvider {
  readonly kind: 'nsm' | 'software'
  attest(request: { publicKey?: Uint8Array; userData?: Uint8Array; nonce?: Uint8Array }): Promise<Uint8Array>
}
