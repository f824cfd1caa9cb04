import { type Address, assertAddress } from '../utils/address.js'
import { assertObject, fail, typeName } from '../utils/assert.js'
import { type Hex, toHexData } from '../utils/hex.js'
import { MAX_NONCE, MAX_UINT256, type QuantityInput, toQuantity } from '../utils/quantity.js'
import {
  normalizeSignedAuthorization,
  type SignedAuthorization,
  type SignedAuthorizationInput,
  type SignedAuthorizationWire,
  signedAuthorizationToWire,
} from './authorization.js'
import {
  type AccessListEntry,
  DEFAULT_MAX_GAS,
  type Eip1559Transaction,
  MAX_DATA_BYTES,
  MIN_GAS,
  type NormalizeOptions,
  normalizeAccessList,
} from './eip1559.js'

/** The transaction types `signTransaction` signs, by name. */
export type TransactionType = 'legacy' | 'eip2930' | 'eip1559' | 'eip7702'
/** A transaction type as callers may write it: its name or its EIP-2718 number. */
export type TransactionTypeInput = TransactionType | 0 | 1 | 2 | 4

/** EIP-2718 type byte of each transaction type. */
export const TRANSACTION_TYPE_NUMBER = { legacy: 0, eip2930: 1, eip1559: 2, eip7702: 4 } as const satisfies Record<TransactionType, number>

/** Largest chainId of a legacy transaction: EIP-155 puts `chainId * 2 + 36` into `v`, bounded by EIP-2294. */
export const MAX_LEGACY_CHAIN_ID = (1n << 64n) - 1n
/** Most authorizations one EIP-7702 transaction may carry. */
export const MAX_AUTHORIZATIONS = 256

type CommonRequest = {
  nonce: QuantityInput
  /** Omitted or null: contract creation (not for EIP-7702). */
  to?: string | null | undefined
  value?: QuantityInput | null | undefined
  gas?: QuantityInput | null | undefined
  /** Alias of `gas`. */
  gasLimit?: QuantityInput | null | undefined
  data?: string | Uint8Array | null | undefined
}

/** A legacy (type 0) transaction request; with `chainId` it is signed per EIP-155. */
export type LegacyTransactionRequest = CommonRequest & {
  type?: 'legacy' | 0 | undefined
  /**
   * Omitted: a pre-EIP-155 transaction, valid on every chain. Refused unless `allowReplayable: true` and the
   * key's policy has `allowReplayableLegacy`.
   */
  chainId?: QuantityInput | null | undefined
  gasPrice: QuantityInput
  /** Opt in to signing without chainId. @default false */
  allowReplayable?: boolean | undefined
}

/** An EIP-2930 (type 1) transaction request. */
export type Eip2930TransactionRequest = CommonRequest & {
  type?: 'eip2930' | 1 | undefined
  chainId: QuantityInput
  gasPrice: QuantityInput
  accessList?: readonly AccessListEntry[] | null | undefined
}

/** An EIP-1559 (type 2) transaction request. */
export type Eip1559TypedTransactionRequest = CommonRequest & {
  type?: 'eip1559' | 2 | undefined
  chainId: QuantityInput
  maxFeePerGas: QuantityInput
  maxPriorityFeePerGas: QuantityInput
  accessList?: readonly AccessListEntry[] | null | undefined
}

/** An EIP-7702 (type 4) transaction request: a call (never a creation) carrying signed authorizations. */
export type Eip7702TransactionRequest = Omit<CommonRequest, 'to'> & {
  type?: 'eip7702' | 4 | undefined
  chainId: QuantityInput
  to: string
  maxFeePerGas: QuantityInput
  maxPriorityFeePerGas: QuantityInput
  accessList?: readonly AccessListEntry[] | null | undefined
  authorizationList: readonly SignedAuthorizationInput[]
}

/**
 * What callers pass to `signTransaction`. Without `type` the type is inferred: `authorizationList` → 4,
 * `maxFeePerGas`/`maxPriorityFeePerGas` → 2, `accessList` with `gasPrice` → 1, `gasPrice` → 0.
 */
export type TransactionRequest = LegacyTransactionRequest | Eip2930TransactionRequest | Eip1559TypedTransactionRequest | Eip7702TransactionRequest

type AccessList = Eip1559Transaction['accessList']

/** A validated legacy transaction; `chainId: null` is a replayable pre-EIP-155 transaction. */
export type LegacyTransaction = {
  type: 'legacy'
  chainId: bigint | null
  nonce: bigint
  to: Address | null
  value: bigint
  gas: bigint
  gasPrice: bigint
  data: Hex
}

/** A validated EIP-2930 transaction. */
export type Eip2930Transaction = {
  type: 'eip2930'
  chainId: bigint
  nonce: bigint
  to: Address | null
  value: bigint
  gas: bigint
  gasPrice: bigint
  data: Hex
  accessList: AccessList
}

/** A validated EIP-1559 transaction with its type tag. */
export type Eip1559TypedTransaction = { type: 'eip1559' } & Eip1559Transaction

/** A validated EIP-7702 transaction. */
export type Eip7702Transaction = {
  type: 'eip7702'
  chainId: bigint
  nonce: bigint
  to: Address
  value: bigint
  gas: bigint
  maxFeePerGas: bigint
  maxPriorityFeePerGas: bigint
  data: Hex
  accessList: AccessList
  authorizationList: SignedAuthorization[]
}

/** A validated transaction of any supported type: quantities bigint, addresses checksummed, hex lower-case. */
export type Transaction = LegacyTransaction | Eip2930Transaction | Eip1559TypedTransaction | Eip7702Transaction

/** The JSON form on the wire: quantities as decimal strings, `allowReplayable` beside the fields. */
export type TransactionRequestWire = {
  type: TransactionType
  chainId?: string
  nonce: string
  to?: Address
  value: string
  gas: string
  gasPrice?: string
  maxFeePerGas?: string
  maxPriorityFeePerGas?: string
  data: Hex
  accessList?: AccessList
  authorizationList?: SignedAuthorizationWire[]
  allowReplayable?: true
}

const ALL_FIELDS = [
  'type',
  'chainId',
  'nonce',
  'to',
  'value',
  'gas',
  'gasLimit',
  'gasPrice',
  'maxFeePerGas',
  'maxPriorityFeePerGas',
  'data',
  'accessList',
  'authorizationList',
  'allowReplayable',
] as const

const COMMON = ['type', 'chainId', 'nonce', 'to', 'value', 'gas', 'gasLimit', 'data']
const FIELDS_OF: Record<TransactionType, ReadonlySet<string>> = {
  legacy: new Set([...COMMON, 'gasPrice', 'allowReplayable']),
  eip2930: new Set([...COMMON, 'gasPrice', 'accessList']),
  eip1559: new Set([...COMMON, 'maxFeePerGas', 'maxPriorityFeePerGas', 'accessList']),
  eip7702: new Set([...COMMON, 'maxFeePerGas', 'maxPriorityFeePerGas', 'accessList', 'authorizationList']),
}

const TYPE_RULE = 'must be 0, 1, 2, 4, "legacy", "eip2930", "eip1559" or "eip7702"'

/**
 * Resolve the transaction type of a request: `type` when given (a name or 0, 1, 2, 4), else inferred from
 * the fields (`authorizationList` → eip7702, `maxFeePerGas`/`maxPriorityFeePerGas` → eip1559, `accessList`
 * with `gasPrice` → eip2930, `gasPrice` → legacy). Fields set to `null` count as absent.
 *
 * @throws InvalidArgumentError when `type` is malformed or the fields do not tell.
 */
export function transactionTypeOf(tx: Readonly<Record<string, unknown>>, path = 'tx'): TransactionType {
  const t = tx.type
  if (t !== undefined && t !== null) {
    if (t === 3 || t === 'eip4844') fail(`${path}.type`, 'is a blob (EIP-4844) transaction, which is not supported')
    switch (t) {
      case 0:
      case 'legacy':
        return 'legacy'
      case 1:
      case 'eip2930':
        return 'eip2930'
      case 2:
      case 'eip1559':
        return 'eip1559'
      case 4:
      case 'eip7702':
        return 'eip7702'
      default:
        fail(`${path}.type`, `${TYPE_RULE} (got ${typeof t === 'number' || typeof t === 'string' ? JSON.stringify(t).slice(0, 20) : typeName(t)})`)
    }
  }
  const has = (name: string) => tx[name] !== undefined && tx[name] !== null
  if (has('authorizationList')) return 'eip7702'
  if (has('maxFeePerGas') || has('maxPriorityFeePerGas')) return 'eip1559'
  if (has('gasPrice')) return has('accessList') ? 'eip2930' : 'legacy'
  return fail(`${path}.type`, 'is required when the fee fields do not tell (pass gasPrice, or maxFeePerGas and maxPriorityFeePerGas, or authorizationList)')
}

/**
 * Validate and normalise a `signTransaction` request of any supported type. Every failure is an
 * `InvalidArgumentError` naming the field (prefixed with `path`) and the rule: fields of another type,
 * quantities out of range (nonce ≤ 2^64-2, others ≤ 2^256-1, chainId ≥ 1), gas below 21000 or above the cap,
 * a legacy transaction without chainId unless `allowReplayable: true`, an EIP-7702 transaction without `to`
 * or with an empty or malformed `authorizationList`.
 *
 * @param input - The request.
 * @param path - Field prefix for error messages. @default 'tx'
 * @param options - `maxGas`: upper bound on gas. @default 30_000_000n
 * @returns The transaction and whether the request opted in to a replayable legacy transaction.
 * @throws InvalidArgumentError
 * @example
 * const { transaction } = normalizeTransactionRequest({ chainId: 1, nonce: 0, to: '0x…', gas: 21000, gasPrice: 1n })
 * transaction.type // 'legacy'
 */
export function normalizeTransactionRequest(
  input: unknown,
  path = 'tx',
  { maxGas = DEFAULT_MAX_GAS }: NormalizeOptions = {},
): { transaction: Transaction; allowReplayable: boolean } {
  const tx = assertObject(input, path, ALL_FIELDS)
  const type = transactionTypeOf(tx, path)
  const f = (name: string) => `${path}.${name}`
  const present = (name: string) => tx[name] !== undefined && tx[name] !== null
  for (const name of ALL_FIELDS) {
    if (present(name) && !FIELDS_OF[type].has(name)) fail(f(name), `is not a field of ${type} transactions`)
  }
  const required = (name: string) => {
    if (!present(name)) fail(f(name), 'is required')
    return tx[name]
  }

  if (present('allowReplayable') && typeof tx.allowReplayable !== 'boolean') fail(f('allowReplayable'), `must be a boolean (got ${typeName(tx.allowReplayable)})`)
  const allowReplayable = tx.allowReplayable === true

  let chainId: bigint | null
  if (type === 'legacy') {
    chainId = present('chainId') ? toQuantity(tx.chainId, f('chainId'), { min: 1n, max: MAX_LEGACY_CHAIN_ID }) : null
    if (chainId === null && !allowReplayable) {
      fail(f('chainId'), 'is required: a legacy transaction without chainId is valid on every chain (set allowReplayable: true to sign one anyway)')
    }
  } else chainId = toQuantity(required('chainId'), f('chainId'), { min: 1n, max: MAX_UINT256 })

  const nonce = toQuantity(required('nonce'), f('nonce'), { max: MAX_NONCE })
  let to: Address | null = null
  if (present('to')) to = assertAddress(tx.to, f('to'))
  else if (type === 'eip7702') fail(f('to'), 'is required: an EIP-7702 transaction cannot create a contract')
  const value = present('value') ? toQuantity(tx.value, f('value')) : 0n

  if (present('gas') && present('gasLimit')) fail(f('gasLimit'), 'is an alias of "gas"; pass only one of them')
  const gasField = present('gas') ? 'gas' : 'gasLimit'
  if (!present(gasField)) fail(f('gas'), 'is required')
  const gas = toQuantity(tx[gasField], f(gasField))
  if (gas < MIN_GAS) fail(f(gasField), `must be at least ${MIN_GAS}`)
  if (gas > maxGas) fail(f(gasField), `must be at most ${maxGas} (the configured gas cap)`)

  const data = present('data') ? toHexData(tx.data, f('data')) : '0x'
  if ((data.length - 2) / 2 > MAX_DATA_BYTES) fail(f('data'), `must be at most ${MAX_DATA_BYTES} bytes`)
  const accessList = () => normalizeAccessList(present('accessList') ? tx.accessList : undefined, f('accessList'))
  const fees = () => {
    const maxFeePerGas = toQuantity(required('maxFeePerGas'), f('maxFeePerGas'))
    const maxPriorityFeePerGas = toQuantity(required('maxPriorityFeePerGas'), f('maxPriorityFeePerGas'))
    if (maxPriorityFeePerGas > maxFeePerGas) fail(f('maxPriorityFeePerGas'), 'must not exceed maxFeePerGas')
    return { maxFeePerGas, maxPriorityFeePerGas }
  }

  let transaction: Transaction
  switch (type) {
    case 'legacy':
      transaction = { type, chainId, nonce, to, value, gas, gasPrice: toQuantity(required('gasPrice'), f('gasPrice')), data }
      break
    case 'eip2930':
      transaction = { type, chainId: chainId!, nonce, to, value, gas, gasPrice: toQuantity(required('gasPrice'), f('gasPrice')), data, accessList: accessList() }
      break
    case 'eip1559':
      transaction = { type, chainId: chainId!, nonce, to, value, gas, ...fees(), data, accessList: accessList() }
      break
    case 'eip7702': {
      const list = required('authorizationList')
      if (!Array.isArray(list)) fail(f('authorizationList'), `must be an array of signed authorizations (got ${typeName(list)})`)
      if (list.length === 0) fail(f('authorizationList'), 'must not be empty (EIP-7702)')
      if (list.length > MAX_AUTHORIZATIONS) fail(f('authorizationList'), `must have at most ${MAX_AUTHORIZATIONS} entries`)
      const authorizationList = list.map((a, i) => normalizeSignedAuthorization(a, `${f('authorizationList')}[${i}]`))
      transaction = { type, chainId: chainId!, nonce, to: to!, value, gas, ...fees(), data, accessList: accessList(), authorizationList }
      break
    }
  }
  return { transaction, allowReplayable: type === 'legacy' && chainId === null && allowReplayable }
}

/**
 * The wire form of a normalised transaction (quantities as decimal strings). `allowReplayable` travels
 * only for a legacy transaction without chainId.
 */
export function transactionToWire(tx: Transaction, allowReplayable = false): TransactionRequestWire {
  const base = {
    type: tx.type,
    nonce: tx.nonce.toString(),
    ...(tx.to === null ? {} : { to: tx.to }),
    value: tx.value.toString(),
    gas: tx.gas.toString(),
    data: tx.data,
  }
  switch (tx.type) {
    case 'legacy':
      return {
        ...base,
        ...(tx.chainId === null ? {} : { chainId: tx.chainId.toString() }),
        gasPrice: tx.gasPrice.toString(),
        ...(tx.chainId === null && allowReplayable ? { allowReplayable: true as const } : {}),
      }
    case 'eip2930':
      return { ...base, chainId: tx.chainId.toString(), gasPrice: tx.gasPrice.toString(), accessList: tx.accessList }
    case 'eip1559':
      return {
        ...base,
        chainId: tx.chainId.toString(),
        maxFeePerGas: tx.maxFeePerGas.toString(),
        maxPriorityFeePerGas: tx.maxPriorityFeePerGas.toString(),
        accessList: tx.accessList,
      }
    case 'eip7702':
      return {
        ...base,
        chainId: tx.chainId.toString(),
        maxFeePerGas: tx.maxFeePerGas.toString(),
        maxPriorityFeePerGas: tx.maxPriorityFeePerGas.toString(),
        accessList: tx.accessList,
        authorizationList: tx.authorizationList.map(signedAuthorizationToWire),
      }
  }
}
