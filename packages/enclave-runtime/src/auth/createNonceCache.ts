import { UnauthenticatedError, UnavailableError } from '@enclave-custody/sdk/protocol'

export type CreateNonceCacheParameters = {
  /** How long a nonce is remembered: at least the stamp window on either side of now. @default 600_000 (2 × 5 min) */
  windowMs?: number
  /**
   * Nonces remembered at most. A full cache refuses new stamps (UNAVAILABLE, retryable) rather than
   * forget an unexpired nonce, which would reopen its replay. @default 1_000_000
   */
  maxEntries?: number
  /** @default Date.now */
  now?: () => number
}

export type NonceCache = {
  /**
   * Record `(publicKey, nonce)` of a verified stamp; refuse it if seen inside the window.
   * @throws UnauthenticatedError on a replay, UnavailableError when the cache is full.
   */
  claim(publicKey: string, nonce: string): void
  /**
   * Note that the request of a claimed stamp was served (a signature or a key was made): a replay of it is
   * then answered "already answered" (retryable), not refused as unauthenticated, so that a parent that
   * withheld the first answer cannot hand the caller a genuine refusal for a request that was served.
   */
  served(publicKey: string, nonce: string): void
  readonly size: number
}

/**
 * The enclave's memory of stamp nonces, so that a captured request cannot be sent again inside the stamp
 * window (a stamp outside the window is refused by its timestamp). Entries expire in insertion order; memory is
 * bounded by `maxEntries`. Per process: a fleet's instances do not share it (see the threat model).
 */
export function createNonceCache({ windowMs = 600_000, maxEntries = 1_000_000, now = Date.now }: CreateNonceCacheParameters = {}): NonceCache {
  /** Insertion-ordered: the oldest entries come first, so expiry pops from the front. */
  const seen = new Map<string, { at: number; served: boolean }>()
  const expire = (t: number) => {
    for (const [k, { at }] of seen) {
      if (t - at < windowMs) break
      seen.delete(k)
    }
  }
  return {
    claim(publicKey, nonce) {
      const t = now()
      expire(t)
      const id = `${publicKey}:${nonce}`
      const earlier = seen.get(id)
      if (earlier?.served) {
        throw new UnavailableError({ reason: 'this request was already answered, and that answer did not reach you; send it again (a fresh stamp) with the same idempotencyKey to get it' })
      }
      if (earlier) throw new UnauthenticatedError({ reason: 'request stamp was already used (replay)' })
      if (seen.size >= maxEntries) throw new UnavailableError({ reason: 'enclave busy: too many recent requests to remember' })
      seen.set(id, { at: t, served: false })
    },
    served(publicKey, nonce) {
      const entry = seen.get(`${publicKey}:${nonce}`)
      if (entry) entry.served = true
    },
    get size() {
      return seen.size
    },
  }
}
