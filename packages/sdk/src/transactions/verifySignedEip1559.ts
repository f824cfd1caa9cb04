import { IntegrityError } from '../errors/CustodyError.js'
import type { SignedTransactionWire } from '../protocol/messages.js'
import type { Address } from '../utils/address.js'
import type { Eip1559Transaction } from './eip1559.js'
import { type ParsedSignedEip1559, parseSignedEip1559, serializeEip1559Unsigned } from './serialize.js'

/**
 * Check a signed result against what was asked: it parses strictly as a type-2 transaction with exactly
 * the requested fields, its signature is low-s, its sender recovers to `expected`, and `hash`, `from` and
 * `signature` agree with the raw bytes. Defence against a faulty or hostile backend.
 *
 * @throws IntegrityError
 */
export function verifySignedEip1559(requested: Eip1559Transaction, signed: SignedTransactionWire, expected: Address): void {
  let parsed: ParsedSignedEip1559
  try {
    parsed = parseSignedEip1559(signed.rawTransaction)
  } catch (e) {
    throw new IntegrityError({ reason: `rawTransaction does not parse: ${(e as Error).message}` })
  }
  if (serializeEip1559Unsigned(parsed.tx).unsignedSerialized !== serializeEip1559Unsigned(requested).unsignedSerialized) {
    throw new IntegrityError({ reason: 'rawTransaction does not hold the requested transaction fields' })
  }
  if (parsed.from.toLowerCase() !== expected.toLowerCase()) {
    throw new IntegrityError({ reason: 'rawTransaction is not signed by the key', details: { expected, recovered: parsed.from } })
  }
  if (signed.from.toLowerCase() !== expected.toLowerCase()) throw new IntegrityError({ reason: '"from" does not match the key address' })
  if (parsed.hash !== signed.hash.toLowerCase()) throw new IntegrityError({ reason: '"hash" does not match rawTransaction' })
  const sig = parsed.signature
  if (sig.r !== signed.signature.r || sig.s !== signed.signature.s || sig.yParity !== signed.signature.yParity) {
    throw new IntegrityError({ reason: '"signature" does not match rawTransaction' })
  }
}
