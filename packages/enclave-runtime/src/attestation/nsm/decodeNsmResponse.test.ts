/**
 * Golden NSM response bytes, derived by hand from RFC 8949 and the serde encoding of
 * aws-nitro-enclaves-nsm-api's `Response` enum: a struct variant is {name: {fields}}, the newtype variant
 * `Error(ErrorCode)` is {"Error": "<code>"} (a unit enum is its name as text), `#[serde(with =
 * "serde_bytes")]` fields are byte strings. Heads as in encodeNsmRequest.test.ts; "Error" (5 bytes) → 65.
 */
import { AttestationError } from '@enclave-custody/sdk'
import { describe, expect, it } from 'vitest'
import { decodeNsmResponse, type NsmResponseType } from './decodeNsmResponse.js'
import { NsmError, type NsmErrorCode } from './NsmError.js'

const bytes = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'))
const PCR = Array.from({ length: 48 }, (_, i) => (i + 1).toString(16).padStart(2, '0')).join('')

function thrown(f: () => unknown): unknown {
  try {
    f()
  } catch (e) {
    return e
  }
  throw new Error('expected a throw')
}

describe('decodeNsmResponse: golden responses', () => {
  it('Attestation → the document bytes', () => {
    // {"Attestation": {"document": h'd2840102'}}
    const response = bytes('a1 6b 4174746573746174696f6e a1 68 646f63756d656e74 44 d2840102')
    expect(decodeNsmResponse(response, 'Attestation')).toEqual({ document: Uint8Array.of(0xd2, 0x84, 0x01, 0x02) })
  })

  it('Attestation with a document of a realistic size (2-byte length head)', () => {
    const doc = 'ab'.repeat(4500)
    const response = bytes(`a1 6b 4174746573746174696f6e a1 68 646f63756d656e74 59 1194 ${doc}`)
    const { document } = decodeNsmResponse(response, 'Attestation')
    expect(document.length).toBe(4500)
    expect(document.every((b) => b === 0xab)).toBe(true)
  })

  it('DescribePCR → lock and the 48-byte value, in either field order', () => {
    // {"DescribePCR": {"lock": true, "data": h'0102…30'}}
    const locked = bytes(`a1 6b 4465736372696265504352 a2 64 6c6f636b f5 64 64617461 58 30 ${PCR}`)
    expect(decodeNsmResponse(locked, 'DescribePCR')).toEqual({ lock: true, data: bytes(PCR) })
    const unlocked = bytes(`a1 6b 4465736372696265504352 a2 64 64617461 58 30 ${PCR} 64 6c6f636b f4`)
    expect(decodeNsmResponse(unlocked, 'DescribePCR')).toEqual({ lock: false, data: bytes(PCR) })
  })

  it('GetRandom → the random bytes', () => {
    // {"GetRandom": {"random": h'00 01 … 1f'}}
    const random = Array.from({ length: 32 }, (_, i) => i.toString(16).padStart(2, '0')).join('')
    expect(decodeNsmResponse(bytes(`a1 69 47657452616e646f6d a1 66 72616e646f6d 58 20 ${random}`), 'GetRandom')).toEqual({ random: bytes(random) })
  })

  it('ignores fields a later NSM may add, and returns copies of the byte strings', () => {
    const input = bytes('a1 69 47657452616e646f6d a2 66 72616e646f6d 42 0102 65 6578747261 01')
    const { random } = decodeNsmResponse(input, 'GetRandom')
    expect(random).toEqual(Uint8Array.of(1, 2))
    input.fill(0)
    expect(random).toEqual(Uint8Array.of(1, 2))
  })
})

describe('decodeNsmResponse: each NSM error code', () => {
  const codes: [NsmErrorCode, string][] = [
    ['InvalidArgument', '6f 496e76616c6964417267756d656e74'],
    ['InvalidIndex', '6c 496e76616c6964496e646578'],
    ['InvalidResponse', '6f 496e76616c6964526573706f6e7365'],
    ['ReadOnlyIndex', '6d 526561644f6e6c79496e646578'],
    ['InvalidOperation', '70 496e76616c69644f7065726174696f6e'],
    ['BufferTooSmall', '6e 427566666572546f6f536d616c6c'],
    ['InputTooLarge', '6d 496e707574546f6f4c61726765'],
    ['InternalError', '6d 496e7465726e616c4572726f72'],
  ]
  it.each(codes)('{"Error": "%s"} → NsmError with that code, ATTESTATION_FAILED', (code, text) => {
    const e = thrown(() => decodeNsmResponse(bytes(`a1 65 4572726f72 ${text}`), 'DescribePCR'))
    expect(e).toBeInstanceOf(NsmError)
    expect(e).toBeInstanceOf(AttestationError)
    const error = e as NsmError
    expect(error.nsmErrorCode).toBe(code)
    expect(error.code).toBe('ATTESTATION_FAILED')
    expect(error.retryable).toBe(false)
    expect(error.details).toEqual({ nsmErrorCode: code, operation: 'DescribePCR' })
    expect(error.toJSON()).toMatchObject({ code: 'ATTESTATION_FAILED', details: { nsmErrorCode: code } })
  })

  it('says what the code means', () => {
    expect(thrown(() => decodeNsmResponse(bytes('a1 65 4572726f72 6c 496e76616c6964496e646578'), 'DescribePCR'))).toMatchInlineSnapshot(
      `[NsmError: attestation failed: NSM DescribePCR returned InvalidIndex: the PCR index is out of range]`,
    )
    expect(thrown(() => decodeNsmResponse(bytes('a1 65 4572726f72 6d 496e7465726e616c4572726f72'), 'Attestation'))).toMatchInlineSnapshot(
      `[NsmError: attestation failed: NSM Attestation returned InternalError: the NSM had an internal error]`,
    )
  })
})

describe('decodeNsmResponse: malformed responses', () => {
  const cases: [string, string, NsmResponseType][] = [
    ['"Success" is not an error code a response carries', 'a1 65 4572726f72 67 53756363657373', 'GetRandom'],
    ['an unknown error code', 'a1 65 4572726f72 66 42616e616e61', 'GetRandom'],
    ['an error code that is not text', 'a1 65 4572726f72 01', 'GetRandom'],
    ['a different variant than requested', 'a1 69 47657452616e646f6d a1 66 72616e646f6d 41 00', 'Attestation'],
    ['a unit variant', '67 4c6f636b504352', 'DescribePCR'],
    ['an empty map', 'a0', 'GetRandom'],
    ['two variants', 'a2 69 47657452616e646f6d a0 65 4572726f72 6d 496e7465726e616c4572726f72', 'GetRandom'],
    ['a variant without a field map', 'a1 69 47657452616e646f6d 41 00', 'GetRandom'],
    ['a missing field', 'a1 69 47657452616e646f6d a0', 'GetRandom'],
    ['bytes as an array of integers (serde without serde_bytes)', 'a1 69 47657452616e646f6d a1 66 72616e646f6d 82 01 02', 'GetRandom'],
    ['an empty random', 'a1 69 47657452616e646f6d a1 66 72616e646f6d 40', 'GetRandom'],
    ['an empty document', 'a1 6b 4174746573746174696f6e a1 68 646f63756d656e74 40', 'Attestation'],
    ['a 47-byte PCR', `a1 6b 4465736372696265504352 a2 64 6c6f636b f5 64 64617461 58 2f ${PCR.slice(2)}`, 'DescribePCR'],
    ['lock as an integer', `a1 6b 4465736372696265504352 a2 64 6c6f636b 01 64 64617461 58 30 ${PCR}`, 'DescribePCR'],
    ['no lock', `a1 6b 4465736372696265504352 a1 64 64617461 58 30 ${PCR}`, 'DescribePCR'],
    ['trailing bytes', 'a1 69 47657452616e646f6d a1 66 72616e646f6d 41 00 00', 'GetRandom'],
    ['truncated', 'a1 69 47657452616e646f6d a1 66 72616e646f6d 58 20 0001', 'GetRandom'],
    ['an indefinite-length map', 'bf 69 47657452616e646f6d a1 66 72616e646f6d 41 00 ff', 'GetRandom'],
    ['a duplicate key', 'a1 69 47657452616e646f6d a2 66 72616e646f6d 41 00 66 72616e646f6d 41 01', 'GetRandom'],
    ['a float', 'a1 69 47657452616e646f6d a1 66 72616e646f6d f9 3c00', 'GetRandom'],
    ['no bytes at all', '', 'GetRandom'],
  ]
  it.each(cases)('rejects %s', (_, input, expected) => {
    const e = thrown(() => decodeNsmResponse(bytes(input), expected))
    expect(e).toBeInstanceOf(AttestationError)
    expect(e).not.toBeInstanceOf(NsmError)
  })

  it('rejects a response larger than the driver’s 12 KiB buffer', () => {
    expect(thrown(() => decodeNsmResponse(new Uint8Array(0x3001), 'Attestation'))).toMatchInlineSnapshot(
      `[AttestationError: attestation failed: the NSM Attestation response is 12289 bytes, more than the 12288 the driver can return]`,
    )
  })

  it('names the problem without echoing content', () => {
    expect(thrown(() => decodeNsmResponse(bytes('a1 69 47657452616e646f6d a1 66 72616e646f6d 41 00'), 'Attestation'))).toMatchInlineSnapshot(
      `[AttestationError: attestation failed: the NSM Attestation response is the variant "GetRandom", not Attestation]`,
    )
    expect(thrown(() => decodeNsmResponse(bytes('a1 65 4572726f72 66 42616e616e61'), 'GetRandom'))).toMatchInlineSnapshot(
      `[AttestationError: attestation failed: the NSM GetRandom response carries the unknown error code "Banana"]`,
    )
    // A variant name that is not an identifier is not repeated.
    expect(thrown(() => decodeNsmResponse(bytes('a1 63 3c623e a0'), 'GetRandom'))).toMatchInlineSnapshot(
      `[AttestationError: attestation failed: the NSM GetRandom response is the variant (not an identifier), not GetRandom]`,
    )
    const e = thrown(() => decodeNsmResponse(bytes('a1 69 47657452616e646f6d a1 66 72616e646f6d 58 20 0001'), 'GetRandom')) as AttestationError
    expect(e.shortMessage).toBe('attestation failed: the NSM GetRandom response is not valid CBOR')
    expect((e.cause as Error).name).toBe('CborDecodeError')
  })

  it('rejects input that is not bytes', () => {
    expect(thrown(() => decodeNsmResponse('a0' as unknown as Uint8Array, 'GetRandom'))).toBeInstanceOf(AttestationError)
  })
})
