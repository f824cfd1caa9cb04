import { IntegrityError } from '../errors/CustodyError.js'
import type { Address } from '../utils/address.js'
import { type Hex, hexToBytes } from '../utils/hex.js'
import { type Authorization, hashAuthorization, type SignedAuthorization } from './authorization.js'
import { recoverAddress } from './signature.js'

/**
 * Check a signed authorization the backend returned: its tuple is exactly the requested one, r and s are
 * in range and low-s, and the signature over `keccak256(0x05 || rlp([chainId, address, nonce]))` recovers
 * to `expected`.
 *
 * @returns The signed authorization, typed (quantities bigint).
 * @throws IntegrityError naming the first disagreement.
 */
export function verifySignedAuthorization(
  requested: Authorization,
  result: { chainId: string; address: string; nonce: string; r: string; s: string; yParity: 0 | 1 },
  expected: Address,
): SignedAuthorization {
  if (result.chainId !== requested.chainId.toString() || result.address !== requested.address || result.nonce !== requested.nonce.toString()) {
    throw new IntegrityError({ reason: 'the signed authorization does not hold the requested chainId, address and nonce' })
  }
  let recovered: Address
  try {
    recovered = recoverAddress(hexToBytes(hashAuthorization(requested)), { r: BigInt(result.r), s: BigInt(result.s), yParity: result.yParity })
  } catch (e) {
    throw new IntegrityError({ reason: `the authorization signature is invalid: ${(e as Error).message}` })
  }
  if (recovered !== expected) throw new IntegrityError({ reason: 'the authorization is not signed by the key', details: { expected, recovered } })
  return { ...requested, r: result.r as Hex, s: result.s as Hex, yParity: result.yParity }
}
