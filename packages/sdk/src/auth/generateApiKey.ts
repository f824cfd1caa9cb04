import { p256 } from '@noble/curves/nist.js'
import { bytesToHex, type Hex } from '../utils/hex.js'

export type GenerateApiKeyReturnType = {
  /** Compressed SEC1 public key (33 bytes), hex: what an enclave's owner lists name. */
  publicKey: Hex
  /** The 32-byte P-256 private key, hex. Keep it like a password; it never goes on the wire. */
  privateKey: Hex
}

/**
 * Make a new P-256 API key for stamping requests (`apiKeyStamper`). The key is random (the platform CSPRNG).
 *
 * @example
 * import { apiKeyStamper, generateApiKey } from '@enclave-custody/sdk'
 * const apiKey = generateApiKey()
 * const stamper = apiKeyStamper({ privateKey: apiKey.privateKey })
 */
export function generateApiKey(): GenerateApiKeyReturnType {
  const secret = p256.utils.randomSecretKey()
  try {
    return { publicKey: bytesToHex(p256.getPublicKey(secret, true)), privateKey: bytesToHex(secret) }
  } finally {
    secret.fill(0)
  }
}
