import { createLocalSealer } from '../src/keys/localSealer.js'
import type { Sealer } from '../src/keys/types.js'

/**
 * A dev sealer that counts unseals: tests assert that a refused request never reached a plaintext key.
 */
export function countingSealer(fill: number): { sealer: Sealer; unseals: () => number } {
  const inner = createLocalSealer(new Uint8Array(32).fill(fill))
  let count = 0
  const sealer: Sealer = {
    kind: inner.kind,
    seal: inner.seal!.bind(inner),
    unseal: (record, ctx) => {
      count++
      return inner.unseal(record, ctx)
    },
  }
  return { sealer, unseals: () => count }
}
