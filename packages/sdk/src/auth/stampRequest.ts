import { randomBytes } from '@noble/hashes/utils.js'
import { bytesToHex, type Hex } from '../utils/hex.js'
import { stampPayload } from './stampPayload.js'
import type { RequestStamp, Stamper } from './types.js'

export type StampRequestParameters = {
  stamper: Stamper
  v: number
  op: string
  /** The params exactly as they will be sent (wire JSON). */
  params: unknown
  /** Digest of the target enclave's trust configuration, 0x-hex. */
  aud: string
  /** @default Date.now() */
  now?: number
  /** The stamp's nonce, when the params must bind it (a sealed import's associated data). @default 16 random bytes */
  nonce?: Hex
  /** Make an approval stamp for this requester's API key (compressed), not a request stamp. */
  approvalFor?: string
}

/**
 * Stamp one request: a fresh 16-byte nonce, the time, and the stamper's signature over
 * {@link stampPayload}. The result goes into the envelope's `auth`.
 *
 * @example
 * const auth = await stampRequest({ stamper, v: 1, op: 'key.get', params: { keyId }, aud })
 */
export async function stampRequest({ stamper, v, op, params, aud, now = Date.now(), nonce = bytesToHex(randomBytes(16)), approvalFor }: StampRequestParameters): Promise<RequestStamp> {
  const signature = await stamper.stamp(stampPayload({ v, op, params, timestamp: now, nonce, aud, ...(approvalFor === undefined ? {} : { approvalFor }) }))
  return { publicKey: stamper.publicKey, scheme: stamper.scheme, timestamp: now, nonce, signature: bytesToHex(signature) }
}
