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

/**
 * The public side of the keys: enough to inspect a PSBT (its facts, the inputs the key would sign) but not to
 * sign it. One compressed public key (33 bytes), or an HD account's master fingerprint and a derivation of the
 * compressed public key at a full path (`m/84'/0'/0'/0/1`; a path the account cannot derive throws).
 */
export type BitcoinPublicKeys = { publicKey: Uint8Array } | { fingerprint: Uint8Array; derivePublicKey(path: string): Uint8Array }

/** What {@link inspectBitcoinPsbt} takes: the signing keys, or their public side. */
export type BitcoinInspectionKeys = BitcoinSigningKeys | BitcoinPublicKeys

/** The checked keys: one public key, or an HD account's fingerprint and its public derivation (with the private source when given). */
export type CheckedBitcoinKeys =
  | { kind: 'single'; publicKey: Uint8Array }
  | { kind: 'hd'; fingerprint: number; publicAt(path: string, field: string): Uint8Array; source?: BitcoinHdSource }

const fingerprintNumber = (fingerprint: unknown): number => {
  if (!(fingerprint instanceof Uint8Array) || fingerprint.length !== 4) throw new InvalidArgumentError({ field: 'keys.fingerprint', rule: 'must be 4 bytes' })
  return ((fingerprint[0]! << 24) | (fingerprint[1]! << 16) | (fingerprint[2]! << 8) | fingerprint[3]!) >>> 0
}

/** BIP-32 path notation of a derivation record's indices (`m/84'/0'/0'/0/1`). */
export function formatBip32Path(path: readonly number[]): string {
  return ['m', ...path.map((i) => (i >= 0x80000000 ? `${i - 0x80000000}'` : String(i)))].join('/')
}

/** Checks the keys argument's shape (private keys, or their public side). */
export function checkSigningKeys(keys: unknown): CheckedBitcoinKeys {
  if (keys instanceof Uint8Array) {
    if (keys.length !== 32 || !secp256k1.utils.isValidSecretKey(keys)) throw new InvalidArgumentError({ field: 'keys', rule: 'must be a 32-byte secp256k1 private key or an HD account source' })
    return { kind: 'single', publicKey: secp256k1.getPublicKey(keys, true) }
  }
  if (typeof keys === 'object' && keys !== null && Object.hasOwn(keys, 'fingerprint') && Object.hasOwn(keys, 'derive')) {
    const { fingerprint, derive } = keys as BitcoinHdSource
    const fp = fingerprintNumber(fingerprint)
    if (typeof derive !== 'function') throw new InvalidArgumentError({ field: 'keys.derive', rule: 'must be a function' })
    const source = keys as BitcoinHdSource
    return { kind: 'hd', fingerprint: fp, source, publicAt: (path, field) => derivePublicKey(source, path, field) }
  }
  if (typeof keys === 'object' && keys !== null && Object.hasOwn(keys, 'fingerprint') && Object.hasOwn(keys, 'derivePublicKey')) {
    const { fingerprint, derivePublicKey: derivePublic } = keys as { fingerprint: Uint8Array; derivePublicKey(path: string): Uint8Array }
    const fp = fingerprintNumber(fingerprint)
    if (typeof derivePublic !== 'function') throw new InvalidArgumentError({ field: 'keys.derivePublicKey', rule: 'must be a function' })
    return {
      kind: 'hd',
      fingerprint: fp,
      publicAt: (path, field) => {
        let key: unknown
        try {
          key = derivePublic(path)
        } catch (cause) {
          throw new InvalidArgumentError({ field, rule: `names a path the HD account cannot derive (${path})`, cause })
        }
        if (!(key instanceof Uint8Array) || key.length !== 33 || !isPoint(key)) throw new InvalidArgumentError({ field: 'keys.derivePublicKey', rule: 'must return a compressed secp256k1 public key' })
        return key
      },
    }
  }
  if (typeof keys === 'object' && keys !== null && Object.hasOwn(keys, 'publicKey')) {
    const { publicKey } = keys as { publicKey: unknown }
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== 33 || !isPoint(publicKey)) throw new InvalidArgumentError({ field: 'keys.publicKey', rule: 'must be a compressed secp256k1 public key (33 bytes)' })
    return { kind: 'single', publicKey: Uint8Array.from(publicKey) }
  }
  throw new InvalidArgumentError({ field: 'keys', rule: 'must be a 32-byte secp256k1 private key or an HD account source' })
}

function isPoint(bytes: Uint8Array): boolean {
  try {
    secp256k1.Point.fromBytes(bytes)
    return true
  } catch {
    return false
  }
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
