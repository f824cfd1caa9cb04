import { secp256k1 } from '@noble/curves/secp256k1.js'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { type Address, toChecksumAddress } from './address.js'
import { fail, typeName } from './assert.js'
import { bytesToHex } from './hex.js'

/** Order of the secp256k1 group. */
export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n

const PRIVATE_KEY_RE = /^0x[0-9a-fA-F]{64}$/

/**
 * Validate a secp256k1 private key given as 0x + 64 hex digits: 0 < k < n.
 * Error messages never include the value.
 */
export function assertPrivateKeyHex(value: unknown, field = 'privateKey'): `0x${string}` {
  if (typeof value !== 'string') fail(field, `must be a 0x-prefixed 32-byte hex string (got ${typeName(value)})`)
  if (!PRIVATE_KEY_RE.test(value)) fail(field, 'must be a 0x-prefixed 32-byte hex string (64 hex digits)')
  const k = BigInt(value)
  if (k === 0n) fail(field, 'must not be zero')
  if (k >= SECP256K1_N) fail(field, 'must be below the secp256k1 group order')
  return value as `0x${string}`
}

/** Whether 32 bytes form a valid secp256k1 scalar (0 < k < n). */
export function isValidPrivateKeyBytes(bytes: Uint8Array): boolean {
  if (bytes.length !== 32) return false
  let k = 0n
  for (const b of bytes) k = (k << 8n) | BigInt(b)
  return k > 0n && k < SECP256K1_N
}

/** The Ethereum address of a 32-byte private key: keccak256(uncompressed public key)[12:], EIP-55. */
export function privateKeyToAddress(privateKey: Uint8Array): Address {
  return publicKeyToAddress(secp256k1.getPublicKey(privateKey, false))
}

/** The Ethereum address of an uncompressed secp256k1 public key (65 bytes, 0x04 ‖ x ‖ y), EIP-55. */
export function publicKeyToAddress(publicKey: Uint8Array): Address {
  if (publicKey.length !== 65 || publicKey[0] !== 4) throw new RangeError('publicKey must be 65 bytes, uncompressed')
  return toChecksumAddress(bytesToHex(keccak_256(publicKey.subarray(1)).subarray(12)))
}
