import { keccak_256 } from '@noble/hashes/sha3.js'
import { fail, typeName } from './assert.js'
import type { Hex } from './hex.js'

export type Address = Hex

const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/

/** Checksummed forms of recently seen addresses, by their lower-case digits (a key's and its counterparties'). */
const checksums = new Map<string, Address>()
const MAX_CHECKSUMS = 4_096

/** EIP-55 checksum form of a 20-byte address given as 40 hex digits (any case); computed once per address seen. */
export function toChecksumAddress(address: string): Address {
  const lower = address.slice(2).toLowerCase()
  const known = checksums.get(lower)
  if (known !== undefined) return known
  const hash = keccak_256(new TextEncoder().encode(lower))
  let out = '0x'
  for (let i = 0; i < 40; i++) {
    const nibble = (hash[i >> 1]! >> (i % 2 === 0 ? 4 : 0)) & 0xf
    out += nibble >= 8 ? lower[i]!.toUpperCase() : lower[i]
  }
  // Bounded: a stream of fresh addresses replaces the whole memory rather than growing it.
  if (checksums.size >= MAX_CHECKSUMS) checksums.clear()
  checksums.set(lower, out as Address)
  return out as Address
}

/**
 * Validate an address: 0x + 40 hex digits; a mixed-case address must carry a correct EIP-55 checksum.
 * Returns the checksummed form.
 */
export function assertAddress(value: unknown, field: string): Address {
  if (typeof value !== 'string') fail(field, `must be a 0x-prefixed 20-byte address (got ${typeName(value)})`)
  if (!ADDRESS_RE.test(value)) fail(field, 'must be a 0x-prefixed 20-byte address (40 hex digits)')
  const body = value.slice(2)
  const checksummed = toChecksumAddress(value)
  const mixed = body !== body.toLowerCase() && body !== body.toUpperCase()
  if (mixed && checksummed !== value) fail(field, 'has an invalid EIP-55 checksum')
  return checksummed
}

/** Same as `assertAddress`, for callers comparing two addresses. */
export function isAddressEqual(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase()
}
