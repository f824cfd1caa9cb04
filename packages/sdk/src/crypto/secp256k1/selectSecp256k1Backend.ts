import { createRequire } from 'node:module'
import { InvalidArgumentError } from '../../errors/CustodyError.js'
import { createNativeSecp256k1Backend } from './nativeSecp256k1Backend.js'
import { createNobleSecp256k1Backend } from './nobleSecp256k1Backend.js'
import type { Secp256k1Backend } from './secp256k1Backend.js'

/** Options of {@link selectSecp256k1Backend}. */
export type SelectSecp256k1BackendParameters = {
  /** Loads the native binding; throws when it cannot. @default loads `secp256k1/bindings` (libsecp256k1 only, never its `elliptic` fallback) */
  loadNative?: () => unknown
  /** `noble` skips the native backend. @default 'native' */
  prefer?: 'native' | 'noble'
}

/** What {@link selectSecp256k1Backend} returns. */
export type SelectSecp256k1BackendReturnType = Secp256k1Backend

/** Thrown by {@link selectSecp256k1Backend}. */
export type SelectSecp256k1BackendErrorType = InvalidArgumentError

/**
 * Loads the `secp256k1` package's native entry point directly. Its main entry point silently falls back to
 * `elliptic` (neither constant time nor checked here), so it is never used.
 */
function loadNativeBinding(): unknown {
  // `__filename` exists in the CommonJS build, `import.meta.url` in the ESM one.
  const require = createRequire(typeof __filename === 'string' ? __filename : import.meta.url)
  return require('secp256k1/bindings')
}

// Known answer, computed with @noble/curves and ethers: the SHA-256 of two fixed strings as key and digest.
const hex = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'))
const SELF_TEST = {
  key: hex('d83de86f2875ccf76c72e72e59303b9b25e43bae2bd2461260fc9009327bef72'),
  digest: hex('565c8991b9281c0b9de8d87bc72cc7a61ab97187bb9133299990f6cab2dde0e5'),
  r: '4b380f43abcb07b2d536d3afcdd5c551b743a051ee0eb9e35d373bc636bc6da2',
  s: '4b000530808abf6fc06923b954c01a35af98d6188d14c048bb48e90bc111e895',
  recovery: 1,
}

/** Whether a backend signs, recovers and verifies the known answer exactly. */
function passesSelfTest(backend: Secp256k1Backend): boolean {
  const signature = backend.sign(SELF_TEST.digest, SELF_TEST.key)
  if (Buffer.from(signature.r).toString('hex') !== SELF_TEST.r || Buffer.from(signature.s).toString('hex') !== SELF_TEST.s || signature.recovery !== SELF_TEST.recovery) return false
  const publicKey = backend.getPublicKey(SELF_TEST.key)
  return Buffer.from(backend.recover(SELF_TEST.digest, signature)).equals(publicKey) && backend.verify(SELF_TEST.digest, signature, publicKey)
}

/**
 * Choose the secp256k1 backend: libsecp256k1 (the `secp256k1` npm binding, an optional dependency) where
 * it loads and passes a known-answer self-test, else @noble/curves. Both are deterministic (RFC 6979) and
 * low-s and give byte-identical signatures; no other signer is ever used. The noble backend chosen as a
 * fallback carries `fallbackReason`. Call once and keep the backend.
 *
 * @param parameters - An injected loader (tests, other bindings) and the preferred backend.
 * @returns The backend: `name` says which.
 * @throws InvalidArgumentError when `prefer` is neither `native` nor `noble`.
 * @example
 * import { selectSecp256k1Backend } from './selectSecp256k1Backend.js'
 * const secp = selectSecp256k1Backend()
 * const { r, s, recovery } = secp.sign(digest, privateKey) // secp.name: 'native' on linux-x64
 */
export function selectSecp256k1Backend(parameters: SelectSecp256k1BackendParameters = {}): SelectSecp256k1BackendReturnType {
  const { loadNative = loadNativeBinding, prefer = 'native' } = parameters
  if (prefer !== 'native' && prefer !== 'noble') throw new InvalidArgumentError({ field: 'prefer', rule: "must be 'native' or 'noble'" })
  if (prefer === 'noble') return createNobleSecp256k1Backend()
  let native: Secp256k1Backend
  try {
    native = createNativeSecp256k1Backend(loadNative())
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n')[0]!.slice(0, 200) : typeof error
    return createNobleSecp256k1Backend(`the native secp256k1 binding did not load: ${detail}`)
  }
  let passed: boolean
  try {
    passed = passesSelfTest(native)
  } catch {
    passed = false
  }
  return passed ? native : createNobleSecp256k1Backend('the native secp256k1 binding failed its known-answer self-test')
}

let processBackend: Secp256k1Backend | undefined

/**
 * The process's secp256k1 backend, selected once with the defaults ({@link selectSecp256k1Backend}) and shared by
 * every caller: the enclave's signer and the SDK's result checks load and self-test the binding only once.
 */
export function defaultSecp256k1Backend(): Secp256k1Backend {
  processBackend ??= selectSecp256k1Backend()
  return processBackend
}
