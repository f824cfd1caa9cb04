/**
 * The short form of the endurance run (`pnpm test:load` is the long one, scripts/load.ts): 3 attested clients for
 * 10 s against local AWS, the enclave runtime and the parent proxy, each its own process. Zero errors, every
 * signature verified by ethers, the signing policy refusing what it must, memory within its bound after the
 * warm-up (a run this short only catches a gross leak: the output says how large a leak it could see).
 */
import { describe, expect, it } from 'vitest'
import { formatEndurance, runEndurance } from './support/endurance.js'

describe('endurance, short form', () => {
  it('3 clients × 10 s: zero errors, every signature verified independently, policy enforced, memory flat', async () => {
    const result = await runEndurance({ clients: 3, seconds: 10, progressEveryMs: 5_000, onProgress: (line) => process.stderr.write(`  ${line}\n`) })
    process.stderr.write(`${formatEndurance(result)}\n`)
    expect(result.failures).toEqual([])
    expect(result.errors).toBe(0)
    expect(result.signed).toBeGreaterThan(0)
    expect(result.denied).toBeGreaterThan(0)
    expect(result.signed + result.denied).toBe(result.requests)
    expect(result.ok).toBe(true)
  }, 90_000)
})
