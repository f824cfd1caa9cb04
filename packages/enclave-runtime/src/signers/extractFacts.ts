import type { PolicyFacts } from '@enclave-custody/sdk'
import type { Operation, OperationParams, ParsedRequest } from '@enclave-custody/sdk/protocol'
import { authorizationFacts } from './authorizationFacts.js'
import { hashFacts } from './hashFacts.js'
import { messageFacts } from './messageFacts.js'
import { transactionFacts } from './transactionFacts.js'
import { typedDataFacts } from './typedDataFacts.js'

/** The operations that sign a payload: every `sign.*` operation of the protocol. */
export type SigningOperation = Extract<Operation, `sign.${string}`>

/** Reads the policy facts of one signing operation's validated params; throws when they cannot be read. */
export type FactExtractor<O extends SigningOperation> = (params: OperationParams<O>) => PolicyFacts

/**
 * The fact extractor of each signing operation: the one place a payload kind (or, later, a chain family's
 * operation) registers how its facts are read. Its type requires an entry for every `sign.*` operation, so a
 * new signing operation does not compile until it says what its payload's facts are.
 */
export const FACT_EXTRACTORS: Readonly<{ [O in SigningOperation]: FactExtractor<O> }> = Object.freeze({
  'sign.eip1559': (params) => transactionFacts(params.tx),
  'sign.transaction': (params) => transactionFacts(params.tx.transaction),
  'sign.authorization': (params) => authorizationFacts(params.authorization.authorization),
  'sign.message': (params) => messageFacts(params.message),
  'sign.typedData': (params) => typedDataFacts(params.typedData),
  'sign.digest': (params) => hashFacts(params.digest),
})

/**
 * The policy facts of a validated request's payload, read by the extractor {@link FACT_EXTRACTORS} registers
 * for its operation. No payload is signed when its facts cannot be extracted: an extractor's error (an
 * `InvalidArgumentError` naming the field, e.g. `tx.data` for an ERC-20 call whose arguments do not decode
 * strictly) is the request's answer.
 *
 * @param req - A request whose params passed their schema (`parseParams`).
 * @returns The facts (absent facts have no key; `signer` is the handler's to add), or `undefined` for an
 *   operation that signs nothing (`key.*`, `system.*`, `audit.*`).
 * @throws InvalidArgumentError when the payload's facts cannot be extracted.
 * @example
 * const facts = extractFacts(parseParams(envelope))
 * if (facts !== undefined) decide(policy, { ...facts, signer: caller })
 */
export function extractFacts(req: ParsedRequest): PolicyFacts | undefined {
  if (!Object.hasOwn(FACT_EXTRACTORS, req.op)) return undefined
  const extract = FACT_EXTRACTORS[req.op as SigningOperation] as (params: unknown) => PolicyFacts
  return extract(req.params)
}
