import type { KeyStore } from './types.js'

/**
 * The enclave's key store in production: the enclave keeps no records. The parent fetches the record a
 * request names from Secrets Manager and forwards it in the request context; it is untrusted input
 * (KMS binds the ciphertext to the keyId, and the handler checks the unsealed key against the address).
 */
export function createForwardedKeyStore(): KeyStore {
  return {
    async get(keyId, context) {
      const record = context?.record
      return record && record.keyId === keyId ? record : undefined
    },
    async list(context) {
      return context?.records ?? []
    },
  }
}
