import { p256 } from '@noble/curves/nist.js'
import { p256Signer } from './p256.js'
import { fail } from '../utils/assert.js'
import { bytesToHex, hexToBytes } from '../utils/hex.js'
import { P256_STAMP_SCHEME, type Stamper } from './types.js'

export type ApiKeyStamperParameters = {
  /** The API key's 32-byte P-256 private key, hex (from `generateApiKey`). */
  privateKey: string
}

/**
 * A stamper holding a P-256 API key in memory: low-s ECDSA over SHA-256 ({@link p256Signer}: OpenSSL where
 * `node:crypto` exists, @noble/curves elsewhere).
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
  const signer = p256Signer(secret)
  secret.fill(0)
  const publicKey = bytesToHex(signer.publicKey)
  return {
    publicKey,
    scheme: P256_STAMP_SCHEME,
    async stamp(bytes) {
      return signer.sign(bytes)
    },
    // Keep the key out of logs and JSON.
    toJSON: () => ({ publicKey, scheme: P256_STAMP_SCHEME }),
  } as Stamper
}
