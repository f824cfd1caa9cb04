import { type Address, hexToBytes, legacyV, serializeTransactionSigned, serializeTransactionUnsigned, type Transaction } from '@enclave-custody/sdk'
import type { SignedTypedTransactionWire } from '@enclave-custody/sdk/protocol'
import { deriveAddress, signDigest } from './secp256k1.js'

/**
 * Sign a validated transaction of any supported type (legacy with or without EIP-155, EIP-2930,
 * EIP-1559, EIP-7702) with a private key. Request policy (gas bounds, replay protection, the key's
 * policy) is the caller's: this primitive signs exactly the fields it is given.
 *
 * @param privateKey - 32 bytes, only read.
 * @param tx - The transaction (from `normalizeTransactionRequest`).
 * @returns The raw signed transaction, its hash, type, sender and signature (`v` as a decimal string for legacy).
 * @example
 * const signed = signTransaction(privateKey, normalizeTransactionRequest(request).transaction)
 */
export function signTransaction(privateKey: Uint8Array, tx: Transaction, from: Address = deriveAddress(privateKey)): SignedTypedTransactionWire {
  const { unsignedHash } = serializeTransactionUnsigned(tx)
  const signature = signDigest(privateKey, hexToBytes(unsignedHash))
  const { rawTransaction, hash } = serializeTransactionSigned(tx, signature)
  const v = tx.type === 'legacy' ? { v: legacyV(tx.chainId, signature.yParity).toString() } : {}
  return { rawTransaction, hash, from, type: tx.type, signature: { ...signature, ...v } }
}
