import { InvalidArgumentError } from '../../errors/CustodyError.js'

/** A recoverable ECDSA signature over secp256k1: 32-byte big-endian `r` and `s`, and the recovery id. */
export type Secp256k1Signature = {
  /** `r`, 32 bytes big-endian, in [1, n − 1]. */
  readonly r: Uint8Array
  /** `s`, 32 bytes big-endian, in [1, n / 2] (low-s). */
  readonly s: Uint8Array
  /** The recovery id: bit 0 is the parity of R.y, bit 1 is set when R.x ≥ n (never seen in practice). */
  readonly recovery: number
}

/** Options of {@link Secp256k1Backend.recover}. */
export type Secp256k1RecoverOptions = {
  /** Return the 33-byte SEC1 compressed key instead of the 65-byte uncompressed one. @default false */
  compressed?: boolean
}

/**
 * One implementation of secp256k1 ECDSA over 32-byte digests. Every backend gives byte-identical results:
 * RFC 6979 deterministic nonces (no extra entropy), low-s, the same recovery id.
 */
export type Secp256k1Backend = {
  /** `native` (libsecp256k1 through the `secp256k1` npm binding) or `noble` (@noble/curves). */
  readonly name: 'native' | 'noble'
  /** Why the native backend was not selected, when it was wanted and this is noble. Never holds key material. */
  readonly fallbackReason?: string
  /**
   * Sign a 32-byte digest (no hashing) with RFC 6979 nonces; the result is low-s.
   * @throws InvalidArgumentError naming `digest` or `privateKey` (the key's bytes are never echoed).
   */
  sign(digest: Uint8Array, privateKey: Uint8Array): Secp256k1Signature
  /**
   * Recover the public key that produced `signature` over `digest` (SEC1, uncompressed unless asked).
   * @throws InvalidArgumentError naming `digest` or `signature` (high-s, out of range, or recovers to no key).
   */
  recover(digest: Uint8Array, signature: Secp256k1Signature, options?: Secp256k1RecoverOptions): Uint8Array
  /**
   * Whether `signature` (`r`, `s`; the recovery id is not needed) is valid over `digest` for `publicKey`. A
   * high-s signature is not valid.
   * @throws InvalidArgumentError naming `digest`, `signature` or `publicKey` when one is malformed.
   */
  verify(digest: Uint8Array, signature: Pick<Secp256k1Signature, 'r' | 's'>, publicKey: Uint8Array): boolean
  /**
   * The public key of `privateKey` (SEC1, uncompressed unless asked).
   * @throws InvalidArgumentError naming `privateKey`.
   */
  getPublicKey(privateKey: Uint8Array, compressed?: boolean): Uint8Array
}

// The order of the group, n, and n / 2 (rounded down), 32 bytes big-endian.
const N = Uint8Array.from(Buffer.from('fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141', 'hex'))
const HALF_N = Uint8Array.from(Buffer.from('7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0', 'hex'))

/**
 * Compare two 32-byte big-endian numbers: −1, 0 or 1. No early exit and no branch on the bytes (JavaScript
 * cannot promise constant time; this is the best it offers), so it may see private keys.
 */
function compare32(a: Uint8Array, b: Uint8Array): number {
  let result = 0
  for (let i = 0; i < 32; i++) {
    const d = a[i]! - b[i]!
    const sign = (d >> 31) | (-d >>> 31) // −1, 0 or 1
    const undecided = ((result | -result) >>> 31) ^ 1 // 1 while every earlier byte was equal
    result += undecided * sign
  }
  return result
}

function isZero32(a: Uint8Array): boolean {
  let acc = 0
  for (let i = 0; i < 32; i++) acc |= a[i]!
  return acc === 0
}

const isBytes = (value: unknown, length: number): value is Uint8Array => value instanceof Uint8Array && value.length === length

/** Check a digest: exactly 32 bytes (any value; it is reduced mod n as ECDSA does). */
export function checkDigest(digest: unknown): Uint8Array {
  if (!isBytes(digest, 32)) throw new InvalidArgumentError({ field: 'digest', rule: 'must be a 32-byte Uint8Array' })
  return digest
}

/** Check a private key: 32 bytes, a scalar in [1, n − 1]. The error never carries the key. */
export function checkPrivateKey(privateKey: unknown): Uint8Array {
  if (!isBytes(privateKey, 32)) throw new InvalidArgumentError({ field: 'privateKey', rule: 'must be a 32-byte Uint8Array' })
  // Both tests run in full, whatever the first says.
  const zero = isZero32(privateKey)
  const belowN = compare32(privateKey, N) < 0
  if (zero || !belowN) throw new InvalidArgumentError({ field: 'privateKey', rule: 'must be a secp256k1 scalar in [1, n − 1]' })
  return privateKey
}

/**
 * Check a signature's shape and ranges: `r` in [1, n − 1], `s` in [1, n − 1], and with `withRecovery`, a
 * recovery id in 0..3. Returns whether `s` is high (above n / 2); callers decide what that means.
 */
export function checkSignature(signature: unknown, withRecovery: boolean): { highS: boolean } {
  if (typeof signature !== 'object' || signature === null) throw new InvalidArgumentError({ field: 'signature', rule: 'must be an object { r, s, recovery }' })
  const { r, s, recovery } = signature as Record<string, unknown>
  for (const [field, value] of [
    ['signature.r', r],
    ['signature.s', s],
  ] as const) {
    if (!isBytes(value, 32)) throw new InvalidArgumentError({ field, rule: 'must be a 32-byte Uint8Array' })
    if (isZero32(value) || compare32(value, N) >= 0) throw new InvalidArgumentError({ field, rule: 'must be in [1, n − 1]' })
  }
  if (withRecovery && !(typeof recovery === 'number' && Number.isInteger(recovery) && recovery >= 0 && recovery <= 3)) {
    throw new InvalidArgumentError({ field: 'signature.recovery', rule: 'must be an integer in 0..3' })
  }
  return { highS: compare32(s as Uint8Array, HALF_N) > 0 }
}

/** Check a recoverable signature for recovery: ranges as {@link checkSignature}, and low-s. */
export function checkRecoverableSignature(signature: unknown): Secp256k1Signature {
  if (checkSignature(signature, true).highS) throw new InvalidArgumentError({ field: 'signature.s', rule: 'must be at most n / 2 (low-s)' })
  return signature as Secp256k1Signature
}

/** Check a public key's SEC1 framing: 33 bytes behind 0x02/0x03, or 65 bytes behind 0x04. The point itself is checked by the backend. */
export function checkPublicKeyFraming(publicKey: unknown): Uint8Array {
  const framed = (isBytes(publicKey, 33) && (publicKey[0] === 2 || publicKey[0] === 3)) || (isBytes(publicKey, 65) && publicKey[0] === 4)
  if (!framed) throw new InvalidArgumentError({ field: 'publicKey', rule: 'must be a SEC1 public key (33 bytes compressed or 65 bytes uncompressed)' })
  return publicKey as Uint8Array
}

/** The error for a well-framed public key that is not a point of the curve. */
export const notOnCurve = (cause?: unknown) => new InvalidArgumentError({ field: 'publicKey', rule: 'must be a point on secp256k1', cause })

/** The error for a signature from which no public key can be recovered. */
export const unrecoverable = (cause?: unknown) => new InvalidArgumentError({ field: 'signature', rule: 'must recover to a public key', cause })

export function checkCompressed(compressed: unknown): boolean {
  if (typeof compressed !== 'boolean') throw new InvalidArgumentError({ field: 'compressed', rule: 'must be a boolean' })
  return compressed
}

/** `digest` mod n, as 32 bytes: a new array when `digest` ≥ n, else `digest` itself. */
export function reduceDigest(digest: Uint8Array): Uint8Array {
  if (compare32(digest, N) < 0) return digest
  const out = new Uint8Array(32)
  let borrow = 0
  for (let i = 31; i >= 0; i--) {
    const d = digest[i]! - N[i]! - borrow
    out[i] = d & 0xff
    borrow = d < 0 ? 1 : 0
  }
  return out
}

/** `r ‖ s`, 64 bytes. */
export function compact(signature: Pick<Secp256k1Signature, 'r' | 's'>): Uint8Array {
  const out = new Uint8Array(64)
  out.set(signature.r, 0)
  out.set(signature.s, 32)
  return out
}
