import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { kmsError } from '../protocol/AwsServiceError.js'

/**
 * local-aws ciphertext blob, format version 1:
 *
 * ```
 * 0x01 ‖ key id (16 bytes, the UUID) ‖ IV (12 bytes) ‖ AES-256-GCM ciphertext ‖ tag (16 bytes)
 * AAD = "local-aws/kms/v1" ‖ 0x01 ‖ key id ‖ canonical encryption context
 * ```
 *
 * The canonical encryption context is the JSON array of `[key, value]` pairs sorted by key (UTF-16 code
 * units), so `{b, a}` and `{a, b}` are the same context and any difference in a key or value is not.
 */
const FORMAT_VERSION = 0x01
const HEADER = 1 + 16
const IV_LENGTH = 12
const TAG_LENGTH = 16
const AAD_LABEL = Buffer.from('local-aws/kms/v1', 'utf8')

/** The smallest valid blob: header, IV, one byte of ciphertext, tag. */
export const MIN_BLOB_LENGTH = HEADER + IV_LENGTH + 1 + TAG_LENGTH

export type SealParameters = {
  keyId: string
  /** 32-byte backing key of the KMS key. */
  material: Uint8Array
  plaintext: Uint8Array
  encryptionContext: Readonly<Record<string, string>> | undefined
}

/** Encrypt `plaintext` under a KMS key's backing material, bound to the key id and encryption context. */
export function sealCiphertextBlob({ keyId, material, plaintext, encryptionContext }: SealParameters): Uint8Array {
  const header = Buffer.concat([Buffer.of(FORMAT_VERSION), uuidToBytes(keyId)])
  const iv = randomBytes(IV_LENGTH)
  const cipher = createCipheriv('aes-256-gcm', material, iv)
  cipher.setAAD(aad(header, encryptionContext))
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()])
  return new Uint8Array(Buffer.concat([header, iv, body, cipher.getAuthTag()]))
}

/**
 * The key id a blob names.
 *
 * @throws AwsServiceError InvalidCiphertextException when the blob is too short or not format version 1
 */
export function ciphertextBlobKeyId(blob: Uint8Array): string {
  if (blob.length < MIN_BLOB_LENGTH || blob[0] !== FORMAT_VERSION) throw invalidCiphertext()
  return bytesToUuid(blob.subarray(1, HEADER))
}

export type OpenParameters = {
  blob: Uint8Array
  material: Uint8Array
  encryptionContext: Readonly<Record<string, string>> | undefined
}

/**
 * Decrypt and authenticate a blob.
 *
 * @throws AwsServiceError InvalidCiphertextException (no message, like KMS) on any mismatch: wrong key,
 *   wrong encryption context, tampered or truncated blob
 */
export function openCiphertextBlob({ blob, material, encryptionContext }: OpenParameters): Uint8Array {
  ciphertextBlobKeyId(blob)
  const bytes = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength)
  const header = bytes.subarray(0, HEADER)
  const iv = bytes.subarray(HEADER, HEADER + IV_LENGTH)
  const body = bytes.subarray(HEADER + IV_LENGTH, bytes.length - TAG_LENGTH)
  const tag = bytes.subarray(bytes.length - TAG_LENGTH)
  try {
    const decipher = createDecipheriv('aes-256-gcm', material, iv, { authTagLength: TAG_LENGTH })
    decipher.setAAD(aad(header, encryptionContext))
    decipher.setAuthTag(tag)
    return new Uint8Array(Buffer.concat([decipher.update(body), decipher.final()]))
  } catch {
    throw invalidCiphertext()
  }
}

/** The canonical form of an encryption context (see the format note above). */
export function canonicalEncryptionContext(context: Readonly<Record<string, string>> | undefined): string {
  const pairs = Object.entries(context ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return JSON.stringify(pairs)
}

function aad(header: Uint8Array, context: Readonly<Record<string, string>> | undefined): Buffer {
  return Buffer.concat([AAD_LABEL, header, Buffer.from(canonicalEncryptionContext(context), 'utf8')])
}

function uuidToBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '')
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new Error('key id is not a lowercase UUID')
  return Buffer.from(hex, 'hex')
}

function bytesToUuid(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

function invalidCiphertext() {
  return kmsError('InvalidCiphertextException')
}
