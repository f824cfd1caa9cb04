import { z } from 'zod'
import { idempotencyKeySchema as idempotencyKey, keyIdSchema as keyId, type OperationSchema } from '../../protocol/schemas.js'
import { base64Schema } from '../bitcoin/protocol.js'

/** The largest Solana transaction (signatures and message): a message is never longer. */
export const SOLANA_MAX_TRANSACTION_BYTES = 1232
/** The largest off-chain message (version 0): the preamble with 255 signers and a 65,535-byte body. */
export const SOLANA_MAX_OFFCHAIN_MESSAGE_BYTES = 16 + 1 + 32 + 1 + 1 + 255 * 32 + 2 + 65_535

/** A base58 string (Bitcoin's alphabet) of `min` to `max` characters. */
const base58Schema = (min: number, max: number, rule: string) => z.string().regex(new RegExp(`^[1-9A-HJ-NP-Za-km-z]{${min},${max}}$`), rule)

/**
 * A Solana signature (`sign.solanaTransaction`, `sign.solanaMessage`): the 64-byte ed25519 signature in base58
 * (Solana's notation; a transaction's first signature is its id), the signer's index among the message's
 * signers (its slot in the transaction), and the signer's base58 address.
 */
export const SolanaSignatureSchema = z.strictObject({
  signature: base58Schema(64, 88, 'must be a base58 signature'),
  signerIndex: z.number().int().min(0).max(255),
  signer: base58Schema(32, 44, 'must be a base58 address'),
})
export type SolanaSignatureWire = z.infer<typeof SolanaSignatureSchema>

/**
 * The Solana family's signing operations on the wire: `sign.solanaTransaction` takes the compiled transaction
 * message (legacy or v0: the bytes signers sign) in base64; `sign.solanaMessage` an off-chain message (version 0,
 * signing domain and preamble included) in base64.
 */
export const SOLANA_SIGNING_OPERATIONS = {
  'sign.solanaTransaction': {
    params: z.strictObject({ idempotencyKey, keyId, message: base64Schema(SOLANA_MAX_TRANSACTION_BYTES) }),
    result: SolanaSignatureSchema,
  },
  'sign.solanaMessage': {
    params: z.strictObject({ idempotencyKey, keyId, message: base64Schema(SOLANA_MAX_OFFCHAIN_MESSAGE_BYTES) }),
    result: SolanaSignatureSchema,
  },
} as const satisfies Record<`sign.${string}`, OperationSchema>

/** The HTTP actions of the Solana signing operations (`POST /v1/keys/:keyId/<action>`). */
export const SOLANA_SIGN_ACTIONS = {
  'sign.solanaTransaction': 'sign-solana-transaction',
  'sign.solanaMessage': 'sign-solana-message',
} as const satisfies Record<keyof typeof SOLANA_SIGNING_OPERATIONS, string>
