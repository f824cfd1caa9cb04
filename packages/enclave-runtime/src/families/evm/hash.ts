import { type Hex, hexToBytes, serializeSignature } from '@enclave-custody/sdk'
import type { MessageSignatureWire } from '@enclave-custody/sdk/protocol'
import { signDigest } from './secp256k1.js'

/**
 * Sign a 32-byte digest and report it in the `personal_sign` / `eth_signTypedData` shape: the 65-byte
 * `r || s || v` signature (v 27/28), its parts and the digest.
 *
 * @param privateKey - 32 bytes, only read.
 * @param hash - The digest, 32 bytes of hex.
 * @example
 * signHash(privateKey, hashPersonalMessage('hello world'))
 */
export function signHash(privateKey: Uint8Array, hash: Hex): MessageSignatureWire {
  const signature = signDigest(privateKey, hexToBytes(hash))
  return { signature: serializeSignature(signature), ...signature, hash }
}
