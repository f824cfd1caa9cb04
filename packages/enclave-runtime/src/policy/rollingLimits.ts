import { InvalidArgumentError, type RollingLimit, windowMs } from '@enclave-custody/sdk'

/**
 * A hold on room under a rolling limit, taken by {@link RollingLimits.reserve}. Until it is committed or
 * released it counts against the limit, so that concurrent requests cannot together pass it.
 *
 * Both methods are idempotent. `commit()` after the signature was made (the amount then counts for a whole
 * window from the commit); `release()` when no signature was made. Counting errs high: a `commit()` after a
 * `release()` still counts the amount (a signature that exists is never left uncounted); a `release()` after
 * a `commit()` does nothing.
 */
export type LimitReservation = { commit(): void; release(): void }

/**
 * Rolling-limit state, per enclave instance (a fleet shares none of it). The handler may inject another
 * implementation (shared, persistent) through this type.
 */
export type RollingLimits = {
  /**
   * Check that `amount` fits under `limit` in `bucket` (what was committed inside the window, plus what is
   * reserved and not yet committed or released) and reserve it, in one synchronous step.
   *
   * @returns A reservation, or `{ refused }` with a reason fit for `POLICY_DENIED` (no key material).
   */
  reserve(bucket: string, limit: RollingLimit, amount: bigint): LimitReservation | { refused: string }
}

/** The in-memory {@link RollingLimits} of {@link createRollingLimits}, with its occupancy (for metrics and tests). */
export type InMemoryRollingLimits = RollingLimits & {
  /** Buckets held, live time slots across them, and reservations not yet committed or released. */
  stats(): { buckets: number; slots: number; pending: number }
}

/** Parameters of {@link createRollingLimits}. */
export type CreateRollingLimitsParameters = {
  /** The clock, in milliseconds since the epoch. */
  now: () => number
  /** When this enclave instance booted (same clock): `deny-until-window-end` refuses until `bootTime + window`. */
  bootTime: number
  /**
   * Most buckets (a bucket is one limit of one key's rule, or of one signer under it) held at once. A full
   * table refuses new buckets; it never evicts a bucket that still holds totals or reservations.
   * @default 100_000
   */
  maxBuckets?: number
  /**
   * Time slots per window: a bucket adds commits up per slot of `window / slotsPerWindow` milliseconds.
   * @default 2048
   */
  slotsPerWindow?: number
  /**
   * Most slots held across all buckets (besides one per bucket). Past it, a commit that needs a new slot first
   * merges its bucket's two oldest slots into the newer one: totals are never lost, they only leave the
   * window later (a limit reopens a little late, never early).
   * @default 1_048_576
   */
  maxSlots?: number
}

/** The default bound on the number of buckets. */
export const MAX_LIMIT_BUCKETS = 100_000
/** The default number of time slots per window. */
export const LIMIT_SLOTS_PER_WINDOW = 2048
/** The default bound on slots across all buckets (besides one per bucket). */
export const MAX_LIMIT_SLOTS = 1 << 20
/** Least time between two sweeps of the whole table for expired totals (a full table asks for them). */
const SWEEP_INTERVAL_MS = 1000

type Bucket = {
  readonly slotMs: number
  readonly windowMs: number
  /** Slot numbers (`floor(t / slotMs)`), increasing, and the committed totals of each. */
  readonly slots: number[]
  readonly sums: bigint[]
  /** Index of the oldest live slot in `slots` / `sums` (the arrays are compacted now and then). */
  head: number
  committed: bigint
  pending: bigint
  pendingCount: number
}

const iso = (ms: number): string => (Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms))

function positiveInteger(value: number | undefined, fallback: number, field: string): number {
  const v = value ?? fallback
  if (!Number.isSafeInteger(v) || v < 1) throw new InvalidArgumentError({ field, rule: 'must be a positive integer' })
  return v
}

/**
 * In-memory rolling limits, reserve-then-commit: {@link RollingLimits.reserve} checks and reserves in one
 * synchronous step, and reservations count until they are committed or released, so N concurrent requests
 * never together exceed `max`, whatever latency sits between reserve and commit.
 *
 * - **Sum.** The caller computes the amount (`value`, `amount`, `worstCaseFee` in wei or base units,
 *   `spendAmount` in satoshis, `lamports`, `1` for `count`). The state of a bucket is kept apart for each `sum`
 *   and `window`, so a policy that changes what a rule adds up never mixes units.
 * - **Window.** `windowMs(limit.window)`. Commits are added up in time slots of `window / slotsPerWindow` ms
 *   (at most `slotsPerWindow + 1` live slots per bucket); a slot leaves the window only once its newest
 *   possible entry has (`slotEnd + window <= now`), so the count is never under the truth. A commit counts
 *   from the time it is committed, a clock that steps back adds to the newest slot.
 * - **Restart.** This state lives in one enclave instance and dies with it. With `afterRestart:
 *   'deny-until-window-end'` (the default), the limit refuses every request while `now() < bootTime + window`
 *   (a restart must not refill a limit); with `'reset'` it counts from zero.
 * - **Bounds.** At most `maxBuckets` buckets: a full table (after sweeping buckets whose totals expired)
 *   refuses requests that need a new bucket rather than evicting live totals. Slots across buckets are
 *   bounded by `maxSlots` (see there).
 *
 * @param parameters The clock and the boot time; optional bounds.
 * @returns The limits, to pass as `ctx.limits` of `evaluateSigningPolicy`.
 * @throws InvalidArgumentError for a bound that is not a positive integer; `reserve` throws it for a negative
 * amount or a malformed limit.
 * @example
 * import { createRollingLimits } from './rollingLimits.js'
 * const limits = createRollingLimits({ now: Date.now, bootTime: Date.now() })
 * const r = limits.reserve('bucket', { sum: 'value', max: '100', window: '24h', per: 'key', afterRestart: 'reset' }, 40n)
 * if ('refused' in r) throw new Error(r.refused)
 * r.commit()
 */
export function createRollingLimits(parameters: CreateRollingLimitsParameters): InMemoryRollingLimits {
  const { now, bootTime } = parameters
  if (typeof now !== 'function') throw new InvalidArgumentError({ field: 'now', rule: 'must be a function returning milliseconds' })
  if (typeof bootTime !== 'number' || Number.isNaN(bootTime)) throw new InvalidArgumentError({ field: 'bootTime', rule: 'must be a number of milliseconds' })
  const maxBuckets = positiveInteger(parameters.maxBuckets, MAX_LIMIT_BUCKETS, 'maxBuckets')
  const slotsPerWindow = positiveInteger(parameters.slotsPerWindow, LIMIT_SLOTS_PER_WINDOW, 'slotsPerWindow')
  const maxSlots = positiveInteger(parameters.maxSlots, MAX_LIMIT_SLOTS, 'maxSlots')

  const buckets = new Map<string, Bucket>()
  /** Live slots across all buckets. */
  let slotCount = 0
  let lastSweep = Number.NEGATIVE_INFINITY

  /** Drop `b`'s slots whose newest possible entry has left the window. */
  function expire(b: Bucket, t: number): void {
    // Slot s holds entries from s·slotMs to (s+1)·slotMs − 1; it leaves once (s+1)·slotMs − 1 + window < t + 1.
    while (b.head < b.slots.length && (b.slots[b.head]! + 1) * b.slotMs - 1 + b.windowMs <= t) {
      b.committed -= b.sums[b.head]!
      b.head++
      slotCount--
    }
    if (b.head === b.slots.length) {
      b.slots.length = 0
      b.sums.length = 0
      b.head = 0
    } else if (b.head > 64 && b.head * 2 > b.slots.length) {
      b.slots.splice(0, b.head)
      b.sums.splice(0, b.head)
      b.head = 0
    }
  }

  const isIdle = (b: Bucket): boolean => b.head === b.slots.length && b.pendingCount === 0

  /** Expire every bucket and forget the idle ones (rate-limited: O(buckets)). */
  function sweep(t: number): void {
    if (t - lastSweep < SWEEP_INTERVAL_MS && t >= lastSweep) return
    lastSweep = t
    for (const [key, b] of buckets) {
      expire(b, t)
      if (isIdle(b)) buckets.delete(key)
    }
  }

  /** Add a commit of `amount` at time `t` to `b` (whose expired slots are gone). */
  function add(b: Bucket, t: number, amount: bigint): void {
    b.committed += amount
    const slot = Math.floor(t / b.slotMs)
    const live = b.slots.length - b.head
    if (live > 0 && slot <= b.slots[b.slots.length - 1]!) {
      // The newest slot (or a clock that stepped back: the newest slot leaves last, so this never under-counts).
      b.sums[b.sums.length - 1]! += amount
      return
    }
    if (slotCount >= maxSlots) sweep(t)
    if (slotCount >= maxSlots && live > 0) {
      // Out of slots: fold the oldest slot into the next one (or into the new one). The total stays; it only
      // leaves the window later.
      const oldest = b.sums[b.head]!
      b.head++
      slotCount--
      if (live > 1) b.sums[b.head]! += oldest
      else amount += oldest
    }
    b.slots.push(slot)
    b.sums.push(amount)
    slotCount++
  }

  return {
    stats() {
      let pending = 0
      for (const b of buckets.values()) pending += b.pendingCount
      return { buckets: buckets.size, slots: slotCount, pending }
    },
    reserve(bucket, limit, amount) {
      if (typeof bucket !== 'string') throw new InvalidArgumentError({ field: 'bucket', rule: 'must be a string' })
      if (typeof amount !== 'bigint' || amount < 0n) throw new InvalidArgumentError({ field: 'amount', rule: 'must be a non-negative bigint' })
      const window = windowMs(limit.window, 'limit.window')
      if (typeof limit.max !== 'string' || !/^(?:0|[1-9][0-9]{0,77})$/.test(limit.max)) {
        throw new InvalidArgumentError({ field: 'limit.max', rule: 'must be a non-negative integer as a decimal string' })
      }
      const max = BigInt(limit.max)
      const t = now()
      if (!Number.isFinite(t)) return { refused: 'the enclave clock gives no time' }
      if (limit.afterRestart !== 'reset' && t < bootTime + window) {
        return {
          refused: `the enclave restarted at ${iso(bootTime)} and does not know what it signed before; this ${limit.window} limit reopens at ${iso(bootTime + window)}`,
        }
      }
      if (amount > max) return { refused: `this request alone (${amount} ${limit.sum}) exceeds the limit of ${max} per ${limit.window}` }

      const key = `${limit.sum}\n${window}\n${bucket}`
      let b = buckets.get(key)
      if (b === undefined) {
        if (buckets.size >= maxBuckets) sweep(t)
        if (buckets.size >= maxBuckets) {
          return { refused: `the enclave's rolling-limit table is full (${maxBuckets} limits in use); live totals are never evicted, retry later` }
        }
        b = { slotMs: Math.max(1, Math.ceil(window / slotsPerWindow)), windowMs: window, slots: [], sums: [], head: 0, committed: 0n, pending: 0n, pendingCount: 0 }
        buckets.set(key, b)
      } else {
        expire(b, t)
      }
      const used = b.committed + b.pending
      if (used + amount > max) {
        if (isIdle(b)) buckets.delete(key)
        return { refused: `the limit of ${max} ${limit.sum} per ${limit.window} would be exceeded: ${used} used or reserved, this request ${amount}` }
      }
      b.pending += amount
      b.pendingCount++
      const held = b
      let state: 'pending' | 'released' | 'committed' = 'pending'
      return {
        commit() {
          if (state === 'committed') return
          if (state === 'pending') {
            held.pending -= amount
            held.pendingCount--
          }
          state = 'committed'
          const t2 = now()
          // The bucket may have been forgotten (idle after a release): a made signature always counts.
          const current = buckets.get(key) ?? held
          expire(current, t2)
          add(current, t2, amount)
          // (Re)register it: neither a release nor a sweep inside `add` may leave these totals out of the table.
          if (buckets.get(key) !== current) buckets.set(key, current)
        },
        release() {
          if (state !== 'pending') return
          state = 'released'
          held.pending -= amount
          held.pendingCount--
          if (isIdle(held) && buckets.get(key) === held) buckets.delete(key)
        },
      }
    },
  }
}
