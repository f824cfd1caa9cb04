import { InvalidArgumentError } from '../../errors/CustodyError.js'
import {
  checkCompressed,
  checkDigest,
  checkPrivateKey,
  checkPublicKeyFraming,
  checkRecoverableSignature,
  checkSignature,
  compact,
  notOnCurve,
  reduceDigest,
  type Secp256k1Backend,
  unrecoverable,
} from './secp256k1Backend.js'

/**
 * The part of the `secp256k1` npm package's API (v5, `secp256k1/bindings`: libsecp256k1 only, never its
 * `elliptic` fallback) this backend calls.
 */
export type NativeSecp256k1Binding = {
  ecdsaSign(msg32: Uint8Array, seckey: Uint8Array): { signature: Uint8Array; recid: number }
  ecdsaVerify(signature: Uint8Array, msg32: Uint8Array, publicKey: Uint8Array): boolean
  ecdsaRecover(signature: Uint8Array, recid: number, msg32: Uint8Array, compressed?: boolean): Uint8Array
  publicKeyCreate(seckey: Uint8Array, compressed?: boolean): Uint8Array
  publicKeyVerify(publicKey: Uint8Array): boolean
}

/** What {@link createNativeSecp256k1Backend} returns. */
export type CreateNativeSecp256k1BackendReturnType = Secp256k1Backend & { readonly name: 'native' }

/** Thrown by {@link createNativeSecp256k1Backend}. */
export type CreateNativeSecp256k1BackendErrorType = InvalidArgumentError

const METHODS = ['ecdsaSign', 'ecdsaVerify', 'ecdsaRecover', 'publicKeyCreate', 'publicKeyVerify'] as const

/**
 * The secp256k1 backend on libsecp256k1 (constant time, RFC 6979 nonces, low-s), through a loaded
 * `secp256k1/bindings` module. Inputs are checked here with the same rules as the noble backend, so the
 * two refuse the same inputs with the same errors.
 *
 * libsecp256k1 feeds the digest to its RFC 6979 nonce function unreduced, where RFC 6979 (and noble) use
 * the digest mod n; the two differ only for a digest ≥ n, which this backend therefore reduces first.
 *
 * @param binding - The loaded module.
 * @returns The backend, named `native`.
 * @throws InvalidArgumentError when `binding` lacks one of the functions used.
 * @example
 * import { createRequire } from 'node:module'
 * import { createNativeSecp256k1Backend } from './nativeSecp256k1Backend.js'
 * const backend = createNativeSecp256k1Backend(createRequire(import.meta.url)('secp256k1/bindings'))
 */
export function createNativeSecp256k1Backend(binding: unknown): CreateNativeSecp256k1BackendReturnType {
  if (typeof binding !== 'object' || binding === null || METHODS.some((m) => typeof (binding as Record<string, unknown>)[m] !== 'function')) {
    throw new InvalidArgumentError({ field: 'binding', rule: `must be the secp256k1 native binding (${METHODS.join(', ')})` })
  }
  const native = binding as NativeSecp256k1Binding
  return {
    name: 'native',
    sign(digest, privateKey) {
      checkDigest(digest)
      checkPrivateKey(privateKey)
      const { signature, recid } = native.ecdsaSign(reduceDigest(digest), privateKey)
      return { r: signature.slice(0, 32), s: signature.slice(32, 64), recovery: recid }
    },
    recover(digest, signature, options = {}) {
      checkDigest(digest)
      const { r, s, recovery } = checkRecoverableSignature(signature)
      const compressed = checkCompressed(options.compressed ?? false)
      try {
        return native.ecdsaRecover(compact({ r, s }), recovery, digest, compressed)
      } catch (error) {
        throw unrecoverable(error)
      }
    },
    verify(digest, signature, publicKey) {
      checkDigest(digest)
      const { highS } = checkSignature(signature, false)
      checkPublicKeyFraming(publicKey)
      if (!native.publicKeyVerify(publicKey)) throw notOnCurve()
      if (highS) return false
      return native.ecdsaVerify(compact(signature), digest, publicKey)
    },
    getPublicKey(privateKey, compressed = false) {
      checkPrivateKey(privateKey)
      return native.publicKeyCreate(privateKey, checkCompressed(compressed))
    },
  }
}
