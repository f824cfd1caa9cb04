/**
 * `@enclave-custody/sdk/ethers`: an ethers v6 Signer backed by the enclave. ethers is a peer dependency of
 * this entry point.
 *
 * @module @enclave-custody/sdk/ethers
 */
export { EnclaveSigner, type EnclaveSignerKey } from './EnclaveSigner.js'
export type { EnclaveSignerClient } from './types.js'
