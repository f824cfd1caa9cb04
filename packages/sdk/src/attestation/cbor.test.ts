import { describe, expect, it } from 'vitest'
import { CborDecodeError, CborTag, decodeCbor } from './cbor.js'

const h = (hex: string) => Uint8Array.from(Buffer.from(hex.replaceAll(' ', ''), 'hex'))

describe('decodeCbor', () => {
  it.each([
    ['00', 0],
    ['17', 23],
    ['1818', 24],
    ['190100', 256],
    ['1a000f4240', 1_000_000],
    ['1b00000183cc75a701', 1665582606081],
    ['1b001fffffffffffff', Number.MAX_SAFE_INTEGER],
    ['1b0020000000000000', 2n ** 53n],
    ['1bffffffffffffffff', 2n ** 64n - 1n],
    ['20', -1],
    ['3822', -35],
    ['3bffffffffffffffff', -(2n ** 64n)],
    ['f4', false],
    ['f5', true],
    ['f6', null],
    ['6449455446', 'IETF'],
    ['62c3bc', 'ü'],
    ['80', []],
    ['83010203', [1, 2, 3]],
  ])('decodes %s', (hex, expected) => {
    expect(decodeCbor(h(hex))).toEqual(expected)
  })

  it('decodes byte strings as plain Uint8Array copies, also from a Buffer', () => {
    for (const input of [h('4401020304'), Buffer.from('4401020304', 'hex')]) {
      const out = decodeCbor(input) as Uint8Array
      expect(Buffer.isBuffer(out)).toBe(false)
      expect([...out]).toEqual([1, 2, 3, 4])
      input[1] = 9
      expect(out[0]).toBe(1)
    }
  })

  it('decodes maps with integer and text keys, and tags', () => {
    expect(decodeCbor(h('a1013822'))).toEqual(new Map([[1, -35]]))
    expect(decodeCbor(h('a2616101616202'))).toEqual(
      new Map([
        ['a', 1],
        ['b', 2],
      ]),
    )
    const tagged = decodeCbor(h('d28101'))
    expect(tagged).toBeInstanceOf(CborTag)
    expect(tagged).toEqual(new CborTag(18, [1]))
  })

  it.each([
    ['empty input', '', /unexpected end of input/],
    ['trailing bytes', '0000', /1 trailing byte/],
    ['indefinite array', '9f01ff', /indefinite-length/],
    ['indefinite byte string', '5f4101ff', /indefinite-length/],
    ['a lone break', 'ff', /unexpected "break"/],
    ['a half float', 'f93c00', /floating-point/],
    ['a double', 'fb3ff0000000000000', /floating-point/],
    ['undefined', 'f7', /unsupported simple value/],
    ['a simple value', 'f820', /unsupported simple value/],
    ['reserved additional info', '1c', /reserved additional information 28/],
    ['a truncated head', '19 01', /unexpected end of input/],
    ['a byte string longer than the input', '4501', /runs past the end/],
    ['an array count larger than the input', '9b00000000ffffffff', /runs past the end/],
    ['invalid UTF-8', '62c328', /invalid UTF-8/],
    ['a duplicate map key', 'a201010102', /duplicate map key/],
    ['an array map key', 'a18001', /not an integer or text string/],
    ['a byte-string map key', 'a1410001', /not an integer or text string/],
    ['a huge tag number', 'db000000010000000001', /tag number too large/],
  ])('rejects %s', (_name, hex, message) => {
    expect(() => decodeCbor(h(hex))).toThrow(CborDecodeError)
    expect(() => decodeCbor(h(hex))).toThrow(message)
  })

  it('limits nesting depth', () => {
    const deep = h(`${'81'.repeat(17)}00`)
    expect(() => decodeCbor(deep)).toThrow(/nesting deeper than 16/)
    expect(decodeCbor(deep, { maxDepth: 17 })).toBeDefined()
  })
})
