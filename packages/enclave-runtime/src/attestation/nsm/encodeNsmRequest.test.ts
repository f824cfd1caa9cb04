/**
 * Golden NSM request bytes, derived by hand from RFC 8949 and the serde encoding of
 * aws-nitro-enclaves-nsm-api's `Request` enum (serde_cbor, as its driver uses):
 *   - a struct variant is a map of one entry, variant name → map of the fields in declaration order;
 *   - a unit variant is its name as a text string;
 *   - `Option<ByteBuf>`: `None` → null (f6), `Some(b)` → byte string; `u16` → unsigned integer.
 * Heads: text of n < 24 bytes is 0x60+n (e.g. "Attestation", 11 bytes → 6b), a map of n entries 0xa0+n,
 * bytes of n < 24 → 0x40+n, of 24..255 → 58 nn, of 256..65535 → 59 nnnn; integers 0..23 are the head
 * itself, 24..255 → 18 nn, 256..65535 → 19 nnnn. The ASCII of each name follows its head.
 */
import { InvalidArgumentError } from '@enclave-custody/sdk'
import { Decoder } from 'cbor-x'
import { describe, expect, it } from 'vitest'
import { encodeNsmRequest, NSM_ATTESTATION_LIMITS, type NsmRequest } from './encodeNsmRequest.js'

const hex = (s: string) => s.replace(/\s+/g, '')
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex')
/** An independent decoder, to cross-check the shape (maps stay Maps). */
const cbor = new Decoder({ mapsAsObjects: false, useRecords: false } as ConstructorParameters<typeof Decoder>[0])

describe('encodeNsmRequest: golden bytes', () => {
  it('GetRandom is the bare text "GetRandom"', () => {
    expect(toHex(encodeNsmRequest({ type: 'GetRandom' }))).toBe(hex('69 47657452616e646f6d'))
  })

  it('DescribePCR is {"DescribePCR": {"index": n}} with the shortest integer head', () => {
    const prefix = 'a1 6b 4465736372696265504352 a1 65 696e646578'
    expect(toHex(encodeNsmRequest({ type: 'DescribePCR', index: 0 }))).toBe(hex(`${prefix} 00`))
    expect(toHex(encodeNsmRequest({ type: 'DescribePCR', index: 16 }))).toBe(hex(`${prefix} 10`))
    expect(toHex(encodeNsmRequest({ type: 'DescribePCR', index: 23 }))).toBe(hex(`${prefix} 17`))
    expect(toHex(encodeNsmRequest({ type: 'DescribePCR', index: 24 }))).toBe(hex(`${prefix} 18 18`))
    expect(toHex(encodeNsmRequest({ type: 'DescribePCR', index: 65535 }))).toBe(hex(`${prefix} 19 ffff`))
  })

  it('Attestation with every field absent sends three nulls, in declaration order', () => {
    expect(toHex(encodeNsmRequest({ type: 'Attestation' }))).toBe(
      hex(`a1 6b 4174746573746174696f6e
           a3 69 757365725f64617461 f6
              65 6e6f6e6365 f6
              6a 7075626c69635f6b6579 f6`),
    )
  })

  it('Attestation with every field present: byte strings with 0-, 1- and 2-byte length heads', () => {
    const userData = Uint8Array.of(0x01, 0x02)
    const nonce = new Uint8Array(24).fill(0xaa)
    const publicKey = new Uint8Array(300).fill(0x30)
    expect(toHex(encodeNsmRequest({ type: 'Attestation', userData, nonce, publicKey }))).toBe(
      hex(`a1 6b 4174746573746174696f6e
           a3 69 757365725f64617461 42 0102
              65 6e6f6e6365 58 18 ${'aa'.repeat(24)}
              6a 7075626c69635f6b6579 59 012c ${'30'.repeat(300)}`),
    )
  })

  it('Attestation with an empty nonce sends an empty byte string, not null', () => {
    expect(toHex(encodeNsmRequest({ type: 'Attestation', nonce: new Uint8Array(0) }))).toBe(
      hex('a1 6b 4174746573746174696f6e a3 69 757365725f64617461 f6 65 6e6f6e6365 40 6a 7075626c69635f6b6579 f6'),
    )
  })

  it('an independent decoder reads the same structure back', () => {
    const publicKey = Uint8Array.of(1, 2, 3)
    const decoded = cbor.decode(Buffer.from(encodeNsmRequest({ type: 'Attestation', publicKey }))) as Map<string, Map<string, unknown>>
    expect([...decoded.keys()]).toEqual(['Attestation'])
    const fields = decoded.get('Attestation')!
    expect([...fields.keys()]).toEqual(['user_data', 'nonce', 'public_key'])
    expect(fields.get('user_data')).toBeNull()
    expect(fields.get('nonce')).toBeNull()
    expect(new Uint8Array(fields.get('public_key') as Uint8Array)).toEqual(publicKey)
    expect(cbor.decode(Buffer.from(encodeNsmRequest({ type: 'DescribePCR', index: 3 })))).toEqual(new Map([['DescribePCR', new Map([['index', 3]])]]))
  })

  it('copies its inputs: a later change to the caller’s array does not reach the encoding', () => {
    const nonce = Uint8Array.of(1, 2, 3)
    const bytes = encodeNsmRequest({ type: 'Attestation', nonce })
    nonce[0] = 9
    expect(toHex(bytes)).toContain('43010203')
  })

  it('stays within the driver limit at the largest allowed fields', () => {
    const bytes = encodeNsmRequest({
      type: 'Attestation',
      userData: new Uint8Array(NSM_ATTESTATION_LIMITS.userData.max),
      nonce: new Uint8Array(NSM_ATTESTATION_LIMITS.nonce.max),
      publicKey: new Uint8Array(NSM_ATTESTATION_LIMITS.publicKey.max),
    })
    // a1 + (6b+11) + a3 + (69+9) + (59 0200 + 512) + (65+5) + (59 0200 + 512) + (6a+10) + (59 0400 + 1024)
    expect(bytes.length).toBe(1 + 12 + 1 + 10 + 515 + 6 + 515 + 11 + 1027)
    expect(bytes.length).toBeLessThanOrEqual(0x1000)
  })
})

describe('encodeNsmRequest: invalid requests', () => {
  const bad: [string, unknown][] = [
    ['null', null],
    ['a string', 'GetRandom'],
    ['an unknown type', { type: 'ExtendPCR', index: 1, data: new Uint8Array(48) }],
    ['a lower-case type', { type: 'getRandom' }],
    ['a negative index', { type: 'DescribePCR', index: -1 }],
    ['a fractional index', { type: 'DescribePCR', index: 1.5 }],
    ['an index over u16', { type: 'DescribePCR', index: 65536 }],
    ['an index as string', { type: 'DescribePCR', index: '0' }],
    ['an index as bigint', { type: 'DescribePCR', index: 0n }],
    ['a missing index', { type: 'DescribePCR' }],
    ['nonce as a string', { type: 'Attestation', nonce: 'abc' }],
    ['nonce as an array', { type: 'Attestation', nonce: [1, 2] }],
    ['nonce as an ArrayBuffer', { type: 'Attestation', nonce: new ArrayBuffer(2) }],
    ['nonce too long', { type: 'Attestation', nonce: new Uint8Array(513) }],
    ['userData too long', { type: 'Attestation', userData: new Uint8Array(513) }],
    ['publicKey empty', { type: 'Attestation', publicKey: new Uint8Array(0) }],
    ['publicKey too long', { type: 'Attestation', publicKey: new Uint8Array(1025) }],
    ['publicKey as null', { type: 'Attestation', publicKey: null }],
  ]
  it.each(bad)('rejects %s', (_, request) => {
    expect(() => encodeNsmRequest(request as NsmRequest)).toThrow(InvalidArgumentError)
  })

  it('names the field and the rule', () => {
    expect(() => encodeNsmRequest({ type: 'Attestation', nonce: new Uint8Array(513) })).toThrowErrorMatchingInlineSnapshot(
      `[InvalidArgumentError: "nonce" must be a Uint8Array of 0..512 bytes]`,
    )
    expect(() => encodeNsmRequest({ type: 'DescribePCR', index: 70000 })).toThrowErrorMatchingInlineSnapshot(
      `[InvalidArgumentError: "index" must be an integer 0..65535]`,
    )
  })
})
