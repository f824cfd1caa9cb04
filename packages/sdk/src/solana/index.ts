/**
 * `@enclave-custody/sdk/solana`: a @solana/kit signer (and `@solana/keychain-core` `SolanaSigner`) backed by the
 * enclave. @solana/kit is a peer dependency of this entry point (for its types: nothing of it is imported at run
 * time).
 *
 * @module @enclave-custody/sdk/solana
 */
export {
  type CreateEnclaveSolanaSignerErrorType,
  type CreateEnclaveSolanaSignerReturnType,
  createEnclaveSolanaSigner,
  type EnclaveSolanaSigner,
  type EnclaveSolanaTransaction,
} from './createEnclaveSolanaSigner.js'
export type { EnclaveSolanaSignerClient } from './types.js'
