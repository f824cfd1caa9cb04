import { fail, typeName } from './assert.js'

export const MAX_UINT256 = (1n << 256n) - 1n
/** EIP-2681: a nonce is below 2^64 - 1. */
export const MAX_NONCE = (1n << 64n) - 2n

/** What callers may pass for an integer quantity: never a floating-point number. */
export type QuantityInput = bigint | number | string

const DECIMAL_RE = /^(?:0|[1-9][0-9]*)$/

/**
 * Normalise a quantity to bigint: a bigint, a safe integer number or a decimal string.
 * Refuses negatives, fractions, floats, hex, exponents and anything above `max`.
 */
export function toQuantity(value: unknown, field: string, { min = 0n, max = MAX_UINT256 } = {}): bigint {
  let n: bigint
  if (typeof value === 'bigint') n = value
  else if (typeof value === 'number') {
    if (!Number.isFinite(value)) fail(field, 'must be a finite integer')
    if (!Number.isInteger(value)) fail(field, 'must be an integer, not a floating-point number')
    if (!Number.isSafeInteger(value)) fail(field, 'is above Number.MAX_SAFE_INTEGER; pass a bigint or a decimal string')
    n = BigInt(value)
  } else if (typeof value === 'string') {
    if (value.length > 100) fail(field, 'must be a decimal string of at most 78 digits')
    if (value.startsWith('-')) fail(field, 'must not be negative')
    if (!DECIMAL_RE.test(value)) {
      if (/^[0-9]*\.[0-9]*$/.test(value) || /[eE]/.test(value)) fail(field, 'must be an integer decimal string (no fraction or exponent)')
      fail(field, 'must be a decimal integer string without leading zeros, sign or 0x')
    }
    n = BigInt(value)
  } else fail(field, `must be a bigint, a safe integer or a decimal string (got ${typeName(value)})`)
  if (n < 0n) fail(field, 'must not be negative')
  if (n < min) fail(field, `must be at least ${min}`)
  if (n > max) fail(field, max === MAX_UINT256 ? 'must be at most 2^256-1' : max === MAX_NONCE ? 'must be at most 2^64-2' : `must be at most ${max}`)
  return n
}
