import { z } from 'zod'
import { KEY_ID_PATTERN, KEY_ID_RULE } from './keyId.js'

/** The wire schemas every operation's params and results are built from (shared by the chain families). */
export const keyIdSchema = z.string().regex(KEY_ID_PATTERN, KEY_ID_RULE)
/** `bytes` bytes of lower-case 0x-hex. */
export const hexSchema = (bytes: number) => z.string().regex(new RegExp(`^0x[0-9a-f]{${bytes * 2}}$`), `must be ${bytes} bytes of lower-case hex`)
export const addressSchema = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 20-byte address')
export const yParitySchema = z.union([z.literal(0), z.literal(1)])
export const decimalSchema = z.string().regex(/^(?:0|[1-9][0-9]{0,77})$/, 'must be a decimal integer string')

/**
 * A sign request's idempotency key (inside the stamped params): a retry with a fresh stamp and the same key
 * gets the first result, re-signed over the retry.
 */
export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/
export const IDEMPOTENCY_KEY_RULE = 'must be 1-64 characters of [A-Za-z0-9._:-]'
export const idempotencyKeySchema = z.string().regex(IDEMPOTENCY_KEY_PATTERN, IDEMPOTENCY_KEY_RULE).optional()

/** One operation on the wire: its params (validated by the enclave) and its result (validated by the SDK). */
export type OperationSchema = { readonly params: z.ZodType; readonly result: z.ZodType }
