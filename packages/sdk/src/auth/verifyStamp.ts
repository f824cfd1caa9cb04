import { compressP256PublicKey, verifyP256 } from './p256.js'
import { UnauthenticatedError } from '../errors/CustodyError.js'
import { bytesToHex, type Hex, hexToBytes } from '../utils/hex.js'
import { stampPayload } from './stampPayload.js'
import { P256_STAMP_SCHEME } from './types.js'

/** How far a stamp's time may be from the verifier's clock. */
export const STAMP_MAX_SKEW_MS = 5 * 60 * 1000

export type VerifyStampParameters = {
  v: number
  op: string
  params: unknown
  /** The envelope's `auth`, untrusted. */
  auth: unknown
  /** This verifier's audience (trust-configuration digest, 0x-hex). */
  aud: string
  /** @default Date.now() */
  now?: number
  /** Stamps made before this time are refused (the enclave's boot). @default 0 */
  notBefore?: number
  /** @default STAMP_MAX_SKEW_MS */
  maxSkewMs?: number
  /** Verify an approval stamp for this requester (compressed API key) instead of a request stamp. */
  approvalFor?: string
}

export type VerifyStampReturnType = {
  /** The API key as a compressed point, 0x-hex: one key has one name, however it was sent. */
  publicKey: Hex
  nonce: Hex
  timestamp: number
}

const FIELDS = ['publicKey', 'scheme', 'timestamp', 'nonce', 'signature'] as const

/**
 * Verify a request stamp against the request it came with: the shape, the scheme, the time window
 * (±5 minutes and not before `notBefore`), and the low-s ECDSA-P256 signature over {@link stampPayload}
 * with the caller's audience. Replay (a nonce seen inside the window) is the verifier's to track with the
 * returned nonce. Pure: used by the enclave, and by tests of any other implementation.
 *
 * @throws UnauthenticatedError saying what is wrong (never echoing the stamp).
 */
export function verifyStamp({ v, op, params, auth, aud, now = Date.now(), notBefore = 0, maxSkewMs = STAMP_MAX_SKEW_MS, approvalFor }: VerifyStampParameters): VerifyStampReturnType {
  const refuse = (reason: string): never => {
    throw new UnauthenticatedError({ reason: `${approvalFor === undefined ? 'request' : 'approval'} stamp ${reason}` })
  }
  if (auth === undefined || auth === null) refuse('is missing')
  if (typeof auth !== 'object' || Array.isArray(auth)) refuse('must be an object')
  const a = auth as Record<string, unknown>
  const keys = Object.keys(a)
  if (keys.length !== FIELDS.length || !FIELDS.every((f) => Object.hasOwn(a, f))) refuse(`must have exactly the fields ${FIELDS.join(', ')}`)
  if (a.scheme !== P256_STAMP_SCHEME) refuse(`scheme must be ${P256_STAMP_SCHEME}`)
  if (typeof a.publicKey !== 'string' || !/^0x(?:0[23][0-9a-f]{64}|04[0-9a-f]{128})$/i.test(a.publicKey)) refuse('publicKey must be 0x-hex of a SEC1 P-256 point')
  const publicKey = compressP256PublicKey((a.publicKey as string).slice(2))
  if (publicKey === null) return refuse('publicKey is not a point on P-256')
  if (typeof a.timestamp !== 'number' || !Number.isSafeInteger(a.timestamp) || a.timestamp < 0) refuse('timestamp must be milliseconds since the epoch')
  const timestamp = a.timestamp as number
  if (Math.abs(now - timestamp) > maxSkewMs) refuse(`timestamp is outside ±${Math.round(maxSkewMs / 1000)} s of the enclave's clock`)
  if (timestamp < notBefore) refuse('timestamp is older than the enclave\'s boot')
  if (typeof a.nonce !== 'string' || !/^0x[0-9a-f]{32}$/.test(a.nonce)) refuse('nonce must be 16 bytes of lower-case 0x-hex')
  if (typeof a.signature !== 'string' || !/^0x[0-9a-f]{128}$/.test(a.signature)) refuse('signature must be 64 bytes of lower-case 0x-hex')
  let payload: Uint8Array
  try {
    payload = stampPayload({ v, op, params, timestamp, nonce: a.nonce as string, aud, ...(approvalFor === undefined ? {} : { approvalFor }) })
  } catch {
    return refuse('covers params that are not canonical JSON')
  }
  const ok = verifyP256(hexToBytes(a.signature as string), payload, publicKey)
  if (!ok) refuse('signature does not verify (wrong key, altered request, or another audience)')
  return { publicKey: bytesToHex(publicKey), nonce: a.nonce as Hex, timestamp }
}
