import { describe, expect, it } from 'vitest'
import { createNonceCache } from './createNonceCache.js'

const KEY = `0x02${'11'.repeat(32)}`
const nonce = (i: number) => `0x${i.toString(16).padStart(32, '0')}`

describe('stamp nonce cache', () => {
  it('refuses a nonce seen inside the window (a replayed request), per API key', () => {
    const cache = createNonceCache()
    cache.claim(KEY, nonce(1))
    expect(() => cache.claim(KEY, nonce(1))).toThrowError('request stamp was already used (replay)')
    // The same nonce under another key is another stamp.
    expect(() => cache.claim(`0x03${'11'.repeat(32)}`, nonce(1))).not.toThrow()
  })

  it('forgets a nonce only after the window, in order', () => {
    let t = 0
    const cache = createNonceCache({ windowMs: 1_000, now: () => t })
    cache.claim(KEY, nonce(1))
    t = 500
    cache.claim(KEY, nonce(2))
    t = 999
    expect(() => cache.claim(KEY, nonce(1))).toThrowError('replay')
    t = 1_000
    cache.claim(KEY, nonce(3))
    expect(cache.size).toBe(2)
    expect(() => cache.claim(KEY, nonce(2))).toThrowError('replay')
  })

  it('when full, refuses new stamps as busy instead of forgetting unexpired ones', () => {
    let t = 0
    const cache = createNonceCache({ windowMs: 1_000, maxEntries: 3, now: () => t })
    for (let i = 0; i < 3; i++) cache.claim(KEY, nonce(i))
    expect(() => cache.claim(KEY, nonce(9))).toThrowError('enclave busy: too many recent requests to remember')
    expect(() => cache.claim(KEY, nonce(0))).toThrowError('replay')
    t = 1_000
    expect(() => cache.claim(KEY, nonce(9))).not.toThrow()
  })
})

describe('a replay of a served request', () => {
  it('is answered "already answered" (retryable UNAVAILABLE), not as an unauthenticated stranger', () => {
    const cache = createNonceCache()
    const key = `0x02${'22'.repeat(32)}`
    const n = `0x${'33'.repeat(16)}`
    cache.claim(key, n)
    expect(() => cache.claim(key, n)).toThrowError('request stamp was already used (replay)')
    cache.served(key, n)
    let error: unknown
    try {
      cache.claim(key, n)
    } catch (e) {
      error = e
    }
    expect(error).toMatchObject({ code: 'UNAVAILABLE', retryable: true })
    expect((error as Error).message).toContain('already answered')
  })
})
