import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, type Hex } from '../utils/hex.js'
import { contextBytes } from './contextBytes.js'
import type { TrustConfiguration } from './trust.js'

/** Context of audit events: their hash and the response key's signature are over `contextBytes(AUDIT_CONTEXT, event minus sig)`. */
export const AUDIT_CONTEXT = 'enclave-custody/audit/v1'
/** `prev` of the first event of a boot segment. */
export const AUDIT_GENESIS: Hex = `0x${'00'.repeat(32)}`

/**
 * One audit event, as the enclave emits it (no secrets: keys appear by id, callers by API public key).
 * Each boot starts a segment with a `boot` event (seq 0) that carries the attestation document of the
 * response key that signs the segment.
 */
export type AuditEvent = {
  seq: number
  /** Hash of the previous event of this segment ({@link AUDIT_GENESIS} for the boot event). */
  prev: Hex
  /** ISO-8601 time in the enclave. */
  time: string
  /** The operation (`boot`, `key.generate`, `sign.eip1559`, …). */
  op: string
  /** `ok`, or the error code the caller got (`UNAUTHENTICATED`, `FORBIDDEN`, `POLICY_DENIED`, …). */
  outcome: string
  keyId?: string
  /** The request digest the response was signed over. */
  requestDigest?: Hex
  /** The stamping API key (compressed point), when the stamp verified. */
  apiKey?: Hex
  /** The other API keys whose approval stamps over the same request verified (quorum), sorted. */
  approvers?: Hex[]
  /** The signing-policy rule that allowed or denied the request (absent: no rule decided it). */
  rule?: string
  /** The signing policy in force for the decision, or the one a `policy.set` accepted. */
  policyVersion?: number
  policyDigest?: Hex
  /**
   * Boot event only: the response key's id, its attestation document (base64; `public_key` = the response key,
   * `user_data` = `attestationUserData({ trust, hpkePublicKey })`), the trust configuration and the HPKE key.
   */
  responseKeyId?: Hex
  attestation?: string
  trust?: TrustConfiguration
  hpkePublicKey?: Hex
  /** The response key's signature over the event's bytes, 0x-hex r‖s (low s). */
  sig: Hex
}

/** The bytes an audit event's hash and signature cover: {@link AUDIT_CONTEXT}, 0x00, canonical JSON of the event without `sig`. */
export function auditEventBytes(event: Omit<AuditEvent, 'sig'> & { sig?: unknown }): Uint8Array {
  const { sig: _, ...body } = event
  return contextBytes(AUDIT_CONTEXT, body)
}

/** An event's hash (the next event's `prev`, and the `auditHead` of a response receipt), 0x-hex. */
export function auditEventHash(event: Omit<AuditEvent, 'sig'> & { sig?: unknown }): Hex {
  return bytesToHex(sha256(auditEventBytes(event)))
}
