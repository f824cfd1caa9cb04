import { bytesToHex, IntegrityError, InvalidArgumentError, type SealedKeyRecord } from '@enclave-custody/sdk'
import type { Hex } from '@enclave-custody/sdk/protocol'
import { ed25519 } from '@noble/curves/ed25519.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { deriveAddress } from '../families/evm/secp256k1.js'
import { bitcoinAddress, evmAddress, solanaAddressOfPublicKey } from '../families/hd/addresses.js'
import { bip32MasterFingerprint, type DerivationPath, defaultDerivationPath, deriveEd25519Key, deriveSecp256k1Key, parseDerivationPath } from '../families/hd/derive.js'
import type { SigningFamily, SigningKey } from '../families/types.js'
import type { RecordV2Kind } from './recordV2.js'

/** The kinds a plain key can be generated or imported as. */
export type PlainKeyKind = 'secp256k1' | 'ed25519'

/** The families a record's key signs for: a secp256k1 key EVM and Bitcoin, an ed25519 key Solana, an account its own; a wallet none. */
export function familiesOfRecord(record: SealedKeyRecord): readonly SigningFamily[] {
  if (record.version === 1 || record.kind === 'secp256k1') return ['evm', 'bitcoin']
  if (record.kind === 'ed25519') return ['solana']
  if (record.kind === 'hd-account' && record.family) return [record.family]
  return []
}

const isEd25519 = (record: SealedKeyRecord) => record.version === 2 && (record.kind === 'ed25519' || (record.kind === 'hd-account' && record.family === 'solana'))

/** The public key of a record's unsealed material: secp256k1 compressed (an HD wallet's BIP-32 master key), ed25519 32 bytes. */
function publicKeyOfMaterial(record: SealedKeyRecord, material: Uint8Array): Uint8Array {
  if (record.version === 2 && record.kind === 'hd-wallet') return deriveSecp256k1Key(material, 'm').publicKey
  return isEd25519(record) ? ed25519.getPublicKey(material) : secp256k1.getPublicKey(material, true)
}

/**
 * Check that unsealed material is the key its record describes (the address, the public key, the wallet's master
 * key): for a v2 record the header is the AES-GCM associated data already, so this is defence in depth; for a v1
 * record (a private key KMS unsealed under a context without the address) it is what ties the address to the key.
 *
 * @throws IntegrityError when they differ.
 */
export function checkMaterial(record: SealedKeyRecord, material: Uint8Array): void {
  let matches: boolean
  if (record.version === 1 || record.kind === 'secp256k1') matches = deriveAddress(material) === record.address
  else if (record.kind === 'ed25519') matches = solanaAddressOfPublicKey(ed25519.getPublicKey(material)) === record.address
  else matches = bytesToHex(publicKeyOfMaterial(record, material)) === record.publicKey
  if (!matches) throw new IntegrityError({ reason: 'unsealed key does not match the record address' })
}

/**
 * What a signing operation sees of an unsealed key: its curve, families and address, and its public key derived
 * at most once, when asked. Only ever built for a record whose material passed {@link checkMaterial}.
 */
export function signingKeyOf(record: SealedKeyRecord, material: Uint8Array): SigningKey {
  let publicKey: Uint8Array | undefined
  return {
    keyId: record.keyId,
    curve: isEd25519(record) ? 'ed25519' : 'secp256k1',
    families: familiesOfRecord(record),
    address: record.address ?? '',
    ...(record.version === 2 && record.network !== undefined ? { bitcoinNetwork: record.network } : {}),
    publicKey: () => {
      publicKey ??= publicKeyOfMaterial(record, material)
      return publicKey
    },
  }
}

/**
 * The public key `key.get` reports: secp256k1 uncompressed (65 bytes; an HD wallet's master key), ed25519 32 bytes.
 */
export function reportedPublicKey(key: SigningKey): Hex {
  return key.curve === 'ed25519' ? bytesToHex(key.publicKey()) : bytesToHex(secp256k1.Point.fromBytes(key.publicKey()).toBytes(false))
}

/** Whether `bytes` is a valid private key of `kind` (any 32 bytes are an ed25519 seed). */
export function isValidKeyMaterial(kind: PlainKeyKind, bytes: Uint8Array): boolean {
  if (bytes.length !== 32) return false
  return kind === 'ed25519' || secp256k1.utils.isValidSecretKey(bytes)
}

/** The header fields of a plain key's record: its address (EIP-55, or base58 for ed25519). */
export function plainKeyHeader(kind: PlainKeyKind, privateKey: Uint8Array): RecordV2Kind {
  return kind === 'ed25519' ? { kind, address: solanaAddressOfPublicKey(ed25519.getPublicKey(privateKey)) } : { kind, address: deriveAddress(privateKey) }
}

/** The header fields of an HD wallet's record: its BIP-32 master public key and fingerprint. */
export function walletHeader(seed: Uint8Array): RecordV2Kind {
  const master = deriveSecp256k1Key(seed, 'm')
  master.privateKey.fill(0)
  master.chainCode.fill(0)
  return { kind: 'hd-wallet', publicKey: bytesToHex(master.publicKey), fingerprint: fingerprintHex(bip32MasterFingerprint(seed)) }
}

const fingerprintHex = (fp: number): Hex => `0x${fp.toString(16).padStart(8, '0')}` as Hex

/** What an account is created for: its family, and for Bitcoin the network and address format. */
export type AccountSpec = {
  family: SigningFamily
  /** The derivation path; the family's default at `index` when absent. */
  path?: string
  index?: number
  network?: 'mainnet' | 'testnet' | 'signet' | 'regtest'
  format?: 'p2pkh' | 'p2sh-p2wpkh' | 'p2wpkh' | 'p2tr'
}

/**
 * Derive an HD account from a wallet's seed: BIP-32 (EVM, Bitcoin) or SLIP-0010 (Solana: every level hardened) at
 * the account's path (default: EVM `m/44'/60'/0'/0/n`, Bitcoin `m/purpose'/coin'/n'/0/0`, Solana `m/44'/501'/n'/0'`).
 *
 * @returns The account's private key (32 fresh bytes: the caller zeroes them) and its record header fields.
 * @throws InvalidArgumentError naming `path`, `network` or `format` when the account cannot be derived as asked.
 */
export function deriveAccount(seed: Uint8Array, wallet: { walletId: string; publicKey: Hex; fingerprint: Hex }, spec: AccountSpec): { privateKey: Uint8Array; header: RecordV2Kind } {
  const { family } = spec
  const bitcoin = family === 'bitcoin'
  if (!bitcoin && (spec.network !== undefined || spec.format !== undefined)) throw new InvalidArgumentError({ field: spec.network !== undefined ? 'network' : 'format', rule: 'applies to Bitcoin accounts only' })
  const network = spec.network ?? 'mainnet'
  const format = spec.format ?? 'p2wpkh'
  const path: DerivationPath =
    spec.path !== undefined
      ? parseDerivationPath(spec.path, 'path')
      : defaultDerivationPath(bitcoin ? { family, account: spec.index ?? 0, network, format } : { family, account: spec.index ?? 0 })
  const derived = family === 'solana' ? deriveEd25519Key(seed, path) : deriveSecp256k1Key(seed, path)
  derived.chainCode.fill(0)
  const address =
    family === 'evm' ? evmAddress(derived.publicKey) : family === 'solana' ? solanaAddressOfPublicKey(derived.publicKey) : bitcoinAddress(derived.publicKey, { format, network })
  return {
    privateKey: derived.privateKey,
    header: {
      kind: 'hd-account',
      address,
      publicKey: bytesToHex(derived.publicKey),
      fingerprint: wallet.fingerprint,
      walletId: wallet.walletId,
      walletPublicKey: wallet.publicKey,
      family,
      path: derived.path,
      ...(bitcoin ? { network, format } : {}),
    },
  }
}
