import { createHash, createHmac } from 'node:crypto'
import { InvalidArgumentError } from '@enclave-custody/sdk'
import { ed25519 } from '@noble/curves/ed25519.js'
import { HDKey } from '@scure/bip32'

/**
 * Key derivation from a BIP-39 seed: BIP-32 over secp256k1 (@scure/bip32) and SLIP-0010 over ed25519 (written
 * here: no installed audited library implements it; it is HMAC-SHA512 chained, with OpenSSL's HMAC through
 * node:crypto and @noble/curves for the public key).
 *
 * Zeroing: every intermediate private key and chain code this module holds is overwritten once used, and each
 * intermediate @scure/bip32 node has its private key wiped (`wipePrivateData`). What cannot be zeroed from
 * here: @scure/bip32's HMAC outputs and its nodes' chain codes (private fields, and `derive` returns copies);
 * the bigint scalars of @scure/bip32's and @noble/curves' arithmetic (immutable, and copied by the engine);
 * node:crypto's internal HMAC state (OpenSSL frees it); the caller's seed (the caller zeroes it). The returned
 * `privateKey` and `chainCode` are the caller's to zero.
 */

/** The offset of hardened child indices (BIP-32): index i' is i + 2^31. */
export const HARDENED_OFFSET = 0x8000_0000
/** The deepest path accepted (a default account path is 4 or 5 levels deep). */
export const MAX_DERIVATION_DEPTH = 10
const MAX_PATH_LENGTH = 2 + MAX_DERIVATION_DEPTH * 12

/** A parsed derivation path. */
export type DerivationPath = {
  /** Canonical text: `m`, then `/i` or `/i'` per level (hardened always written `'`, no leading zeros). */
  readonly path: string
  /** Child indices from the master down, hardened ones with {@link HARDENED_OFFSET} added. */
  readonly indices: readonly number[]
}

/**
 * Parse a BIP-32 derivation path strictly: `m`, then up to {@link MAX_DERIVATION_DEPTH} levels `/i`, where `i`
 * is a decimal index below 2^31 without leading zeros, followed by `'` or `h` when hardened.
 *
 * @param path - The path text, e.g. `m/44'/60'/0'/0/0` or `m/84h/0h/0h/0/0`.
 * @param field - Field the error names. @default 'path'
 * @returns The canonical path (hardened written `'`) and its child indices.
 * @throws InvalidArgumentError naming `field` when the path is malformed, an index is out of range or the path
 *   is deeper than {@link MAX_DERIVATION_DEPTH}.
 * @example
 * import { parseDerivationPath } from './derive.js'
 * parseDerivationPath("m/84h/0h/0h/0/0") // { path: "m/84'/0'/0'/0/0", indices: [0x80000054, 0x80000000, 0x80000000, 0, 0] }
 */
export function parseDerivationPath(path: unknown, field = 'path'): DerivationPath {
  if (typeof path !== 'string') throw new InvalidArgumentError({ field, rule: 'must be a string' })
  if (path.length > MAX_PATH_LENGTH) throw new InvalidArgumentError({ field, rule: `must be at most ${MAX_DERIVATION_DEPTH} levels deep` })
  if (path !== 'm' && !path.startsWith('m/')) throw new InvalidArgumentError({ field, rule: 'must start with "m/" (or be "m")' })
  const steps = path === 'm' ? [] : path.slice(2).split('/')
  if (steps.length > MAX_DERIVATION_DEPTH) throw new InvalidArgumentError({ field, rule: `must be at most ${MAX_DERIVATION_DEPTH} levels deep` })
  const indices: number[] = []
  const canonical = ['m']
  steps.forEach((step, i) => {
    const match = /^(0|[1-9][0-9]{0,9})(['h]?)$/.exec(step)
    if (!match) {
      throw new InvalidArgumentError({
        field,
        rule: `level ${i + 1} must be a decimal index without leading zeros, optionally followed by ' or h`,
      })
    }
    const index = Number(match[1])
    if (index >= HARDENED_OFFSET) throw new InvalidArgumentError({ field, rule: `level ${i + 1} must be an index below 2^31` })
    const hardened = match[2] !== ''
    indices.push(hardened ? index + HARDENED_OFFSET : index)
    canonical.push(hardened ? `${index}'` : String(index))
  })
  return { path: canonical.join('/'), indices }
}

function toPath(path: string | DerivationPath, field: string): DerivationPath {
  if (typeof path === 'object' && path !== null) {
    // Re-parse the text so a hand-built object cannot carry indices that disagree with it.
    return parseDerivationPath((path as DerivationPath).path, field)
  }
  return parseDerivationPath(path, field)
}

function assertSeed(seed: unknown, field: string): Uint8Array {
  if (!(seed instanceof Uint8Array)) throw new InvalidArgumentError({ field, rule: 'must be a Uint8Array' })
  if (seed.length < 16 || seed.length > 64) throw new InvalidArgumentError({ field, rule: `must be 16 to 64 bytes (got ${seed.length})` })
  return seed
}

/** A key derived from a seed at a path. */
export type DerivedKey = {
  /** The curve: `secp256k1` (BIP-32) or `ed25519` (SLIP-0010). */
  readonly curve: 'secp256k1' | 'ed25519'
  /** The canonical path. */
  readonly path: string
  /** Depth in the tree (0 for the master key). */
  readonly depth: number
  /** The child index at the last level (hardened ones with {@link HARDENED_OFFSET} added; 0 for the master). */
  readonly index: number
  /** Fingerprint of the master key: the first 4 bytes of HASH160 of its public key, big-endian. */
  readonly masterFingerprint: number
  /** Fingerprint of the parent key (0 for the master). */
  readonly parentFingerprint: number
  /** The private key: 32 fresh bytes, the caller zeroes them. */
  readonly privateKey: Uint8Array
  /** The public key: 33 bytes compressed SEC1 (secp256k1) or 32 bytes (ed25519). */
  readonly publicKey: Uint8Array
  /** The chain code: 32 fresh bytes, the caller zeroes them (with the public key it derives non-hardened children). */
  readonly chainCode: Uint8Array
}

function fingerprintOf(bytes: Uint8Array): number {
  const sha = createHash('sha256').update(bytes).digest()
  const hash = createHash('ripemd160').update(sha).digest()
  return hash.readUInt32BE(0)
}

function bip32Master(seed: Uint8Array): HDKey {
  const checked = assertSeed(seed, 'seed')
  try {
    return HDKey.fromMasterSeed(checked)
  } catch {
    // I_L = 0 or ≥ n (probability below 2^-127): BIP-32 calls the master key invalid. The library's error
    // is not kept as `cause` (it describes key material).
    throw new InvalidArgumentError({ field: 'seed', rule: 'gives an invalid BIP-32 master key: use another seed' })
  }
}

/**
 * The BIP-32 fingerprint of a seed's secp256k1 master key (the `masterFingerprint` of PSBT key origins).
 *
 * @param seed - 16 to 64 bytes (a BIP-39 seed is 64), only read.
 * @returns The first 4 bytes of HASH160(master public key), as an unsigned big-endian integer.
 * @throws InvalidArgumentError naming `seed` when it is not 16 to 64 bytes (or, with probability below
 *   2^-127, gives no valid master key).
 * @example
 * import { bip32MasterFingerprint } from './derive.js'
 * bip32MasterFingerprint(seed).toString(16).padStart(8, '0') // '73c5da0a' for the "abandon … about" seed
 */
export function bip32MasterFingerprint(seed: Uint8Array): number {
  const master = bip32Master(seed)
  try {
    return master.fingerprint
  } finally {
    master.wipePrivateData()
  }
}

/**
 * Derive a secp256k1 key from a seed with BIP-32 (@scure/bip32), one level at a time so that every
 * intermediate private key is wiped as soon as its child exists.
 *
 * @param seed - 16 to 64 bytes (a BIP-39 seed is 64), only read.
 * @param path - A path for {@link parseDerivationPath}, or one it returned.
 * @returns The derived key, its public key (compressed), chain code, and the master and parent fingerprints.
 * @throws InvalidArgumentError naming `seed` or `path` when either is malformed, or `path` when a level gives an
 *   invalid key (probability below 2^-127; BIP-32 then says to use the next index, which would make the key
 *   disagree with its path, so it is refused instead).
 * @example
 * import { mnemonicToSeed } from './mnemonic.js'
 * import { deriveSecp256k1Key } from './derive.js'
 * const key = deriveSecp256k1Key(mnemonicToSeed(mnemonic), "m/44'/60'/0'/0/0")
 * // … use key.privateKey, then key.privateKey.fill(0); key.chainCode.fill(0)
 */
export function deriveSecp256k1Key(seed: Uint8Array, path: string | DerivationPath): DerivedKey {
  const parsed = toPath(path, 'path')
  let node = bip32Master(seed)
  const masterFingerprint = node.fingerprint
  try {
    for (const [level, index] of parsed.indices.entries()) {
      const child = node.deriveChild(index)
      node.wipePrivateData()
      node = child
      if (child.index !== index) {
        throw new InvalidArgumentError({ field: 'path', rule: `level ${level + 1} derives an invalid key: use another index` })
      }
    }
    return {
      curve: 'secp256k1',
      path: parsed.path,
      depth: node.depth,
      index: node.index,
      masterFingerprint,
      parentFingerprint: node.parentFingerprint,
      privateKey: node.privateKey!,
      publicKey: node.publicKey!,
      chainCode: node.chainCode!,
    }
  } finally {
    node.wipePrivateData()
  }
}

const ED25519_SEED_KEY = new TextEncoder().encode('ed25519 seed')

function hmacSha512(key: Uint8Array, data: Uint8Array): Uint8Array {
  const digest = createHmac('sha512', key).update(data).digest()
  const out = new Uint8Array(digest)
  digest.fill(0)
  return out
}

/**
 * Derive an ed25519 key from a seed with SLIP-0010: master I = HMAC-SHA512("ed25519 seed", seed), then per
 * level I = HMAC-SHA512(c_par, 0x00 ‖ k_par ‖ ser32(i)), k = I_L, c = I_R. ed25519 has hardened derivation only.
 * Fingerprints are SLIP-0010's: HASH160(0x00 ‖ public key), first 4 bytes.
 *
 * @param seed - 16 to 64 bytes (a BIP-39 seed is 64), only read.
 * @param path - A path for {@link parseDerivationPath}, or one it returned; every level hardened.
 * @returns The derived key (the 32-byte ed25519 secret), its 32-byte public key, chain code and fingerprints.
 * @throws InvalidArgumentError naming `seed` or `path` when either is malformed, or `path` when a level is not
 *   hardened.
 * @example
 * import { mnemonicToSeed } from './mnemonic.js'
 * import { deriveEd25519Key } from './derive.js'
 * const key = deriveEd25519Key(mnemonicToSeed(mnemonic), "m/44'/501'/0'/0'")
 * // … use key.privateKey, then key.privateKey.fill(0); key.chainCode.fill(0)
 */
export function deriveEd25519Key(seed: Uint8Array, path: string | DerivationPath): DerivedKey {
  const parsed = toPath(path, 'path')
  const notHardened = parsed.indices.findIndex((index) => index < HARDENED_OFFSET)
  if (notHardened >= 0) {
    throw new InvalidArgumentError({
      field: 'path',
      rule: `must have every level hardened for ed25519 (SLIP-0010 has no non-hardened derivation): level ${notHardened + 1} is not`,
    })
  }
  let I = hmacSha512(ED25519_SEED_KEY, assertSeed(seed, 'seed'))
  let key = I.slice(0, 32)
  let chainCode = I.slice(32)
  I.fill(0)
  const masterFingerprint = ed25519Fingerprint(key)
  let parentFingerprint = 0
  const data = new Uint8Array(37)
  try {
    for (const [level, index] of parsed.indices.entries()) {
      if (level === parsed.indices.length - 1) parentFingerprint = level === 0 ? masterFingerprint : ed25519Fingerprint(key)
      data[0] = 0
      data.set(key, 1)
      new DataView(data.buffer).setUint32(33, index, false)
      I = hmacSha512(chainCode, data)
      data.fill(0)
      key.fill(0)
      chainCode.fill(0)
      key = I.slice(0, 32)
      chainCode = I.slice(32)
      I.fill(0)
    }
    return {
      curve: 'ed25519',
      path: parsed.path,
      depth: parsed.indices.length,
      index: parsed.indices.at(-1) ?? 0,
      masterFingerprint,
      parentFingerprint,
      privateKey: key,
      publicKey: ed25519.getPublicKey(key),
      chainCode,
    }
  } catch (e) {
    key.fill(0)
    chainCode.fill(0)
    throw e
  }
}

function ed25519Fingerprint(privateKey: Uint8Array): number {
  const data = new Uint8Array(33)
  data.set(ed25519.getPublicKey(privateKey), 1)
  return fingerprintOf(data)
}

/** Chain families with a default account path. */
export type DerivationFamily = 'evm' | 'bitcoin' | 'solana'
/** Bitcoin networks: mainnet uses coin type 0', the test networks 1' (SLIP-0044). */
export type BitcoinNetwork = 'mainnet' | 'testnet' | 'signet' | 'regtest'
/** Bitcoin address formats, each with its BIP-43 purpose: 44' P2PKH, 49' P2SH-P2WPKH, 84' P2WPKH, 86' P2TR. */
export type BitcoinAddressFormat = 'p2pkh' | 'p2sh-p2wpkh' | 'p2wpkh' | 'p2tr'

/** The parameters of {@link defaultDerivationPath}. */
export type DefaultDerivationPathParameters =
  | { family: 'evm'; account?: number }
  | { family: 'solana'; account?: number }
  | { family: 'bitcoin'; account?: number; format: BitcoinAddressFormat; network: BitcoinNetwork }

const BITCOIN_PURPOSE: Record<BitcoinAddressFormat, number> = { p2pkh: 44, 'p2sh-p2wpkh': 49, p2wpkh: 84, p2tr: 86 }
const BITCOIN_COIN_TYPE: Record<BitcoinNetwork, number> = { mainnet: 0, testnet: 1, signet: 1, regtest: 1 }

/**
 * The default derivation path of account `n` of a family:
 * EVM `m/44'/60'/0'/0/n` (MetaMask, Ledger Live); Bitcoin `m/purpose'/coin'/n'/0/0` with purpose 44' (P2PKH),
 * 49' (P2SH-P2WPKH), 84' (P2WPKH) or 86' (P2TR) and coin type 0' on mainnet, 1' on testnet, signet and regtest;
 * Solana `m/44'/501'/n'/0'` (Phantom, Solflare).
 *
 * @param parameters - The family, the account index (below 2^31) @default 0, and for Bitcoin the address
 *   format and network.
 * @returns The parsed path.
 * @throws InvalidArgumentError naming `family`, `account`, `format` or `network` when one is not valid.
 * @example
 * import { defaultDerivationPath } from './derive.js'
 * defaultDerivationPath({ family: 'bitcoin', account: 1, format: 'p2tr', network: 'testnet' }).path // "m/86'/1'/1'/0/0"
 */
export function defaultDerivationPath(parameters: DefaultDerivationPathParameters): DerivationPath {
  if (typeof parameters !== 'object' || parameters === null) throw new InvalidArgumentError({ field: 'parameters', rule: 'must be an object' })
  const account = Object.hasOwn(parameters, 'account') ? parameters.account : 0
  if (!Number.isSafeInteger(account) || (account as number) < 0 || (account as number) >= HARDENED_OFFSET) {
    throw new InvalidArgumentError({ field: 'account', rule: 'must be an integer from 0 to 2^31 - 1' })
  }
  const n = account as number
  switch (Object.hasOwn(parameters, 'family') ? parameters.family : undefined) {
    case 'evm':
      return parseDerivationPath(`m/44'/60'/0'/0/${n}`)
    case 'solana':
      return parseDerivationPath(`m/44'/501'/${n}'/0'`)
    case 'bitcoin': {
      const { format, network } = parameters as Extract<DefaultDerivationPathParameters, { family: 'bitcoin' }>
      if (!Object.hasOwn(BITCOIN_PURPOSE, format)) {
        throw new InvalidArgumentError({ field: 'format', rule: 'must be one of p2pkh, p2sh-p2wpkh, p2wpkh, p2tr' })
      }
      if (!Object.hasOwn(BITCOIN_COIN_TYPE, network)) {
        throw new InvalidArgumentError({ field: 'network', rule: 'must be one of mainnet, testnet, signet, regtest' })
      }
      return parseDerivationPath(`m/${BITCOIN_PURPOSE[format]}'/${BITCOIN_COIN_TYPE[network]}'/${n}'/0/0`)
    }
    default:
      throw new InvalidArgumentError({ field: 'family', rule: 'must be one of evm, bitcoin, solana' })
  }
}
