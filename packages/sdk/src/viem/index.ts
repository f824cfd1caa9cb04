/**
 * `@enclave-custody/sdk/viem`: a viem account backed by the enclave. viem is a peer dependency of this
 * entry point.
 *
 * @module @enclave-custody/sdk/viem
 */
export {
  type EnclaveAccount,
  type EnclaveAccountKey,
  enclaveAccount,
  type ToEnclaveAccountErrorType,
  type ToEnclaveAccountOptions,
  type ToEnclaveAccountReturnType,
  toEnclaveAccount,
} from './toEnclaveAccount.js'
export type { EnclaveAccountClient } from './types.js'
