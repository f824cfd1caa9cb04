import { IntegrityError } from '../errors/CustodyError.js'
import type { Address } from '../utils/address.js'
import { type Hex, hexToBytes } from '../utils/hex.js'
import { SECP256K1_N } from '../utils/privateKey.js'
import { legacyV, type ParsedSignedTransaction, parseSignedTransaction, serializeTransactionSigned, serializeTransactionUnsigned } from './serialize.js'
import { recoverAddress } from './signature.js'
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
 * The usual answer is checked the cheap way (`acceptAsBuilt`: the SDK builds the signed encoding from the
 * requested fields and the reported signature and requires the same bytes, then recovers over its own digest);
 * anything that way does not accept goes through the strict parser, which accepts or refuses it with the precise
 * reason. Both accept exactly the same answers (verifySignedTransaction.test.ts compares them).
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
  return acceptAsBuilt(requested, signed, expected) ?? verifySignedTransactionStrictly(requested, signed, expected)
}

const HALF_N = SECP256K1_N / 2n
const SCALAR = /^0x[0-9a-f]{64}$/

/**
 * The cheap check: the answer is exactly what the SDK builds from the requested fields and the reported signature
 * (lower-case, canonical 32-byte scalars, `v` as legacy transactions carry it), the signature is in range and
 * low-s, and it recovers over the SDK's own digest to `expected`. Returns the parsed form, or undefined when any
 * of that does not hold — then the strict parser decides (and names the reason). It never accepts what the strict
 * check refuses: every check of that one holds for bytes the SDK serialised itself from the normalised request.
 */
export function acceptAsBuilt(requested: Transaction, signed: SignedTransactionReport, expected: Address): ParsedSignedTransaction | undefined {
  const { r, s, yParity, v } = signed.signature
  if (signed.type !== undefined && signed.type !== requested.type) return undefined
  if ((yParity !== 0 && yParity !== 1) || typeof r !== 'string' || typeof s !== 'string' || !SCALAR.test(r) || !SCALAR.test(s)) return undefined
  const rn = BigInt(r)
  const sn = BigInt(s)
  if (rn === 0n || rn >= SECP256K1_N || sn === 0n || sn > HALF_N) return undefined
  const legacy = requested.type === 'legacy' ? legacyV(requested.chainId, yParity) : undefined
  if (v !== legacy?.toString()) return undefined
  const signature = { r: r as Hex, s: s as Hex, yParity }
  const built = serializeTransactionSigned(requested, signature)
  if (signed.rawTransaction !== built.rawTransaction || signed.hash !== built.hash) return undefined
  if (typeof signed.from !== 'string' || signed.from.toLowerCase() !== expected.toLowerCase()) return undefined
  const { unsignedHash } = serializeTransactionUnsigned(requested)
  let from: Address
  try {
    from = recoverAddress(hexToBytes(unsignedHash), { r: rn, s: sn, yParity })
  } catch {
    return undefined
  }
  if (from.toLowerCase() !== expected.toLowerCase()) return undefined
  return { tx: requested, signature: legacy === undefined ? signature : { ...signature, v: legacy }, from, unsignedHash, hash: built.hash }
}

/**
 * The strict check of {@link verifySignedTransaction}: parse the raw bytes strictly and compare every part with the
 * request and the report, naming the first disagreement.
 *
 * @throws IntegrityError naming the first disagreement.
 */
export function verifySignedTransactionStrictly(requested: Transaction, signed: SignedTransactionReport, expected: Address): ParsedSignedTransaction {
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
