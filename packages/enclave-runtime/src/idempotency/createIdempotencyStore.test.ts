import { describe, expect, it } from 'vitest'
import { createIdempotencyStore } from './createIdempotencyStore.js'

const A = '0x02aa' as const
const B = '0x02bb' as const
const D1 = '0x01' as const
const D2 = '0x02' as const

describe('createIdempotencyStore', () => {
  it('runs a request once per (caller, key): retries and concurrent repeats share the first result', async () => {
    const store = createIdempotencyStore()
    let runs = 0
    const fn = async () => {
      runs++
      await new Promise((r) => setTimeout(r, 5))
      return { signature: `s${runs}` }
    }
    const [a, b] = await Promise.all([store.run(A, 'k', D1, fn), store.run(A, 'k', D1, fn)])
    expect(await store.run(A, 'k', D1, fn)).toEqual({ signature: 's1' })
    expect([a, b, runs]).toEqual([{ signature: 's1' }, { signature: 's1' }, 1])
  })

  it('refuses the same key for another request, and keeps callers apart', async () => {
    const store = createIdempotencyStore()
    await store.run(A, 'k', D1, async () => 1)
    await expect(store.run(A, 'k', D2, async () => 2)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'idempotencyKey' } })
    expect(await store.run(B, 'k', D2, async () => 3)).toBe(3)
  })

  it('forgets failures (a retry runs again) and is bounded', async () => {
    const store = createIdempotencyStore({ maxEntries: 2 })
    await expect(store.run(A, 'f', D1, async () => Promise.reject(new Error('kms down')))).rejects.toThrow('kms down')
    expect(await store.run(A, 'f', D1, async () => 'ok')).toBe('ok')
    await store.run(A, 'g', D1, async () => 'g')
    await store.run(A, 'h', D1, async () => 'h')
    expect(store.size).toBe(2)
    expect(await store.run(A, 'f', D2, async () => 'forgotten, so runs')).toBe('forgotten, so runs')
  })

  it('attack: fresh keys with large results (128 KiB calldata → ~264 KiB each) cannot pin memory past maxBytes', async () => {
    // The default cap: 300 results of 264 KiB would hold ~77 MiB if every one were kept.
    const store = createIdempotencyStore()
    const big = (i: number) => ({ signedTransaction: `0x${'ab'.repeat(132 * 1024)}`, n: i })
    for (let i = 0; i < 300; i++) await store.run(A, `fresh-${i}`, D1, async () => big(i))
    expect(store.size).toBeLessThan(300)
    expect(store.bytes).toBeLessThanOrEqual(64 * 1024 * 1024)
    expect(store.bytes).toBeGreaterThan(60 * 1024 * 1024)
    // The bytes counted are the JSON of the results kept, newest kept, oldest forgotten.
    const kept = store.size
    let newest = 0
    for (let i = 300 - kept; i < 300; i++) newest += JSON.stringify(big(i)).length
    expect(store.bytes).toBe(newest)
    let runs = 0
    const again = async () => {
      runs++
      return big(-1)
    }
    expect(await store.run(A, 'fresh-299', D1, again)).toEqual(big(299))
    expect(await store.run(A, 'fresh-0', D1, again)).toEqual(big(-1))
    expect(runs).toBe(1)
  })

  it('keeps results within maxBytes oldest-first, never one larger than the cap; retries of kept ones do not run again', async () => {
    const store = createIdempotencyStore({ maxBytes: 1000 })
    let runs = 0
    // A string result of `size` JSON characters (JSON adds the two quotes).
    const result = (tag: string, size: number) => async () => {
      runs++
      return tag.padEnd(size - 2, '.')
    }
    for (const k of ['a', 'b', 'c', 'd']) await store.run(A, k, D1, result(k, 300))
    expect([store.size, store.bytes, runs]).toEqual([3, 900, 4]) // 'a' forgotten
    expect(await store.run(A, 'd', D1, result('x', 300))).toMatch(/^d\./)
    expect(await store.run(A, 'b', D1, result('x', 300))).toMatch(/^b\./)
    expect(runs).toBe(4)
    expect(await store.run(A, 'a', D1, result('a2', 300))).toMatch(/^a2/) // forgotten: runs again, evicts 'b'
    expect([store.size, store.bytes, runs]).toEqual([3, 900, 5])
    // Larger than the cap: answered, not kept, and nothing else is evicted for it.
    expect(await store.run(A, 'huge', D1, result('h', 1001))).toHaveLength(999)
    expect([store.size, store.bytes]).toEqual([3, 900])
    expect(await store.run(A, 'huge', D1, result('h2', 1001))).toMatch(/^h2/)
    expect(runs).toBe(7)
    // A concurrent repeat still shares the running request, whatever its size.
    const [x, y] = await Promise.all([store.run(A, 'pair', D1, result('p', 2000)), store.run(A, 'pair', D1, result('q', 2000))])
    expect([x === y, runs]).toEqual([true, 8])
    // A failure counts no bytes.
    await expect(store.run(A, 'fail', D1, async () => Promise.reject(new Error('kms down')))).rejects.toThrow('kms down')
    expect(store.bytes).toBe(900)
  })
})
