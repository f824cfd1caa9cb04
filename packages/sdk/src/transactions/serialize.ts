import { Signature, Transaction } from 'ethers'
import type { Hex } from '../utils/hex.js'
import type { Eip1559Transaction } from './eip1559.js'

export type TransactionSignature = { r: Hex; s: Hex; yParity: 0 | 1 }

function toEthers(tx: Eip1559Transaction): Transaction {
  return Transaction.from({
    type: 2,
    chainId: tx.chainId,
    nonce: Number(tx.nonce),
    to: tx.to,
    value: tx.value,
    gasLimit: tx.gas,
    maxFeePerGas: tx.maxFeePerGas,
    maxPriorityFeePerGas: tx.maxPriorityFeePerGas,
    data: tx.data,
    accessList: tx.accessList,
  })
}

/** The EIP-1559 signing payload (`0x02 || rlp([...])`) and its keccak-256 hash. */
export function serializeEip1559Unsigned(tx: Eip1559Transaction): { unsignedSerialized: Hex; unsignedHash: Hex } {
  const t = toEthers(tx)
  return { unsignedSerialized: t.unsignedSerialized as Hex, unsignedHash: t.unsignedHash as Hex }
}

/** The signed raw transaction and its hash. */
export function serializeEip1559Signed(tx: Eip1559Transaction, sig: TransactionSignature): { rawTransaction: Hex; hash: Hex } {
  const t = toEthers(tx)
  t.signature = Signature.from({ r: sig.r, s: sig.s, yParity: sig.yParity })
  return { rawTransaction: t.serialized as Hex, hash: t.hash as Hex }
}
