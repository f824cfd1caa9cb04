import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import {
  type KeyPolicy,
  isDefaultKeyPolicy,
  type Owners,
  recordHeaderBytes,
  recordSigningBytes,
  type SealedKeyRecordV2,
} from '@enclave-custody/sdk'
import { type Hex, IntegrityError } from '@enclave-custody/sdk/protocol'
import type { EnclaveIdentity } from '../identity/createEnclaveIdentity.js'
import type { SealedSecret } from './types.js'

const IV_BYTES = 12
const TAG_BYTES = 16

/** The kind of a v2 record and the header fields that describe its key (see `SealedKeyRecordV2Schema`). */
export type RecordV2Kind = Pick<SealedKeyRecordV2, 'kind' | 'address' | 'publicKey' | 'fingerprint' | 'walletId' | 'walletPublicKey' | 'family' | 'path' | 'network' | 'format'>

/** Bytes of a record kind's key material: an HD wallet's BIP-39 seed is 64, every key 32. */
export const materialLength = (kind: SealedKeyRecordV2['kind']): number => (kind === 'hd-wallet' ? 64 : 32)

export type CreateRecordV2Parameters = {
  keyId: string
  /** The kind and its header fields (an address, a wallet's master key, an account's wallet and path…). */
  key: RecordV2Kind
  /** The key material (32 bytes; 64 for an HD wallet's seed). Not kept. */
  material: Uint8Array
  /**
   * A fresh 32-byte data key and its sealing (KMS GenerateDataKey with Recipient, or the local sealer), under
   * the v2 context (`keyEncryptionContext(keyId, policy, owners, 2)`, checked by the handler). Not kept.
   */
  dataKey: Uint8Array
  sealed: SealedSecret
  policy: KeyPolicy
  owners: Owners
  createdAt: string
  /** The stamping API key of the creating request (compressed). */
  creator: Hex
  identity: EnclaveIdentity
}

/**
 * Build a v2 record: the key material under AES-256-GCM with the data key and the record header as
 * associated data, then the enclave's signature (response key) over the whole record. A sealer's `unseal`
 * takes the v2 record itself and returns its data key (its `dataKey` under the v2 context, `record: 'v2'`).
 */
export function createRecordV2({ keyId, key, material, dataKey, sealed, policy, owners, createdAt, creator, identity }: CreateRecordV2Parameters): SealedKeyRecordV2 {
  if (material.length !== materialLength(key.kind)) throw new IntegrityError({ reason: `a ${key.kind} record holds ${materialLength(key.kind)} bytes of key material` })
  const defined = Object.fromEntries(Object.entries(key).filter(([, v]) => v !== undefined)) as RecordV2Kind
  const header = {
    version: 2 as const,
    ...defined,
    keyId,
    sealing: sealed.sealing,
    ...(sealed.kmsKeyId === undefined ? {} : { kmsKeyId: sealed.kmsKeyId }),
    encryptionContext: sealed.encryptionContext,
    createdAt,
    ...(isDefaultKeyPolicy(policy) ? {} : { policy }),
    owners,
    creator,
  }
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', dataKey, iv)
  cipher.setAAD(recordHeaderBytes(header))
  const body = Buffer.concat([cipher.update(material), cipher.final()])
  const unsigned = { ...header, dataKey: sealed.ciphertext, ciphertext: Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64') }
  body.fill(0)
  return { ...unsigned, enclaveSignature: { keyId: identity.responseKeyId, signature: identity.sign(recordSigningBytes(unsigned)) } }
}

/**
 * Open a v2 record's key material with its unsealed data key; the header is the associated data, so any
 * edit of it (address, owners, policy, kind, …) fails here. The caller zeroes `dataKey` and the result.
 */
export function openRecordV2(record: SealedKeyRecordV2, dataKey: Uint8Array): Uint8Array {
  const blob = Buffer.from(record.ciphertext, 'base64')
  const length = materialLength(record.kind)
  if (blob.length !== IV_BYTES + length + TAG_BYTES) throw new IntegrityError({ reason: 'the record\'s key material has the wrong length' })
  try {
    const decipher = createDecipheriv('aes-256-gcm', dataKey, blob.subarray(0, IV_BYTES))
    decipher.setAAD(recordHeaderBytes(record))
    decipher.setAuthTag(blob.subarray(IV_BYTES + length))
    const out = new Uint8Array(length)
    const a = decipher.update(blob.subarray(IV_BYTES, IV_BYTES + length))
    const b = decipher.final()
    out.set(a, 0)
    a.fill(0)
    b.fill(0)
    return out
  } catch {
    throw new IntegrityError({ reason: 'the record\'s key material failed authentication (header or ciphertext edited)' })
  } finally {
    blob.fill(0)
  }
}
