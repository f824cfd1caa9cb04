import { keccak_256 } from '@noble/hashes/sha3.js'
import { assertObject, fail, typeName } from '../utils/assert.js'
import { assertHex, bytesToHex, type Hex, hexToBytes } from '../utils/hex.js'

/**
 * What callers pass to `signMessage`: a string is UTF-8 text (even when it looks like hex), bytes are
 * bytes, `{ raw }` is bytes given as hex or a Uint8Array (viem's `SignableMessage`).
 */
export type SignableMessage = string | Uint8Array | { raw: Hex | Uint8Array }

/** A validated message, as it travels on the wire: text, or raw bytes as lower-case hex. */
export type PersonalMessage = string | { raw: Hex }

/** Largest message accepted (bytes, after UTF-8 encoding). */
export const MAX_MESSAGE_BYTES = 64 * 1024

const PREFIX = '\x19Ethereum Signed Message:\n'
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Whether a string is well-formed UTF-16 (no lone surrogate), so that its UTF-8 encoding is lossless. */
export function isWellFormedString(s: string): boolean {
  return !LONE_SURROGATE.test(s)
}

/**
 * Validate a `personal_sign` message: a well-formed string (no lone surrogates), a Uint8Array or
 * `{ raw: hex | Uint8Array }`, at most 64 KiB.
 *
 * @param input - The message.
 * @param path - Field name for error messages. @default 'message'
 * @returns Text unchanged, bytes as `{ raw: lower-case hex }`.
 * @throws InvalidArgumentError naming the field.
 * @example
 * normalizePersonalMessage('0x4243') // '0x4243' (six characters of text)
 * normalizePersonalMessage({ raw: '0x4243' }) // { raw: '0x4243' } (two bytes)
 */
export function normalizePersonalMessage(input: unknown, path = 'message'): PersonalMessage {
  let result: PersonalMessage
  if (typeof input === 'string') {
    if (!isWellFormedString(input)) fail(path, 'must be well-formed Unicode (it has a lone surrogate)')
    result = input
  } else if (input instanceof Uint8Array) result = { raw: bytesToHex(input) }
  else if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
    const m = assertObject(input, path, ['raw'])
    if (m.raw === undefined) fail(`${path}.raw`, 'is required')
    result = { raw: m.raw instanceof Uint8Array ? bytesToHex(m.raw) : assertHex(m.raw, `${path}.raw`) }
  } else fail(path, `must be a string, a Uint8Array or { raw } (got ${typeName(input)})`)
  if (personalMessageBytes(result).length > MAX_MESSAGE_BYTES) fail(path, `must be at most ${MAX_MESSAGE_BYTES} bytes`)
  return result
}

/** The bytes a message stands for: UTF-8 of text, or the raw bytes. */
export function personalMessageBytes(message: PersonalMessage): Uint8Array {
  return typeof message === 'string' ? new TextEncoder().encode(message) : hexToBytes(message.raw)
}

/**
 * The EIP-191 (version 0x45, `personal_sign`) digest:
 * `keccak256("\x19Ethereum Signed Message:\n" + decimal byte length + message)`.
 *
 * @example
 * hashPersonalMessage('Hello World') // '0xa1de988600a42c4b4ab089b619297c17d53cffae5d5120d82d8a92d0bb3b78f2'
 */
export function hashPersonalMessage(message: PersonalMessage): Hex {
  const body = personalMessageBytes(message)
  const prefix = new TextEncoder().encode(`${PREFIX}${body.length}`)
  const payload = new Uint8Array(prefix.length + body.length)
  payload.set(prefix, 0)
  payload.set(body, prefix.length)
  return bytesToHex(keccak_256(payload))
}
