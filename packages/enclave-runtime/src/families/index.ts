import type { ParsedRequest } from '@enclave-custody/sdk/protocol'
import type { PolicyFacts } from '@enclave-custody/sdk'
import { BITCOIN_OPERATIONS } from './bitcoin/operations.js'
import { EVM_OPERATIONS } from './evm/operations.js'
import { SOLANA_OPERATIONS } from './solana/operations.js'
import type { SigningKey, SigningOperation, SigningOperationSpec, SigningOperations } from './types.js'

export type { SigningCurve, SigningFamily, SigningKey, SigningOperation, SigningOperationSpec, SigningOperations, SigningSecret } from './types.js'

/**
 * Every signing operation the enclave serves, by chain family: the one table a family registers in (its folder
 * exports its operations; one line here). The handler dispatches through it; its type requires a spec for every
 * `sign.*` operation of the protocol, so an operation cannot be added without its facts and its signer.
 */
export const SIGNING_OPERATIONS: SigningOperations = Object.freeze({
  ...EVM_OPERATIONS,
  ...BITCOIN_OPERATIONS,
  ...SOLANA_OPERATIONS,
})

/** The spec of `op`, when it is a signing operation (looked up as an own property: never a prototype's). */
export function signingOperationOf(op: string): SigningOperationSpec<SigningOperation> | undefined {
  return Object.hasOwn(SIGNING_OPERATIONS, op) ? (SIGNING_OPERATIONS[op as SigningOperation] as unknown as SigningOperationSpec<SigningOperation>) : undefined
}

/**
 * The policy facts of a validated request's payload, read by its operation's spec. No payload is signed when its
 * facts cannot be extracted: the spec's error (an `InvalidArgumentError` naming the field, e.g. `tx.data` for an
 * ERC-20 call whose arguments do not decode strictly) is the request's answer.
 *
 * @param key - The key that will sign (the handler passes the unsealed key; EVM facts do not read it).
 * @returns The facts (absent facts have no key; `signer` is the handler's to add), or `undefined` for an
 *   operation that signs nothing (`key.*`, `policy.*`, `system.*`, `audit.*`).
 * @throws InvalidArgumentError when the payload's facts cannot be extracted.
 * @example
 * const facts = extractFacts(parseParams(envelope), key)
 */
export function extractFacts(req: ParsedRequest, key?: SigningKey): PolicyFacts | undefined {
  // EVM facts read the payload alone; a family whose facts need the key (Bitcoin's change) gets the unsealed one.
  return signingOperationOf(req.op)?.facts(req.params as never, key as SigningKey)
}
