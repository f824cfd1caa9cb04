/** The signature scheme of an API key stamp: ECDSA over P-256 with SHA-256, 64-byte r‖s, low s. */
export const P256_STAMP_SCHEME = 'p256-ecdsa-sha256'
export type StampScheme = typeof P256_STAMP_SCHEME

/**
 * Who signs requests for a caller. `apiKeyStamper` holds a P-256 key in memory; implement this interface for
 * a key held elsewhere (a KMS P-256 key, WebAuthn, an HSM): `stamp` gets the exact bytes to sign and returns
 * the 64-byte compact ECDSA signature (r‖s; a high s is normalised by the verifier's low-s rule, so return the
 * low-s form).
 */
export type Stamper = {
  /** The API key's public key: 0x-hex SEC1, compressed (33 bytes) or uncompressed (65 bytes). */
  readonly publicKey: string
  readonly scheme: StampScheme
  stamp(bytes: Uint8Array): Promise<Uint8Array>
}

/** A request's stamp as it travels in the envelope's `auth`. */
export type RequestStamp = {
  /** 0x-hex SEC1 of the API key (either form; compared as a point). */
  publicKey: string
  scheme: StampScheme
  /** Milliseconds since the epoch, when the caller stamped. */
  timestamp: number
  /** 16 random bytes, 0x-hex: the enclave refuses a nonce it saw inside the window. */
  nonce: string
  /** 64-byte compact ECDSA signature (r‖s, low s), 0x-hex. */
  signature: string
}
