import { Signature, Transaction, type TransactionLike } from 'ethers'
import { IntegrityError } from '../errors/CustodyError.js'
import type { CustodyTransactionFields } from './toCustodyTransaction.js'

export type AssertSignedMatchesErrorType = IntegrityError

/**
 * Check that `rawTransaction` is exactly what ethers serialises for `fields` with the transaction's own
 * type and signature: the enclave signed these fields, not others.
 *
 * @throws IntegrityError naming the first field that differs.
 */
export function assertSignedMatches(fields: CustodyTransactionFields, rawTransaction: string): void {
  const signed = Transaction.from(rawTransaction)
  const like: TransactionLike = {
    type: signed.type,
    chainId: fields.chainId,
    nonce: Number(fields.nonce ?? 0n),
    to: fields.to ?? null,
    value: fields.value ?? 0n,
    gasLimit: fields.gas ?? 0n,
    data: fields.data ?? '0x',
    signature: signed.signature,
  }
  if (fields.type !== signed.type) {
    throw new IntegrityError({ reason: `the enclave signed a type ${signed.type} transaction for a type ${fields.type} request` })
  }
  if (signed.type === 0 || signed.type === 1) like.gasPrice = fields.gasPrice ?? 0n
  else {
    like.maxFeePerGas = fields.maxFeePerGas ?? 0n
    like.maxPriorityFeePerGas = fields.maxPriorityFeePerGas ?? 0n
  }
  if (signed.type !== 0) like.accessList = fields.accessList ?? []
  if (signed.type === 4) {
    like.authorizationList = (fields.authorizationList ?? []).map((a) => ({
      address: a.address,
      chainId: a.chainId,
      nonce: a.nonce,
      signature: Signature.from({ r: a.r, s: a.s, yParity: a.yParity }),
    }))
  }
  const expected = Transaction.from(like)
  if (expected.serialized !== rawTransaction.toLowerCase()) {
    const keys = ['type', 'chainId', 'nonce', 'to', 'value', 'gasLimit', 'gasPrice', 'maxFeePerGas', 'maxPriorityFeePerGas', 'data'] as const
    const differs = keys.find((k) => String(expected[k]) !== String(signed[k])) ?? 'accessList or authorizationList'
    throw new IntegrityError({ reason: `the signed transaction differs from the request in ${differs}`, details: { field: differs } })
  }
}
