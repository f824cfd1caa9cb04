import { type Address, InvalidArgumentError, publicKeyToAddress } from '@enclave-custody/sdk'
import { ed25519 } from '@noble/curves/ed25519.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { p2pkh, p2sh, p2tr, p2wpkh } from '@scure/btc-signer'
import { bitcoinNetworkParams } from '../bitcoin/addresses.js'
import { solanaAddress } from '../solana/address.js'
import type { BitcoinAddressFormat, BitcoinNetwork } from './derive.js'

/**
 * Addresses of derived public keys: EVM (the SDK's keccak/EIP-55 code), Bitcoin (@scure/btc-signer) and Solana
 * (base58 via @scure/base). Public keys are checked to be points of their curve before any address is made.
 */

/** The Bitcoin address formats, in the order {@link bitcoinAddresses} lists them. */
export const BITCOIN_ADDRESS_FORMATS: readonly BitcoinAddressFormat[] = ['p2pkh', 'p2sh-p2wpkh', 'p2wpkh', 'p2tr']

function assertSecp256k1PublicKey(publicKey: unknown, field: string, compressedOnly: boolean): Uint8Array {
  const rule = compressedOnly ? 'must be a 33-byte compressed secp256k1 public key' : 'must be a 33- or 65-byte secp256k1 public key'
  if (!(publicKey instanceof Uint8Array)) throw new InvalidArgumentError({ field, rule })
  if (publicKey.length !== 33 && (compressedOnly || publicKey.length !== 65)) throw new InvalidArgumentError({ field, rule })
  try {
    secp256k1.Point.fromBytes(publicKey).assertValidity()
  } catch (cause) {
    throw new InvalidArgumentError({ field, rule: 'must be a point of the secp256k1 curve', cause })
  }
  return publicKey
}

/**
 * The EVM address of a secp256k1 public key: keccak256 of the uncompressed key, last 20 bytes, EIP-55.
 *
 * @param publicKey - 33 bytes compressed or 65 bytes uncompressed, only read.
 * @param field - Field the error names. @default 'publicKey'
 * @returns The checksummed address.
 * @throws InvalidArgumentError naming `field` when the key is not a secp256k1 point in SEC1 encoding.
 * @example
 * import { evmAddress } from './addresses.js'
 * evmAddress(deriveSecp256k1Key(seed, "m/44'/60'/0'/0/0").publicKey) // '0x9858EfFD232B4033E47d90003D41EC34EcaEda94' for "abandon … about"
 */
export function evmAddress(publicKey: Uint8Array, field = 'publicKey'): Address {
  const checked = assertSecp256k1PublicKey(publicKey, field, false)
  return publicKeyToAddress(secp256k1.Point.fromBytes(checked).toBytes(false))
}

/** The parameters of {@link bitcoinAddress}. */
export type BitcoinAddressParameters = { format: BitcoinAddressFormat; network: BitcoinNetwork }

/**
 * The Bitcoin address of a compressed secp256k1 public key: P2PKH (base58), P2SH-P2WPKH (base58, BIP-49),
 * P2WPKH (bech32, BIP-84) or P2TR (bech32m, BIP-86: the key is the internal key, tweaked with no script tree).
 *
 * @param publicKey - 33 bytes compressed SEC1, only read (HD keys are always compressed; uncompressed keys are
 *   refused for every format, P2PKH included).
 * @param parameters - The address format and the network (mainnet, testnet, signet, regtest).
 * @returns The address.
 * @throws InvalidArgumentError naming `publicKey`, `format` or `network` when one is not valid.
 * @example
 * import { bitcoinAddress } from './addresses.js'
 * bitcoinAddress(deriveSecp256k1Key(seed, "m/84'/0'/0'/0/0").publicKey, { format: 'p2wpkh', network: 'mainnet' })
 * // 'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu' for "abandon … about"
 */
export function bitcoinAddress(publicKey: Uint8Array, parameters: BitcoinAddressParameters): string {
  if (typeof parameters !== 'object' || parameters === null) throw new InvalidArgumentError({ field: 'parameters', rule: 'must be an object' })
  const { format, network } = parameters
  // One table of network parameters: the Bitcoin family's (refuses any other network, naming `network`).
  const params = bitcoinNetworkParams(network)
  if (!BITCOIN_ADDRESS_FORMATS.includes(format)) {
    throw new InvalidArgumentError({ field: 'format', rule: 'must be one of p2pkh, p2sh-p2wpkh, p2wpkh, p2tr' })
  }
  const key = assertSecp256k1PublicKey(publicKey, 'publicKey', true)
  let address: string | undefined
  switch (format) {
    case 'p2pkh':
      address = p2pkh(key, params).address
      break
    case 'p2sh-p2wpkh':
      address = p2sh(p2wpkh(key, params), params).address
      break
    case 'p2wpkh':
      address = p2wpkh(key, params).address
      break
    case 'p2tr':
      address = p2tr(key.subarray(1), undefined, params).address
      break
  }
  if (address === undefined) throw new InvalidArgumentError({ field: 'format', rule: 'has no address' })
  return address
}

/**
 * Every Bitcoin address of a compressed secp256k1 public key on one network (see {@link bitcoinAddress}).
 *
 * @param publicKey - 33 bytes compressed SEC1, only read.
 * @param network - mainnet, testnet, signet or regtest.
 * @returns One address per format.
 * @throws InvalidArgumentError naming `publicKey` or `network` when one is not valid.
 * @example
 * import { bitcoinAddresses } from './addresses.js'
 * bitcoinAddresses(publicKey, 'regtest').p2tr // 'bcrt1p…'
 */
export function bitcoinAddresses(publicKey: Uint8Array, network: BitcoinNetwork): Record<BitcoinAddressFormat, string> {
  return {
    p2pkh: bitcoinAddress(publicKey, { format: 'p2pkh', network }),
    'p2sh-p2wpkh': bitcoinAddress(publicKey, { format: 'p2sh-p2wpkh', network }),
    p2wpkh: bitcoinAddress(publicKey, { format: 'p2wpkh', network }),
    p2tr: bitcoinAddress(publicKey, { format: 'p2tr', network }),
  }
}

/**
 * The Solana address of an ed25519 public key: its base58 encoding. The key must be a point of the curve
 * (program-derived addresses, which are not, are never keys).
 *
 * @param publicKey - 32 bytes, only read.
 * @param field - Field the error names. @default 'publicKey'
 * @returns The base58 address (32 to 44 characters).
 * @throws InvalidArgumentError naming `field` when the key is not a 32-byte ed25519 point.
 * @example
 * import { solanaAddressOfPublicKey } from './addresses.js'
 * solanaAddressOfPublicKey(deriveEd25519Key(seed, "m/44'/501'/0'/0'").publicKey) // 'HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk' for "abandon … about"
 */
export function solanaAddressOfPublicKey(publicKey: Uint8Array, field = 'publicKey'): string {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) {
    throw new InvalidArgumentError({ field, rule: 'must be a 32-byte ed25519 public key' })
  }
  try {
    ed25519.Point.fromBytes(publicKey).assertValidity()
  } catch (cause) {
    throw new InvalidArgumentError({ field, rule: 'must be a point of the ed25519 curve', cause })
  }
  return solanaAddress(publicKey, field)
}
