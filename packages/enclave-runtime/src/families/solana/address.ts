import { InvalidArgumentError } from '@enclave-custody/sdk'
import { base58 } from '@scure/base'

/** A Solana address: the base58 encoding of a 32-byte ed25519 public key (or of any 32-byte account key). */
export type SolanaAddress = string

/**
 * The base58 address of a 32-byte ed25519 public key (or of any 32-byte account key: a program id, a
 * program-derived address, a lookup table).
 *
 * @param publicKey - 32 bytes, only read.
 * @param field - Field the error names. @default 'publicKey'
 * @returns The base58 address (32 to 44 characters).
 * @throws InvalidArgumentError naming `field` when the key is not 32 bytes.
 * @example
 * import { ed25519 } from '@noble/curves/ed25519.js'
 * solanaAddress(ed25519.getPublicKey(seed)) // 'AKnL4NNf3DGWZJS6cPknBuEGnVsV4A4m5tgebLHaRSZ9' for a seed of 32 × 0x01
 */
export function solanaAddress(publicKey: Uint8Array, field = 'publicKey'): SolanaAddress {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) {
    throw new InvalidArgumentError({ field, rule: 'must be a 32-byte account key' })
  }
  return base58.encode(publicKey)
}

/**
 * The 32 bytes of a base58 Solana address, strictly: the alphabet of Bitcoin's base58, exactly 32 bytes
 * once decoded, and canonical (re-encoding gives the same string, so no address has two spellings).
 *
 * @param address - A base58 address.
 * @param field - Field the error names. @default 'address'
 * @returns The 32-byte key.
 * @throws InvalidArgumentError naming `field` when the string is not a canonical 32-byte base58 address.
 * @example
 * solanaAddressBytes('11111111111111111111111111111111') // 32 zero bytes (the System Program)
 */
export function solanaAddressBytes(address: string, field = 'address'): Uint8Array {
  const refuse = (): never => {
    throw new InvalidArgumentError({ field, rule: 'must be a base58 Solana address of 32 bytes' })
  }
  if (typeof address !== 'string' || address.length < 32 || address.length > 44) return refuse()
  let bytes: Uint8Array
  try {
    bytes = base58.decode(address)
  } catch {
    return refuse()
  }
  if (bytes.length !== 32 || base58.encode(bytes) !== address) return refuse()
  return bytes
}
