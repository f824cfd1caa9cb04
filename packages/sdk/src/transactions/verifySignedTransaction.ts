import { IntegrityError } from '../errors/CustodyError.js'
import type { Address } from '../utils/address.js'
import { type ParsedSignedTransaction, parseSignedTransaction, serializeTransactionSigned, serializeTransactionUnsigned } from './serialize.js'
import type { Transaction, TransactionType } from './transaction.js'

/** A signed transaction as the backend reports it (`v` as a decimal string, legacy only). */
export type SignedTransactionReport = {
  rawTransaction: string
  hash: string
  from: string
  type?: TransactionType
  signature: { r: string; s: string; yParity: 0 | 1; v?: string }
}

/**
 * Check a signed result against what was asked: it parses strictly as a transaction of the requested
 * type holding exactly the requested fields, its bytes are the canonical serialization of those fields
 * with its signature, the signature is low-s and recovers to `expected`, and `type`, `hash`, `from` and
 * `signature` (with `v` for legacy) agree with the bytes. Defence against a faulty or hostile backend.
 *
 * @param requested - The normalised transaction that was sent for signing.
 * @param signed - The backend's answer.
 * @param expected - The key's address.
 * @returns The parsed transaction.
 * @throws IntegrityError naming the first disagreement.
 * @example
 * verifySignedTransaction(transaction, await backendSign(transaction), keyAddress)
 */
export function verifySignedTransaction(requested: Transaction, signed: SignedTransactionReport, expected: Address): ParsedSignedTransaction {
  let parsed: ParsedSignedTransaction
  try {
    parsed = parseSignedTransaction(signed.rawTransaction)
  } catch (e) {
    throw new IntegrityError({ reason: `rawTransaction does not parse: ${(e as Error).message}` })
  }
  if (parsed.tx.type !== requested.type) throw new IntegrityError({ reason: `rawTransaction is a ${parsed.tx.type} transaction, not ${requested.type}` })
  if (signed.type !== undefined && signed.type !== requested.type) throw new IntegrityError({ reason: '"type" does not match rawTransaction' })
  if (serializeTransactionUnsigned(parsed.tx).unsignedSerialized !== serializeTransactionUnsigned(requested).unsignedSerialized) {
    throw new IntegrityError({ reason: 'rawTransaction does not hold the requested transaction fields' })
  }
  if (serializeTransactionSigned(requested, parsed.signature).rawTransaction !== signed.rawTransaction.toLowerCase()) {
    throw new IntegrityError({ reason: 'rawTransaction is not the canonical encoding of the requested transaction' })
  }
  if (parsed.from.toLowerCase() !== expected.toLowerCase()) {
    throw new IntegrityError({ reason: 'rawTransaction is not signed by the key', details: { expected, recovered: parsed.from } })
  }
  if (signed.from.toLowerCase() !== expected.toLowerCase()) throw new IntegrityError({ reason: '"from" does not match the key address' })
  if (parsed.hash !== signed.hash.toLowerCase()) throw new IntegrityError({ reason: '"hash" does not match rawTransaction' })
  const sig = parsed.signature
  const reported = signed.signature
  const v = sig.v === undefined ? undefined : sig.v.toString()
  if (sig.r !== reported.r || sig.s !== reported.s || sig.yParity !== reported.yParity || v !== reported.v) {
    throw new IntegrityError({ reason: '"signature" does not match rawTransaction' })
  }
  return parsed
}
