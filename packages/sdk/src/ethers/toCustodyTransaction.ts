import { type AuthorizationLike, getAddress, getBigInt, Signature, Transaction } from 'ethers'
import { fail } from '../utils/assert.js'
import type { Hex } from '../utils/hex.js'

/** The custody client's `signTransaction` fields, as the ethers adapter fills them (a `TransactionRequest`). */
export type CustodyTransactionFields = {
  type: 0 | 1 | 2 | 4
  chainId: bigint
  nonce?: bigint
  to?: string
  value?: bigint
  gas?: bigint
  gasPrice?: bigint
  maxFeePerGas?: bigint
  maxPriorityFeePerGas?: bigint
  data?: Hex
  accessList?: { address: string; storageKeys: string[] }[]
  authorizationList?: { address: string; chainId: bigint; nonce: bigint; r: Hex; s: Hex; yParity: 0 | 1 }[]
}

/**
 * An ethers request after `copyRequest` (quantities bigint, `type`/`nonce` numbers, `data` hex,
 * `accessList` normalised) with `to` resolved to an address.
 */
export type CopiedRequest = {
  type?: number | null
  chainId?: bigint | null
  nonce?: number | null
  to?: string | null
  value?: bigint | null
  gasLimit?: bigint | null
  gasPrice?: bigint | null
  maxFeePerGas?: bigint | null
  maxPriorityFeePerGas?: bigint | null
  data?: string | null
  accessList?: { address: string; storageKeys: string[] }[] | null
  authorizationList?: readonly { address: string; nonce: unknown; chainId: unknown; signature: unknown }[] | null
  maxFeePerBlobGas?: bigint | null
  blobVersionedHashes?: readonly string[] | null
  blobs?: readonly unknown[] | null
}

const SUPPORTED_TYPES = [0, 1, 2, 4] as const

/**
 * Map an ethers transaction request to the custody client's fields: the type (inferred as ethers infers
 * it when absent) and only the fields the caller set, so that the client (not this adapter) refuses what
 * is missing. Blob (type 3) transactions and requests without a chain id are refused here, naming the
 * field.
 */
export function toCustodyTransaction(req: CopiedRequest): CustodyTransactionFields {
  if (req.type === 3 || req.maxFeePerBlobGas != null || (req.blobVersionedHashes?.length ?? 0) > 0 || (req.blobs?.length ?? 0) > 0) {
    fail('tx.type', 'is an EIP-4844 blob transaction (type 3), which the enclave does not sign')
  }
  if (req.type != null && !(SUPPORTED_TYPES as readonly number[]).includes(req.type)) fail('tx.type', `must be 0, 1, 2 or 4 (got ${req.type})`)
  // ethers uses chain id 0 for "none": a pre-EIP-155 transaction that any chain would replay.
  if (req.chainId == null || req.chainId === 0n) {
    fail('tx.chainId', 'is required: the signer does not sign replayable transactions (populate it with signer.populateTransaction or set it)')
  }
  const out: CustodyTransactionFields = { type: (req.type ?? inferType(req)) as CustodyTransactionFields['type'], chainId: req.chainId }
  if (req.nonce != null) out.nonce = BigInt(req.nonce)
  if (req.to != null) out.to = req.to
  if (req.value != null) out.value = req.value
  if (req.gasLimit != null) out.gas = req.gasLimit
  if (req.gasPrice != null) out.gasPrice = req.gasPrice
  if (req.maxFeePerGas != null) out.maxFeePerGas = req.maxFeePerGas
  if (req.maxPriorityFeePerGas != null) out.maxPriorityFeePerGas = req.maxPriorityFeePerGas
  if (req.data != null) out.data = req.data.toLowerCase() as Hex
  if (req.accessList != null) out.accessList = req.accessList.map((e) => ({ address: e.address, storageKeys: [...e.storageKeys] }))
  if (req.authorizationList != null) {
    out.authorizationList = req.authorizationList.map((a, i) => {
      if (a.signature == null) fail(`tx.authorizationList[${i}].signature`, 'is required: sign the authorization first (signer.authorize)')
      const sig = Signature.from(a.signature as Parameters<typeof Signature.from>[0])
      return {
        address: getAddress(a.address),
        chainId: getBigInt(a.chainId as bigint, `tx.authorizationList[${i}].chainId`),
        nonce: getBigInt(a.nonce as bigint, `tx.authorizationList[${i}].nonce`),
        r: sig.r as Hex,
        s: sig.s as Hex,
        yParity: sig.yParity as 0 | 1,
      }
    })
  }
  return out
}

/** The type ethers' `Wallet` would sign a request without `type` as (ethers' own inference). */
function inferType(req: CopiedRequest): number {
  const t = new Transaction()
  if (req.gasPrice != null) t.gasPrice = req.gasPrice
  if (req.maxFeePerGas != null) t.maxFeePerGas = req.maxFeePerGas
  if (req.maxPriorityFeePerGas != null) t.maxPriorityFeePerGas = req.maxPriorityFeePerGas
  if (req.accessList != null) t.accessList = req.accessList
  if (req.authorizationList != null && req.authorizationList.length > 0) t.authorizationList = req.authorizationList as AuthorizationLike[]
  const type = t.inferType()
  if (type === 3) fail('tx.type', 'is an EIP-4844 blob transaction (type 3), which the enclave does not sign')
  return type
}
