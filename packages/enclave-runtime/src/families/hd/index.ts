/**
 * HD wallets, as a pure module of the enclave runtime: BIP-39 mnemonics and seeds, BIP-32 (secp256k1) and
 * SLIP-0010 (ed25519) derivation, default account paths, and the addresses of derived keys. Nothing here keeps
 * state, reads a record or talks to KMS; the handler and the records wire it in.
 */
export {
  BITCOIN_ADDRESS_FORMATS,
  type BitcoinAddressParameters,
  bitcoinAddress,
  bitcoinAddresses,
  evmAddress,
  solanaAddressOfPublicKey,
} from './addresses.js'
export {
  type BitcoinAddressFormat,
  type BitcoinNetwork,
  bip32MasterFingerprint,
  type DefaultDerivationPathParameters,
  type DerivationFamily,
  type DerivationPath,
  type DerivedKey,
  defaultDerivationPath,
  deriveEd25519Key,
  deriveSecp256k1Key,
  HARDENED_OFFSET,
  MAX_DERIVATION_DEPTH,
  parseDerivationPath,
} from './derive.js'
export {
  assertMnemonic,
  BIP39_ENTROPY_BYTES,
  BIP39_MAX_PASSPHRASE_LENGTH,
  BIP39_WORD_COUNTS,
  entropyToMnemonic,
  isValidMnemonic,
  mnemonicToEntropy,
  mnemonicToSeed,
} from './mnemonic.js'
