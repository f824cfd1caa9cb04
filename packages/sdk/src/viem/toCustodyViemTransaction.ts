import { type Address, getTransactionType, type Hex, type TransactionSerializable } from 'viem'
import { fail } from '../utils/assert.js'

/** The custody client's `signTransaction` fields, as the viem adapter fills them (a `TransactionRequest`). */
export type CustodyViemTransactionFields = {
  type: 'legacy' | 'eip2930' | 'eip1559' | 'eip7702'
  chainId: number
  nonce?: number
  to?: string
  value?: bigint
  gas?: bigint
  gasPrice?: bigint
  maxFeePerGas?: bigint
  maxPriorityFeePerGas?: bigint
  data?: Hex
  accessList?: { address: string; storageKeys: string[] }[]
  authorizationList?: { address: string; chainId: number; nonce: number; r: Hex; s: Hex; yParity: number }[]
}

/** What viem hands `signTransaction`: a serialisable transaction, plus `from` when it prepared it. */
export type ViemTransaction = TransactionSerializable & { from?: Address | undefined; sidecars?: unknown }

const SUPPORTED_TYPES = ['legacy', 'eip2930', 'eip1559', 'eip7702'] as const

/** Map a viem transaction to the custody client's fields, with viem's type inference. */
export function toCustodyViemTransaction(tx: ViemTransaction): CustodyViemTransactionFields {
  const type = getTransactionType(tx as TransactionSerializable) as string
  if (type === 'eip4844') fail('tx.type', 'is eip4844 (blob transaction), which the enclave does not sign')
  if (!(SUPPORTED_TYPES as readonly string[]).includes(type)) fail('tx.type', `must be legacy, eip2930, eip1559 or eip7702 (got ${JSON.stringify(type)})`)
  if (tx.chainId === undefined) fail('tx.chainId', 'is required: the account does not sign replayable transactions')
  const out: CustodyViemTransactionFields = { type: type as CustodyViemTransactionFields['type'], chainId: tx.chainId }
  if (tx.nonce !== undefined) out.nonce = tx.nonce
  if (tx.to != null) out.to = tx.to
  if (tx.value !== undefined) out.value = tx.value
  if (tx.gas !== undefined) out.gas = tx.gas
  if (tx.gasPrice !== undefined) out.gasPrice = tx.gasPrice
  if (tx.maxFeePerGas !== undefined) out.maxFeePerGas = tx.maxFeePerGas
  if (tx.maxPriorityFeePerGas !== undefined) out.maxPriorityFeePerGas = tx.maxPriorityFeePerGas
  if (tx.data !== undefined) out.data = tx.data
  if (tx.accessList !== undefined) out.accessList = tx.accessList.map((e) => ({ address: e.address, storageKeys: [...e.storageKeys] }))
  if (tx.authorizationList !== undefined) {
    out.authorizationList = tx.authorizationList.map((a, i) => {
      const yParity = a.yParity ?? (a.v === 27n ? 0 : a.v === 28n ? 1 : undefined)
      if (yParity === undefined) fail(`tx.authorizationList[${i}].yParity`, 'is required (a signed authorization: account.signAuthorization)')
      return { address: a.address, chainId: a.chainId, nonce: a.nonce, r: a.r, s: a.s, yParity }
    })
  }
  return out
}

