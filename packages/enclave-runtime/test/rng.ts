/**
 * A small seeded PRNG for the differential tests (sfc32 seeded through splitmix32): the same seed gives
 * the same cases, so a failure names its case and `DIFFERENTIAL_SEED=<n>` replays a run.
 */
export function createRng(seed: number) {
  let s = seed >>> 0
  const splitmix = () => {
    s = (s + 0x9e3779b9) | 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
    return (z ^ (z >>> 16)) >>> 0
  }
  let a = splitmix()
  let b = splitmix()
  let c = splitmix()
  let d = splitmix()
  const u32 = () => {
    const t = (((a + b) | 0) + d) | 0
    d = (d + 1) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) | 0
    return t >>> 0
  }
  /** Uniform integer in [lo, hi] (hi - lo < 2^32). */
  const int = (lo: number, hi: number) => lo + Math.floor((u32() / 2 ** 32) * (hi - lo + 1))
  const chance = (p: number) => u32() / 2 ** 32 < p
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)]!
  const bytes = (n: number) => {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i++) out[i] = u32() & 0xff
    return out
  }
  const bits = (n: number) => {
    let v = 0n
    for (let i = 0; i < n; i += 32) v = (v << 32n) | BigInt(u32())
    return v & ((1n << BigInt(n)) - 1n)
  }
  /** A value in [0, max] whose bit length is uniform: small and huge values are equally common. */
  const mixed = (max: bigint) => {
    const width = max.toString(2).length
    for (;;) {
      const v = bits(int(0, width))
      if (v <= max) return v
    }
  }
  return { u32, int, chance, pick, bytes, bits, mixed }
}
export type Rng = ReturnType<typeof createRng>

export const toHex = (b: Uint8Array) => `0x${Buffer.from(b).toString('hex')}` as `0x${string}`

const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n

export function randomPrivateKey(rng: Rng): `0x${string}` {
  for (;;) {
    const k = toHex(rng.bytes(32))
    const n = BigInt(k)
    if (n > 0n && n < SECP256K1_N) return k
  }
}
