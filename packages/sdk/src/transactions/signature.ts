import { keccak_256 } from '@noble/hashes/sha3.js'
import { defaultSecp256k1Backend } from '../crypto/secp256k1/selectSecp256k1Backend.js'
import { type Address, toChecksumAddress } from '../utils/address.js'
import { fail, typeName } from '../utils/assert.js'
import { bytesToHex, type Hex, hexToBytes } from '../utils/hex.js'
import { SECP256K1_N } from '../utils/privateKey.js'

/** A recoverable secp256k1 signature: r and s as 32-byte hex, the recovery bit as yParity. */
export type RecoverableSignature = { r: Hex; s: Hex; yParity: 0 | 1 }

const HALF_N = SECP256K1_N / 2n

/** A bigint as 32 bytes of lower-case hex. */
export function toHex32(n: bigint): Hex {
  return `0x${n.toString(16).padStart(64, '0')}`
}

/**
 * Validate a signature scalar (r or s) given as 0x-prefixed hex of 1 to 32 bytes: 0 < value < n, and for
 * `s` also value ≤ n/2 (low-s, EIP-2).
 *
 * @returns The value as 32 bytes of lower-case hex.
 * @throws InvalidArgumentError naming the field.
 */
export function normalizeSignatureScalar(value: unknown, field: string, { lowS = false } = {}): Hex {
  if (typeof value !== 'string') fail(field, `must be 0x-prefixed hex of at most 32 bytes (got ${typeName(value)})`)
  if (!/^0x[0-9a-fA-F]{1,64}$/.test(value)) fail(field, 'must be 0x-prefixed hex of at most 32 bytes')
  const n = BigInt(value)
  if (n === 0n || n >= SECP256K1_N) fail(field, 'must be in 1..n-1 (n: the secp256k1 group order)')
  if (lowS && n > HALF_N) fail(field, 'must be at most n/2 (low-s, EIP-2)')
  return toHex32(n)
}

/** Validate a recovery bit: the number 0 or 1. */
export function normalizeYParity(value: unknown, field: string): 0 | 1 {
  if (value !== 0 && value !== 1) fail(field, `must be 0 or 1 (got ${typeof value === 'number' ? value : typeName(value)})`)
  return value
}

/**
 * The Ethereum address that signed `hash`, or an Error if the signature is malformed, high-s or does
 * not recover.
 *
 * @throws Error with a reason (callers wrap it in their own error type).
 */
export function recoverAddress(hash: Uint8Array, signature: { r: bigint; s: bigint; yParity: number }): Address {
  const { r, s, yParity } = signature
  if (yParity !== 0 && yParity !== 1) throw new Error('yParity must be 0 or 1')
  if (r <= 0n || r >= SECP256K1_N || s <= 0n) throw new Error('r or s out of range')
  if (s > HALF_N) throw new Error('signature is not low-s')
  if (hash.length !== 32) throw new Error('hash must be 32 bytes')
  const pub = defaultSecp256k1Backend().recover(hash, { r: hexToBytes(toHex32(r)), s: hexToBytes(toHex32(s)), recovery: yParity })
  return toChecksumAddress(bytesToHex(keccak_256(pub.subarray(1)).subarray(12)))
}

/** The 65-byte `r || s || v` form (v = 27 + yParity) that `personal_sign` and `eth_signTypedData` return. */
export function serializeSignature(signature: RecoverableSignature): Hex {
  return `0x${signature.r.slice(2)}${signature.s.slice(2)}${signature.yParity === 1 ? '1c' : '1b'}`
}

/** keccak-256 of bytes or hex, as lower-case hex. */
export function keccak256Hex(data: Uint8Array | string): Hex {
  return bytesToHex(keccak_256(typeof data === 'string' ? hexToBytes(data) : data))
}
