import { InvalidArgumentError } from '@enclave-custody/sdk'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createKeyCache } from './keyCache.js'

const key = (byte: number) => new Uint8Array(32).fill(byte)

/** Record the buffers allocated with `Uint8Array.from` (the cache's private copies), to check that they get zeroed. */
function spyOnOwnedBuffers(): Uint8Array[] {
  const owned: Uint8Array[] = []
  const original = Uint8Array.from
  vi.spyOn(Uint8Array, 'from').mockImplementation(((...args: Parameters<typeof Uint8Array.from>) => {
    const out = (original as (...a: unknown[]) => Uint8Array).apply(Uint8Array, args)
    owned.push(out)
    return out
  }) as typeof Uint8Array.from)
  return owned
}

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
})

describe('createKeyCache', () => {
  it('stores copies and hands out copies', () => {
    const cache = createKeyCache({ ttlMs: 1000, maxEntries: 10 })
    const input = key(7)
    cache.set('a', input)
    input.fill(0)
    const out = cache.get('a')!
    expect(out).toEqual(key(7))
    out.fill(9)
    expect(cache.get('a')).toEqual(key(7))
    expect(cache.get('missing')).toBeUndefined()
    expect(cache.size).toBe(1)
  })

  it('zeroes an entry when its TTL passes, even without a read', () => {
    const owned = spyOnOwnedBuffers()
    const cache = createKeyCache({ ttlMs: 1000, maxEntries: 10 })
    cache.set('a', key(1))
    const stored = owned.at(-1)!
    expect(stored).toEqual(key(1))
    vi.advanceTimersByTime(1000) // live for ttlMs inclusive (lru-cache: stale once age > ttl)
    expect(cache.has('a')).toBe(true)
    expect(stored).toEqual(key(1))
    vi.advanceTimersByTime(1)
    expect(stored.every((b) => b === 0)).toBe(true)
    expect(cache.has('a')).toBe(false)
    expect(cache.get('a')).toBeUndefined()
    expect(cache.size).toBe(0)
  })

  it('treats an entry as expired at its deadline even if the timer has not fired', () => {
    const owned = spyOnOwnedBuffers()
    const cache = createKeyCache({ ttlMs: 1000, maxEntries: 10 })
    cache.set('a', key(1))
    const stored = owned.at(-1)!
    vi.setSystemTime(Date.now() + 1001) // moves the clock without running timers
    expect(cache.get('a')).toBeUndefined()
    expect(stored.every((b) => b === 0)).toBe(true)
  })

  it('zeroes entries past their TTL found by has() or size before the timer fires', () => {
    const owned = spyOnOwnedBuffers()
    const cache = createKeyCache({ ttlMs: 1000, maxEntries: 10 })
    cache.set('a', key(1))
    const a = owned.at(-1)!
    cache.set('b', key(2))
    const b = owned.at(-1)!
    vi.setSystemTime(Date.now() + 1001) // no timer runs
    expect(cache.has('a')).toBe(false)
    expect(a.every((x) => x === 0)).toBe(true)
    expect(b).toEqual(key(2))
    expect(cache.size).toBe(0)
    expect(b.every((x) => x === 0)).toBe(true)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('does not extend the TTL on reads', () => {
    const cache = createKeyCache({ ttlMs: 1000, maxEntries: 10 })
    cache.set('a', key(1))
    vi.advanceTimersByTime(600)
    expect(cache.get('a')).toBeDefined()
    vi.advanceTimersByTime(401)
    expect(cache.get('a')).toBeUndefined()
  })

  it('evicts the least recently used entry beyond maxEntries, zeroing it', () => {
    const owned = spyOnOwnedBuffers()
    const cache = createKeyCache({ ttlMs: 60_000, maxEntries: 2 })
    cache.set('a', key(1))
    const a = owned.at(-1)!
    cache.set('b', key(2))
    const b = owned.at(-1)!
    cache.get('a') // a is now more recent than b
    cache.set('c', key(3))
    expect(b.every((x) => x === 0)).toBe(true)
    expect(a).toEqual(key(1))
    expect(cache.has('b')).toBe(false)
    expect(cache.has('a')).toBe(true)
    expect(cache.has('c')).toBe(true)
    expect(cache.size).toBe(2)
  })

  it('zeroes on replace, delete and clear', () => {
    const owned = spyOnOwnedBuffers()
    const cache = createKeyCache({ ttlMs: 60_000, maxEntries: 10 })
    cache.set('a', key(1))
    const first = owned.at(-1)!
    cache.set('a', key(2))
    const second = owned.at(-1)!
    expect(first.every((x) => x === 0)).toBe(true)
    expect(cache.get('a')).toEqual(key(2))
    expect(cache.delete('a')).toBe(true)
    expect(cache.delete('a')).toBe(false)
    expect(second.every((x) => x === 0)).toBe(true)
    cache.set('b', key(3))
    const third = owned.at(-1)!
    cache.set('c', key(4))
    const fourth = owned.at(-1)!
    cache.clear()
    expect(third.every((x) => x === 0) && fourth.every((x) => x === 0)).toBe(true)
    expect(cache.size).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('lends a copy to use() and zeroes it when the callback returns or throws', () => {
    const cache = createKeyCache({ ttlMs: 60_000, maxEntries: 10 })
    cache.set('a', key(5))
    let borrowed: Uint8Array | undefined
    expect(
      cache.use('a', (k) => {
        borrowed = k
        return k.reduce((s, b) => s + b, 0)
      }),
    ).toBe(160)
    expect(borrowed!.every((b) => b === 0)).toBe(true)
    expect(() =>
      cache.use('a', (k) => {
        borrowed = k
        throw new Error('boom')
      }),
    ).toThrow('boom')
    expect(borrowed!.every((b) => b === 0)).toBe(true)
    expect(cache.use('missing', () => 1)).toBeUndefined()
    expect(cache.get('a')).toEqual(key(5))
  })

  it('keeps the loan alive until an async callback settles, even if the entry is evicted meanwhile', async () => {
    const cache = createKeyCache({ ttlMs: 1000, maxEntries: 10 })
    cache.set('a', key(5))
    let borrowed: Uint8Array | undefined
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const pending = cache.use('a', async (k) => {
      borrowed = k
      await gate
      return k[0]
    })
    vi.advanceTimersByTime(1001) // the entry expires and is zeroed while the loan is out
    expect(cache.has('a')).toBe(false)
    expect(borrowed).toEqual(key(5))
    release()
    await expect(pending).resolves.toBe(5)
    expect(borrowed!.every((b) => b === 0)).toBe(true)

    cache.set('b', key(6))
    const failing = cache.use('b', async (k) => {
      borrowed = k
      throw new Error('async boom')
    })
    await expect(failing).rejects.toThrow('async boom')
    expect(borrowed!.every((b) => b === 0)).toBe(true)
  })

  it.each([
    ['ttlMs 0', () => createKeyCache({ ttlMs: 0, maxEntries: 1 }), '"ttlMs" must be a positive integer'],
    ['ttlMs NaN', () => createKeyCache({ ttlMs: Number.NaN, maxEntries: 1 }), '"ttlMs" must be a positive integer'],
    ['maxEntries 1.5', () => createKeyCache({ ttlMs: 1, maxEntries: 1.5 }), '"maxEntries" must be a positive integer'],
    ['an empty key', () => createKeyCache({ ttlMs: 1, maxEntries: 1 }).set('a', new Uint8Array(0)), '"key" must be a non-empty Uint8Array'],
    ['a hex key', () => createKeyCache({ ttlMs: 1, maxEntries: 1 }).set('a', '0x01' as never), '"key" must be a non-empty Uint8Array'],
    ['an empty keyId', () => createKeyCache({ ttlMs: 1, maxEntries: 1 }).get(''), '"keyId" must be a non-empty string'],
  ])('rejects %s', (_name, fn, message) => {
    expect(fn).toThrow(InvalidArgumentError)
    expect(fn).toThrow(message)
  })
})
