import { InvalidArgumentError } from '@enclave-custody/sdk'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { SigningKey } from 'ethers'
import { describe, expect, it } from 'vitest'
import { createNobleSecp256k1Backend, type Secp256k1Backend, type Secp256k1Signature, selectSecp256k1Backend } from '@enclave-custody/sdk/protocol'
import { createRng } from './rng.js'

const SEED = Number(process.env.DIFFERENTIAL_SEED ?? 0x5ec9256)
const COUNT = 10_000
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
const HALF_N = N >> 1n
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const bytes32 = (v: bigint) => Uint8Array.from(Buffer.from(v.toString(16).padStart(64, '0'), 'hex'))
const big = (b: Uint8Array) => BigInt(`0x${hex(b)}`)

const selected = selectSecp256k1Backend()
const noble = createNobleSecp256k1Backend()
// This machine (linux-x64, prebuilt binding) must have the native backend: a silent fallback would make the
// differential compare noble with itself.
const native = selected.name === 'native' ? selected : undefined
const backends: Secp256k1Backend[] = native ? [native, noble] : [noble]

/** The cases: seeded random keys in [1, n − 1] and random digests. */
function cases(count: number) {
  const rng = createRng(SEED)
  return Array.from({ length: count }, () => {
    let key: Uint8Array
    do key = rng.bytes(32)
    while (big(key) === 0n || big(key) >= N)
    return { key, digest: rng.bytes(32) }
  })
}

describe('secp256k1 backends', () => {
  it('the native backend is selected on this machine (linux-x64 has a prebuilt libsecp256k1 binding)', () => {
    expect(process.platform === 'linux' && process.arch === 'x64' ? selected.name : 'native').toBe('native')
    expect(selected.fallbackReason).toBeUndefined()
  })

  const all = cases(COUNT)
  const signatures: Secp256k1Signature[] = []

  it(`${COUNT} random digests and keys: every backend gives identical r, s and recovery, low-s`, { timeout: 120_000 }, () => {
    for (const [i, { key, digest }] of all.entries()) {
      const [first, ...rest] = backends.map((b) => b.sign(digest, key))
      for (const other of rest) {
        if (hex(other.r) !== hex(first!.r) || hex(other.s) !== hex(first!.s) || other.recovery !== first!.recovery) {
          throw new Error(`case ${i} (seed ${SEED}): the backends disagree`)
        }
      }
      expect(first!.r).toHaveLength(32)
      expect(first!.s).toHaveLength(32)
      if (big(first!.s) > HALF_N || big(first!.s) === 0n) throw new Error(`case ${i}: s is not low`)
      signatures.push(first!)
    }
    expect(signatures).toHaveLength(COUNT)
  })

  it(`every 10th of the ${COUNT} signatures verifies with @noble/curves itself; all recover to the signer natively`, { timeout: 120_000 }, () => {
    expect(signatures).toHaveLength(COUNT)
    for (const [i, { key, digest }] of all.entries()) {
      // The key comes from the fastest backend (noble's own derivation is compared on 50 cases below, and a
      // wrong key would make noble refuse). noble's verification costs ~2 ms: 1,000 of them keep the suite fast
      // (the 10,000 signatures are already compared byte for byte with noble's own above).
      const publicKey = backends[0]!.getPublicKey(key)
      const sig = signatures[i]!
      const compactSig = Uint8Array.from([...sig.r, ...sig.s])
      if (i % 10 === 0 && !secp256k1.verify(compactSig, digest, publicKey, { prehash: false, lowS: true })) throw new Error(`case ${i}: noble refuses the signature`)
      if (native) {
        if (hex(native.recover(digest, sig)) !== hex(publicKey)) throw new Error(`case ${i}: native recovers another key`)
        if (!native.verify(digest, sig, publicKey)) throw new Error(`case ${i}: native refuses the signature`)
      }
    }
  })

  it('the wrappers over noble recover and verify too, compressed and uncompressed (first 50 cases)', () => {
    for (const { key, digest } of all.slice(0, 50)) {
      const sig = noble.sign(digest, key)
      for (const b of backends) {
        expect(hex(b.recover(digest, sig))).toBe(hex(secp256k1.getPublicKey(key, false)))
        expect(hex(b.recover(digest, sig, { compressed: true }))).toBe(hex(secp256k1.getPublicKey(key, true)))
        expect(hex(b.getPublicKey(key, true))).toBe(hex(secp256k1.getPublicKey(key, true)))
        expect(b.verify(digest, sig, secp256k1.getPublicKey(key, true))).toBe(true)
        const other = digest.slice()
        other[31]! ^= 1
        expect(b.verify(other, sig, secp256k1.getPublicKey(key, false))).toBe(false)
      }
    }
  })

  it('matches ethers (SigningKey.sign, an independent RFC 6979 signer) on edge digests and keys, digests ≥ n included', () => {
    const digests = [0n, 1n, N - 1n, N, N + 1n, 2n ** 256n - 1n, HALF_N].map(bytes32)
    const keys = [1n, 2n, N - 1n, HALF_N, HALF_N + 1n].map(bytes32)
    for (const digest of digests) {
      for (const key of keys) {
        const expected = new SigningKey(key).sign(digest)
        for (const b of backends) {
          const sig = b.sign(digest, key)
          expect({ r: `0x${hex(sig.r)}`, s: `0x${hex(sig.s)}`, recovery: sig.recovery }, `${b.name} ${hex(digest)}`).toEqual({ r: expected.r, s: expected.s, recovery: expected.yParity })
          expect(hex(b.recover(digest, sig))).toBe(hex(secp256k1.getPublicKey(key, false)))
        }
      }
    }
  })

  it('a high-s twin of a valid signature is refused: verify says false, recover throws', () => {
    const { key, digest } = all[0]!
    const publicKey = secp256k1.getPublicKey(key!, false)
    for (const b of backends) {
      const sig = b.sign(digest!, key!)
      const twin = { r: sig.r, s: bytes32(N - big(sig.s)), recovery: sig.recovery ^ 1 }
      expect(b.verify(digest!, twin, publicKey)).toBe(false)
      expect(() => b.recover(digest!, twin)).toThrowError(new InvalidArgumentError({ field: 'signature.s', rule: 'must be at most n / 2 (low-s)' }))
    }
  })

  it('falls back to noble when the native module cannot load, is not the binding, or fails its self-test', () => {
    const missing = selectSecp256k1Backend({
      loadNative: () => {
        throw new Error("Cannot find module 'secp256k1/bindings'")
      },
    })
    expect(missing.name).toBe('noble')
    expect(missing.fallbackReason).toMatchInlineSnapshot(`"the native secp256k1 binding did not load: Cannot find module 'secp256k1/bindings'"`)
    const notBinding = selectSecp256k1Backend({ loadNative: () => ({ ecdsaSign: () => ({}) }) })
    expect(notBinding.name).toBe('noble')
    expect(notBinding.fallbackReason).toMatch(/^the native secp256k1 binding did not load: "binding" must be the secp256k1 native binding/)
    // A binding that signs with another nonce (here: noble with extra entropy) is caught by the known answer.
    const wrongNonces = {
      ecdsaSign: (msg32: Uint8Array, seckey: Uint8Array) => {
        const out = secp256k1.sign(msg32, seckey, { prehash: false, format: 'recovered', extraEntropy: true })
        return { signature: out.slice(1), recid: out[0]! }
      },
      ecdsaVerify: () => true,
      ecdsaRecover: () => new Uint8Array(65),
      publicKeyCreate: () => new Uint8Array(65),
      publicKeyVerify: () => true,
    }
    const failed = selectSecp256k1Backend({ loadNative: () => wrongNonces })
    expect(failed.name).toBe('noble')
    expect(failed.fallbackReason).toBe('the native secp256k1 binding failed its known-answer self-test')
    expect(selectSecp256k1Backend({ prefer: 'noble' })).toMatchObject({ name: 'noble' })
    expect(selectSecp256k1Backend({ prefer: 'noble' }).fallbackReason).toBeUndefined()
    // The fallback signs exactly as the native backend does.
    const { key, digest } = all[0]!
    expect(hex(missing.sign(digest!, key!).s)).toBe(hex(selected.sign(digest!, key!).s))
  })

  it("prefer must be 'native' or 'noble'", () => {
    expect(() => selectSecp256k1Backend({ prefer: 'elliptic' as never })).toThrowError(InvalidArgumentError)
  })

  describe('bad keys, digests, signatures and public keys: an InvalidArgumentError naming the field, and nothing else', () => {
    const { key, digest } = cases(1)[0]!
    const good = noble.sign(digest!, key!)
    const publicKey = secp256k1.getPublicKey(key!, false)
    const wrongTyped: unknown[] = [undefined, null, 0, 1n, 'ab'.repeat(32), `0x${'ab'.repeat(32)}`, Array.from({ length: 32 }, () => 1), new Uint16Array(32), new DataView(new ArrayBuffer(32)), {}]
    const badKeys: unknown[] = [...wrongTyped, new Uint8Array(31), new Uint8Array(33), new Uint8Array(32), bytes32(N), bytes32(N + 1n), bytes32(2n ** 256n - 1n)]
    const badDigests: unknown[] = [...wrongTyped, new Uint8Array(0), new Uint8Array(31), new Uint8Array(33), new Uint8Array(64)]
    const badSignatures: [string, unknown][] = [
      ['signature', null],
      ['signature', 'sig'],
      ['signature.r', { ...good, r: new Uint8Array(31) }],
      ['signature.r', { ...good, r: bytes32(0n) }],
      ['signature.r', { ...good, r: bytes32(N) }],
      ['signature.s', { ...good, s: bytes32(0n) }],
      ['signature.s', { ...good, s: bytes32(N) }],
      ['signature.s', { ...good, s: Array.from(good.s) }],
      ['signature.recovery', { ...good, recovery: 4 }],
      ['signature.recovery', { ...good, recovery: -1 }],
      ['signature.recovery', { ...good, recovery: 0.5 }],
      ['signature.recovery', { ...good, recovery: '1' }],
    ]
    const badPublicKeys: unknown[] = [...wrongTyped, new Uint8Array(65), Uint8Array.from([5, ...publicKey.slice(1)]), Uint8Array.from([6, ...publicKey.slice(1)]), publicKey.slice(0, 64), Uint8Array.from([4, ...new Uint8Array(64).fill(1)]), Uint8Array.from([2, ...bytes32(5n)])]

    /** Runs `fn` and returns the error's field, failing on anything but an InvalidArgumentError. */
    const fieldOf = (fn: () => unknown): string => {
      try {
        fn()
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidArgumentError)
        const { field } = (error as InvalidArgumentError).details as { field: string }
        // No key material: the message names the field and the rule only.
        expect((error as Error).message).not.toContain(hex(key!))
        return field
      }
      throw new Error('did not throw')
    }

    for (const b of backends) {
      it(`${b.name}: private keys`, () => {
        for (const bad of badKeys) {
          expect(fieldOf(() => b.sign(digest!, bad as Uint8Array))).toBe('privateKey')
          expect(fieldOf(() => b.getPublicKey(bad as Uint8Array))).toBe('privateKey')
        }
        expect(() => b.sign(digest!, bytes32(N))).toThrowErrorMatchingInlineSnapshot(`[InvalidArgumentError: "privateKey" must be a secp256k1 scalar in [1, n − 1]]`)
        expect(() => b.sign(digest!, new Uint8Array(31))).toThrowErrorMatchingInlineSnapshot(`[InvalidArgumentError: "privateKey" must be a 32-byte Uint8Array]`)
      })
      it(`${b.name}: digests`, () => {
        for (const bad of badDigests) {
          expect(fieldOf(() => b.sign(bad as Uint8Array, key!))).toBe('digest')
          expect(fieldOf(() => b.recover(bad as Uint8Array, good))).toBe('digest')
          expect(fieldOf(() => b.verify(bad as Uint8Array, good, publicKey))).toBe('digest')
        }
      })
      it(`${b.name}: signatures`, () => {
        for (const [field, bad] of badSignatures) {
          expect(fieldOf(() => b.recover(digest!, bad as Secp256k1Signature))).toBe(field)
          if (field !== 'signature.recovery') expect(fieldOf(() => b.verify(digest!, bad as Secp256k1Signature, publicKey))).toBe(field)
        }
        // r that is no x coordinate of the curve (x = 5 has no point), or r + n ≥ p with recovery 2: no key.
        expect(fieldOf(() => b.recover(digest!, { ...good, r: bytes32(5n) }))).toBe('signature')
        expect(fieldOf(() => b.recover(digest!, { ...good, recovery: 2 }))).toBe('signature')
      })
      it(`${b.name}: public keys`, () => {
        for (const bad of badPublicKeys) expect(fieldOf(() => b.verify(digest!, good, bad as Uint8Array))).toBe('publicKey')
        expect(fieldOf(() => b.recover(digest!, good, { compressed: 'yes' as never }))).toBe('compressed')
      })
    }
  })
})
