import { fail, typeName } from '../utils/assert.js'

/** The static side of bitcoinjs-lib's `Psbt` the helper uses. */
export type BitcoinjsPsbtClass<T, O> = { fromBase64(data: string, opts?: O): T }

/**
 * A signed PSBT (base64, as `signPsbt` returns it) as a bitcoinjs-lib `Psbt`, without bitcoinjs-lib being a
 * dependency of the SDK: pass its `Psbt` class.
 *
 * @param psbt - The PSBT, base64.
 * @param Psbt - bitcoinjs-lib's `Psbt` class (anything with a static `fromBase64`).
 * @param opts - Options for `Psbt.fromBase64` (`{ network }`).
 * @returns `Psbt.fromBase64(psbt, opts)`.
 * @throws InvalidArgumentError on `Psbt` when it has no `fromBase64`.
 * @example
 * import { Psbt, networks } from 'bitcoinjs-lib'
 * import { toBitcoinjsPsbt } from '@enclave-custody/sdk/bitcoin'
 *
 * const signed = toBitcoinjsPsbt(await signer.signPsbt(psbt), Psbt, { network: networks.bitcoin })
 * signed.finalizeAllInputs()
 * const tx = signed.extractTransaction()
 */
export function toBitcoinjsPsbt<T, O = unknown>(psbt: string, Psbt: BitcoinjsPsbtClass<T, O>, opts?: O): T {
  if (typeof psbt !== 'string') fail('psbt', `must be base64 (got ${typeName(psbt)})`)
  if (typeof Psbt?.fromBase64 !== 'function') fail('Psbt', `must be bitcoinjs-lib's Psbt class (got ${typeName(Psbt)})`)
  return opts === undefined ? Psbt.fromBase64(psbt) : Psbt.fromBase64(psbt, opts)
}
