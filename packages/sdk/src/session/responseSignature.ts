import { verifyP256 } from '../auth/p256.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, type Hex, hexToBytes } from '../utils/hex.js'
import { canonicalApiKey } from '../keys/owners.js'
import { contextBytes, contextDigest, jsonDigest } from './contextBytes.js'

/** Context of the digest that names one stamped request (what a signed response answers). */
export const REQUEST_DIGEST_CONTEXT = 'enclave-custody/request-digest/v1'
/** Context of an enclave's response signature. */
export const RESPONSE_CONTEXT = 'enclave-custody/response/v1'

/**
 * An enclave's signature on a response, as it travels in the envelope's `sig` (and in the HTTP API's
 * `x-custody-signature` header): the response key's id, the audit receipt of the request, and the
 * 64-byte low-s ECDSA-P256 signature (r‖s) over {@link responseSigningPayload}.
 */
export type ResponseSignature = {
  /** SHA-256 of the response key's uncompressed SEC1 point, 0x-hex (the attestation's `public_key`). */
  keyId: Hex
  /** Sequence number of the audit event that records this request. */
  auditSeq: number
  /** Hash of that audit event: the head of the enclave's audit chain after this request. */
  auditHead: Hex
  signature: Hex
}

/** What a response signature covers, besides the response key's id. */
export type ResponseSigningFields = {
  /** {@link requestDigest} of the stamped request this answers. */
  request: Hex
  ok: boolean
  /** `result` when ok, else the wire `error` object. */
  value: unknown
  auditSeq: number
  auditHead: Hex
}

/**
 * The digest of one stamped request: SHA-256 of `enclave-custody/request-digest/v1` ‖ 0x00 ‖ canonical JSON of
 * `{ aud, auth, op, params, v }` with `params` exactly as sent and `auth` as sent but for its public key, written
 * compressed in lower case (`auth` null when absent). The stamp's fresh nonce makes it
 * unique, so a response signed over it answers that request and no other (the proxy may rewrite ids).
 */
export function requestDigest({ v, op, params, auth, aud }: { v: number; op: string; params: unknown; auth: unknown; aud: string }): Hex {
  // A missing stamp is digested as null, so that the enclave's refusal of an unstamped request is signed too.
  return contextDigest(REQUEST_DIGEST_CONTEXT, { aud, auth: normalizeStampKey(auth) ?? null, op, params, v })
}

/**
 * The stamp with its public key as its one name (compressed, lower case): the enclave accepts a key in either
 * SEC1 form, so a parent that re-encodes it must not change the digest the answer is signed over.
 */
function normalizeStampKey(auth: unknown): unknown {
  if (typeof auth !== 'object' || auth === null || Array.isArray(auth)) return auth
  try {
    return { ...(auth as object), publicKey: canonicalApiKey((auth as { publicKey?: unknown }).publicKey, 'auth.publicKey') }
  } catch {
    // Not a key at all: digested as sent (the stamp is refused anyway).
    return auth
  }
}

/**
 * The bytes a response key signs: `enclave-custody/response/v1` ‖ 0x00 ‖ canonical JSON of
 * `{ auditHead, auditSeq, body, keyId, ok, request }`, where `body` is SHA-256 of the canonical JSON of
 * the result (ok) or of the error object.
 */
export function responseSigningPayload(keyId: Hex, { request, ok, value, auditSeq, auditHead }: ResponseSigningFields): Uint8Array {
  return contextBytes(RESPONSE_CONTEXT, { auditHead, auditSeq, body: jsonDigest(value), keyId, ok, request })
}

/** The id of a response key: SHA-256 of its uncompressed SEC1 point (65 bytes), 0x-hex. */
export function responseKeyIdOf(publicKey: Uint8Array): Hex {
  return bytesToHex(sha256(publicKey))
}

/** A well-formed `sig`, or undefined (missing or malformed: the response is unsigned). */
export function parseResponseSignature(sig: unknown): ResponseSignature | undefined {
  if (typeof sig !== 'object' || sig === null || Array.isArray(sig)) return undefined
  const s = sig as Record<string, unknown>
  if (Object.keys(s).sort().join(',') !== 'auditHead,auditSeq,keyId,signature') return undefined
  if (typeof s.keyId !== 'string' || !/^0x[0-9a-f]{64}$/.test(s.keyId)) return undefined
  if (typeof s.auditHead !== 'string' || !/^0x[0-9a-f]{64}$/.test(s.auditHead)) return undefined
  if (typeof s.auditSeq !== 'number' || !Number.isSafeInteger(s.auditSeq) || s.auditSeq < 0) return undefined
  if (typeof s.signature !== 'string' || !/^0x[0-9a-f]{128}$/.test(s.signature)) return undefined
  return { keyId: s.keyId as Hex, auditSeq: s.auditSeq, auditHead: s.auditHead as Hex, signature: s.signature as Hex }
}

/**
 * Whether `sig` is the response key's signature over this response to this request. Pure.
 * @param publicKey - The attested response key, uncompressed SEC1 (65 bytes).
 */
export function verifyResponseSignature(sig: ResponseSignature, publicKey: Uint8Array, fields: Omit<ResponseSigningFields, 'auditSeq' | 'auditHead'>): boolean {
  if (responseKeyIdOf(publicKey) !== sig.keyId) return false
  let payload: Uint8Array
  try {
    payload = responseSigningPayload(sig.keyId, { ...fields, auditSeq: sig.auditSeq, auditHead: sig.auditHead })
  } catch {
    return false
  }
  try {
    return verifyP256(hexToBytes(sig.signature), payload, publicKey)
  } catch {
    return false
  }
}
