import { sha256 } from '@noble/hashes/sha2.js'
import { utf8ToBytes } from '@noble/hashes/utils.js'
import { canonicalJson } from '../auth/canonicalJson.js'
import { bytesToHex, type Hex } from '../utils/hex.js'

/**
 * The bytes of a signed or hashed object of enclave-custody: UTF-8 of its context string (e.g.
 * `enclave-custody/response/v1`), one 0x00 byte, then the canonical JSON of the object. Every context is
 * distinct, so no signed object can be replayed as another kind.
 *
 * @throws InvalidArgumentError when `value` is not canonical JSON.
 */
export function contextBytes(context: string, value: unknown, field: string = context): Uint8Array {
  const head = utf8ToBytes(context)
  const body = utf8ToBytes(canonicalJson(value, field))
  const out = new Uint8Array(head.length + 1 + body.length)
  out.set(head, 0)
  out.set(body, head.length + 1)
  return out
}

/** SHA-256 of {@link contextBytes}, 0x-hex. */
export function contextDigest(context: string, value: unknown): Hex {
  return bytesToHex(sha256(contextBytes(context, value)))
}

/** SHA-256 of the canonical JSON of `value` (no context: the digest is always signed inside a context), 0x-hex. */
export function jsonDigest(value: unknown): Hex {
  return bytesToHex(sha256(utf8ToBytes(canonicalJson(value))))
}
