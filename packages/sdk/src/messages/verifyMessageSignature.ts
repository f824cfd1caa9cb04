import { IntegrityError } from '../errors/CustodyError.js'
import { recoverAddress, serializeSignature } from '../transactions/signature.js'
import type { Address } from '../utils/address.js'
import { type Hex, hexToBytes } from '../utils/hex.js'

/** A signature over a digest: the 65-byte `r || s || v` form (v 27/28), its parts and the digest signed. */
export type MessageSignature = { signature: Hex; r: Hex; s: Hex; yParity: 0 | 1; hash: Hex }

/**
 * Check a signature the backend returned for a digest the SDK computed itself: the reported `hash` is
 * that digest, `signature` is exactly `r || s || 27+yParity`, r and s are in range and low-s, and the
 * signature recovers to `expected`.
 *
 * @param hash - The digest the SDK computed from the request.
 * @param result - The backend's answer.
 * @param expected - The key's address.
 * @returns The result, typed.
 * @throws IntegrityError naming the first disagreement.
 */
export function verifyMessageSignature(hash: Hex, result: { signature: string; r: string; s: string; yParity: 0 | 1; hash: string }, expected: Address): MessageSignature {
  if (result.hash !== hash) throw new IntegrityError({ reason: '"hash" is not the digest of the request' })
  const sig = { r: result.r as Hex, s: result.s as Hex, yParity: result.yParity }
  if (serializeSignature(sig) !== result.signature) throw new IntegrityError({ reason: '"signature" does not match r, s and yParity' })
  let recovered: Address
  try {
    recovered = recoverAddress(hexToBytes(hash), { r: BigInt(result.r), s: BigInt(result.s), yParity: result.yParity })
  } catch (e) {
    throw new IntegrityError({ reason: `the signature is invalid: ${(e as Error).message}` })
  }
  if (recovered !== expected) throw new IntegrityError({ reason: 'the signature is not by the key', details: { expected, recovered } })
  return { signature: result.signature as Hex, r: sig.r, s: sig.s, yParity: sig.yParity, hash }
}
