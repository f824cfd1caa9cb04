import { type Authorization, authorizationToWire, hashAuthorization, hexToBytes } from '@enclave-custody/sdk'
import type { SignedAuthorizationResultWire } from '@enclave-custody/sdk/protocol'
import { signDigest } from './secp256k1.js'

/**
 * Sign an EIP-7702 authorization: the signature over `keccak256(0x05 || rlp([chainId, address, nonce]))`.
 *
 * @param privateKey - 32 bytes, only read.
 * @param authorization - From `normalizeAuthorizationRequest`.
 * @returns The tuple (quantities as decimal strings) with r, s and yParity.
 * @example
 * signAuthorization(privateKey, { chainId: 1n, address: '0xFBA3912Ca04dd458c843e2EE08967fC04f3579c2', nonce: 0n })
 */
export function signAuthorization(privateKey: Uint8Array, authorization: Authorization): SignedAuthorizationResultWire {
  const signature = signDigest(privateKey, hexToBytes(hashAuthorization(authorization)))
  return { ...authorizationToWire(authorization), ...signature }
}
