import type { KeyPolicy, PolicyFacts } from '@enclave-custody/sdk'
import type { Operation, OperationParams } from '@enclave-custody/sdk/protocol'
import type { BitcoinNetwork } from './bitcoin/addresses.js'

/** The operations that sign a payload: every `sign.*` operation of the protocol (`sign.batch` carries them, it is none). */
export type SigningOperation = Exclude<Extract<Operation, `sign.${string}`>, 'sign.batch'>

/** The chain families the enclave signs for. */
export type SigningFamily = 'evm' | 'bitcoin' | 'solana'

/** The curve of a key (what its private bytes are). */
export type SigningCurve = 'secp256k1' | 'ed25519'

/**
 * The key a signing request names, as the enclave knows it once the record unsealed: a plain key (a secp256k1
 * key serves EVM and Bitcoin; an ed25519 key Solana) or an HD account (its family only).
 */
export type SigningKey = {
  keyId: string
  curve: SigningCurve
  /** The families this key may sign for. */
  families: readonly SigningFamily[]
  /**
   * The key's primary address: EIP-55 for secp256k1 keys and EVM accounts, base58 for ed25519 keys and Solana
   * accounts, the first receive address for a Bitcoin account.
   */
  address: string
  /** The public key (secp256k1 compressed, 33 bytes; ed25519, 32 bytes), derived once per request when asked. */
  publicKey(): Uint8Array
  /** A Bitcoin account of an HD wallet: the one network it signs for (its address and coin type belong to it). */
  bitcoinNetwork?: BitcoinNetwork
  /**
   * An account-level Bitcoin HD key (not created by `account.create` yet, whose accounts are leaf keys): the wallet's BIP-32 master fingerprint, the account's path (`m/84'/0'/0'`), its
   * network, and its extended public key (the account node's compressed key and chain code), for the facts'
   * change detection. Absent for every other key.
   */
  bitcoinAccount?: { fingerprint: Uint8Array; path: string; network: BitcoinNetwork; publicKey: Uint8Array; chainCode: Uint8Array }
}

/**
 * The unsealed secret of a signing key, lent for one call (zeroed after it; never kept).
 * `privateKey` is the secp256k1 key (32 bytes) or the ed25519 seed (32 bytes); for a Bitcoin HD account the
 * account node's key, and `derive(path)` the private key at a full path below the account (`m/84'/0'/0'/0/3`:
 * a fresh array the caller zeroes; a path outside the account throws).
 */
export type SigningSecret = { privateKey: Uint8Array; derive?(path: string): Uint8Array }

/**
 * What a chain family tells the enclave about one of its signing operations. The handler runs them in this
 * order: `check` (no key needed), the caller's authorization, the unsealing, `facts` (with the unsealed key's
 * public side) and the signing policy over them, then `sign`, which also enforces the key's sealed flags (a
 * ceiling no rule widens). A key that does not serve `family` is refused before any of it.
 */
export type SigningOperationSpec<O extends SigningOperation> = {
  /** The family the operation signs for. */
  family: SigningFamily
  /** The payload's policy facts. Throws `InvalidArgumentError` when they cannot be extracted: nothing is signed. */
  facts(params: OperationParams<O>, key: SigningKey): PolicyFacts
  /** Checks of the request alone (e.g. the gas cap), before any key is read. */
  check?(params: OperationParams<O>, limits: { maxGas: bigint }): void
  /** Sign with the unsealed secret (only read, never kept); `policy` is the key's sealed flags. */
  sign(secret: SigningSecret, params: OperationParams<O>, key: { policy: KeyPolicy; key: SigningKey }): unknown
}

/** One spec per signing operation: a family adds its operations to {@link SIGNING_OPERATIONS} in one line. */
export type SigningOperations<O extends SigningOperation = SigningOperation> = { readonly [K in O]: SigningOperationSpec<K> }
