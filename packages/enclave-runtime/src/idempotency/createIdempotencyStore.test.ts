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
})
