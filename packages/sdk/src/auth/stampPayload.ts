import { contextBytes } from '../session/contextBytes.js'

/** Domain separation of request stamps: no other signed object of enclave-custody starts with these bytes. */
export const REQUEST_STAMP_CONTEXT = 'enclave-custody/request/v1'
/**
 * Domain separation of approval stamps (quorum): an approval signs the request *and the requester's API key*, so
 * it is never a request stamp, nor an approval of the same request made by someone else.
 */
export const APPROVAL_STAMP_CONTEXT = 'enclave-custody/approval/v1'

export type StampPayloadParameters = {
  /** Protocol version of the envelope. */
  v: number
  op: string
  /** The params exactly as sent on the wire (JSON). */
  params: unknown
  timestamp: number
  nonce: string
  /** Digest of the enclave's trust configuration (hex): a stamp for one deployment is useless in another. */
  aud: string
  /**
   * For an approval stamp: the requester's API key (compressed P-256, lower-case 0x-hex). The bytes are then
   * `enclave-custody/approval/v1` ‖ 0x00 ‖ canonicalJson({ aud, nonce, op, params, requester, timestamp, v }).
   */
  approvalFor?: string
}

/**
 * The bytes an API key signs for a request, defined once and used by the SDK and the enclave:
 * UTF-8 of `enclave-custody/request/v1` ‖ 0x00 ‖ canonicalJson({ aud, nonce, op, params, timestamp, v }).
 * The signature is ECDSA-P256 over SHA-256 of these bytes.
 *
 * @throws InvalidArgumentError when params hold something canonical JSON cannot carry.
 * @example
 * stampPayload({ v: 1, op: 'key.get', params: { keyId: 'k' }, timestamp: 1767225600000, nonce: '00…', aud: 'ab…' })
 */
export function stampPayload({ v, op, params, timestamp, nonce, aud, approvalFor }: StampPayloadParameters): Uint8Array {
  const fields = approvalFor === undefined ? { aud, nonce, op, params, timestamp, v } : { aud, nonce, op, params, requester: approvalFor, timestamp, v }
  return contextBytes(approvalFor === undefined ? REQUEST_STAMP_CONTEXT : APPROVAL_STAMP_CONTEXT, fields, 'request')
}
