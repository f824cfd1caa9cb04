import { secp256k1 } from '@noble/curves/secp256k1.js'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { decodeRlp, encodeRlp } from 'ethers'
import { type Address, toChecksumAddress } from '../utils/address.js'
import { bytesToHex, type Hex, hexToBytes } from '../utils/hex.js'
import type { Eip1559Transaction } from './eip1559.js'

export type TransactionSignature = { r: Hex; s: Hex; yParity: 0 | 1 }

const TYPE_EIP1559 = 0x02

/** Minimal big-endian RLP integer: 0 is the empty string, no leading zero bytes. Bigint all the way. */
function int(n: bigint): Hex {
  if (n === 0n) return '0x'
  const h = n.toString(16)
  return `0x${h.length % 2 ? '0' : ''}${h}`
}

function fields(tx: Eip1559Transaction): (string | (string | string[])[][])[] {
  return [
    int(tx.chainId),
    int(tx.nonce),
    int(tx.maxPriorityFeePerGas),
    int(tx.maxFeePerGas),
    int(tx.gas),
    tx.to ? tx.to.toLowerCase() : '0x',
    int(tx.value),
    tx.data,
    tx.accessList.map((e) => [e.address.toLowerCase(), [...e.storageKeys]]),
  ]
}

const typed = (rlp: string): Hex => `0x02${rlp.slice(2)}`
const keccakHex = (hex: string): Hex => bytesToHex(keccak_256(hexToBytes(hex)))

/**
 * The EIP-1559 signing payload `0x02 || rlp([chainId, nonce, maxPriorityFeePerGas, maxFeePerGas, gas, to,
 * value, data, accessList])` and its keccak-256 hash. Quantities stay bigint end to end (nonces up to
 * 2^64-2, values up to 2^256-1).
 */
export function serializeEip1559Unsigned(tx: Eip1559Transaction): { unsignedSerialized: Hex; unsignedHash: Hex } {
  const unsignedSerialized = typed(encodeRlp(fields(tx)))
  return { unsignedSerialized, unsignedHash: keccakHex(unsignedSerialized) }
}

/** The signed raw transaction (`0x02 || rlp([..., yParity, r, s])`) and its hash. */
export function serializeEip1559Signed(tx: Eip1559Transaction, sig: TransactionSignature): { rawTransaction: Hex; hash: Hex } {
  const rawTransaction = typed(encodeRlp([...fields(tx), int(BigInt(sig.yParity)), int(BigInt(sig.r)), int(BigInt(sig.s))]))
  return { rawTransaction, hash: keccakHex(rawTransaction) }
}

export type ParsedSignedEip1559 = {
  tx: Eip1559Transaction
  signature: TransactionSignature
  /** Recovered sender. */
  from: Address
  unsignedHash: Hex
  hash: Hex
}

/**
 * Strictly parse a signed EIP-1559 transaction: canonical RLP integers, 0- or 20-byte `to`, yParity 0/1,
 * 0 < r, s < n, low-s; the sender is recovered from the signature.
 * @throws Error with a reason (callers wrap it in their own error type).
 */
export function parseSignedEip1559(raw: string): ParsedSignedEip1559 {
  if (!/^0x02(?:[0-9a-fA-F]{2})+$/.test(raw)) throw new Error('not a type-2 transaction')
  const items = decodeRlp(`0x${raw.slice(4)}`)
  if (!Array.isArray(items) || items.length !== 12) throw new Error('type-2 transaction must have 12 fields')
  const [chainId, nonce, prio, maxFee, gas, to, value, data, accessList, yParity, r, s] = items as unknown[]
  const num = (v: unknown, name: string, maxBytes = 32): bigint => {
    if (typeof v !== 'string') throw new Error(`${name} must be a byte string`)
    if (v === '0x') return 0n
    if (v.startsWith('0x00')) throw new Error(`${name} has leading zeros`)
    if (v.length > 2 + 2 * maxBytes) throw new Error(`${name} is too large`)
    return BigInt(v)
  }
  if (typeof to !== 'string' || (to !== '0x' && to.length !== 42)) throw new Error('to must be empty or 20 bytes')
  if (typeof data !== 'string') throw new Error('data must be a byte string')
  if (!Array.isArray(accessList)) throw new Error('accessList must be a list')
  const list = accessList.map((entry: unknown) => {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string' || entry[0].length !== 42 || !Array.isArray(entry[1])) {
      throw new Error('malformed access list entry')
    }
    const keys = (entry[1] as unknown[]).map((k) => {
      if (typeof k !== 'string' || k.length !== 66) throw new Error('malformed storage key')
      return k.toLowerCase() as Hex
    })
    return { address: toChecksumAddress(entry[0]), storageKeys: keys }
  })
  const tx: Eip1559Transaction = {
    chainId: num(chainId, 'chainId'),
    nonce: num(nonce, 'nonce', 8),
    maxPriorityFeePerGas: num(prio, 'maxPriorityFeePerGas'),
    maxFeePerGas: num(maxFee, 'maxFeePerGas'),
    gas: num(gas, 'gas'),
    to: to === '0x' ? null : toChecksumAddress(to),
    value: num(value, 'value'),
    data: data.toLowerCase() as Hex,
    accessList: list,
  }
  const v = num(yParity, 'yParity', 1)
  if (v > 1n) throw new Error('yParity must be 0 or 1')
  const rn = num(r, 'r')
  const sn = num(s, 's')
  if (rn === 0n || rn >= secp256k1.Point.CURVE().n || sn === 0n) throw new Error('r or s out of range')
  if (sn > secp256k1.Point.CURVE().n / 2n) throw new Error('signature is not low-s')
  const { unsignedHash } = serializeEip1559Unsigned(tx)
  const pub = new secp256k1.Signature(rn, sn, Number(v)).recoverPublicKey(hexToBytes(unsignedHash)).toBytes(false)
  const from = toChecksumAddress(bytesToHex(keccak_256(pub.subarray(1)).subarray(12)))
  const hex32 = (n: bigint) => `0x${n.toString(16).padStart(64, '0')}` as Hex
  return { tx, signature: { r: hex32(rn), s: hex32(sn), yParity: v === 1n ? 1 : 0 }, from, unsignedHash, hash: keccakHex(raw.toLowerCase()) }
}

export { TYPE_EIP1559 }
