import { Transaction } from 'ethers'
import { IntegrityError } from '../errors/CustodyError.js'
import type { SignedTransactionWire } from '../protocol/messages.js'
import type { Address } from '../utils/address.js'
import { SECP256K1_N } from '../utils/privateKey.js'
import type { Eip1559Transaction } from './eip1559.js'
import { serializeEip1559Unsigned } from './serialize.js'

/**
 * Check a signed result against what was asked: it parses as a type-2 transaction with exactly the
 * requested fields, its signature is low-s, its sender recovers to `expected`, and `hash`, `from` and
 * `signature` agree with the raw bytes. Defence against a faulty or hostile backend.
 *
 * @throws IntegrityError
 */
export function verifySignedEip1559(requested: Eip1559Transaction, signed: SignedTransactionWire, expected: Address): void {
  let parsed: Transaction
  try {
    parsed = Transaction.from(signed.rawTransaction)
  } catch {
    throw new IntegrityError({ reason: 'rawTransaction does not parse as a transaction' })
  }
  if (parsed.type !== 2) throw new IntegrityError({ reason: `rawTransaction has type ${parsed.type}, expected 2` })
  if (parsed.unsignedSerialized !== serializeEip1559Unsigned(requested).unsignedSerialized) {
    throw new IntegrityError({ reason: 'rawTransaction does not hold the requested transaction fields' })
  }
  let sig: NonNullable<Transaction['signature']>
  let from: string | null
  try {
    // ethers refuses a high-s value when it is read; treat that like any other bad signature.
    const signature = parsed.signature
    if (!signature) throw new IntegrityError({ reason: 'rawTransaction is unsigned' })
    if (BigInt(signature.s) > SECP256K1_N / 2n) throw new IntegrityError({ reason: 'signature is not low-s' })
    sig = signature
    from = parsed.from
  } catch (e) {
    if (e instanceof IntegrityError) throw e
    throw new IntegrityError({ reason: 'signature is invalid or not low-s' })
  }
  if (!from) throw new IntegrityError({ reason: 'rawTransaction is unsigned' })
  if (from.toLowerCase() !== expected.toLowerCase()) {
    throw new IntegrityError({ reason: 'rawTransaction is not signed by the key', details: { expected, recovered: from } })
  }
  if (signed.from.toLowerCase() !== expected.toLowerCase()) throw new IntegrityError({ reason: '"from" does not match the key address' })
  if (parsed.hash !== signed.hash) throw new IntegrityError({ reason: '"hash" does not match rawTransaction' })
  if (sig.r !== signed.signature.r || sig.s !== signed.signature.s || sig.yParity !== signed.signature.yParity) {
    throw new IntegrityError({ reason: '"signature" does not match rawTransaction' })
  }
}
