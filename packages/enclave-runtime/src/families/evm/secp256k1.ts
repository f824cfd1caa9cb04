import { type Hex, privateKeyToAddress } from '@enclave-custody/sdk'
import { secp256k1 } from '@noble/curves/secp256k1.js'

export type RecoverableSignature = { r: Hex; s: Hex; yParity: 0 | 1 }

/** The Ethereum address of a private key (EIP-55). */
export const deriveAddress = privateKeyToAddress

/**
 * Sign a 32-byte digest: RFC 6979 deterministic nonce, low-s, with the recovery bit as yParity.
 * The key bytes are only read, never copied into a string.
 */
export function signDigest(privateKey: Uint8Array, digest: Uint8Array): RecoverableSignature {
  if (digest.length !== 32) throw new RangeError('digest must be 32 bytes')
  const sig = secp256k1.Signature.fromBytes(secp256k1.sign(digest, privateKey, { prehash: false, lowS: true, format: 'recovered' }), 'recovered')
  const hex32 = (n: bigint) => `0x${n.toString(16).padStart(64, '0')}` as Hex
  return { r: hex32(sig.r), s: hex32(sig.s), yParity: sig.recovery === 1 ? 1 : 0 }
}
