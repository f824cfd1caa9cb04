import { createHash } from 'node:crypto'
import { formatEther as ethersFormatEther, getAddress, parseEther as ethersParseEther } from 'ethers'
import { describe, expect, it } from 'vitest'
import { toChecksumAddress } from './address.js'
import { formatEther, parseEther } from './units.js'

describe('parseEther / formatEther', () => {
  it.each([
    ['0.01', 10n ** 16n],
    ['1', 10n ** 18n],
    ['0', 0n],
    ['123.000000000000000001', 123n * 10n ** 18n + 1n],
  ])('parses %s exactly', (s, wei) => {
    expect(parseEther(s)).toBe(wei)
    expect(parseEther(formatEther(wei))).toBe(wei)
  })

  it('agrees with ethers on both directions (differential, including 0, whole ethers and 1 wei)', () => {
    const wei = [0n, 1n, 10n ** 16n, 10n ** 18n, 123n * 10n ** 18n + 1n, 2n ** 256n - 1n, -(10n ** 18n) - 5n]
    for (let i = 0n; i < 200n; i++) wei.push((i * 7919n) ** 5n)
    for (const w of wei) expect(formatEther(w)).toBe(ethersFormatEther(w))
    for (const s of ['0.01', '1', '0', '0.000000000000000001', '99999999999999999999.123456789012345678']) expect(parseEther(s)).toBe(ethersParseEther(s))
  })

  it.each([[0.01], ['1e18'], ['-1'], ['.5'], ['1.0000000000000000001'], ['0x10'], [' 1']])('refuses %j', (v) => {
    expect(() => parseEther(v as string)).toThrowError(/^"ether" must be/)
  })
})

describe('EIP-55', () => {
  // The EIP-55 specification's own examples.
  it.each([
    '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
    '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359',
    '0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB',
    '0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb',
  ])('checksums %s', (address) => {
    expect(toChecksumAddress(address.toLowerCase())).toBe(address)
  })

  it('remembers checksums without mixing them up, in any case, beyond its memory of 4,096 addresses', () => {
    // ethers computes each checksum independently; 10,000 fresh addresses overflow the memory twice, and each is
    // asked again (from memory, or computed again) in upper and lower case.
    const addresses = Array.from({ length: 10_000 }, (_, i) => `0x${createHash('sha256').update(String(i)).digest('hex').slice(0, 40)}`)
    for (const a of addresses) expect(toChecksumAddress(a)).toBe(getAddress(a))
    for (const a of addresses.slice(-100)) {
      expect(toChecksumAddress(`0x${a.slice(2).toUpperCase()}`)).toBe(getAddress(a))
      expect(toChecksumAddress(a)).toBe(getAddress(a))
    }
  })
})
