import { keccak_256 } from '@noble/hashes/sha3.js'
import { type Address, assertAddress } from '../utils/address.js'
import { assertObject, fail, typeName } from '../utils/assert.js'
import { bytesToHex, type Hex, hexToBytes } from '../utils/hex.js'
import { MAX_NONCE, MAX_UINT256, type QuantityInput, toQuantity } from '../utils/quantity.js'
import { encodeRlp } from './rlp.js'
import { normalizeSignatureScalar, normalizeYParity } from './signature.js'

/** What callers pass to `signAuthorization` (EIP-7702). Quantities: bigint, safe integer or decimal string. */
export type AuthorizationRequest = {
  /** The chain the delegation is valid on; 0 means every chain and needs `allowAnyChain: true` and a key whose policy has `allowAnyChainAuthorization`. */
  chainId: QuantityInput
  /** The contract whose code the signing account delegates to. */
  address: string
  /** The signing account's nonce at the time the authorization is included. */
  nonce: QuantityInput
  /** Required to sign `chainId: 0`, an authorization valid on every chain. @default false */
  allowAnyChain?: boolean | undefined
}

/** A validated, unsigned EIP-7702 authorization tuple. */
export type Authorization = { chainId: bigint; address: Address; nonce: bigint }

/** A signed EIP-7702 authorization in viem's shape (quantities as bigint). */
export type SignedAuthorization = Authorization & { r: Hex; s: Hex; yParity: 0 | 1 }

/**
 * A signed authorization as callers pass it in `authorizationList` (viem's `SignedAuthorization`): r and s
 * as hex of at most 32 bytes, yParity 0 or 1; a `v` (27/28), when present, must agree with yParity.
 */
export type SignedAuthorizationInput = {
  address: string
  chainId: QuantityInput
  nonce: QuantityInput
  r: string
  s: string
  yParity: number
  v?: QuantityInput | undefined
}

/** Wire forms: quantities as decimal strings. */
export type AuthorizationWire = { chainId: string; address: Address; nonce: string }
export type SignedAuthorizationWire = AuthorizationWire & { r: Hex; s: Hex; yParity: 0 | 1 }

/** EIP-7702 MAGIC: the domain byte of authorization signing hashes. */
export const AUTHORIZATION_MAGIC = 0x05

/**
 * Validate a `signAuthorization` request. chainId 0 (valid on every chain) is refused unless the request
 * sets `allowAnyChain: true`.
 *
 * @param input - The request.
 * @param path - Field prefix for error messages. @default 'authorization'
 * @returns The authorization tuple and the request's `allowAnyChain`.
 * @throws InvalidArgumentError naming the field.
 * @example
 * normalizeAuthorizationRequest({ chainId: 1, address: '0xFBA3912Ca04dd458c843e2EE08967fC04f3579c2', nonce: 0 })
 */
export function normalizeAuthorizationRequest(input: unknown, path = 'authorization'): { authorization: Authorization; allowAnyChain: boolean } {
  const a = assertObject(input, path, ['chainId', 'address', 'nonce', 'allowAnyChain'])
  const f = (name: string) => `${path}.${name}`
  if (a.allowAnyChain !== undefined && typeof a.allowAnyChain !== 'boolean') fail(f('allowAnyChain'), `must be a boolean (got ${typeName(a.allowAnyChain)})`)
  const allowAnyChain = a.allowAnyChain === true
  const authorization = normalizeTuple(a, path)
  if (authorization.chainId === 0n && !allowAnyChain) {
    fail(f('chainId'), 'is 0, which makes the authorization valid on every chain; set allowAnyChain: true to sign it anyway')
  }
  return { authorization, allowAnyChain }
}

/**
 * Validate a signed authorization of an EIP-7702 `authorizationList`: the tuple, yParity 0/1, and r, s
 * in 1..n-1 with s ≤ n/2 (nodes skip high-s authorizations). chainId 0 is allowed here.
 *
 * @throws InvalidArgumentError naming the field.
 */
export function normalizeSignedAuthorization(input: unknown, path: string): SignedAuthorization {
  const a = assertObject(input, path, ['address', 'chainId', 'nonce', 'r', 's', 'yParity', 'v'])
  const tuple = normalizeTuple(a, path)
  for (const name of ['r', 's', 'yParity']) if (a[name] === undefined) fail(`${path}.${name}`, 'is required (a signed authorization)')
  const yParity = normalizeYParity(a.yParity, `${path}.yParity`)
  if (a.v !== undefined) {
    const v = toQuantity(a.v, `${path}.v`)
    if (v !== 27n + BigInt(yParity)) fail(`${path}.v`, `must be ${27 + yParity} to agree with yParity (or be omitted)`)
  }
  return {
    ...tuple,
    r: normalizeSignatureScalar(a.r, `${path}.r`),
    s: normalizeSignatureScalar(a.s, `${path}.s`, { lowS: true }),
    yParity,
  }
}

function normalizeTuple(a: Record<string, unknown>, path: string): Authorization {
  const f = (name: string) => `${path}.${name}`
  const required = (name: string) => {
    if (a[name] === undefined) fail(f(name), 'is required')
    return a[name]
  }
  return {
    chainId: toQuantity(required('chainId'), f('chainId'), { max: MAX_UINT256 }),
    address: assertAddress(required('address'), f('address')),
    nonce: toQuantity(required('nonce'), f('nonce'), { max: MAX_NONCE }),
  }
}

/** Minimal big-endian bytes of a non-negative integer (0 is empty). */
export function quantityBytes(n: bigint): Uint8Array {
  if (n === 0n) return new Uint8Array(0)
  const h = n.toString(16)
  return hexToBytes(h.length % 2 ? `0${h}` : h)
}

/** The RLP list `[chainId, address, nonce]` of an authorization tuple. */
export function authorizationTupleItems(a: Authorization): Uint8Array[] {
  return [quantityBytes(a.chainId), hexToBytes(a.address), quantityBytes(a.nonce)]
}

/**
 * The EIP-7702 authorization signing hash: `keccak256(0x05 || rlp([chainId, address, nonce]))`.
 *
 * @example
 * hashAuthorization({ chainId: 1n, address: '0xbe95c3f554e9fc85ec51be69a3d807a0d55bcf2c', nonce: 40n })
 * // '0x5919da563810a99caf657d42bd10905adbd28b3b89b8a4577efa471e5e4b3914'
 */
export function hashAuthorization(authorization: Authorization): Hex {
  const rlp = encodeRlp(authorizationTupleItems(authorization))
  const payload = new Uint8Array(rlp.length + 1)
  payload[0] = AUTHORIZATION_MAGIC
  payload.set(rlp, 1)
  return bytesToHex(keccak_256(payload))
}

/** The wire form of an authorization tuple. */
export function authorizationToWire(a: Authorization): AuthorizationWire {
  return { chainId: a.chainId.toString(), address: a.address, nonce: a.nonce.toString() }
}

/** The wire form of a signed authorization. */
export function signedAuthorizationToWire(a: SignedAuthorization): SignedAuthorizationWire {
  return { ...authorizationToWire(a), r: a.r, s: a.s, yParity: a.yParity }
}
