import type { Hex, PolicyFacts } from '@enclave-custody/sdk'

/**
 * The policy facts of a raw 32-byte digest (`sign.digest`, only for keys sealed with `allowRawDigest`):
 * `family` 'evm' and `kind` 'digest'. A digest says nothing of what it commits to, so it has no other fact.
 *
 * @param _digest - 32 bytes of hex (unread: every digest has the same facts).
 * @returns The digest's facts.
 * @example
 * hashFacts(keccak256Hex(bytes)) // { family: 'evm', kind: 'digest' }
 */
export function hashFacts(_digest: Hex): PolicyFacts {
  return { family: 'evm', kind: 'digest' }
}
