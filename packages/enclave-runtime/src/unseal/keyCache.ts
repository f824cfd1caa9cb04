import { InvalidArgumentError } from '@enclave-custody/sdk'
import { LRUCache } from 'lru-cache'

/** Options of {@link createKeyCache}. */
export type CreateKeyCacheParameters = {
  /** How long an entry lives after `set`, in ms (not extended by reads). */
  ttlMs: number
  /** Most entries held; setting one more evicts the least recently used. lru-cache sizes its index arrays for this many up front. */
  maxEntries: number
}

/**
 * In-enclave cache of plaintext private keys. The cache owns its buffers and zeroes them (`fill(0)`)
 * whenever an entry expires, is evicted, replaced, deleted or cleared. Callers never receive the cached
 * buffer itself: `get` returns a copy, `use` lends a copy for the duration of a callback and zeroes it
 * afterwards.
 */
export type KeyCache = {
  /** A copy of the key (the caller zeroes it when done), or `undefined` when absent or expired. */
  get(keyId: string): Uint8Array | undefined
  /** Store a copy of `key` for `keyId` (the caller keeps, and should zero, its own buffer). */
  set(keyId: string, key: Uint8Array): void
  /** Zero and remove the entry; `true` if there was one. */
  delete(keyId: string): boolean
  /** Zero and remove every entry. */
  clear(): void
  /** Whether a live entry exists (does not touch recency). */
  has(keyId: string): boolean
  /**
   * Run `fn` with a copy of the key that is zeroed as soon as `fn` returns, or, when `fn` returns a
   * promise, as soon as it settles. Returns `undefined` without calling `fn` when the key is absent.
   */
  use<R>(keyId: string, fn: (key: Uint8Array) => R): R | undefined
  /** Number of live entries. */
  readonly size: number
}

/** What {@link createKeyCache} returns. */
export type CreateKeyCacheReturnType = KeyCache

/**
 * Create a TTL + LRU cache of plaintext keys that zeroes every buffer it lets go of.
 *
 * The bookkeeping is lru-cache's; its `dispose` hook zeroes the buffer on every way out (`evict`,
 * `expire`, `set` over an existing entry, `delete`, `clear`). Expiry is enforced twice: lru-cache's
 * autopurge timer zeroes an entry once `ttlMs` has passed even if nobody asks again, and every read
 * checks the clock (`Date.now`). An entry is live for `ttlMs` ms after `set` and gone from the next
 * millisecond on. JavaScript cannot guarantee that no other copy of a key exists (the GC may have moved
 * it, and OpenSSL keeps its own); the cache only guarantees that the buffers it owns are wiped.
 * lru-cache publishes each operation, value included, on the `lru-cache:metrics` diagnostics channel
 * when something in the process subscribes; nothing in the enclave image does.
 *
 * @param parameters - TTL and capacity.
 * @returns The cache.
 * @throws InvalidArgumentError when `ttlMs` or `maxEntries` is not a positive integer.
 * @example
 * import { createKeyCache } from '@enclave-custody/enclave-runtime'
 * const cache = createKeyCache({ ttlMs: 5 * 60_000, maxEntries: 1000 })
 * cache.set(keyId, privateKey)
 * privateKey.fill(0)
 * const signature = cache.use(keyId, (key) => sign(digest, key))
 */
export function createKeyCache({ ttlMs, maxEntries }: CreateKeyCacheParameters): CreateKeyCacheReturnType {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new InvalidArgumentError({ field: 'ttlMs', rule: 'must be a positive integer' })
  if (!Number.isSafeInteger(maxEntries) || maxEntries <= 0) throw new InvalidArgumentError({ field: 'maxEntries', rule: 'must be a positive integer' })
  const entries = new LRUCache<string, Uint8Array>({
    max: maxEntries,
    ttl: ttlMs,
    ttlAutopurge: true,
    // Read the clock on every check (no 1 ms cache of `now`, whose reset timer would outlive `clear`).
    ttlResolution: 0,
    perf: { now: () => Date.now() },
    updateAgeOnGet: false,
    updateAgeOnHas: false,
    allowStale: false,
    dispose: (key) => key.fill(0),
  })
  const checkKeyId = (keyId: unknown): string => {
    if (typeof keyId !== 'string' || keyId.length === 0) throw new InvalidArgumentError({ field: 'keyId', rule: 'must be a non-empty string' })
    return keyId
  }

  return {
    get(keyId) {
      // A stale entry is deleted (and zeroed) by the read itself.
      return entries.get(checkKeyId(keyId))?.slice()
    },
    set(keyId, key) {
      checkKeyId(keyId)
      if (!(key instanceof Uint8Array) || key.length === 0) throw new InvalidArgumentError({ field: 'key', rule: 'must be a non-empty Uint8Array' })
      entries.set(keyId, Uint8Array.from(key))
    },
    delete(keyId) {
      return entries.delete(checkKeyId(keyId))
    },
    clear() {
      entries.clear()
    },
    has(keyId) {
      const live = entries.has(checkKeyId(keyId))
      // `has` leaves a stale entry in place: drop (and zero) it now rather than at the autopurge timer.
      if (!live) entries.delete(keyId)
      return live
    },
    use(keyId, fn) {
      const key = entries.get(checkKeyId(keyId))
      if (key === undefined) return undefined
      const loan = key.slice()
      let result: ReturnType<typeof fn>
      try {
        result = fn(loan)
      } catch (e) {
        loan.fill(0)
        throw e
      }
      if (isPromiseLike(result)) {
        return Promise.resolve(result).finally(() => loan.fill(0)) as unknown as typeof result
      }
      loan.fill(0)
      return result
    },
    get size() {
      entries.purgeStale()
      return entries.size
    },
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function'
}
