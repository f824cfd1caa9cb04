import { type Hex, privateKeyToAddress } from '@enclave-custody/sdk'
import { defaultSecp256k1Backend } from '@enclave-custody/sdk/protocol'

export type RecoverableSignature = { r: Hex; s: Hex; yParity: 0 | 1 }

/** The Ethereum address of a private key (EIP-55). */
export const deriveAddress = privateKeyToAddress

/**
 * Sign a 32-byte digest: RFC 6979 deterministic nonce, low-s, with the recovery bit as yParity. Both backends give
 * byte-identical signatures (test/secp256k1Backend.test.ts). The key bytes are only read, never copied into a string.
 */
export function signDigest(privateKey: Uint8Array, digest: Uint8Array): RecoverableSignature {
  if (digest.length !== 32) throw new RangeError('digest must be 32 bytes')
  // libsecp256k1 where its binding loads and passes its self-test, else @noble/curves; selected once per process.
  const { r, s, recovery } = defaultSecp256k1Backend().sign(digest, privateKey)
  const hex32 = (bytes: Uint8Array) => `0x${Buffer.from(bytes).toString('hex')}` as Hex
  return { r: hex32(r), s: hex32(s), yParity: (recovery & 1) as 0 | 1 }
}
