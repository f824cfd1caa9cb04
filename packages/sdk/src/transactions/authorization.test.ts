import { describe, expect, it } from 'vitest'
import { isCustodyError } from '../errors/CustodyError.js'
import { hashAuthorization, normalizeAuthorizationRequest } from './authorization.js'

const ADDRESS = '0xFBA3912Ca04dd458c843e2EE08967fC04f3579c2'
const base = { chainId: 1, address: ADDRESS, nonce: 0 }

function failure(input: unknown): string {
  try {
    normalizeAuthorizationRequest(input)
  } catch (e) {
    if (!isCustodyError(e, 'INVALID_ARGUMENT')) throw e
    return e.message
  }
  throw new Error('expected INVALID_ARGUMENT')
}

describe('normalizeAuthorizationRequest', () => {
  it('normalises quantities to bigint and the address to EIP-55', () => {
    expect(normalizeAuthorizationRequest({ chainId: '11155111', address: ADDRESS.toLowerCase(), nonce: 7n })).toEqual({
      authorization: { chainId: 11155111n, address: ADDRESS, nonce: 7n },
      allowAnyChain: false,
    })
  })

  it('signs chainId 0 (every chain) only with allowAnyChain', () => {
    expect(normalizeAuthorizationRequest({ ...base, chainId: 0, allowAnyChain: true })).toEqual({ authorization: { chainId: 0n, address: ADDRESS, nonce: 0n }, allowAnyChain: true })
    expect(normalizeAuthorizationRequest({ ...base, allowAnyChain: true }).authorization.chainId).toBe(1n)
  })

  it.each([
    ['chainId 0 without allowAnyChain', { ...base, chainId: 0 }, '"authorization.chainId" is 0, which makes the authorization valid on every chain; set allowAnyChain: true to sign it anyway'],
    ['chainId 0 with allowAnyChain false', { ...base, chainId: 0n, allowAnyChain: false }, '"authorization.chainId" is 0, which makes the authorization valid on every chain; set allowAnyChain: true to sign it anyway'],
    ['allowAnyChain not a boolean', { ...base, allowAnyChain: 1 }, '"authorization.allowAnyChain" must be a boolean (got number)'],
    ['a missing chainId', { address: ADDRESS, nonce: 0 }, '"authorization.chainId" is required'],
    ['a missing address', { chainId: 1, nonce: 0 }, '"authorization.address" is required'],
    ['a missing nonce', { chainId: 1, address: ADDRESS }, '"authorization.nonce" is required'],
    ['a negative chainId', { ...base, chainId: -1 }, '"authorization.chainId" must not be negative'],
    ['a chainId above 2^256-1', { ...base, chainId: 1n << 256n }, '"authorization.chainId" must be at most 2^256-1'],
    ['a nonce above 2^64-2', { ...base, nonce: (1n << 64n) - 1n }, '"authorization.nonce" must be at most 2^64-2'],
    ['a float nonce', { ...base, nonce: 1.5 }, '"authorization.nonce" must be an integer, not a floating-point number'],
    ['a hex nonce', { ...base, nonce: '0x1' }, '"authorization.nonce" must be a decimal integer string without leading zeros, sign or 0x'],
    ['a short address', { ...base, address: '0x1234' }, '"authorization.address" must be a 0x-prefixed 20-byte address (40 hex digits)'],
    ['a bad checksum', { ...base, address: '0xfBA3912Ca04dd458c843e2EE08967fC04f3579c2' }, '"authorization.address" has an invalid EIP-55 checksum'],
    ['a signature field', { ...base, r: '0x01' }, '"authorization" has unknown field "r"'],
    ['viem\'s legacy contractAddress', { chainId: 1, contractAddress: ADDRESS, nonce: 0 }, '"authorization" has unknown field "contractAddress"'],
    ['not an object', ADDRESS, '"authorization" must be an object (got string)'],
  ])('refuses %s', (_, input, message) => {
    expect(failure(input)).toBe(message)
  })
})

describe('hashAuthorization', () => {
  it('is keccak256(0x05 || rlp([chainId, address, nonce])), 0 and large values minimally encoded', () => {
    // keccak256(0x05 || rlp([0x01, address, 0x80])), computed independently of this module's encoder.
    expect(hashAuthorization({ chainId: 1n, address: '0xbe95c3f554e9fc85ec51be69a3d807a0d55bcf2c', nonce: 40n })).toBe(
      '0x5919da563810a99caf657d42bd10905adbd28b3b89b8a4577efa471e5e4b3914',
    )
    expect(hashAuthorization({ chainId: 0n, address: '0xbe95c3f554e9fc85ec51be69a3d807a0d55bcf2c', nonce: 0n })).toBe(
      '0x70f22b957bc18cbaa757a12cc3e5fa5268b98b24afe15a35a76e6874748a8bfa',
    )
  })
})
