import * as nodeCrypto from 'node:crypto'
import { p256 } from '@noble/curves/nist.js'
import { describe, expect, it, vi } from 'vitest'
import { nobleP256Backend, nodeCryptoP256Backend, selectedBackend, verifyP256 } from './p256.js'

const N = p256.Point.CURVE().n
const node = nodeCryptoP256Backend(nodeCrypto)
const noble = nobleP256Backend()
const backends = [node, noble]

const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const withS = (signature: Uint8Array, s: bigint) => Uint8Array.from([...signature.slice(0, 32), ...Buffer.from(s.toString(16).padStart(64, '0'), 'hex')])
const sOf = (signature: Uint8Array) => BigInt(`0x${toHex(signature.slice(32))}`)

describe('P-256 backends (node:crypto / OpenSSL and @noble/curves)', () => {
  it('Node selects OpenSSL', () => {
    expect(selectedBackend.name).toBe('node:crypto')
  })

  it('300 random keys and messages: every signature of either backend is low-s and verifies under both, compressed or not', () => {
    for (let i = 0; i < 300; i++) {
      const secret = p256.utils.randomSecretKey()
      const message = nodeCrypto.randomBytes(i % 97)
      for (const signer of backends) {
        const key = signer.signer(secret, i % 2 === 0)
        const signature = key.sign(message)
        expect(signature.length).toBe(64)
        expect(sOf(signature) <= N / 2n).toBe(true)
        const other = p256.getPublicKey(secret, i % 2 !== 0)
        expect(node.verify(signature, message, key.publicKey)).toBe(true)
        expect(node.verify(signature, message, other)).toBe(true)
        expect(noble.verify(signature, message, i % 4 < 2 ? key.publicKey : other)).toBe(true)
      }
    }
  })

  it('signs exactly what an independent verifier accepts: OpenSSL signatures checked by noble, noble ones by a DER-encoded OpenSSL verify', () => {
    for (let i = 0; i < 100; i++) {
      const secret = p256.utils.randomSecretKey()
      const message = nodeCrypto.randomBytes(32)
      const publicKey = p256.getPublicKey(secret, false)
      expect(p256.verify(node.signer(secret).sign(message), message, publicKey, { prehash: true, lowS: true })).toBe(true)
      const spki = Buffer.concat([Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex'), publicKey])
      const key = nodeCrypto.createPublicKey({ key: spki, format: 'der', type: 'spki' })
      expect(nodeCrypto.verify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, noble.signer(secret).sign(message))).toBe(true)
    }
  })

  it('both refuse the same things: high s, r or s out of range, another message or key, malformed signatures and keys', () => {
    const secret = p256.utils.randomSecretKey()
    const message = new TextEncoder().encode('enclave-custody')
    const { publicKey } = node.signer(secret)
    const good = noble.signer(secret).sign(message)
    const other = p256.getPublicKey(p256.utils.randomSecretKey(), true)
    const offCurve = Uint8Array.from(publicKey)
    offCurve[32]! ^= 1
    const hybrid = Uint8Array.from(p256.getPublicKey(secret, false))
    hybrid[0] = 0x06 | Number(p256.Point.fromBytes(publicKey).y & 1n)
    const cases: [string, Uint8Array, Uint8Array, Uint8Array][] = [
      ['high s (n − s of a valid signature)', withS(good, N - sOf(good)), message, publicKey],
      ['s = 0', withS(good, 0n), message, publicKey],
      ['s = n', withS(good, N), message, publicKey],
      ['r = 0', Uint8Array.from([...new Uint8Array(32), ...good.slice(32)]), message, publicKey],
      ['r = n', Uint8Array.from([...Buffer.from(N.toString(16), 'hex'), ...good.slice(32)]), message, publicKey],
      ['63 bytes', good.slice(0, 63), message, publicKey],
      ['65 bytes', Uint8Array.from([...good, 0]), message, publicKey],
      ['another message', good, new TextEncoder().encode('enclave-custodY'), publicKey],
      ['another key', good, message, other],
      ['a point off the curve', good, message, offCurve],
      ['a hybrid (06/07) encoding', good, message, hybrid],
      ['a 32-byte key', good, message, publicKey.slice(1)],
      ['the point at infinity', good, message, Uint8Array.of(0)],
    ]
    for (const [what, signature, bytes, key] of cases) {
      for (const backend of backends) expect(backend.verify(signature, bytes, key), `${backend.name}: ${what}`).toBe(false)
    }
    for (const backend of backends) expect(backend.verify(good, message, publicKey)).toBe(true)
  })

  it('the OpenSSL signer leaves no copy of the private key in Node\'s shared Buffer pool (which nobody zeroes)', () => {
    const slab = () => {
      const probe = Buffer.from([1, 2, 3])
      return Buffer.from(probe.buffer, 0, probe.buffer.byteLength)
    }
    for (let i = 0; i < 20; i++) {
      const secret = p256.utils.randomSecretKey()
      // Buffer.alloc is never pooled: the needle cannot be what is found.
      const needle = Buffer.alloc(32)
      needle.set(secret)
      node.signer(secret).sign(new Uint8Array(1))
      secret.fill(0)
      expect(slab().indexOf(needle)).toBe(-1)
    }
  })

  it('without node:crypto (a browser, a worker without builtins) the module falls back to noble, and still verifies OpenSSL signatures', async () => {
    vi.resetModules()
    const original = process.getBuiltinModule
    ;(process as { getBuiltinModule?: unknown }).getBuiltinModule = undefined
    try {
      const fallback = await import('./p256.js')
      expect(fallback.selectedBackend.name).toBe('noble')
      const secret = p256.utils.randomSecretKey()
      const message = new TextEncoder().encode('x')
      const key = node.signer(secret)
      expect(fallback.verifyP256(key.sign(message), message, key.publicKey)).toBe(true)
      expect(verifyP256(fallback.p256Signer(secret).sign(message), message, key.publicKey)).toBe(true)
    } finally {
      process.getBuiltinModule = original
      vi.resetModules()
    }
  })
})
