import { secp256k1 } from '@noble/curves/secp256k1.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { base64, createBase58check } from '@scure/base'
import type { KeyInfo } from '../../client/createCustodyClient.js'
import { IntegrityError } from '../../errors/CustodyError.js'
import type { OperationParamsWire, OperationResult } from '../../protocol/messages.js'
import { assertObject, fail, typeName } from '../../utils/assert.js'
import { BITCOIN_NETWORKS, BITCOIN_SIGHASH_TYPES, type BitcoinNetwork, isCanonicalBase64, MAX_BITCOIN_PSBT_BYTES } from './protocol.js'
import { type BitcoinVerificationKeys, parseRequestPsbt, verifySignedPsbt } from './verifySignedPsbt.js'

/** What `signBitcoinPsbt` takes. */
export type SignBitcoinPsbtParameters = {
  /** A BIP-174 (version 0) PSBT: bytes, or canonical padded base64. At most 262,144 bytes. */
  psbt: string | Uint8Array
  network: BitcoinNetwork
  /** Finalize the inputs signed and extract the transaction: every other input must already be final. @default false */
  finalize?: boolean
  /** Widenings, each only for a key sealed with the matching flag (`POLICY_DENIED` otherwise, when the PSBT needs it). */
  allow?: {
    /** Sign segwit v0 inputs whose amount only a `witnessUtxo` states (key policy `allowUnprovenBitcoinAmounts`). @default false */
    unprovenSegwitAmounts?: boolean
    /** Sighash types accepted besides SIGHASH_ALL: 0x02, 0x03, 0x81, 0x82, 0x83 (key policy `allowBitcoinSighashTypes`). @default [] */
    sighashTypes?: number[]
  }
}

/** What `signBitcoinPsbt` returns, once verified. */
export type SignBitcoinPsbtReturnType = {
  /** The PSBT with the key's signatures (finalized inputs with `finalize`), base64. */
  psbt: string
  /** Indices of the inputs signed, ascending. */
  signedInputs: number[]
  /** The final transaction, lower-case hex (with `finalize`). */
  transaction?: string
  /** Its txid, lower-case hex in display order (with `finalize`). */
  txid?: string
}

/** Key info fields of an HD account (optional: reported by enclaves that hold accounts). */
type AccountInfo = { xpub?: string; path?: string; fingerprint?: string }

type Extra = { idempotencyKey?: string }

/** One prepared Bitcoin sign call: the request as it travels and the check of its result. */
export type PreparedBitcoinSign = {
  request: { op: 'sign.bitcoinPsbt'; params: OperationParamsWire<'sign.bitcoinPsbt'> }
  verify(result: OperationResult<'sign.bitcoinPsbt'>): SignBitcoinPsbtReturnType
}

const base58check = createBase58check(sha256)

/** BIP-32 path notation (`m/84'/0'/0'`) as indices. */
function pathIndices(path: string): number[] {
  if (!/^m(?:\/(?:0|[1-9][0-9]{0,9})['h]?)*$/.test(path)) throw new Error('malformed path')
  return path
    .split('/')
    .slice(1)
    .map((step) => {
      const hardened = step.endsWith("'") || step.endsWith('h')
      const n = Number(hardened ? step.slice(0, -1) : step)
      if (n >= 0x80000000) throw new Error('index out of range')
      return hardened ? n + 0x80000000 : n
    })
}

/**
 * The key's public side for verification, from its key info: an account-level HD key when the info carries its
 * extended public key (with its fingerprint and path, every named key is derived), or the key's public key (a
 * plain key, or an HD account's derived key).
 *
 * @throws IntegrityError when the enclave reported neither, or fields that do not parse.
 */
export function bitcoinKeysOf(key: KeyInfo): BitcoinVerificationKeys {
  const { xpub, path, fingerprint } = key as KeyInfo & AccountInfo
  // An account of an HD wallet is one derived key (its `path` a leaf): it verifies like a plain key. Only an
  // account reported with its extended public key signs at the paths a PSBT names below it.
  if (xpub !== undefined) {
    const fp = /^(?:0x)?([0-9a-f]{8})$/i.exec(String(fingerprint ?? ''))
    if (!fp) throw new IntegrityError({ reason: `the enclave did not report the fingerprint of the Bitcoin account "${key.keyId}"` })
    try {
      const raw = base58check.decode(xpub)
      if (raw.length !== 78 || (raw[45] !== 2 && raw[45] !== 3)) throw new Error('not an extended public key')
      const account = { chainCode: raw.slice(13, 45), publicKey: raw.slice(45, 78) }
      secp256k1.Point.fromBytes(account.publicKey)
      const indices = path === undefined ? undefined : pathIndices(path)
      if (indices !== undefined && indices.length !== raw[4]) throw new Error('depth differs from the path')
      return { kind: 'hd', fingerprint: Number.parseInt(fp[1]!, 16), account: { ...account, ...(indices === undefined ? {} : { path: indices }) } }
    } catch {
      throw new IntegrityError({ reason: `the enclave reported an extended public key or path of "${key.keyId}" that does not parse` })
    }
  }
  if (!key.publicKey) throw new IntegrityError({ reason: `the enclave did not report the public key of "${key.keyId}"` })
  try {
    return { kind: 'single', publicKey: secp256k1.Point.fromHex(key.publicKey.slice(2)).toBytes(true) }
  } catch {
    throw new IntegrityError({ reason: `the enclave reported a public key of "${key.keyId}" that is not a secp256k1 point` })
  }
}

function psbtBytes(psbt: unknown): Uint8Array {
  if (psbt instanceof Uint8Array) {
    if (psbt.length === 0 || psbt.length > MAX_BITCOIN_PSBT_BYTES) fail('psbt', `must be 1 to ${MAX_BITCOIN_PSBT_BYTES} bytes`)
    return Uint8Array.from(psbt)
  }
  if (typeof psbt !== 'string') fail('psbt', `must be bytes or a base64 string (got ${typeName(psbt)})`)
  if (psbt.length > Math.ceil(MAX_BITCOIN_PSBT_BYTES / 3) * 4 || !isCanonicalBase64(psbt)) fail('psbt', `must be canonical padded base64 of 1 to ${MAX_BITCOIN_PSBT_BYTES} bytes`)
  const bytes = base64.decode(psbt)
  if (bytes.length === 0 || bytes.length > MAX_BITCOIN_PSBT_BYTES) fail('psbt', `must be 1 to ${MAX_BITCOIN_PSBT_BYTES} bytes`)
  return bytes
}

function allowOf(allow: unknown): NonNullable<SignBitcoinPsbtParameters['allow']> | undefined {
  if (allow === undefined) return undefined
  const a = assertObject(allow, 'allow', ['unprovenSegwitAmounts', 'sighashTypes'])
  if (a.unprovenSegwitAmounts !== undefined && typeof a.unprovenSegwitAmounts !== 'boolean') fail('allow.unprovenSegwitAmounts', 'must be a boolean')
  const types = a.sighashTypes
  if (types !== undefined && (!Array.isArray(types) || types.length > BITCOIN_SIGHASH_TYPES.length || !types.every((t) => (BITCOIN_SIGHASH_TYPES as readonly unknown[]).includes(t)))) {
    fail('allow.sighashTypes', 'must list sighash types among 0x01, 0x02, 0x03, 0x81, 0x82, 0x83')
  }
  return {
    ...(a.unprovenSegwitAmounts === undefined ? {} : { unprovenSegwitAmounts: a.unprovenSegwitAmounts as boolean }),
    ...(types === undefined ? {} : { sighashTypes: [...(types as number[])] }),
  }
}

/**
 * The Bitcoin family on the client side: `signBitcoinPsbt` validates and parses the PSBT before anything is sent,
 * reads the key's public side (its key info, as the enclave signed it), and verifies the answer independently
 * (see {@link verifySignedPsbt}).
 *
 * @param deps - `keyOf(keyId)`: the key's verified info (the client's `getKey`).
 * @returns The prepared requests of the family.
 */
export function bitcoinSignRequests({ keyOf }: { keyOf(keyId: string): Promise<KeyInfo> }) {
  /** The request alone (for approvals), validated. */
  function prepare(keyId: string, params: SignBitcoinPsbtParameters, extra: Extra) {
    const p = assertObject(params, 'params', ['psbt', 'network', 'finalize', 'allow'])
    if (p.psbt === undefined) fail('psbt', 'is required')
    const bytes = psbtBytes(p.psbt)
    if (!(BITCOIN_NETWORKS as readonly unknown[]).includes(p.network)) fail('network', `must be one of ${BITCOIN_NETWORKS.join(', ')}`)
    if (p.finalize !== undefined && typeof p.finalize !== 'boolean') fail('finalize', 'must be a boolean')
    const allow = allowOf(p.allow)
    const parsed = parseRequestPsbt(bytes)
    const finalize = p.finalize === true
    const request = {
      op: 'sign.bitcoinPsbt' as const,
      params: {
        keyId,
        psbt: base64.encode(bytes),
        network: p.network as BitcoinNetwork,
        ...(finalize ? { finalize } : {}),
        ...(allow === undefined ? {} : { allow: allow as OperationParamsWire<'sign.bitcoinPsbt'>['allow'] }),
        ...extra,
      },
    }
    return { request, parsed, finalize }
  }
  return {
    /** The request `signBitcoinPsbt` sends (what approvers stamp). */
    signBitcoinPsbtRequest: (keyId: string, params: SignBitcoinPsbtParameters, extra: Extra) => prepare(keyId, params, extra).request,
    /** Prepare a PSBT signature: validate, read the key's public side, and return the request and its verification. */
    async signBitcoinPsbt(keyId: string, params: SignBitcoinPsbtParameters, extra: Extra): Promise<PreparedBitcoinSign> {
      const { request, parsed, finalize } = prepare(keyId, params, extra)
      const keys = bitcoinKeysOf(await keyOf(keyId))
      return { request, verify: (result) => verifySignedPsbt(parsed, result, { finalize, keys }) }
    },
  }
}
