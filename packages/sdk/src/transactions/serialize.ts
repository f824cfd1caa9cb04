import { keccak_256 } from '@noble/hashes/sha3.js'
import { type Address, toChecksumAddress } from '../utils/address.js'
import { bytesToHex, type Hex, hexToBytes } from '../utils/hex.js'
import { quantityBytes, type SignedAuthorization } from './authorization.js'
import type { Eip1559Transaction } from './eip1559.js'
import { decodeRlp, encodeRlp, type RlpItem } from './rlp.js'
import { recoverAddress, toHex32 } from './signature.js'
import { TRANSACTION_TYPE_NUMBER, type Transaction, type TransactionType } from './transaction.js'

/** A transaction signature: r and s as 32-byte hex, the recovery bit as yParity. */
export type TransactionSignature = { r: Hex; s: Hex; yParity: 0 | 1 }

const TYPE_EIP1559 = 0x02
const EMPTY = new Uint8Array(0)

const int = quantityBytes
const address = (a: Address | null): Uint8Array => (a === null ? EMPTY : hexToBytes(a))
const accessListItems = (list: Eip1559Transaction['accessList']): RlpItem[] => list.map((e) => [hexToBytes(e.address), e.storageKeys.map((k) => hexToBytes(k))])
const authorizationItems = (list: SignedAuthorization[]): RlpItem[] =>
  list.map((a) => [int(a.chainId), hexToBytes(a.address), int(a.nonce), int(BigInt(a.yParity)), int(BigInt(a.r)), int(BigInt(a.s))])

/** The RLP fields of a transaction before its signature (for legacy, without the EIP-155 suffix). */
function fieldsOf(tx: Transaction): RlpItem[] {
  const to = address(tx.to)
  switch (tx.type) {
    case 'legacy':
      return [int(tx.nonce), int(tx.gasPrice), int(tx.gas), to, int(tx.value), hexToBytes(tx.data)]
    case 'eip2930':
      return [int(tx.chainId), int(tx.nonce), int(tx.gasPrice), int(tx.gas), to, int(tx.value), hexToBytes(tx.data), accessListItems(tx.accessList)]
    case 'eip1559':
    case 'eip7702': {
      // EIP-7702 is the EIP-1559 field list plus the authorization list.
      const fields = [
        int(tx.chainId),
        int(tx.nonce),
        int(tx.maxPriorityFeePerGas),
        int(tx.maxFeePerGas),
        int(tx.gas),
        to,
        int(tx.value),
        hexToBytes(tx.data),
        accessListItems(tx.accessList),
      ]
      return tx.type === 'eip7702' ? [...fields, authorizationItems(tx.authorizationList)] : fields
    }
  }
}

function envelope(type: TransactionType, items: RlpItem[]): Uint8Array {
  const rlp = encodeRlp(items)
  if (type === 'legacy') return rlp
  const out = new Uint8Array(rlp.length + 1)
  out[0] = TRANSACTION_TYPE_NUMBER[type]
  out.set(rlp, 1)
  return out
}

/**
 * The `v` of a signed legacy transaction: `27 + yParity` without chainId, `chainId * 2 + 35 + yParity`
 * with it (EIP-155).
 */
export function legacyV(chainId: bigint | null, yParity: 0 | 1): bigint {
  return chainId === null ? 27n + BigInt(yParity) : chainId * 2n + 35n + BigInt(yParity)
}

/**
 * The signing payload of a transaction and its keccak-256 hash, the digest the key signs:
 * - legacy: `rlp([nonce, gasPrice, gas, to, value, data])`, plus `[chainId, 0, 0]` with a chainId (EIP-155);
 * - EIP-2930: `0x01 || rlp([chainId, nonce, gasPrice, gas, to, value, data, accessList])`;
 * - EIP-1559: `0x02 || rlp([chainId, nonce, maxPriorityFeePerGas, maxFeePerGas, gas, to, value, data, accessList])`;
 * - EIP-7702: `0x04 || rlp([… as EIP-1559 …, authorizationList])`.
 * Quantities stay bigint end to end (nonces up to 2^64-2, values up to 2^256-1).
 *
 * @example
 * const { unsignedHash } = serializeTransactionUnsigned(transaction)
 */
export function serializeTransactionUnsigned(tx: Transaction): { unsignedSerialized: Hex; unsignedHash: Hex } {
  const items = fieldsOf(tx)
  if (tx.type === 'legacy' && tx.chainId !== null) items.push(int(tx.chainId), EMPTY, EMPTY)
  const bytes = envelope(tx.type, items)
  return { unsignedSerialized: bytesToHex(bytes), unsignedHash: bytesToHex(keccak_256(bytes)) }
}

/**
 * The signed raw transaction and its hash (the transaction hash nodes report). Legacy transactions carry
 * `v` (see {@link legacyV}); typed ones carry `yParity`.
 */
export function serializeTransactionSigned(tx: Transaction, sig: TransactionSignature): { rawTransaction: Hex; hash: Hex } {
  const first = tx.type === 'legacy' ? int(legacyV(tx.chainId, sig.yParity)) : int(BigInt(sig.yParity))
  const bytes = envelope(tx.type, [...fieldsOf(tx), first, int(BigInt(sig.r)), int(BigInt(sig.s))])
  return { rawTransaction: bytesToHex(bytes), hash: bytesToHex(keccak_256(bytes)) }
}

/**
 * The EIP-1559 signing payload and its keccak-256 hash (see {@link serializeTransactionUnsigned}).
 */
export function serializeEip1559Unsigned(tx: Eip1559Transaction): { unsignedSerialized: Hex; unsignedHash: Hex } {
  return serializeTransactionUnsigned({ ...tx, type: 'eip1559' })
}

/** The signed raw EIP-1559 transaction (`0x02 || rlp([..., yParity, r, s])`) and its hash. */
export function serializeEip1559Signed(tx: Eip1559Transaction, sig: TransactionSignature): { rawTransaction: Hex; hash: Hex } {
  return serializeTransactionSigned({ ...tx, type: 'eip1559' }, sig)
}

/** A signed transaction taken apart. */
export type ParsedSignedTransaction = {
  tx: Transaction
  /** `v` is present for legacy transactions. */
  signature: TransactionSignature & { v?: bigint }
  /** Recovered sender. */
  from: Address
  unsignedHash: Hex
  hash: Hex
}

export type ParsedSignedEip1559 = {
  tx: Eip1559Transaction
  signature: TransactionSignature
  /** Recovered sender. */
  from: Address
  unsignedHash: Hex
  hash: Hex
}

const FIELD_COUNT: Record<TransactionType, number> = { legacy: 9, eip2930: 11, eip1559: 12, eip7702: 13 }

/**
 * Strictly parse a signed transaction of type 0, 1, 2 or 4: canonical RLP and RLP integers, 0- or
 * 20-byte `to` (20 for EIP-7702), 20-byte addresses and 32-byte storage keys, yParity 0/1 (legacy `v` of
 * 27/28 or EIP-155 with chainId ≥ 1), 0 < r, s < n, low-s; the sender is recovered from the signature.
 *
 * @throws Error with a reason (callers wrap it in their own error type).
 * @example
 * const { tx, from } = parseSignedTransaction('0x02f8…')
 */
export function parseSignedTransaction(raw: string): ParsedSignedTransaction {
  if (typeof raw !== 'string' || !/^0x(?:[0-9a-fA-F]{2})+$/.test(raw)) throw new Error('not a hex string of whole bytes')
  const bytes = hexToBytes(raw)
  const first = bytes[0]!
  let type: TransactionType
  if (first >= 0xc0) type = 'legacy'
  else if (first === 1) type = 'eip2930'
  else if (first === 2) type = 'eip1559'
  else if (first === 4) type = 'eip7702'
  else throw new Error(`unsupported transaction type 0x${first.toString(16).padStart(2, '0')}`)
  const items = decodeRlp(type === 'legacy' ? bytes : bytes.subarray(1))
  if (!Array.isArray(items) || items.length !== FIELD_COUNT[type]) throw new Error(`a signed ${type} transaction must be a list of ${FIELD_COUNT[type]} fields`)

  const num = (v: RlpItem | undefined, name: string, maxBytes = 32): bigint => {
    if (!(v instanceof Uint8Array)) throw new Error(`${name} must be a byte string`)
    if (v.length === 0) return 0n
    if (v[0] === 0) throw new Error(`${name} has leading zeros`)
    if (v.length > maxBytes) throw new Error(`${name} is too large`)
    return BigInt(bytesToHex(v))
  }
  const addr = (v: RlpItem | undefined, name: string): Address => {
    if (!(v instanceof Uint8Array) || v.length !== 20) throw new Error(`${name} must be 20 bytes`)
    return toChecksumAddress(bytesToHex(v))
  }
  const toOf = (v: RlpItem | undefined): Address | null => {
    if (v instanceof Uint8Array && v.length === 0) return null
    return addr(v, 'to')
  }
  const bytesOf = (v: RlpItem | undefined, name: string): Hex => {
    if (!(v instanceof Uint8Array)) throw new Error(`${name} must be a byte string`)
    return bytesToHex(v)
  }
  const accessList = (v: RlpItem | undefined): Eip1559Transaction['accessList'] => {
    if (!Array.isArray(v)) throw new Error('accessList must be a list')
    return v.map((entry) => {
      if (!Array.isArray(entry) || entry.length !== 2 || !Array.isArray(entry[1])) throw new Error('malformed access list entry')
      const keys = entry[1].map((k) => {
        if (!(k instanceof Uint8Array) || k.length !== 32) throw new Error('malformed storage key')
        return bytesToHex(k)
      })
      return { address: addr(entry[0], 'access list address'), storageKeys: keys }
    })
  }
  const parity = (v: RlpItem | undefined, name: string): 0 | 1 => {
    const n = num(v, name, 1)
    if (n > 1n) throw new Error(`${name} must be 0 or 1`)
    return n === 1n ? 1 : 0
  }
  const authorizationList = (v: RlpItem | undefined): SignedAuthorization[] => {
    if (!Array.isArray(v)) throw new Error('authorizationList must be a list')
    return v.map((entry) => {
      if (!Array.isArray(entry) || entry.length !== 6) throw new Error('malformed authorization')
      return {
        chainId: num(entry[0], 'authorization chainId'),
        address: addr(entry[1], 'authorization address'),
        nonce: num(entry[2], 'authorization nonce', 8),
        yParity: parity(entry[3], 'authorization yParity'),
        r: toHex32(num(entry[4], 'authorization r')),
        s: toHex32(num(entry[5], 'authorization s')),
      }
    })
  }

  let tx: Transaction
  let yParity: 0 | 1
  let v: bigint | undefined
  const [a0, a1, a2, a3, a4, a5, a6, a7, a8, a9] = items
  switch (type) {
    case 'legacy': {
      v = num(items[6], 'v')
      let chainId: bigint | null
      if (v === 27n || v === 28n) {
        chainId = null
        yParity = v === 28n ? 1 : 0
      } else if (v >= 37n) {
        chainId = (v - 35n) / 2n
        yParity = (v - 35n) % 2n === 1n ? 1 : 0
      } else throw new Error('v must be 27, 28 or an EIP-155 value for chainId ≥ 1')
      tx = { type, chainId, nonce: num(a0, 'nonce', 8), gasPrice: num(a1, 'gasPrice'), gas: num(a2, 'gas'), to: toOf(a3), value: num(a4, 'value'), data: bytesOf(a5, 'data') }
      break
    }
    case 'eip2930':
      tx = {
        type,
        chainId: num(a0, 'chainId'),
        nonce: num(a1, 'nonce', 8),
        gasPrice: num(a2, 'gasPrice'),
        gas: num(a3, 'gas'),
        to: toOf(a4),
        value: num(a5, 'value'),
        data: bytesOf(a6, 'data'),
        accessList: accessList(a7),
      }
      yParity = parity(items[8], 'yParity')
      break
    case 'eip1559':
    case 'eip7702': {
      const common = {
        chainId: num(a0, 'chainId'),
        nonce: num(a1, 'nonce', 8),
        maxPriorityFeePerGas: num(a2, 'maxPriorityFeePerGas'),
        maxFeePerGas: num(a3, 'maxFeePerGas'),
        gas: num(a4, 'gas'),
        value: num(a6, 'value'),
        data: bytesOf(a7, 'data'),
        accessList: accessList(a8),
      }
      if (type === 'eip1559') {
        tx = { type, ...common, to: toOf(a5) }
        yParity = parity(items[9], 'yParity')
      } else {
        tx = { type, ...common, to: addr(a5, 'to'), authorizationList: authorizationList(a9) }
        yParity = parity(items[10], 'yParity')
      }
      break
    }
  }
  const n = items.length
  const r = num(items[n - 2], 'r')
  const s = num(items[n - 1], 's')
  const { unsignedHash } = serializeTransactionUnsigned(tx)
  const from = recoverAddress(hexToBytes(unsignedHash), { r, s, yParity })
  return {
    tx,
    signature: { r: toHex32(r), s: toHex32(s), yParity, ...(v === undefined ? {} : { v }) },
    from,
    unsignedHash,
    hash: bytesToHex(keccak_256(bytes)),
  }
}

/**
 * Strictly parse a signed EIP-1559 transaction (see {@link parseSignedTransaction}).
 * @throws Error with a reason (callers wrap it in their own error type).
 */
export function parseSignedEip1559(raw: string): ParsedSignedEip1559 {
  if (typeof raw !== 'string' || !/^0x02(?:[0-9a-fA-F]{2})+$/.test(raw)) throw new Error('not a type-2 transaction')
  const { tx, signature, ...rest } = parseSignedTransaction(raw)
  const { type: _, ...fields } = tx as Extract<Transaction, { type: 'eip1559' }>
  return { tx: fields, signature: { r: signature.r, s: signature.s, yParity: signature.yParity }, ...rest }
}

export { TYPE_EIP1559 }
