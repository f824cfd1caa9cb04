import { base64 } from '@scure/base'
import { z } from 'zod'
import { idempotencyKeySchema as idempotencyKey, keyIdSchema as keyId, type OperationSchema } from '../../protocol/schemas.js'

/** The largest PSBT a request carries (256 KiB): the answer (the signed PSBT and, finalized, the transaction in hex) must fit one 1 MiB frame. */
export const MAX_BITCOIN_PSBT_BYTES = 262_144

/** The Bitcoin networks the enclave signs for. */
export const BITCOIN_NETWORKS = ['mainnet', 'testnet', 'signet', 'regtest'] as const
export type BitcoinNetwork = (typeof BITCOIN_NETWORKS)[number]

/** Sighash types a request may allow besides SIGHASH_ALL (BIP-143/341 values, ANYONECANPAY = 0x80). */
export const BITCOIN_SIGHASH_TYPES = [0x01, 0x02, 0x03, 0x81, 0x82, 0x83] as const

/** Whether `s` is canonical padded base64 (RFC 4648: re-encoding gives it back). */
export function isCanonicalBase64(s: string): boolean {
  try {
    return base64.encode(base64.decode(s)) === s
  } catch {
    return false
  }
}

/** Canonical padded base64 of 1 to `maxBytes` bytes. */
export const base64Schema = (maxBytes: number) =>
  z
    .string()
    .min(4, 'must be non-empty base64')
    .max(Math.ceil(maxBytes / 3) * 4, `must be base64 of at most ${maxBytes} bytes`)
    .refine(isCanonicalBase64, 'must be canonical base64 (RFC 4648, padded)')
    .refine((s) => s.length / 4 * 3 - (s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0) <= maxBytes, `must be base64 of at most ${maxBytes} bytes`)

/** A signed PSBT (`sign.bitcoinPsbt`): `transaction` and `txid` (lower-case hex, no 0x) only when finalized. */
export const SignedBitcoinPsbtSchema = z.strictObject({
  psbt: base64Schema(2 * MAX_BITCOIN_PSBT_BYTES),
  signedInputs: z.array(z.number().int().min(0).max(100_000)).min(1).max(100_000),
  transaction: z.string().regex(/^(?:[0-9a-f]{2})+$/, 'must be lower-case hex').max(2 * MAX_BITCOIN_PSBT_BYTES).optional(),
  txid: z.string().regex(/^[0-9a-f]{64}$/, 'must be 32 bytes of lower-case hex').optional(),
})
export type SignedBitcoinPsbtWire = z.infer<typeof SignedBitcoinPsbtSchema>

/**
 * The Bitcoin family's signing operation on the wire. `sign.bitcoinPsbt`: a PSBT v0 (BIP-174) in base64, its
 * network, `finalize` (finalize the signed inputs and extract the transaction), and `allow` (accept unproven
 * segwit amounts, other sighash types: each only for a key sealed with the matching flag).
 */
export const BITCOIN_SIGNING_OPERATIONS = {
  'sign.bitcoinPsbt': {
    params: z.strictObject({
      idempotencyKey,
      keyId,
      psbt: base64Schema(MAX_BITCOIN_PSBT_BYTES),
      network: z.enum(BITCOIN_NETWORKS),
      finalize: z.boolean().optional(),
      allow: z
        .strictObject({
          unprovenSegwitAmounts: z.boolean().optional(),
          sighashTypes: z.array(z.literal(BITCOIN_SIGHASH_TYPES)).max(BITCOIN_SIGHASH_TYPES.length).optional(),
        })
        .optional(),
    }),
    result: SignedBitcoinPsbtSchema,
  },
} as const satisfies Record<`sign.${string}`, OperationSchema>

/** The HTTP action of the Bitcoin signing operation: `POST /v1/keys/:keyId/sign-bitcoin-psbt`. */
export const BITCOIN_SIGN_ACTIONS = {
  'sign.bitcoinPsbt': 'sign-bitcoin-psbt',
} as const satisfies Record<keyof typeof BITCOIN_SIGNING_OPERATIONS, string>
