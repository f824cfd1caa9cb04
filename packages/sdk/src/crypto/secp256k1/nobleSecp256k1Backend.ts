import { secp256k1 } from '@noble/curves/secp256k1.js'
import {
  checkCompressed,
  checkDigest,
  checkPrivateKey,
  checkPublicKeyFraming,
  checkRecoverableSignature,
  checkSignature,
  compact,
  notOnCurve,
  type Secp256k1Backend,
  unrecoverable,
} from './secp256k1Backend.js'

/** What {@link createNobleSecp256k1Backend} returns. */
export type CreateNobleSecp256k1BackendReturnType = Secp256k1Backend & { readonly name: 'noble' }

const SIGN_OPTIONS = { prehash: false, lowS: true, format: 'recovered', extraEntropy: false } as const
const VERIFY_OPTIONS = { prehash: false, lowS: true, format: 'compact' } as const

/**
 * The secp256k1 backend on @noble/curves (pure JavaScript, no lookups indexed by secrets): RFC 6979
 * nonces without extra entropy, low-s. The fallback wherever libsecp256k1 does not load.
 *
 * @param fallbackReason - Why the native backend was not selected, recorded on the backend.
 * @returns The backend, named `noble`.
 * @example
 * import { createNobleSecp256k1Backend } from './nobleSecp256k1Backend.js'
 * const { r, s, recovery } = createNobleSecp256k1Backend().sign(digest, privateKey)
 */
export function createNobleSecp256k1Backend(fallbackReason?: string): CreateNobleSecp256k1BackendReturnType {
  return {
    name: 'noble',
    ...(fallbackReason === undefined ? {} : { fallbackReason }),
    sign(digest, privateKey) {
      checkDigest(digest)
      checkPrivateKey(privateKey)
      const out = secp256k1.sign(digest, privateKey, SIGN_OPTIONS)
      return { r: out.slice(1, 33), s: out.slice(33, 65), recovery: out[0]! }
    },
    recover(digest, signature, options = {}) {
      checkDigest(digest)
      const { r, s, recovery } = checkRecoverableSignature(signature)
      const compressed = checkCompressed(options.compressed ?? false)
      let point: ReturnType<InstanceType<typeof secp256k1.Signature>['recoverPublicKey']>
      try {
        point = secp256k1.Signature.fromBytes(compact({ r, s }), 'compact').addRecoveryBit(recovery).recoverPublicKey(digest)
      } catch (error) {
        throw unrecoverable(error)
      }
      return point.toBytes(compressed)
    },
    verify(digest, signature, publicKey) {
      checkDigest(digest)
      const { highS } = checkSignature(signature, false)
      checkPublicKeyFraming(publicKey)
      try {
        secp256k1.Point.fromBytes(publicKey)
      } catch (error) {
        throw notOnCurve(error)
      }
      if (highS) return false
      return secp256k1.verify(compact(signature), digest, publicKey, VERIFY_OPTIONS)
    },
    getPublicKey(privateKey, compressed = false) {
      checkPrivateKey(privateKey)
      return secp256k1.getPublicKey(privateKey, checkCompressed(compressed))
    },
  }
}
