import { type Hex, InvalidArgumentError } from '@enclave-custody/sdk/protocol'

export type IdempotencyStore = {
  /**
   * Run `fn` once per `(caller, idempotencyKey)`: a retry with the same request (same `requestDigest`, the
   * digest of its params without the key) gets the first result, a concurrent one waits for it; the same key
   * with another request is refused. Failures are not kept (a retry runs again).
   * @throws InvalidArgumentError when the key was used for another request.
   */
  run<T>(caller: Hex, idempotencyKey: string, requestDigest: Hex, fn: () => Promise<T>): Promise<T>
  readonly size: number
}

export type CreateIdempotencyStoreParameters = {
  /** Results kept; beyond, the oldest are forgotten (a retry then signs again: signing is deterministic). @default 100_000 */
  maxEntries?: number
}

/**
 * The enclave's memory of idempotent sign requests, for the life of the process. Across a restart a retry
 * signs again, which is safe: RFC 6979 signing gives the same signature for the same key and payload.
 */
export function createIdempotencyStore({ maxEntries = 100_000 }: CreateIdempotencyStoreParameters = {}): IdempotencyStore {
  const entries = new Map<string, { digest: Hex; result: Promise<unknown> }>()
  return {
    async run(caller, idempotencyKey, requestDigest, fn) {
      const id = `${caller}:${idempotencyKey}`
      const seen = entries.get(id)
      if (seen) {
        if (seen.digest !== requestDigest) throw new InvalidArgumentError({ field: 'idempotencyKey', rule: 'was already used for another request by this API key' })
        return seen.result as Promise<Awaited<ReturnType<typeof fn>>>
      }
      const result = fn()
      entries.set(id, { digest: requestDigest, result })
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value!)
      try {
        return await result
      } catch (e) {
        if (entries.get(id)?.result === result) entries.delete(id)
        throw e
      }
    },
    get size() {
      return entries.size
    },
  }
}
