import { fail } from '../utils/assert.js'
import { assertObject } from '../utils/assert.js'
import { type Address, assertAddress } from '../utils/address.js'
import { assertHex, type Hex, toHexData } from '../utils/hex.js'
import { MAX_NONCE, MAX_UINT256, type QuantityInput, toQuantity } from '../utils/quantity.js'

/** One access-list entry: an address and the storage slots the transaction pre-declares. */
export type AccessListEntry = { address: string; storageKeys: readonly string[] }

/** What callers pass to `signEip1559`. Quantities: bigint, safe integer or decimal string. */
export type Eip1559TransactionRequest = {
  chainId: QuantityInput
  nonce: QuantityInput
  /** Omitted or null: contract creation. */
  to?: string | null | undefined
  value?: QuantityInput | undefined
  gas?: QuantityInput | undefined
  /** Alias of `gas`. */
  gasLimit?: QuantityInput | undefined
  maxFeePerGas: QuantityInput
  maxPriorityFeePerGas: QuantityInput
  data?: string | Uint8Array | undefined
  accessList?: readonly AccessListEntry[] | undefined
}

/** A validated EIP-1559 transaction: every quantity a bigint, addresses checksummed, hex lower-case. */
export type Eip1559Transaction = {
  chainId: bigint
  nonce: bigint
  to: Address | null
  value: bigint
  gas: bigint
  maxFeePerGas: bigint
  maxPriorityFeePerGas: bigint
  data: Hex
  accessList: { address: Address; storageKeys: Hex[] }[]
}

/** The JSON form on the wire: quantities as decimal strings. */
export type Eip1559TransactionWire = {
  chainId: string
  nonce: string
  to: Address | null
  value: string
  gas: string
  maxFeePerGas: string
  maxPriorityFeePerGas: string
  data: Hex
  accessList: { address: Address; storageKeys: Hex[] }[]
}

/** Intrinsic gas of the cheapest transaction. */
export const MIN_GAS = 21_000n
/** Default upper bound on `gas`, overridable by client and enclave options. */
export const DEFAULT_MAX_GAS = 30_000_000n
/** Largest `data` accepted (bytes): the common node limit for one transaction. */
export const MAX_DATA_BYTES = 128 * 1024
const MAX_ACCESS_LIST_ENTRIES = 1024
const MAX_STORAGE_KEYS = 4096

const FIELDS = ['chainId', 'nonce', 'to', 'value', 'gas', 'gasLimit', 'maxFeePerGas', 'maxPriorityFeePerGas', 'data', 'accessList'] as const

export type NormalizeOptions = {
  /** Upper bound on `gas`. @default 30_000_000n */
  maxGas?: bigint
}

/**
 * Validate and normalise an EIP-1559 transaction request. Every failure is an `InvalidArgumentError`
 * naming the field (prefixed with `path`) and the rule.
 *
 * @throws InvalidArgumentError
 */
export function normalizeEip1559Transaction(input: unknown, path = 'tx', { maxGas = DEFAULT_MAX_GAS }: NormalizeOptions = {}): Eip1559Transaction {
  const tx = assertObject(input, path, FIELDS)
  const f = (name: string) => `${path}.${name}`
  const required = (name: string) => {
    if (tx[name] === undefined) fail(f(name), 'is required')
    return tx[name]
  }

  const chainId = toQuantity(required('chainId'), f('chainId'), { min: 1n, max: MAX_UINT256 })
  const nonce = toQuantity(required('nonce'), f('nonce'), { max: MAX_NONCE })
  const to = tx.to === undefined || tx.to === null ? null : assertAddress(tx.to, f('to'))
  const value = tx.value === undefined ? 0n : toQuantity(tx.value, f('value'))

  if (tx.gas !== undefined && tx.gasLimit !== undefined) fail(f('gasLimit'), 'is an alias of "gas"; pass only one of them')
  const gasField = tx.gas !== undefined ? 'gas' : 'gasLimit'
  if (tx[gasField] === undefined) fail(f('gas'), 'is required')
  const gas = toQuantity(tx[gasField], f(gasField))
  if (gas < MIN_GAS) fail(f(gasField), `must be at least ${MIN_GAS}`)
  if (gas > maxGas) fail(f(gasField), `must be at most ${maxGas} (the configured gas cap)`)

  const maxFeePerGas = toQuantity(required('maxFeePerGas'), f('maxFeePerGas'))
  const maxPriorityFeePerGas = toQuantity(required('maxPriorityFeePerGas'), f('maxPriorityFeePerGas'))
  if (maxPriorityFeePerGas > maxFeePerGas) fail(f('maxPriorityFeePerGas'), 'must not exceed maxFeePerGas')

  const data = tx.data === undefined ? '0x' : toHexData(tx.data, f('data'))
  if ((data.length - 2) / 2 > MAX_DATA_BYTES) fail(f('data'), `must be at most ${MAX_DATA_BYTES} bytes`)

  const accessList = normalizeAccessList(tx.accessList, f('accessList'))
  return { chainId, nonce, to, value, gas, maxFeePerGas, maxPriorityFeePerGas, data, accessList }
}

/**
 * Validate an access list (EIP-2930): at most 1024 entries and 4096 storage keys in total, addresses
 * checksummed, storage keys 32 bytes of lower-case hex. `undefined` is the empty list.
 *
 * @throws InvalidArgumentError naming the entry and field.
 */
export function normalizeAccessList(value: unknown, field: string): Eip1559Transaction['accessList'] {
  if (value === undefined) return []
  if (!Array.isArray(value)) fail(field, 'must be an array of { address, storageKeys }')
  if (value.length > MAX_ACCESS_LIST_ENTRIES) fail(field, `must have at most ${MAX_ACCESS_LIST_ENTRIES} entries`)
  let keys = 0
  return value.map((entry, i) => {
    const e = assertObject(entry, `${field}[${i}]`, ['address', 'storageKeys'])
    const address = assertAddress(e.address, `${field}[${i}].address`)
    const sk = e.storageKeys === undefined ? [] : e.storageKeys
    if (!Array.isArray(sk)) fail(`${field}[${i}].storageKeys`, 'must be an array of 32-byte hex strings')
    keys += sk.length
    if (keys > MAX_STORAGE_KEYS) fail(field, `must hold at most ${MAX_STORAGE_KEYS} storage keys in total`)
    return { address, storageKeys: sk.map((k, j) => assertHex(k, `${field}[${i}].storageKeys[${j}]`, 32)) }
  })
}

/** The wire form of a normalised transaction. */
export function eip1559ToWire(tx: Eip1559Transaction): Eip1559TransactionWire {
  return {
    chainId: tx.chainId.toString(),
    nonce: tx.nonce.toString(),
    to: tx.to,
    value: tx.value.toString(),
    gas: tx.gas.toString(),
    maxFeePerGas: tx.maxFeePerGas.toString(),
    maxPriorityFeePerGas: tx.maxPriorityFeePerGas.toString(),
    data: tx.data,
    accessList: tx.accessList,
  }
}
