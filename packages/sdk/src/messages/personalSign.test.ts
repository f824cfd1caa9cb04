import { describe, expect, it } from 'vitest'
import { isCustodyError } from '../errors/CustodyError.js'
import { hashPersonalMessage, normalizePersonalMessage } from './personalSign.js'

function failure(input: unknown): string {
  try {
    normalizePersonalMessage(input)
  } catch (e) {
    if (!isCustodyError(e, 'INVALID_ARGUMENT')) throw e
    return e.message
  }
  throw new Error('expected INVALID_ARGUMENT')
}

describe('normalizePersonalMessage', () => {
  it('keeps text as text (hex-looking too) and turns every byte form into { raw }', () => {
    expect(normalizePersonalMessage('0x4243')).toBe('0x4243')
    expect(normalizePersonalMessage('')).toBe('')
    expect(normalizePersonalMessage('🥵')).toBe('🥵')
    expect(normalizePersonalMessage(new Uint8Array([0x42, 0x43]))).toEqual({ raw: '0x4243' })
    expect(normalizePersonalMessage({ raw: '0x4A4b' })).toEqual({ raw: '0x4a4b' })
    expect(normalizePersonalMessage({ raw: new Uint8Array([1]) })).toEqual({ raw: '0x01' })
    expect(normalizePersonalMessage({ raw: '0x' })).toEqual({ raw: '0x' })
  })

  it('hashes text as UTF-8 with its byte length in the prefix', () => {
    // "\x19Ethereum Signed Message:\n4" + 4 bytes of U+1F975; "0x4243" is 6 characters of text.
    expect(hashPersonalMessage('0x4243')).toBe('0x6d91b221f765224b256762dcba32d62209cf78e9bebb0a1b758ca26c76db3af4')
    expect(hashPersonalMessage({ raw: '0x4243' })).toBe('0x0d3abc18ec299cf9b42ba439ac6f7e3e6ec9f5c048943704e30fc2d9c7981438')
  })

  it.each([
    ['a number', 42, '"message" must be a string, a Uint8Array or { raw } (got number)'],
    ['null', null, '"message" must be a string, a Uint8Array or { raw } (got null)'],
    ['an array', [1, 2], '"message" must be a string, a Uint8Array or { raw } (got array)'],
    ['a lone high surrogate', 'a\ud800b', '"message" must be well-formed Unicode (it has a lone surrogate)'],
    ['a lone low surrogate', '\udc00', '"message" must be well-formed Unicode (it has a lone surrogate)'],
    ['raw without 0x', { raw: '4243' }, '"message.raw" must start with 0x'],
    ['raw with an odd number of digits', { raw: '0x424' }, '"message.raw" must be hex with an even number of digits'],
    ['raw as a number', { raw: 0x4243 }, '"message.raw" must be a 0x-prefixed hex string (got number)'],
    ['an object without raw', {}, '"message.raw" is required'],
    ['an object with another field', { raw: '0x00', text: 'x' }, '"message" has unknown field "text"'],
    ['text above 64 KiB', 'a'.repeat(64 * 1024 + 1), '"message" must be at most 65536 bytes'],
    ['text above 64 KiB once UTF-8 encoded', 'é'.repeat(32 * 1024 + 1), '"message" must be at most 65536 bytes'],
    ['bytes above 64 KiB', new Uint8Array(64 * 1024 + 1), '"message" must be at most 65536 bytes'],
  ])('refuses %s', (_, input, message) => {
    expect(failure(input)).toBe(message)
  })
})
