import { hkdfSync } from 'node:crypto'

/** HKDF `info` of the derivation: names its purpose and version, so the same secret serves nothing else. */
export const LAMBDA_API_KEY_INFO = 'enclave-custody/signing-lambda/api-key/v1'

/** Order of the P-256 group. */
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n
/** Fewest characters of secret accepted (CloudFormation generates 64). */
const MIN_SECRET_LENGTH = 32

/**
 * The signing Lambda's API key (a P-256 private key, 0x-hex) from the string Secrets Manager generated for it.
 * GenerateSecretString makes a password, not a P-256 scalar, so the key is derived from it:
 *
 *     okm = HKDF-SHA-256(IKM = UTF-8(secret), salt = empty, info = "enclave-custody/signing-lambda/api-key/v1", L = 48)
 *     d   = (OS2IP(okm) mod (n − 1)) + 1
 *
 * `n` is the P-256 group order. 48 bytes reduced modulo n − 1 (FIPS 186-5 A.2.1, "extra random bits") give a
 * valid scalar in [1, n − 1] for every secret, with a bias below 2⁻¹²⁸; a 64-character alphanumeric secret
 * carries about 380 bits. Deterministic: every cold start derives the same key, and anyone holding the secret
 * can recompute it (and its public key) with any HKDF implementation.
 *
 * JavaScript cannot wipe the secret string nor the BigInt and hex string of the result; the HKDF output is
 * zeroed. The key lives in the Lambda's memory only inside `apiKeyStamper`.
 *
 * @param secret the secret's `SecretString`.
 * @returns the private key, 0x-hex, 32 bytes.
 * @throws TypeError when the secret is not a string of at least 32 characters (the message never quotes it).
 * @example
 * const stamper = apiKeyStamper({ privateKey: deriveApiKey(secretString) })
 */
export function deriveApiKey(secret: string): `0x${string}` {
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) throw new TypeError(`the API key secret must be a string of at least ${MIN_SECRET_LENGTH} characters`)
  const okm = new Uint8Array(hkdfSync('sha256', Buffer.from(secret, 'utf8'), new Uint8Array(0), LAMBDA_API_KEY_INFO, 48))
  try {
    const d = (BigInt(`0x${Buffer.from(okm.buffer, okm.byteOffset, okm.length).toString('hex')}`) % (P256_N - 1n)) + 1n
    return `0x${d.toString(16).padStart(64, '0')}`
  } finally {
    okm.fill(0)
  }
}
