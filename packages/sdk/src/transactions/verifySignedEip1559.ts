import type { SignedTransactionWire } from '../protocol/messages.js'
import type { Address } from '../utils/address.js'
import type { Eip1559Transaction } from './eip1559.js'
import { verifySignedTransaction } from './verifySignedTransaction.js'

/**
 * Check a signed result against what was asked: it parses strictly as a type-2 transaction with exactly
 * the requested fields, its signature is low-s, its sender recovers to `expected`, and `hash`, `from` and
 * `signature` agree with the raw bytes. Defence against a faulty or hostile backend.
 *
 * @throws IntegrityError
 */
export function verifySignedEip1559(requested: Eip1559Transaction, signed: SignedTransactionWire, expected: Address): void {
  verifySignedTransaction({ ...requested, type: 'eip1559' }, signed, expected)
}
