import {
  type Address,
  type Eip1559Transaction,
  hexToBytes,
  serializeEip1559Signed,
  serializeEip1559Unsigned,
} from '@enclave-custody/sdk'
import type { SignedTransactionWire } from '@enclave-custody/sdk/protocol'
import { deriveAddress, signDigest } from './secp256k1.js'

/**
 * Sign a validated EIP-1559 transaction with a private key.
 * @returns the raw signed transaction, its hash, the sender and the signature.
 */
export function signEip1559Transaction(privateKey: Uint8Array, tx: Eip1559Transaction, from: Address = deriveAddress(privateKey)): SignedTransactionWire {
  const { unsignedHash } = serializeEip1559Unsigned(tx)
  const signature = signDigest(privateKey, hexToBytes(unsignedHash))
  const { rawTransaction, hash } = serializeEip1559Signed(tx, signature)
  return { rawTransaction, hash, from, signature }
}
