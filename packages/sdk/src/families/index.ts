import { BITCOIN_SIGN_ACTIONS, BITCOIN_SIGNING_OPERATIONS } from './bitcoin/protocol.js'
import { EVM_SIGN_ACTIONS, EVM_SIGNING_OPERATIONS } from './evm/protocol.js'
import { SOLANA_SIGN_ACTIONS, SOLANA_SIGNING_OPERATIONS } from './solana/protocol.js'

/**
 * Every chain family's signing operations on the wire, in one table: a family adds its folder and one line here.
 * The protocol's operation table, the HTTP route table and the enclave's dispatch are built from it.
 */
export const SIGNING_OPERATION_SCHEMAS = {
  ...EVM_SIGNING_OPERATIONS,
  ...BITCOIN_SIGNING_OPERATIONS,
  ...SOLANA_SIGNING_OPERATIONS,
} as const

/** The HTTP action of each signing operation (`POST /v1/keys/:keyId/<action>`), by family. */
export const SIGN_ACTIONS: Readonly<Record<string, string>> = Object.freeze({
  ...EVM_SIGN_ACTIONS,
  ...BITCOIN_SIGN_ACTIONS,
  ...SOLANA_SIGN_ACTIONS,
})
