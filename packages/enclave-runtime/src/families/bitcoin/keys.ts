import { InvalidArgumentError } from '@enclave-custody/sdk'
import { secp256k1 } from '@noble/curves/secp256k1.js'

/**
 * An HD account source: the BIP-32 master fingerprint that PSBT derivation records name, and a derivation of the
 * private key at a full path from that master (`m/84'/0'/0'/0/1`). Each derived key is zeroed after use.
 */
export type BitcoinHdSource = {
  /** The master key's fingerprint (first 4 bytes of hash160 of its public key). */
  fingerprint: Uint8Array
  /** The 32-byte private key at `path` (BIP-32 notation, `'` for hardened): a fresh array the signer may zero. */
  derive(path: string): Uint8Array
}

/**
 * The keys of a PSBT signature: one secp256k1 private key (32 bytes; inputs are matched by their script: the
 * key's P2PKH, P2SH-P2WPKH, P2WPKH or P2TR key-path output), or an HD account source (inputs are matched by
 * their `bip32Derivation` / `tapBip32Derivation` records that name its fingerprint).
 */
export type BitcoinSigningKeys = Uint8Array | BitcoinHdSource

/** BIP-32 path notation of a derivation record's indices (`m/84'/0'/0'/0/1`). */
export function formatBip32Path(path: readonly number[]): string {
  return ['m', ...path.map((i) => (i >= 0x80000000 ? `${i - 0x80000000}'` : String(i)))].join('/')
}

/** Checks the keys argument's shape; returns the fingerprint as a number for an HD source. */
export function checkSigningKeys(keys: unknown): { kind: 'single'; publicKey: Uint8Array } | { kind: 'hd'; fingerprint: number; source: BitcoinHdSource } {
  if (keys instanceof Uint8Array) {
    if (keys.length !== 32 || !secp256k1.utils.isValidSecretKey(keys)) throw new InvalidArgumentError({ field: 'keys', rule: 'must be a 32-byte secp256k1 private key or an HD account source' })
    return { kind: 'single', publicKey: secp256k1.getPublicKey(keys, true) }
  }
  if (typeof keys === 'object' && keys !== null && Object.hasOwn(keys, 'fingerprint') && Object.hasOwn(keys, 'derive')) {
    const { fingerprint, derive } = keys as BitcoinHdSource
    if (!(fingerprint instanceof Uint8Array) || fingerprint.length !== 4) throw new InvalidArgumentError({ field: 'keys.fingerprint', rule: 'must be 4 bytes' })
    if (typeof derive !== 'function') throw new InvalidArgumentError({ field: 'keys.derive', rule: 'must be a function' })
    const fp = ((fingerprint[0]! << 24) | (fingerprint[1]! << 16) | (fingerprint[2]! << 8) | fingerprint[3]!) >>> 0
    return { kind: 'hd', fingerprint: fp, source: keys as BitcoinHdSource }
  }
  throw new InvalidArgumentError({ field: 'keys', rule: 'must be a 32-byte secp256k1 private key or an HD account source' })
}

/** The private key at `path`, checked; the caller zeroes it. */
export function deriveChecked(source: BitcoinHdSource, path: string, field: string): Uint8Array {
  let key: unknown
  try {
    key = source.derive(path)
  } catch (cause) {
    throw new InvalidArgumentError({ field, rule: `names a path the HD account cannot derive (${path})`, cause })
  }
  if (!(key instanceof Uint8Array) || key.length !== 32 || !secp256k1.utils.isValidSecretKey(key)) throw new InvalidArgumentError({ field: 'keys.derive', rule: 'must return a 32-byte secp256k1 private key' })
  return key
}

/** The compressed public key at `path` (the derived private key is zeroed before returning). */
export function derivePublicKey(source: BitcoinHdSource, path: string, field: string): Uint8Array {
  const key = deriveChecked(source, path, field)
  try {
    return secp256k1.getPublicKey(key, true)
  } finally {
    key.fill(0)
  }
}
