import { p256 } from '@noble/curves/nist.js'
import { fail } from '../utils/assert.js'
import { bytesToHex, hexToBytes } from '../utils/hex.js'
import { P256_STAMP_SCHEME, type Stamper } from './types.js'

export type ApiKeyStamperParameters = {
  /** The API key's 32-byte P-256 private key, hex (from `generateApiKey`). */
  privateKey: string
}

/**
 * A stamper holding a P-256 API key in memory: deterministic (RFC 6979) low-s ECDSA over SHA-256.
 *
 * @throws InvalidArgumentError when the key is not a valid P-256 private key (the key is never echoed).
 * @example
 * const custody = createCustodyClient({ transport, stamper: apiKeyStamper({ privateKey: process.env.CUSTODY_API_KEY! }) })
 */
export function apiKeyStamper({ privateKey }: ApiKeyStamperParameters): Stamper {
  if (typeof privateKey !== 'string' || !/^(?:0x)?[0-9a-fA-F]{64}$/.test(privateKey)) fail('privateKey', 'must be 32 bytes of hex (a P-256 private key)')
  const secret = hexToBytes(privateKey.startsWith('0x') ? privateKey : `0x${privateKey}`)
  if (!p256.utils.isValidSecretKey(secret)) {
    secret.fill(0)
    fail('privateKey', 'must be a valid P-256 private key (1..n-1)')
  }
  const publicKey = bytesToHex(p256.getPublicKey(secret, true))
  return {
    publicKey,
    scheme: P256_STAMP_SCHEME,
    async stamp(bytes) {
      return p256.sign(bytes, secret, { lowS: true, prehash: true })
    },
    // Keep the key out of logs and JSON.
    toJSON: () => ({ publicKey, scheme: P256_STAMP_SCHEME }),
  } as Stamper
}
