/**
 * `@enclave-custody/sdk/bitcoin`: a PSBT signer backed by the enclave, for @scure/btc-signer and bitcoinjs-lib
 * flows. Neither library is a dependency of this entry point: their objects are read structurally.
 *
 * @module @enclave-custody/sdk/bitcoin
 */
export {
  type BitcoinAddressFormat,
  type CreateEnclavePsbtSignerErrorType,
  type CreateEnclavePsbtSignerParameters,
  type CreateEnclavePsbtSignerReturnType,
  createEnclavePsbtSigner,
  type EnclavePsbtSigner,
  type SignPsbtOptions,
} from './createEnclavePsbtSigner.js'
export { type BitcoinjsPsbtClass, toBitcoinjsPsbt } from './toBitcoinjsPsbt.js'
export { type ScureTransactionClass, toScureTransaction } from './toScureTransaction.js'
export type { BitcoinjsPsbtLike, EnclavePsbtSignerClient, PsbtInput, ScureTransactionLike } from './types.js'
