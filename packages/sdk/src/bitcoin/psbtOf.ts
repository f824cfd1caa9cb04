import { fail, typeName } from '../utils/assert.js'
import type { PsbtInput } from './types.js'

/**
 * The PSBT bytes or base64 of a {@link PsbtInput}: a string or bytes as given (the custody client checks them),
 * a @scure/btc-signer `Transaction` through `toPSBT(0)`, a bitcoinjs-lib `Psbt` through `toBase64()`.
 *
 * @param psbt - The PSBT in any accepted shape.
 * @param field - The field errors name. @default 'psbt'
 * @returns What `signBitcoinPsbt` takes.
 * @throws InvalidArgumentError naming `field` for anything else, or an export that throws or is not bytes/base64.
 */
export function psbtOf(psbt: PsbtInput, field = 'psbt'): string | Uint8Array {
  if (typeof psbt === 'string' || psbt instanceof Uint8Array) return psbt
  if (typeof psbt !== 'object' || psbt === null) return fail(field, `must be base64, bytes, a bitcoinjs-lib Psbt or a @scure/btc-signer Transaction (got ${typeName(psbt)})`)
  let exported: unknown
  let via: string
  try {
    if (typeof (psbt as { toPSBT?: unknown }).toPSBT === 'function') {
      via = 'toPSBT(0)'
      exported = (psbt as { toPSBT(version?: number): Uint8Array }).toPSBT(0)
    } else if (typeof (psbt as { toBase64?: unknown }).toBase64 === 'function') {
      via = 'toBase64()'
      exported = (psbt as { toBase64(): string }).toBase64()
    } else {
      return fail(field, 'must be base64, bytes, a bitcoinjs-lib Psbt (toBase64) or a @scure/btc-signer Transaction (toPSBT)')
    }
  } catch (cause) {
    return fail(field, `could not be exported as a version 0 PSBT (${cause instanceof Error ? cause.message : 'it threw'})`)
  }
  if (typeof exported !== 'string' && !(exported instanceof Uint8Array)) fail(field, `${via} returned ${typeName(exported)}, not a PSBT`)
  return exported
}
