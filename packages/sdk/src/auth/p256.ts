import type * as NodeCrypto from 'node:crypto'
import { p256 } from '@noble/curves/nist.js'

/**
 * ECDSA P-256 over SHA-256 with low s: the one implementation behind request and approval stamps, signed
 * answers, enclave records, audit events and policy approvals, on both ends.
 *
 * Where `node:crypto` exists (Node, the enclave, Lambda), OpenSSL does the curve arithmetic: constant-time
 * P-256, nonces from its CSPRNG (so two signatures of the same bytes differ; every verifier here accepts
 * any valid low-s signature). Elsewhere @noble/curves signs (RFC 6979) and verifies. Both give and accept
 * exactly the same signatures: `r ‖ s` (64 bytes), s ≤ n/2, r and s in [1, n−1], over SHA-256 of the message.
 * This covers only the protocol's P-256 signatures; chain signatures (secp256k1, ed25519) stay deterministic.
 */
const nodeCrypto: typeof NodeCrypto | undefined = (() => {
  try {
    return (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.('node:crypto') as typeof NodeCrypto | undefined
  } catch {
    return undefined
  }
})()

const N = p256.Point.CURVE().n
const HALF_N = N >> 1n
// DER prefixes of a P-256 SubjectPublicKeyInfo (id-ecPublicKey, prime256v1) for a 33- and a 65-byte SEC1 point,
// and of a PKCS#8 ECPrivateKey without its public key (OpenSSL derives it).
const SPKI_COMPRESSED = hexBytes('3039301306072a8648ce3d020106082a8648ce3d030107032200')
const SPKI_UNCOMPRESSED = hexBytes('3059301306072a8648ce3d020106082a8648ce3d030107034200')
const PKCS8 = hexBytes('3041020100301306072a8648ce3d020106082a8648ce3d030107042730250201010420')

function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g)!, (b) => Number.parseInt(b, 16))
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

function scalar(bytes: Uint8Array, offset: number): bigint {
  let v = 0n
  for (let i = offset; i < offset + 32; i++) v = (v << 8n) | BigInt(bytes[i]!)
  return v
}

/** `r ‖ s` with r, s in [1, n−1] and s ≤ n/2. */
function isLowSCompact(signature: Uint8Array): boolean {
  if (signature.length !== 64) return false
  const r = scalar(signature, 0)
  const s = scalar(signature, 32)
  return r > 0n && r < N && s > 0n && s <= HALF_N
}

/** The P-256 operations of one backend. */
export type P256Backend = {
  /** `node:crypto` (OpenSSL) or `noble` (@noble/curves). */
  readonly name: 'node:crypto' | 'noble'
  /**
   * Verify a 64-byte low-s signature over SHA-256(`message`) by a SEC1 public key (33 or 65 bytes). False for a
   * malformed signature or key, a high s, or a signature that does not verify; never throws.
   */
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean
  /**
   * A signer for a valid P-256 private key (32 bytes; the caller checks it and zeroes its copy): `sign` gives
   * `r ‖ s` with low s over SHA-256(message). The key lives on in an OpenSSL key object or in a copy held here.
   */
  signer(secret: Uint8Array, compressed?: boolean): P256Signer
}

/** A P-256 signing key: `sign(message)` gives `r ‖ s` with low s over SHA-256(message). */
export type P256Signer = { readonly publicKey: Uint8Array; sign(message: Uint8Array): Uint8Array }

// Public keys are parsed once: a verifier meets the same few keys (API keys, response keys) again and again.
const MAX_CACHED_KEYS = 1024

function remember<V>(cache: Map<string, V>, id: string, value: V): V {
  if (cache.size >= MAX_CACHED_KEYS) cache.delete(cache.keys().next().value!)
  cache.set(id, value)
  return value
}

/** @internal Both backends are built for the differential test; the module uses {@link selectedBackend}. */
export function nobleP256Backend(): P256Backend {
  return {
    name: 'noble',
    verify(signature, message, publicKey) {
      if (!isLowSCompact(signature)) return false
      try {
        return p256.verify(signature, message, publicKey, { lowS: true, prehash: true })
      } catch {
        return false
      }
    },
    signer(secret, compressed = true) {
      const copy = secret.slice()
      return { publicKey: p256.getPublicKey(copy, compressed), sign: (message) => p256.sign(message, copy, { lowS: true, prehash: true }) }
    },
  }
}

/** @internal */
export function nodeCryptoP256Backend(crypto: typeof NodeCrypto): P256Backend {
  const publicKeys = new Map<string, NodeCrypto.KeyObject | null>()
  const publicKeyObject = (publicKey: Uint8Array): NodeCrypto.KeyObject | null => {
    const id = Buffer.from(publicKey).toString('hex')
    const known = publicKeys.get(id)
    if (known !== undefined) return known
    try {
      // noble validates the point first: OpenSSL also takes encodings the protocol refuses (hybrid 06/07 points).
      p256.Point.fromBytes(publicKey).assertValidity()
      const prefix = publicKey.length === 33 ? SPKI_COMPRESSED : SPKI_UNCOMPRESSED
      return remember(publicKeys, id, crypto.createPublicKey({ key: Buffer.from(concat(prefix, publicKey)), format: 'der', type: 'spki' }))
    } catch {
      return remember(publicKeys, id, null)
    }
  }
  return {
    name: 'node:crypto',
    verify(signature, message, publicKey) {
      if (!isLowSCompact(signature)) return false
      const key = publicKeyObject(publicKey)
      if (key === null) return false
      try {
        return crypto.verify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, signature)
      } catch {
        return false
      }
    },
    signer(secret, compressed = true) {
      const der = concat(PKCS8, secret)
      // A view of the DER itself, not a copy: Buffer.from(der) would leave the key in Node's shared pool, never zeroed.
      const key = crypto.createPrivateKey({ key: Buffer.from(der.buffer, der.byteOffset, der.length), format: 'der', type: 'pkcs8' })
      der.fill(0)
      return {
        publicKey: p256.getPublicKey(secret, compressed),
        sign(message) {
          const signature = new Uint8Array(crypto.sign('sha256', message, { key, dsaEncoding: 'ieee-p1363' }))
          // OpenSSL does not normalise s; the protocol takes only the low one (n − s signs the same).
          let s = scalar(signature, 32)
          if (s > HALF_N) {
            s = N - s
            for (let i = 63; i >= 32; i--, s >>= 8n) signature[i] = Number(s & 0xffn)
          }
          return signature
        },
      }
    },
  }
}

/** The backend this process uses: OpenSSL where `node:crypto` exists, @noble/curves elsewhere. */
export const selectedBackend: P256Backend = nodeCrypto ? nodeCryptoP256Backend(nodeCrypto) : nobleP256Backend()

/** `P256Backend.verify` of the selected backend. */
export function verifyP256(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  return selectedBackend.verify(signature, message, publicKey)
}

/** `P256Backend.signer` of the selected backend. */
export function p256Signer(secret: Uint8Array, compressed = true): P256Signer {
  return selectedBackend.signer(secret, compressed)
}

const compressedKeys = new Map<string, Uint8Array | null>()

/**
 * The compressed SEC1 form of a P-256 public key given as hex without `0x` (33 or 65 bytes, either case), or
 * null when it is not a point on the curve. Cached: keys are compared as points on every request.
 */
export function compressP256PublicKey(hex: string): Uint8Array | null {
  const id = hex.toLowerCase()
  let key = compressedKeys.get(id)
  if (key === undefined) {
    try {
      key = p256.Point.fromHex(id).toBytes(true)
    } catch {
      key = null
    }
    remember(compressedKeys, id, key)
  }
  return key === null ? null : key.slice()
}
