import { isCustodyError } from '@enclave-custody/sdk'
import { describe, expect, test } from 'vitest'
import { parseEtherValue } from '../lambda/parseEtherValue.js'

const WEI = 10n ** 18n

describe('parseEtherValue', () => {
  test.each([
    ['0.01', 10n ** 16n],
    ['0', 0n],
    ['1', WEI],
    ['123.456', 123_456n * 10n ** 15n],
    ['0.000000000000000001', 1n],
    ['115792089237316195423570985008687907853269984665640564039457.584007913129639935', 2n ** 256n - 1n],
    [0.01, 10n ** 16n],
    [0, 0n],
    [1, WEI],
    [0.3, 3n * 10n ** 17n],
    [1.5, 15n * 10n ** 17n],
    [123456789.123456, 123456789123456n * 10n ** 12n],
    [100000000000000, 10n ** 14n * WEI],
  ])('%o ether is exactly %s wei', (input, wei) => {
    expect(parseEtherValue(input, 'value')).toBe(wei)
  })

  test.each([
    [1e-7, /written with an exponent/],
    [1e21, /written with an exponent/],
    [0.1 + 0.2, /more digits than a floating-point number holds exactly/],
    [1 / 3, /more digits than a floating-point number holds exactly/],
    [2 ** 60, /more digits than a floating-point number holds exactly/],
    [-1, /must be a finite, non-negative amount/],
    [Number.NaN, /must be a finite, non-negative amount/],
    [Number.POSITIVE_INFINITY, /must be a finite, non-negative amount/],
    ['1e-7', /no sign, exponent or spaces/],
    ['0.1e1', /no sign, exponent or spaces/],
    ['-0.01', /no sign, exponent or spaces/],
    ['+1', /no sign, exponent or spaces/],
    [' 1', /no sign, exponent or spaces/],
    ['.5', /no sign, exponent or spaces/],
    ['1.', /no sign, exponent or spaces/],
    ['01', /no sign, exponent or spaces/],
    ['0x10', /no sign, exponent or spaces/],
    ['0.0000000000000000001', /at most 18 decimals/],
    ['', /no sign, exponent or spaces/],
    [10n, /got bigint/],
    [null, /got null/],
    [undefined, /got undefined/],
    [[1], /got array/],
    [{ value: 1 }, /got object/],
    [true, /got boolean/],
  ])('refuses %o', (input, message) => {
    let error: unknown
    try {
      parseEtherValue(input, 'transaction_payload.value')
    } catch (e) {
      error = e
    }
    expect(isCustodyError(error, 'INVALID_ARGUMENT')).toBe(true)
    expect((error as Error).message).toMatch(/^"transaction_payload\.value" /)
    expect((error as Error).message).toMatch(message)
  })

  test('error messages', () => {
    expect(() => parseEtherValue(0.1 + 0.2, 'value')).toThrowErrorMatchingInlineSnapshot(`[InvalidArgumentError: "value" is the number 0.30000000000000004, with more digits than a floating-point number holds exactly (likely arithmetic noise); send the amount as a decimal string]`)
    expect(() => parseEtherValue(1e-7, 'value')).toThrowErrorMatchingInlineSnapshot(`[InvalidArgumentError: "value" is the number 1e-7, written with an exponent; send the amount as a decimal string such as "0.01"]`)
    expect(() => parseEtherValue('1e-7', 'value')).toThrowErrorMatchingInlineSnapshot(`[InvalidArgumentError: "value" must be a non-negative decimal ether amount with at most 18 decimals, such as "0.01" (no sign, exponent or spaces)]`)
  })
})
