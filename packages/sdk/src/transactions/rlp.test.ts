import { describe, expect, it } from 'vitest'
import { bytesToHex, hexToBytes } from '../utils/hex.js'
import { decodeRlp, encodeRlp, type RlpItem } from './rlp.js'

const b = (hex: string) => hexToBytes(hex)
/** `depth` lists, each holding the next one, innermost empty. */
const nested = (depth: number) => {
  let out = 'c0'
  for (let i = 1; i < depth; i++) out = `${(0xc0 + out.length / 2).toString(16)}${out}`
  return `0x${out}`
}
const hex = (item: RlpItem): unknown => (item instanceof Uint8Array ? bytesToHex(item) : item.map(hex))

describe('RLP', () => {
  // Examples of the Ethereum wiki / Yellow Paper appendix B.
  it.each([
    ['the empty string', b(''), '0x80'],
    ['a single byte below 0x80', b('0f'), '0x0f'],
    ['a single byte 0x80', b('80'), '0x8180'],
    ['"dog"', b('646f67'), '0x83646f67'],
    ['a 55-byte string', b('aa'.repeat(55)), `0xb7${'aa'.repeat(55)}`],
    ['a 56-byte string', b('aa'.repeat(56)), `0xb838${'aa'.repeat(56)}`],
    ['a 1024-byte string', b('aa'.repeat(1024)), `0xb90400${'aa'.repeat(1024)}`],
    ['the empty list', [], '0xc0'],
    ['["cat","dog"]', [b('636174'), b('646f67')], '0xc88363617483646f67'],
    ['16 nested lists', [[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]], nested(16)],
    ['the set-theoretic three', [[], [[]], [[], [[]]]], '0xc7c0c1c0c3c0c1c0'],
    ['a long list', Array(60).fill(b('01')), `0xf83c${'01'.repeat(60)}`],
  ] as const)('encodes and decodes %s', (_, item, encoded) => {
    expect(bytesToHex(encodeRlp(item as RlpItem))).toBe(encoded)
    expect(hex(decodeRlp(b(encoded.slice(2))))).toEqual(hex(item as RlpItem))
  })

  it.each([
    ['empty input', '', 'RLP input ends early'],
    ['trailing bytes', '0x8000', 'trailing bytes after the RLP item'],
    ['a wrapped single byte', '0x8105', 'RLP single byte below 0x80 must not be wrapped'],
    ['the long form for a short string', `0xb801${'aa'}`, 'RLP long form used for a short length'],
    ['a length with a leading zero', `0xb90038${'aa'.repeat(56)}`, 'RLP length has leading zeros'],
    ['a string longer than the input', '0x83aabb', 'RLP input ends early'],
    ['a list longer than the input', '0xc3c0', 'RLP input ends early'],
    ['a child overrunning its list', '0xc28300', 'RLP input ends early'],
    ['nesting deeper than 16', nested(18), 'RLP item nested too deeply'],
  ])('refuses %s', (_, input, message) => {
    expect(() => decodeRlp(b(input.replace(/^0x/, '')))).toThrowError(message)
  })
})
