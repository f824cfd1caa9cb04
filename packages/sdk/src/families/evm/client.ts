import type { OperationParamsWire, OperationResult } from '../../protocol/messages.js'
import { hashPersonalMessage, normalizePersonalMessage, type SignableMessage } from '../../messages/personalSign.js'
import { hashTypedData, normalizeTypedData, type TypedDataDefinition } from '../../messages/typedData.js'
import { type MessageSignature, verifyMessageSignature } from '../../messages/verifyMessageSignature.js'
import { type AuthorizationRequest, authorizationToWire, normalizeAuthorizationRequest, type SignedAuthorization } from '../../transactions/authorization.js'
import { type Eip1559TransactionRequest, eip1559ToWire, normalizeEip1559Transaction } from '../../transactions/eip1559.js'
import { normalizeTransactionRequest, type TransactionRequest, type TransactionType, transactionToWire } from '../../transactions/transaction.js'
import { verifySignedAuthorization } from '../../transactions/verifySignedAuthorization.js'
import { verifySignedEip1559 } from '../../transactions/verifySignedEip1559.js'
import { verifySignedTransaction } from '../../transactions/verifySignedTransaction.js'
import type { Address } from '../../utils/address.js'
import { assertObject, fail } from '../../utils/assert.js'
import { assertHex, bytesToHex, type Hex } from '../../utils/hex.js'
import type { EVM_SIGNING_OPERATIONS } from './protocol.js'

export type SignedTransaction = {
  rawTransaction: Hex
  hash: Hex
  from: Address
  signature: { r: Hex; s: Hex; yParity: 0 | 1 }
}

/** What `signTransaction` returns: `v` is present for legacy transactions (27/28, or EIP-155). */
export type SignTransactionReturnType = {
  rawTransaction: Hex
  hash: Hex
  from: Address
  type: TransactionType
  signature: { r: Hex; s: Hex; yParity: 0 | 1; v?: bigint }
}

/** What `signMessage` takes: `message` as text (UTF-8, even if it looks like hex), bytes, or `{ raw }` bytes. */
export type SignMessageParameters = { message: SignableMessage }

/** What `signMessage`, `signTypedData` and `signDigest` return. */
export type SignMessageReturnType = MessageSignature

type EvmOperation = keyof typeof EVM_SIGNING_OPERATIONS

/**
 * One sign call, prepared: the request exactly as it will travel, and the check of the enclave's result against
 * what was asked (independent of the enclave: the SDK re-serialises or re-hashes the request itself and
 * requires the signature to recover to the key's address).
 */
export type PreparedSign<O extends EvmOperation, R> = {
  request: { op: O; params: OperationParamsWire<O> }
  verify(result: OperationResult<O>, expected: Address): R
}

/** Fields every sign request may carry besides its payload (the idempotency key). */
type Extra = { idempotencyKey?: string }

/**
 * The EVM family on the client side: for each sign method, the normalised request and the verification of its
 * result. The client is generic over these (stamping, quorum, response signature, the key's address).
 */
export function evmSignRequests({ maxGas }: { maxGas: bigint }) {
  return {
    signEip1559(keyId: string, tx: Eip1559TransactionRequest, extra: Extra): PreparedSign<'sign.eip1559', SignedTransaction> {
      const normalized = normalizeEip1559Transaction(tx, 'tx', { maxGas })
      return {
        request: { op: 'sign.eip1559', params: { keyId, tx: eip1559ToWire(normalized), ...extra } },
        verify(signed, expected) {
          verifySignedEip1559(normalized, signed, expected)
          return {
            rawTransaction: signed.rawTransaction as Hex,
            hash: signed.hash as Hex,
            from: expected,
            signature: { r: signed.signature.r as Hex, s: signed.signature.s as Hex, yParity: signed.signature.yParity },
          }
        },
      }
    },
    signTransaction(keyId: string, tx: TransactionRequest, extra: Extra): PreparedSign<'sign.transaction', SignTransactionReturnType> {
      const { transaction, allowReplayable } = normalizeTransactionRequest(tx, 'tx', { maxGas })
      return {
        request: { op: 'sign.transaction', params: { keyId, tx: transactionToWire(transaction, allowReplayable), ...extra } },
        verify(signed, expected) {
          const { signature } = verifySignedTransaction(transaction, signed, expected)
          return {
            rawTransaction: signed.rawTransaction as Hex,
            hash: signed.hash as Hex,
            from: expected,
            type: transaction.type,
            signature: { r: signature.r, s: signature.s, yParity: signature.yParity, ...(signature.v === undefined ? {} : { v: signature.v }) },
          }
        },
      }
    },
    signAuthorization(keyId: string, authorization: AuthorizationRequest, extra: Extra): PreparedSign<'sign.authorization', SignedAuthorization> {
      const { authorization: tuple, allowAnyChain } = normalizeAuthorizationRequest(authorization, 'authorization')
      const wire = { ...authorizationToWire(tuple), ...(allowAnyChain ? { allowAnyChain } : {}) }
      return { request: { op: 'sign.authorization', params: { keyId, authorization: wire, ...extra } }, verify: (signed, expected) => verifySignedAuthorization(tuple, signed, expected) }
    },
    signMessage(keyId: string, params: SignMessageParameters, extra: Extra): PreparedSign<'sign.message', SignMessageReturnType> {
      const p = assertObject(params, 'params', ['message'])
      if (p.message === undefined) fail('message', 'is required')
      const message = normalizePersonalMessage(p.message, 'message')
      return { request: { op: 'sign.message', params: { keyId, message, ...extra } }, verify: (signed, expected) => verifyMessageSignature(hashPersonalMessage(message), signed, expected) }
    },
    signTypedData(keyId: string, typedData: TypedDataDefinition, extra: Extra): PreparedSign<'sign.typedData', SignMessageReturnType> {
      const normalized = normalizeTypedData(typedData, 'typedData')
      return { request: { op: 'sign.typedData', params: { keyId, typedData: normalized, ...extra } }, verify: (signed, expected) => verifyMessageSignature(hashTypedData(normalized), signed, expected) }
    },
    signDigest(keyId: string, digest: Hex | Uint8Array, extra: Extra): PreparedSign<'sign.digest', SignMessageReturnType> {
      const d = digest instanceof Uint8Array ? assertHex(bytesToHex(digest), 'digest', 32) : assertHex(digest, 'digest', 32)
      return { request: { op: 'sign.digest', params: { keyId, digest: d, ...extra } }, verify: (signed, expected) => verifyMessageSignature(d, signed, expected) }
    },
  }
}
