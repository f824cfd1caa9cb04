import { z } from 'zod'
import { normalizePersonalMessage } from '../../messages/personalSign.js'
import { normalizeTypedData } from '../../messages/typedData.js'
import { addressSchema, decimalSchema, hexSchema, idempotencyKeySchema as idempotencyKey, keyIdSchema as keyId, type OperationSchema, yParitySchema } from '../../protocol/schemas.js'
import { normalizeAuthorizationRequest } from '../../transactions/authorization.js'
import { normalizeEip1559Transaction } from '../../transactions/eip1559.js'
import { normalizeTransactionRequest } from '../../transactions/transaction.js'
import { assertHex } from '../../utils/hex.js'

/** A signed EIP-1559 transaction (`sign.eip1559`). */
export const SignedTransactionSchema = z.strictObject({
  rawTransaction: z.string().regex(/^0x[0-9a-f]+$/, 'must be hex'),
  hash: hexSchema(32),
  from: addressSchema,
  signature: z.strictObject({ r: hexSchema(32), s: hexSchema(32), yParity: yParitySchema }),
})
export type SignedTransactionWire = z.infer<typeof SignedTransactionSchema>

/** A signed transaction of any type (`sign.transaction`): `v` (decimal) only for legacy transactions. */
export const SignedTypedTransactionSchema = z.strictObject({
  rawTransaction: z.string().regex(/^0x[0-9a-f]+$/, 'must be hex'),
  hash: hexSchema(32),
  from: addressSchema,
  type: z.enum(['legacy', 'eip2930', 'eip1559', 'eip7702']),
  signature: z.strictObject({ r: hexSchema(32), s: hexSchema(32), yParity: yParitySchema, v: decimalSchema.optional() }),
})
export type SignedTypedTransactionWire = z.infer<typeof SignedTypedTransactionSchema>

/** A signature over a digest (`sign.message`, `sign.typedData`, `sign.digest`). */
export const MessageSignatureSchema = z.strictObject({ signature: hexSchema(65), r: hexSchema(32), s: hexSchema(32), yParity: yParitySchema, hash: hexSchema(32) })
export type MessageSignatureWire = z.infer<typeof MessageSignatureSchema>

/** A signed EIP-7702 authorization (`sign.authorization`). */
export const SignedAuthorizationSchema = z.strictObject({ chainId: decimalSchema, address: addressSchema, nonce: decimalSchema, r: hexSchema(32), s: hexSchema(32), yParity: yParitySchema })
export type SignedAuthorizationResultWire = z.infer<typeof SignedAuthorizationSchema>

const WIRE_MAX_GAS = (1n << 64n) - 1n

/**
 * The EVM family's signing operations on the wire: params (validated by the enclave with the same normalisers the
 * SDK runs) and results (validated by the SDK), and the HTTP action of each (`POST /v1/keys/:keyId/<action>`).
 */
export const EVM_SIGNING_OPERATIONS = {
  'sign.eip1559': {
    params: z.strictObject({ idempotencyKey, keyId, tx: z.unknown().transform((v) => normalizeEip1559Transaction(v, 'tx', { maxGas: WIRE_MAX_GAS })) }),
    result: SignedTransactionSchema,
  },
  /** A transaction of type 0, 1, 2 or 4 (`tx.type` by name); `tx.allowReplayable` opts in to a legacy one without chainId. */
  'sign.transaction': {
    params: z.strictObject({ idempotencyKey, keyId, tx: z.unknown().transform((v) => normalizeTransactionRequest(v, 'tx', { maxGas: WIRE_MAX_GAS })) }),
    result: SignedTypedTransactionSchema,
  },
  /** An EIP-7702 authorization `{ chainId, address, nonce }`; `allowAnyChain` opts in to chainId 0. */
  'sign.authorization': {
    params: z.strictObject({ idempotencyKey, keyId, authorization: z.unknown().transform((v) => normalizeAuthorizationRequest(v, 'authorization')) }),
    result: SignedAuthorizationSchema,
  },
  /** EIP-191 personal_sign: `message` is text, or `{ raw: hex }` bytes. */
  'sign.message': {
    params: z.strictObject({ idempotencyKey, keyId, message: z.unknown().transform((v) => normalizePersonalMessage(v, 'message')) }),
    result: MessageSignatureSchema,
  },
  /** EIP-712: the whole typed-data payload, validated and hashed by the enclave. */
  'sign.typedData': {
    params: z.strictObject({ idempotencyKey, keyId, typedData: z.unknown().transform((v) => normalizeTypedData(v, 'typedData')) }),
    result: MessageSignatureSchema,
  },
  /** A raw 32-byte digest: only for keys whose policy has `allowRawDigest`. */
  'sign.digest': {
    params: z.strictObject({ idempotencyKey, keyId, digest: z.unknown().transform((v) => assertHex(v, 'digest', 32)) }),
    result: MessageSignatureSchema,
  },
} as const satisfies Record<`sign.${string}`, OperationSchema>

/**
 * The HTTP action of each EVM signing operation: `POST /v1/keys/:keyId/<action>` with the params minus keyId as
 * the body (`sign.eip1559` keeps its historical `POST /v1/keys/:keyId/sign` with `type: 'eip1559'`).
 */
export const EVM_SIGN_ACTIONS = {
  'sign.transaction': 'sign-transaction',
  'sign.authorization': 'sign-authorization',
  'sign.message': 'sign-message',
  'sign.typedData': 'sign-typed-data',
  'sign.digest': 'sign-digest',
} as const satisfies Partial<Record<keyof typeof EVM_SIGNING_OPERATIONS, string>>
