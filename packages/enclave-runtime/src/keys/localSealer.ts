import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { DEFAULT_KEY_POLICY, keyEncryptionContext, type Owners, recordEncryptionContext } from '@enclave-custody/sdk'
import { IntegrityError } from '@enclave-custody/sdk/protocol'
import type { SealedKeyRecord, SealedSecret, Sealer } from './types.js'

const IV_BYTES = 12
const TAG_BYTES = 16

/** Canonical bytes of an encryption context (sorted keys), used as AES-GCM additional data. */
export function canonicalContext(context: Record<string, string>): Buffer {
  const sorted = Object.keys(context)
    .sort()
    .map((k) => [k, context[k]])
  return Buffer.from(JSON.stringify(sorted), 'utf8')
}

/**
 * A development sealer: AES-256-GCM under one local 32-byte key, with the key's encryption context
 * (`{ keyId }`, the policy hash for a non-default policy, the owners' hash, `record: 'v2'` for a v2 record's
 * data key) as authenticated data, so that a record moved to another keyId, or whose policy or owners were
 * edited, or a v2 data key moved into a v1 record (or the reverse), does not unseal. Production uses the
 * attested KMS sealer instead; this one protects data at rest in a dev data directory and nothing more.
 */
export function createLocalSealer(masterKey: Uint8Array): Sealer {
  if (masterKey.length !== 32) throw new RangeError('local sealer: master key must be 32 bytes')
  const key = Buffer.from(masterKey) // private copy
  return {
    kind: 'local-aes-gcm',
    async seal(keyId: string, secret: Uint8Array, _context?: unknown, policy = DEFAULT_KEY_POLICY, owners?: Owners, format: 1 | 2 = 1): Promise<SealedSecret> {
      const encryptionContext = keyEncryptionContext(keyId, policy, owners, format)
      const iv = randomBytes(IV_BYTES)
      const cipher = createCipheriv('aes-256-gcm', key, iv)
      cipher.setAAD(canonicalContext(encryptionContext))
      const body = Buffer.concat([cipher.update(secret), cipher.final()])
      const ciphertext = Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64')
      return { sealing: 'local-aes-gcm', ciphertext, encryptionContext }
    },
    async unseal(record: SealedKeyRecord): Promise<Uint8Array> {
      if (record.sealing !== 'local-aes-gcm') throw new IntegrityError({ reason: `record sealed with ${record.sealing}, not local-aes-gcm` })
      if (record.encryptionContext.keyId !== record.keyId) throw new IntegrityError({ reason: 'record encryption context does not name its keyId' })
      // The AAD is derived from the record's format, keyId, policy and owners, never taken from the record as is.
      let aad: Buffer
      try {
        aad = canonicalContext(recordEncryptionContext(record))
      } catch {
        throw new IntegrityError({ reason: 'record policy or owners are malformed' })
      }
      // What the record seals: a v1 record's private key, a v2 record's data key.
      const blob = Buffer.from(record.version === 2 ? record.dataKey : record.ciphertext, 'base64')
      if (blob.length !== IV_BYTES + 32 + TAG_BYTES) throw new IntegrityError({ reason: 'sealed key has the wrong length' })
      const decipher = createDecipheriv('aes-256-gcm', key, blob.subarray(0, IV_BYTES))
      decipher.setAAD(aad)
      decipher.setAuthTag(blob.subarray(IV_BYTES + 32))
      const out = new Uint8Array(32)
      try {
        const a = decipher.update(blob.subarray(IV_BYTES, IV_BYTES + 32))
        const b = decipher.final()
        out.set(a, 0)
        out.set(b, a.length)
        a.fill(0)
        return out
      } catch {
        out.fill(0)
        throw new IntegrityError({ reason: 'sealed key failed authentication (tampered, moved from another keyId or record format, or its policy or owners edited)' })
      }
    },
  }
}
