import { InvalidArgumentError, parseEther } from '@enclave-custody/sdk'

const DECIMAL = /^(?:0|[1-9][0-9]*)(?:\.[0-9]{1,18})?$/
/** Decimal digits a double holds exactly (DBL_DIG): any decimal this short survives the trip through a number. */
const EXACT_DIGITS = 15

/**
 * Parse the sample's `value` (ether) into wei without ever doing floating-point arithmetic. A string
 * must be a plain decimal with at most 18 decimals. A JSON number is taken through its shortest
 * decimal form (`String(n)`, which round-trips) and accepted only when that form is a plain decimal
 * with at most 15 significant digits and 18 decimals: then it is exactly the decimal the caller wrote.
 * `0.01` passes; `1e-7` (exponent), `0.1 + 0.2` (= 0.30000000000000004) and integers beyond 15 digits
 * are refused with a request to send a decimal string.
 *
 * @param value The payload's `value`.
 * @param field Field name for the error.
 * @returns Wei.
 * @throws InvalidArgumentError naming `field`.
 * @example
 * parseEtherValue('0.01', 'value') // 10000000000000000n
 * parseEtherValue(0.01, 'value')   // 10000000000000000n
 */
export function parseEtherValue(value: unknown, field: string): bigint {
  if (typeof value === 'string') {
    if (!DECIMAL.test(value)) throw new InvalidArgumentError({ field, rule: 'must be a non-negative decimal ether amount with at most 18 decimals, such as "0.01" (no sign, exponent or spaces)' })
    return parseEther(value, field)
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new InvalidArgumentError({ field, rule: 'must be a finite, non-negative amount' })
    const text = String(value)
    if (/e/i.test(text)) throw new InvalidArgumentError({ field, rule: `is the number ${text}, written with an exponent; send the amount as a decimal string such as "0.01"` })
    if (!DECIMAL.test(text)) throw new InvalidArgumentError({ field, rule: `is the number ${text}, which has more than 18 decimals; send the amount as a decimal string` })
    const significant = text.replace('.', '').replace(/^0+/, '').length
    if (significant > EXACT_DIGITS) {
      throw new InvalidArgumentError({ field, rule: `is the number ${text}, with more digits than a floating-point number holds exactly (likely arithmetic noise); send the amount as a decimal string` })
    }
    return parseEther(text, field)
  }
  throw new InvalidArgumentError({ field, rule: `must be a decimal string such as "0.01" or a JSON number (got ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value})` })
}
