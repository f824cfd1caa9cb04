import { type Hex, InvalidArgumentError } from '@enclave-custody/sdk/protocol'

export type IdempotencyStore = {
  /**
   * Run `fn` once per `(caller, idempotencyKey)`: a retry with the same request (same `requestDigest`, the
   * digest of its params without the key) gets the first result, a concurrent one waits for it; the same key
   * with another request is refused. Failures are not kept (a retry runs again).
   * @throws InvalidArgumentError when the key was used for another request.
   */
  run<T>(caller: Hex, idempotencyKey: string, requestDigest: Hex, fn: () => Promise<T>): Promise<T>
  /** Entries kept (results retained plus requests still running). */
  readonly size: number
  /** Size of the retained results: the sum of the lengths of their JSON. */
  readonly bytes: number
}

export type CreateIdempotencyStoreParameters = {
  /** Results kept; beyond, the oldest are forgotten (a retry then signs again: signing is deterministic). @default 100_000 */
  maxEntries?: number
  /**
   * Size of the results kept, each measured as the length of its JSON once it resolves; beyond, the oldest are
   * forgotten, and a result larger than this is not kept at all. Bounds the memory a caller can pin by signing
   * large transactions under fresh keys (a 128 KiB-calldata transaction holds ~264 KiB of result). @default 64 MiB
   */
  maxBytes?: number
}

type Entry = { digest: Hex; result: Promise<unknown>; /** 0 while running. */ bytes: number }

/**
 * The enclave's memory of idempotent sign requests, for the life of the process. Across a restart a retry
 * signs again, which is safe: RFC 6979 signing gives the same signature for the same key and payload.
 */
export function createIdempotencyStore({ maxEntries = 100_000, maxBytes = 64 * 1024 * 1024 }: CreateIdempotencyStoreParameters = {}): IdempotencyStore {
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new RangeError('idempotency store: maxEntries must be a positive integer')
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new RangeError('idempotency store: maxBytes must be a positive integer')
  // Insertion order is age: the oldest entry comes first.
  const entries = new Map<string, Entry>()
  let bytes = 0

  const forget = (id: string, entry: Entry) => {
    entries.delete(id)
    bytes -= entry.bytes
  }

  /** Once a result resolves: measure it, keep it if it fits, and forget the oldest results until all fit. */
  const retain = (id: string, entry: Entry, value: unknown) => {
    if (entries.get(id) !== entry) return // evicted while running
    let size: number
    try {
      size = JSON.stringify(value)?.length ?? 0
    } catch {
      size = Number.POSITIVE_INFINITY
    }
    if (size > maxBytes) {
      forget(id, entry)
      return
    }
    entry.bytes = Math.max(1, size)
    bytes += entry.bytes
    for (const [oldId, old] of entries) {
      if (bytes <= maxBytes) break
      // Running entries hold no counted bytes; dropping them would free nothing.
      if (old.bytes > 0) forget(oldId, old)
    }
  }

  return {
    async run(caller, idempotencyKey, requestDigest, fn) {
      const id = `${caller}:${idempotencyKey}`
      const seen = entries.get(id)
      if (seen) {
        if (seen.digest !== requestDigest) throw new InvalidArgumentError({ field: 'idempotencyKey', rule: 'was already used for another request by this API key' })
        return seen.result as Promise<Awaited<ReturnType<typeof fn>>>
      }
      const result = fn()
      const entry: Entry = { digest: requestDigest, result, bytes: 0 }
      entries.set(id, entry)
      if (entries.size > maxEntries) {
        const [oldId, old] = entries.entries().next().value!
        forget(oldId, old)
      }
      let value: Awaited<ReturnType<typeof fn>>
      try {
        value = await result
      } catch (e) {
        if (entries.get(id) === entry) forget(id, entry)
        throw e
      }
      retain(id, entry, value)
      return value
    },
    get size() {
      return entries.size
    },
    get bytes() {
      return bytes
    },
  }
}
