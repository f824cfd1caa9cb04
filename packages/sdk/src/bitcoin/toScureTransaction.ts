import { base64 } from '@scure/base'
import { fail, typeName } from '../utils/assert.js'

/** The static side of @scure/btc-signer's `Transaction` the helper uses. */
export type ScureTransactionClass<T, O> = { fromPSBT(psbt: Uint8Array, opts?: O): T }

/**
 * A signed PSBT (base64, as `signPsbt` returns it) as a @scure/btc-signer `Transaction`: pass its `Transaction`
 * class (the one of your own copy of the library, so that `instanceof` and its options stay yours).
 *
 * @param psbt - The PSBT, base64.
 * @param Transaction - @scure/btc-signer's `Transaction` class (anything with a static `fromPSBT`).
 * @param opts - Options for `Transaction.fromPSBT` (e.g. `{ allowUnknownOutputs: true }`).
 * @returns `Transaction.fromPSBT(bytes, opts)`.
 * @throws InvalidArgumentError on `Transaction` when it has no `fromPSBT`, on `psbt` when it is not base64.
 * @example
 * import { Transaction } from '@scure/btc-signer'
 * import { toScureTransaction } from '@enclave-custody/sdk/bitcoin'
 *
 * const signed = toScureTransaction(await signer.signPsbt(tx), Transaction)
 * signed.finalize()
 * const raw = signed.extract()
 */
export function toScureTransaction<T, O = unknown>(psbt: string, Transaction: ScureTransactionClass<T, O>, opts?: O): T {
  if (typeof psbt !== 'string') fail('psbt', `must be base64 (got ${typeName(psbt)})`)
  if (typeof Transaction?.fromPSBT !== 'function') fail('Transaction', `must be @scure/btc-signer's Transaction class (got ${typeName(Transaction)})`)
  let bytes: Uint8Array
  try {
    bytes = base64.decode(psbt)
  } catch {
    return fail('psbt', 'must be padded base64')
  }
  return opts === undefined ? Transaction.fromPSBT(bytes) : Transaction.fromPSBT(bytes, opts)
}
