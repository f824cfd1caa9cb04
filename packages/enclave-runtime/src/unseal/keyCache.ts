import { InvalidArgumentError } from '@enclave-custody/sdk'

/** Options of {@link createKeyCache}. */
export type CreateKeyCacheParameters = {
  /** How long an entry lives after `set`, in ms (not extended by reads). */
  ttlMs: number
  /** Most entries held; setting one more evicts the least recently used. */
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

type Entry = { key: Uint8Array; expiresAt: number; timer: ReturnType<typeof setTimeout> }

/**
 * Create a TTL + LRU cache of plaintext keys that zeroes every buffer it lets go of.
 *
 * Expiry is enforced twice: a timer zeroes the entry at `ttlMs` even if nobody asks again, and every
 * read checks the clock. JavaScript cannot guarantee that no other copy of a key exists (the GC may have
 * moved it, and OpenSSL keeps its own); the cache only guarantees that the buffers it owns are wiped.
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
  const entries = new Map<string, Entry>()

  const drop = (keyId: string): boolean => {
    const entry = entries.get(keyId)
    if (entry === undefined) return false
    clearTimeout(entry.timer)
    entry.key.fill(0)
    entries.delete(keyId)
    return true
  }
  /** The live entry, moved to most-recently-used; expired entries are dropped. */
  const live = (keyId: string, touch: boolean): Entry | undefined => {
    const entry = entries.get(keyId)
    if (entry === undefined) return undefined
    if (Date.now() >= entry.expiresAt) {
      drop(keyId)
      return undefined
    }
    if (touch) {
      entries.delete(keyId)
      entries.set(keyId, entry)
    }
    return entry
  }
  const checkKeyId = (keyId: unknown): string => {
    if (typeof keyId !== 'string' || keyId.length === 0) throw new InvalidArgumentError({ field: 'keyId', rule: 'must be a non-empty string' })
    return keyId
  }

  return {
    get(keyId) {
      const entry = live(checkKeyId(keyId), true)
      return entry === undefined ? undefined : entry.key.slice()
    },
    set(keyId, key) {
      checkKeyId(keyId)
      if (!(key instanceof Uint8Array) || key.length === 0) throw new InvalidArgumentError({ field: 'key', rule: 'must be a non-empty Uint8Array' })
      drop(keyId)
      const timer = setTimeout(() => drop(keyId), ttlMs)
      timer.unref?.()
      entries.set(keyId, { key: Uint8Array.from(key), expiresAt: Date.now() + ttlMs, timer })
      while (entries.size > maxEntries) drop(entries.keys().next().value as string)
    },
    delete(keyId) {
      return drop(checkKeyId(keyId))
    },
    clear() {
      for (const keyId of [...entries.keys()]) drop(keyId)
    },
    has(keyId) {
      return live(checkKeyId(keyId), false) !== undefined
    },
    use(keyId, fn) {
      const entry = live(checkKeyId(keyId), true)
      if (entry === undefined) return undefined
      const loan = entry.key.slice()
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
      for (const keyId of [...entries.keys()]) live(keyId, false)
      return entries.size
    },
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function'
}
