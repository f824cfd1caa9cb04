import { hashTypedData, type NormalizedTypedData } from '@enclave-custody/sdk'
import type { MessageSignatureWire } from '@enclave-custody/sdk/protocol'
import { signHash } from './hash.js'

/**
 * Sign validated EIP-712 typed data: the enclave hashes the structured payload itself.
 *
 * @param privateKey - 32 bytes, only read.
 * @param typedData - From `normalizeTypedData` (the same validation the SDK runs).
 * @example
 * signTypedData(privateKey, normalizeTypedData(payload))
 */
export function signTypedData(privateKey: Uint8Array, typedData: NormalizedTypedData): MessageSignatureWire {
  return signHash(privateKey, hashTypedData(typedData))
}
