import { setTimeout as sleep } from 'node:timers/promises'
import { isCustodyError, normalizeSigningPolicy, type RollingLimit, windowMs } from '@enclave-custody/sdk'
import { describe, expect, it } from 'vitest'
import { compileSigningPolicy } from '../src/policy/compileSigningPolicy.js'
import { evaluateSigningPolicy } from '../src/policy/evaluateSigningPolicy.js'
import { createRollingLimits, type LimitReservation, type RollingLimits } from '../src/policy/rollingLimits.js'
import { MATRIX_SAMPLES, testApiKey } from './support/policyMatrix.js'

const HOUR = 3_600_000
const limit = (max: bigint | number, over: Partial<RollingLimit> = {}): RollingLimit => ({ sum: 'value', max: String(max), window: '1h', per: 'key', afterRestart: 'deny-until-window-end', ...over })
const isReservation = (r: LimitReservation | { refused: string }): r is LimitReservation => !('refused' in r)
/** A clock the test moves; the enclave booted long ago unless a test says otherwise. */
function fakeClock(start = 1_700_000_000_000) {
  const clock = { t: start, now: () => clock.t }
  return clock
}

/**
 * A check-then-increment limiter, the way rolling aggregations are often written: it checks the committed total,
 * and adds the amount only when the signature is made. Behind the same interface, through the same harness.
 */
function naiveLimits(): RollingLimits {
  const totals = new Map<string, bigint>()
  return {
    reserve(bucket, l, amount) {
      const used = totals.get(bucket) ?? 0n
      if (used + amount > BigInt(l.max)) return { refused: 'over' }
      return { commit: () => totals.set(bucket, (totals.get(bucket) ?? 0n) + amount), release() {} }
    },
  }
}

/**
 * The harness: `n` concurrent signing requests through the evaluator, each evaluated, then 15 ms of signing
 * latency, then the commit (or a release when `fails(i)`). Returns the total signed.
 */
async function concurrentRequests(limits: RollingLimits, amounts: bigint[], fails: (i: number) => boolean = () => false): Promise<{ signed: bigint; allowed: number; refused: bigint[] }> {
  const compiled = compileSigningPolicy(normalizeSigningPolicy({ rules: [{ id: 'daily', effect: 'allow', limit: { sum: 'value', max: '1000', window: '24h', afterRestart: 'reset' } }] }))
  let signed = 0n
  let allowed = 0
  const refused: bigint[] = []
  await Promise.all(
    amounts.map(async (value, i) => {
      await sleep(i % 3) // arrive spread a little, interleaved with other requests' latency
      const decision = evaluateSigningPolicy(compiled, { ...MATRIX_SAMPLES.transaction, value }, { keyId: 'hot', approvers: new Set(), limits })
      if (!decision.allowed) {
        refused.push(value)
        return
      }
      allowed++
      await sleep(15) // unsealing, signing: the time a naive limiter lets others through
      if (fails(i)) {
        decision.reservation!.release()
        return
      }
      decision.reservation!.commit()
      signed += value
    }),
  )
  return { signed, allowed, refused }
}

describe('reserve-then-commit under concurrency', () => {
  // 64 requests of 40..160 wei: about 6,400 in all, against a limit of 1,000.
  const amounts = Array.from({ length: 64 }, (_, i) => BigInt(40 + ((i * 37) % 121)))

  it('64 concurrent requests whose sum exceeds the limit, 15 ms between reserve and commit: the signed total never exceeds it', async () => {
    const sum = amounts.reduce((a, b) => a + b, 0n)
    expect(sum).toBeGreaterThan(5n * 1000n)
    const limits = createRollingLimits({ now: Date.now, bootTime: 0 })
    const { signed, allowed, refused } = await concurrentRequests(limits, amounts)
    expect(signed).toBeLessThanOrEqual(1000n)
    expect(allowed).toBeGreaterThan(0)
    // Nothing pending is left behind, and nothing was refused that would have fitted.
    expect(limits.stats().pending).toBe(0)
    expect(refused.length).toBe(64 - allowed)
    for (const r of refused) expect(signed + r).toBeGreaterThan(1000n)
  })

  it('a naive check-then-increment limiter, through the same harness, overshoots (so the test above can fail)', async () => {
    const { signed } = await concurrentRequests(naiveLimits(), amounts)
    expect(signed).toBeGreaterThan(1000n)
  })

  it('released reservations (signing failed) free their room for later requests', async () => {
    const limits = createRollingLimits({ now: Date.now, bootTime: 0 })
    const first = await concurrentRequests(limits, amounts, () => true)
    expect(first.signed).toBe(0n)
    expect(first.allowed).toBeGreaterThan(0)
    const second = await concurrentRequests(limits, amounts)
    expect(second.signed).toBeGreaterThan(0n)
    expect(second.signed).toBeLessThanOrEqual(1000n)
  })
})

describe('createRollingLimits', () => {
  it('boundary: exactly max is allowed, one more refused; an amount above max alone is refused', () => {
    const clock = fakeClock()
    const limits = createRollingLimits({ now: clock.now, bootTime: 0 })
    const r = limits.reserve('b', limit(100), 100n)
    expect(isReservation(r)).toBe(true)
    ;(r as LimitReservation).commit()
    expect(limits.reserve('b', limit(100), 1n)).toEqual({ refused: 'the limit of 100 value per 1h would be exceeded: 100 used or reserved, this request 1' })
    expect(limits.reserve('b', limit(100), 0n)).not.toHaveProperty('refused')
    expect(limits.reserve('fresh', limit(100), 101n)).toEqual({ refused: 'this request alone (101 value) exceeds the limit of 100 per 1h' })
    expect(limits.reserve('fresh', limit(0, { sum: 'count' }), 1n)).toHaveProperty('refused')
  })

  it('pending reservations count; release frees them; both calls are idempotent; a commit after a release still counts', () => {
    const clock = fakeClock()
    const limits = createRollingLimits({ now: clock.now, bootTime: 0 })
    const a = limits.reserve('b', limit(100), 60n) as LimitReservation
    expect(limits.reserve('b', limit(100), 50n)).toHaveProperty('refused')
    a.release()
    a.release()
    const b = limits.reserve('b', limit(100), 50n) as LimitReservation
    expect(isReservation(b)).toBe(true)
    b.commit()
    b.commit()
    b.release()
    expect(isReservation(limits.reserve('b', limit(100), 50n))).toBe(true) // pending now: 50 + 50
    expect(limits.reserve('b', limit(100), 1n)).toHaveProperty('refused')
    expect(limits.stats()).toMatchObject({ buckets: 1, pending: 1 })
    // A signature made after its reservation was released (a caller's mistake) is counted all the same.
    const clock2 = fakeClock()
    const l2 = createRollingLimits({ now: clock2.now, bootTime: 0 })
    const c = l2.reserve('x', limit(10), 10n) as LimitReservation
    c.release()
    expect(l2.stats().buckets).toBe(0) // an idle bucket is forgotten at once
    expect(isReservation(l2.reserve('y', limit(10), 1n))).toBe(true)
    c.commit()
    expect(l2.reserve('x', limit(10), 1n)).toHaveProperty('refused')
  })

  it('after the window, room returns; never before a commit has been counted for a whole window', () => {
    const clock = fakeClock()
    const limits = createRollingLimits({ now: clock.now, bootTime: 0 })
    const committedAt = clock.t
    ;(limits.reserve('b', limit(100), 100n) as LimitReservation).commit()
    clock.t = committedAt + HOUR - 1
    expect(limits.reserve('b', limit(100), 1n)).toHaveProperty('refused')
    // Conservative: the slot leaves once its newest possible entry has, at most one slot after the exact time.
    clock.t = committedAt + HOUR + Math.ceil(HOUR / 2048)
    const r = limits.reserve('b', limit(100), 100n)
    expect(isReservation(r)).toBe(true)
  })

  it('never under-counts: every commit still counts one millisecond before its window ends (random times)', () => {
    const clock = fakeClock(1_000_003)
    const limits = createRollingLimits({ now: clock.now, bootTime: 0, slotsPerWindow: 64 })
    const l = limit(1_000_000, { window: '1m' })
    const commits: { at: number; amount: bigint }[] = []
    let seed = 7
    const rand = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
      return seed % n
    }
    for (let i = 0; i < 400; i++) {
      clock.t += rand(1500)
      const amount = BigInt(1 + rand(50))
      const r = limits.reserve('b', l, amount)
      if (isReservation(r)) {
        r.commit()
        commits.push({ at: clock.t, amount })
      }
      // What is truly inside the window now is at most what the limit counts: probe with the exact room.
      const truly = commits.filter((c) => c.at + 60_000 > clock.t).reduce((a, c) => a + c.amount, 0n)
      const probe = limits.reserve('b', l, 1_000_000n - truly + 1n)
      expect(isReservation(probe), `at ${clock.t}: the counted total fell under the true ${truly}`).toBe(false)
    }
  })

  it('after a restart (a new instance booted now): the default refuses until bootTime + window; reset allows', () => {
    const clock = fakeClock()
    const before = createRollingLimits({ now: clock.now, bootTime: 0 })
    ;(before.reserve('b', limit(100), 100n) as LimitReservation).commit()
    const bootTime = clock.t
    const after = createRollingLimits({ now: clock.now, bootTime })
    const refused = after.reserve('b', limit(100), 1n)
    expect(refused).toEqual({
      refused: `the enclave restarted at ${new Date(bootTime).toISOString()} and does not know what it signed before; this 1h limit reopens at ${new Date(bootTime + HOUR).toISOString()}`,
    })
    clock.t = bootTime + HOUR - 1
    expect(after.reserve('b', limit(100), 1n)).toHaveProperty('refused')
    clock.t = bootTime + HOUR
    expect(isReservation(after.reserve('b', limit(100), 100n))).toBe(true)

    clock.t = bootTime
    const resetting = createRollingLimits({ now: clock.now, bootTime })
    expect(isReservation(resetting.reserve('b', limit(100, { afterRestart: 'reset' }), 100n))).toBe(true)
    // The default is deny-until-window-end: a limit without afterRestart (non-canonical) refuses too.
    const { afterRestart: _, ...noMode } = limit(100)
    expect(resetting.reserve('c', noMode as RollingLimit, 1n)).toHaveProperty('refused')
    // A longer window stays closed longer.
    clock.t = bootTime + HOUR
    expect(resetting.reserve('d', limit(100, { window: '24h' }), 1n)).toHaveProperty('refused')
    expect(windowMs('24h')).toBe(24 * HOUR)
  })

  it('buckets are separate; a bucket changing its sum or window starts apart (no mixing of units)', () => {
    const clock = fakeClock()
    const limits = createRollingLimits({ now: clock.now, bootTime: 0 })
    ;(limits.reserve('a', limit(100), 100n) as LimitReservation).commit()
    expect(isReservation(limits.reserve('b', limit(100), 100n))).toBe(true)
    expect(isReservation(limits.reserve('a', limit(100, { sum: 'count' }), 1n))).toBe(true)
    expect(isReservation(limits.reserve('a', limit(100, { window: '2h' }), 1n))).toBe(true)
    expect(limits.reserve('a', limit(100), 1n)).toHaveProperty('refused')
    // A higher max in a new policy version applies to the same totals.
    expect(isReservation(limits.reserve('a', limit(101), 1n))).toBe(true)
  })

  it('memory per bucket is bounded: at most slotsPerWindow + 1 live slots, however many commits', () => {
    const clock = fakeClock()
    const limits = createRollingLimits({ now: clock.now, bootTime: 0 })
    const l = limit(10n ** 30n, { window: '1m' })
    for (let i = 0; i < 20_000; i++) {
      clock.t += 7
      ;(limits.reserve('b', l, 1n) as LimitReservation).commit()
    }
    expect(limits.stats().slots).toBeLessThanOrEqual(2049)
    expect(limits.stats().slots).toBeGreaterThan(1000)
  })

  it('the table of buckets is bounded: a full table refuses new buckets, never evicts live totals, and frees expired ones', () => {
    const clock = fakeClock()
    const limits = createRollingLimits({ now: clock.now, bootTime: 0, maxBuckets: 3 })
    for (const b of ['a', 'b', 'c']) (limits.reserve(b, limit(100), 100n) as LimitReservation).commit()
    expect(limits.reserve('d', limit(100), 1n)).toEqual({ refused: "the enclave's rolling-limit table is full (3 limits in use); live totals are never evicted, retry later" })
    // The live totals are intact.
    for (const b of ['a', 'b', 'c']) expect(limits.reserve(b, limit(100), 1n)).toHaveProperty('refused')
    clock.t += HOUR + 60_000
    expect(isReservation(limits.reserve('d', limit(100), 1n))).toBe(true)
    expect(limits.stats().buckets).toBeLessThanOrEqual(3)
  })

  it('out of slots, a bucket folds its oldest slots forward: totals are kept, they only leave later', () => {
    const clock = fakeClock()
    const limits = createRollingLimits({ now: clock.now, bootTime: 0, maxSlots: 4 })
    const l = limit(1000, { window: '1m' })
    const start = clock.t
    for (let i = 0; i < 10; i++) {
      ;(limits.reserve('b', l, 10n) as LimitReservation).commit()
      clock.t += 1000
    }
    expect(limits.stats().slots).toBeLessThanOrEqual(4)
    // All 100 still count: 901 more would exceed, 900 fit.
    expect(limits.reserve('b', l, 901n)).toHaveProperty('refused')
    expect(isReservation(limits.reserve('b', l, 900n))).toBe(true)
    // The first commit would have left at start + 60 s; folded forward it may stay longer, never shorter.
    clock.t = start + 60_000 + 500
    expect(limits.reserve('b', l, 901n)).toHaveProperty('refused')
  })

  it('a commit whose bucket a sweep forgets while it is empty still counts', () => {
    const clock = fakeClock()
    const limits = createRollingLimits({ now: clock.now, bootTime: 0, maxSlots: 1 })
    ;(limits.reserve('a', limit(10), 10n) as LimitReservation).commit()
    // 'b' has no slot and nothing pending at its commit; the table is out of slots, so the commit sweeps.
    ;(limits.reserve('b', limit(10), 10n) as LimitReservation).commit()
    expect(limits.reserve('b', limit(10), 1n)).toHaveProperty('refused')
    expect(limits.reserve('a', limit(10), 1n)).toHaveProperty('refused')
  })

  it('a clock that steps back adds to the newest slot (counted no shorter)', () => {
    const clock = fakeClock()
    const limits = createRollingLimits({ now: clock.now, bootTime: 0 })
    const l = limit(100, { window: '1m' })
    ;(limits.reserve('b', l, 50n) as LimitReservation).commit()
    clock.t -= 30_000
    ;(limits.reserve('b', l, 50n) as LimitReservation).commit()
    clock.t += 30_000 + 59_000
    expect(limits.reserve('b', l, 1n)).toHaveProperty('refused')
  })

  it('refuses malformed arguments with a typed error naming the field', () => {
    const limits = createRollingLimits({ now: Date.now, bootTime: 0 })
    const field = (fn: () => unknown) => {
      try {
        fn()
      } catch (e) {
        return isCustodyError(e, 'INVALID_ARGUMENT') ? (e.details as { field: string }).field : 'other error'
      }
      return 'no error'
    }
    expect(field(() => limits.reserve('b', limit(1), -1n))).toBe('amount')
    expect(field(() => limits.reserve('b', limit(1), 1 as unknown as bigint))).toBe('amount')
    expect(field(() => limits.reserve('b', limit(1, { window: '1y' }), 1n))).toBe('limit.window')
    expect(field(() => limits.reserve('b', { ...limit(1), max: '-1' }, 1n))).toBe('limit.max')
    expect(field(() => createRollingLimits({ now: Date.now, bootTime: 0, maxBuckets: 0 }))).toBe('maxBuckets')
    expect(field(() => createRollingLimits({ now: Date.now, bootTime: Number.NaN }))).toBe('bootTime')
  })

  it('per-signer limits through the evaluator: each signer has its own room', () => {
    const clock = fakeClock()
    const limits = createRollingLimits({ now: clock.now, bootTime: 0 })
    const compiled = compileSigningPolicy(normalizeSigningPolicy({ rules: [{ id: 'each', effect: 'allow', limit: { sum: 'value', max: '100', window: '1h', per: 'signer', afterRestart: 'reset' } }] }))
    const [s1, s2] = [testApiKey(30).compressed, testApiKey(31).compressed]
    const sign = (signer: `0x${string}`, value: bigint) => {
      const r = evaluateSigningPolicy(compiled, { ...MATRIX_SAMPLES.transaction, value, signer }, { keyId: 'k', approvers: new Set([signer]), limits })
      if (r.allowed) r.reservation!.commit()
      return r
    }
    expect(sign(s1, 100n).allowed).toBe(true)
    const denied = sign(s1, 1n)
    expect(denied).toMatchObject({ allowed: false, rule: 'each', reason: 'the limit of 100 value per 1h would be exceeded: 100 used or reserved, this request 1' })
    expect(sign(s2, 100n).allowed).toBe(true)
  })
})
