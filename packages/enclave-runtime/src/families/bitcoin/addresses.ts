import { InvalidArgumentError } from '@enclave-custody/sdk'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { NETWORK, p2pkh, p2sh, p2tr, p2wpkh, TEST_NETWORK } from '@scure/btc-signer'
import { taprootTweakPubkey } from '@scure/btc-signer/utils.js'

/** The Bitcoin networks the enclave signs for. */
export const BITCOIN_NETWORKS = ['mainnet', 'testnet', 'signet', 'regtest'] as const
export type BitcoinNetwork = (typeof BITCOIN_NETWORKS)[number]

/** Address encoding parameters of a network (bech32 prefix, base58 version bytes), as @scure/btc-signer takes them. */
export type BitcoinNetworkParams = { bech32: string; pubKeyHash: number; scriptHash: number; wif: number }

const REGTEST: BitcoinNetworkParams = Object.freeze({ bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef })

/**
 * The address parameters of a network: mainnet `bc` / 0x00 / 0x05; testnet and signet `tb` / 0x6f / 0xc4;
 * regtest `bcrt` / 0x6f / 0xc4.
 *
 * @param network - One of {@link BITCOIN_NETWORKS}.
 * @returns The network's parameters.
 * @throws InvalidArgumentError naming `network` for any other value.
 * @example
 * bitcoinNetworkParams('regtest').bech32 // 'bcrt'
 */
export function bitcoinNetworkParams(network: BitcoinNetwork): BitcoinNetworkParams {
  switch (network) {
    case 'mainnet':
      return NETWORK
    case 'testnet':
    case 'signet':
      return TEST_NETWORK
    case 'regtest':
      return REGTEST
    default:
      throw new InvalidArgumentError({ field: 'network', rule: `must be one of ${BITCOIN_NETWORKS.join(', ')}` })
  }
}

/** The four single-key output scripts of a public key. */
export type BitcoinKeyScripts = {
  /** Compressed SEC1 public key (33 bytes). */
  publicKey: Uint8Array
  /** BIP-340 x-only public key: the taproot internal key (32 bytes). */
  xOnlyPublicKey: Uint8Array
  p2pkh: Uint8Array
  /** The P2SH output script; its redeem script is {@link BitcoinKeyScripts.p2wpkh}. */
  p2shP2wpkh: Uint8Array
  p2wpkh: Uint8Array
  /** P2TR key-path output (BIP-86: the internal key tweaked with an empty merkle root). */
  p2tr: Uint8Array
}

/**
 * The output scripts of a secp256k1 public key: P2PKH, P2SH-P2WPKH, P2WPKH and P2TR (BIP-86 key path).
 *
 * @param publicKey - A compressed (33-byte) or uncompressed (65-byte) SEC1 public key; it is compressed first.
 * @returns The scripts and both key encodings.
 * @throws InvalidArgumentError naming `publicKey` when it is not a point on secp256k1.
 * @example
 * keyScripts(secp256k1.getPublicKey(privateKey, true)).p2wpkh // 0014 <hash160(pubkey)>
 */
export function keyScripts(publicKey: Uint8Array): BitcoinKeyScripts {
  let compressed: Uint8Array
  try {
    compressed = secp256k1.Point.fromBytes(publicKey).toBytes(true)
  } catch (cause) {
    throw new InvalidArgumentError({ field: 'publicKey', rule: 'must be a secp256k1 public key (SEC1, 33 or 65 bytes)', cause })
  }
  const xOnlyPublicKey = compressed.slice(1)
  const wpkh = p2wpkh(compressed)
  return {
    publicKey: compressed,
    xOnlyPublicKey,
    p2pkh: p2pkh(compressed).script,
    p2shP2wpkh: p2sh(wpkh).script,
    p2wpkh: wpkh.script,
    p2tr: p2tr(xOnlyPublicKey).script,
  }
}

/** The P2TR output key of an internal key and a merkle root (empty for key-only outputs): the script `OP_1 <key>`. */
export function taprootScript(xOnlyInternalKey: Uint8Array, merkleRoot: Uint8Array = new Uint8Array(0)): Uint8Array {
  const [outputKey] = taprootTweakPubkey(xOnlyInternalKey, merkleRoot)
  const script = new Uint8Array(34)
  script[0] = 0x51
  script[1] = 0x20
  script.set(outputKey, 2)
  return script
}

/** The addresses of one public key on one network. */
export type BitcoinAddresses = {
  /** Base58Check, version 0x00 (mainnet) or 0x6f. */
  p2pkh: string
  /** Base58Check P2SH wrapping P2WPKH (BIP-49), version 0x05 (mainnet) or 0xc4. */
  p2shP2wpkh: string
  /** Bech32 witness v0 (BIP-84). */
  p2wpkh: string
  /** Bech32m witness v1, BIP-86 key path (internal key tweaked with an empty merkle root). */
  p2tr: string
}

/**
 * The P2PKH, P2SH-P2WPKH, P2WPKH (bech32) and P2TR (bech32m, BIP-86) addresses of a public key on a network.
 *
 * @param publicKey - A compressed (33-byte) or uncompressed (65-byte) secp256k1 public key (compressed first).
 * @param network - `mainnet`, `testnet`, `signet` or `regtest`.
 * @returns The four addresses.
 * @throws InvalidArgumentError naming `publicKey` or `network`.
 * @example
 * import { HDKey } from '@scure/bip32'
 * bitcoinAddresses(HDKey.fromMasterSeed(seed).derive("m/84'/0'/0'/0/0").publicKey!, 'mainnet').p2wpkh // 'bc1q…'
 */
export function bitcoinAddresses(publicKey: Uint8Array, network: BitcoinNetwork): BitcoinAddresses {
  const params = bitcoinNetworkParams(network)
  const { publicKey: compressed, xOnlyPublicKey } = keyScripts(publicKey)
  const wpkh = p2wpkh(compressed, params)
  return {
    p2pkh: p2pkh(compressed, params).address!,
    p2shP2wpkh: p2sh(wpkh, params).address!,
    p2wpkh: wpkh.address!,
    p2tr: p2tr(xOnlyPublicKey, undefined, params).address!,
  }
}
