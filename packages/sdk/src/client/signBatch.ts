import type { RequestStamp, Stamper } from '../auth/types.js'
import { type CustodyError, errorFromWire, IntegrityError, InvalidArgumentError, isCustodyError } from '../errors/CustodyError.js'
import { bitcoinSignRequests, type SignBitcoinPsbtParameters, type SignBitcoinPsbtReturnType } from '../families/bitcoin/client.js'
import type { evmSignRequests, PreparedSign, SignedTransaction, SignMessageReturnType, SignTransactionReturnType } from '../families/evm/client.js'
import {
  type SignSolanaMessageParameters,
  type SignSolanaMessageReturnType,
  type SignSolanaTransactionParameters,
  type SignSolanaTransactionReturnType,
  solanaSignRequests,
} from '../families/solana/client.js'
import type { KeyInfo } from './createCustodyClient.js'
import type { SignableMessage } from '../messages/personalSign.js'
import type { TypedDataDefinition } from '../messages/typedData.js'
import { type BatchItemOperation, MAX_BATCH_ITEMS, type OperationParamsWire, type OperationResult, parseResult } from '../protocol/messages.js'
import type { AuthorizationRequest, SignedAuthorization } from '../transactions/authorization.js'
import type { Eip1559TransactionRequest } from '../transactions/eip1559.js'
import type { TransactionRequest } from '../transactions/transaction.js'
import type { Address } from '../utils/address.js'
import { assertObject, fail } from '../utils/assert.js'
import type { Hex } from '../utils/hex.js'

/**
 * One payload of a batch (`custody.signBatch`): what the single sign method of the same name takes, with its kind.
 * Every item is signed by the batch's key.
 */
export type SignBatchItem =
  | { kind: 'eip1559'; tx: Eip1559TransactionRequest }
  | { kind: 'transaction'; tx: TransactionRequest }
  | { kind: 'message'; message: SignableMessage }
  | { kind: 'typedData'; typedData: TypedDataDefinition }
  | { kind: 'digest'; digest: Hex | Uint8Array }
  | { kind: 'authorization'; authorization: AuthorizationRequest }
  | ({ kind: 'bitcoinPsbt' } & SignBitcoinPsbtParameters)
  | ({ kind: 'solanaTransaction' } & SignSolanaTransactionParameters)
  | ({ kind: 'solanaMessage' } & SignSolanaMessageParameters)

/** The kinds of batch items. */
export type SignBatchItemKind = SignBatchItem['kind']

/** What a signed item of kind `K` is: what the single sign method returns. */
export type SignBatchValue<K extends SignBatchItemKind = SignBatchItemKind> = K extends 'eip1559'
  ? SignedTransaction
  : K extends 'transaction'
    ? SignTransactionReturnType
    : K extends 'authorization'
      ? SignedAuthorization
      : K extends 'bitcoinPsbt'
        ? SignBitcoinPsbtReturnType
        : K extends 'solanaTransaction'
          ? SignSolanaTransactionReturnType
          : K extends 'solanaMessage'
            ? SignSolanaMessageReturnType
            : SignMessageReturnType

/**
 * One item's outcome, in item order: the verified value, or the error the enclave reported for that item alone
 * (`POLICY_DENIED` naming the rule, `INVALID_ARGUMENT` naming the field…). A result that does not verify is never
 * an item's outcome: the whole call throws `IntegrityError`.
 */
export type SignBatchItemResult<I extends SignBatchItem = SignBatchItem> = { ok: true; value: SignBatchValue<I['kind']> } | { ok: false; error: CustodyError }

/** What `signBatch` returns: one outcome per item, in the items' order. */
export type SignBatchReturnType<I extends readonly SignBatchItem[]> = { -readonly [K in keyof I]: SignBatchItemResult<I[K]> }

/** What `signBatch` needs of the client: its stamped, verified call, the key's address, the EVM family's requests. */
export type SignBatchContext = {
  call(op: 'sign.batch', params: OperationParamsWire<'sign.batch'>, quorum?: { approvals?: readonly RequestStamp[]; approvers?: readonly Stamper[] }): Promise<OperationResult<'sign.batch'>>
  addressOf(keyId: string): Promise<Address>
  /** The key's verified info (Bitcoin and Solana items check results against its public side; read once per batch). */
  getKey(keyId: string): Promise<KeyInfo>
  evm: ReturnType<typeof evmSignRequests>
  /** The batch's idempotency key (checked by the client), and its quorum. */
  idempotency: { idempotencyKey?: string }
  quorum?: { approvals?: readonly RequestStamp[]; approvers?: readonly Stamper[] }
}

type Request = { op: BatchItemOperation; params: unknown }

/**
 * One item, prepared: its request, and (EVM) its result check against the key's address, or (Bitcoin, Solana) how
 * to get its result check, which reads the key's public side (the single methods' own `signBitcoinPsbt`, …).
 */
type PreparedItem =
  | { request: Request; evm: PreparedSign<never, unknown>['verify'] }
  | { request: Request; evm?: undefined; check(families: Families): Promise<(result: never) => unknown> }

type Families = { bitcoin: ReturnType<typeof bitcoinSignRequests>; solana: ReturnType<typeof solanaSignRequests> }

/** The fields of each kind besides `kind` (an item with another field is refused, as the single method's params). */
const ITEM_FIELDS: Record<SignBatchItemKind, readonly string[]> = {
  eip1559: ['tx'],
  transaction: ['tx'],
  message: ['message'],
  typedData: ['typedData'],
  digest: ['digest'],
  authorization: ['authorization'],
  bitcoinPsbt: ['psbt', 'network', 'finalize', 'allow'],
  solanaTransaction: ['transaction'],
  solanaMessage: ['message'],
}

/** Families whose requests need no key (the result checks are made per batch, with the key read once). */
const REQUEST_ONLY: Families = {
  bitcoin: bitcoinSignRequests({ keyOf: () => Promise.reject(new Error('unused')) }),
  solana: solanaSignRequests({ keyOf: () => Promise.reject(new Error('unused')) }),
}

/** Prepare one item with the family's own code (the single method's normalisation and result check). */
function prepareItem(evm: SignBatchContext['evm'], keyId: string, item: unknown, at: string): PreparedItem {
  const kind = (typeof item === 'object' && item !== null ? (item as { kind?: unknown }).kind : undefined) as SignBatchItemKind | undefined
  if (typeof kind !== 'string' || !Object.hasOwn(ITEM_FIELDS, kind)) fail(`${at}.kind`, `must be one of ${Object.keys(ITEM_FIELDS).join(', ')}`)
  const { kind: _, ...i } = assertObject(item, at, ['kind', ...ITEM_FIELDS[kind]])
  const fromEvm = (prepared: { request: { op: BatchItemOperation; params: unknown }; verify(result: never, expected: Address): unknown }): PreparedItem => ({ request: prepared.request, evm: prepared.verify })
  try {
    switch (kind) {
      case 'eip1559':
        return fromEvm(evm.signEip1559(keyId, i.tx as Eip1559TransactionRequest, {}))
      case 'transaction':
        return fromEvm(evm.signTransaction(keyId, i.tx as TransactionRequest, {}))
      case 'authorization':
        return fromEvm(evm.signAuthorization(keyId, i.authorization as AuthorizationRequest, {}))
      case 'message':
        return fromEvm(evm.signMessage(keyId, { message: i.message as SignableMessage }, {}))
      case 'typedData':
        return fromEvm(evm.signTypedData(keyId, i.typedData as TypedDataDefinition, {}))
      case 'digest':
        if (i.digest === undefined) fail('digest', 'is required')
        return fromEvm(evm.signDigest(keyId, i.digest as Hex | Uint8Array, {}))
      case 'bitcoinPsbt': {
        const params = i as SignBitcoinPsbtParameters
        return { request: REQUEST_ONLY.bitcoin.signBitcoinPsbtRequest(keyId, params, {}), check: async (f) => (await f.bitcoin.signBitcoinPsbt(keyId, params, {})).verify as (result: never) => unknown }
      }
      case 'solanaTransaction': {
        const params = i as SignSolanaTransactionParameters
        return { request: REQUEST_ONLY.solana.signSolanaTransactionRequest(keyId, params, {}), check: async (f) => (await f.solana.signSolanaTransaction(keyId, params, {})).verify as (result: never) => unknown }
      }
      case 'solanaMessage': {
        const params = i as SignSolanaMessageParameters
        return { request: REQUEST_ONLY.solana.signSolanaMessageRequest(keyId, params, {}), check: async (f) => (await f.solana.signSolanaMessage(keyId, params, {})).verify as (result: never) => unknown }
      }
    }
  } catch (e) {
    throw withinItem(e, at)
  }
}

/** The single method's error, named within the batch (`items[2].tx.gas`). */
function withinItem(e: unknown, at: string): unknown {
  if (isCustodyError(e, 'INVALID_ARGUMENT') && typeof e.details?.field === 'string') return new InvalidArgumentError({ field: `${at}.${e.details.field}`, rule: String(e.details.rule) })
  return e
}

/** Check and prepare every item; the `sign.batch` request exactly as it will travel (what an approver stamps). */
function prepareBatch(evm: SignBatchContext['evm'], keyId: string, items: readonly SignBatchItem[], extra: { idempotencyKey?: string }) {
  if (!Array.isArray(items)) fail('items', 'must be a list of items')
  if (items.length < 1 || items.length > MAX_BATCH_ITEMS) fail('items', `must hold 1 to ${MAX_BATCH_ITEMS} items`)
  const prepared = items.map((item, i) => prepareItem(evm, keyId, item, `items[${i}]`))
  const wireItems = prepared.map(({ request }) => {
    const { keyId: _, ...params } = request.params as Record<string, unknown>
    return { op: request.op, params }
  })
  const params: OperationParamsWire<'sign.batch'> = { keyId, items: wireItems as OperationParamsWire<'sign.batch'>['items'], ...extra }
  return { request: { op: 'sign.batch' as const, params }, prepared }
}

/**
 * The `sign.batch` request `signBatch` would send for these items and idempotency key (for
 * `custody.approvalRequest.signBatch`: approvers stamp the whole batch).
 *
 * @throws InvalidArgumentError naming `items[i].<field>`, as `signBatch` does.
 */
export function signBatchRequest(evm: SignBatchContext['evm'], keyId: string, items: readonly SignBatchItem[], extra: { idempotencyKey?: string }): { op: 'sign.batch'; params: OperationParamsWire<'sign.batch'> } {
  return prepareBatch(evm, keyId, items, extra).request
}

/**
 * Sign up to {@link MAX_BATCH_ITEMS} payloads with one key in one stamped request (`sign.batch`). Each item is
 * normalised and checked here exactly as its single sign method does, and each signed item is verified exactly as
 * that method verifies it (over the digest or transaction computed here, by the key's address). An item the enclave
 * refused (policy, invalid payload) comes back as `{ ok: false, error }` in its slot; an answer that does not
 * verify — wrong number of results, results swapped or altered — throws `IntegrityError` for the whole call.
 *
 * @param context - The client's call, key lookup, EVM family and the batch's options (see {@link SignBatchContext}).
 * @param keyId - The key that signs every item.
 * @param items - 1 to {@link MAX_BATCH_ITEMS} items.
 * @returns One outcome per item, in order.
 * @throws InvalidArgumentError naming `items[i].<field>` before anything is sent; IntegrityError for an answer that
 *   does not verify; the enclave's error when the batch as a whole is refused (stamp, owners, unknown key).
 * @example
 * const [a, b] = await custody.signBatch(keyId, [{ kind: 'eip1559', tx }, { kind: 'message', message: 'hi' }])
 * if (a.ok) broadcast(a.value.rawTransaction)
 */
export async function signBatch<const I extends readonly SignBatchItem[]>(context: SignBatchContext, keyId: string, items: I): Promise<SignBatchReturnType<I>> {
  const { request, prepared } = prepareBatch(context.evm, keyId, items, context.idempotency)
  // The key's address for EVM items; its info, read once, for the others' checks (as their single methods read it).
  const expected = prepared.some((p) => p.evm) ? await context.addressOf(keyId) : undefined
  let key: Promise<KeyInfo> | undefined
  const keyOf = () => {
    key ??= context.getKey(keyId)
    return key
  }
  const families: Families = { bitcoin: bitcoinSignRequests({ keyOf }), solana: solanaSignRequests({ keyOf }) }
  const checks = await Promise.all(
    prepared.map((p, i) =>
      p.evm
        ? undefined
        : p.check(families).catch((e: unknown) => {
            throw withinItem(e, `items[${i}]`)
          }),
    ),
  )
  const answer = await context.call('sign.batch', request.params, context.quorum)
  if (answer.results.length !== prepared.length) {
    throw new IntegrityError({ reason: `the enclave answered ${answer.results.length} results for ${prepared.length} items` })
  }
  const outcomes = answer.results.map((outcome, i): SignBatchItemResult => {
    if (!outcome.ok) return { ok: false, error: errorFromWire(outcome.error) }
    const item = prepared[i]!
    let result: unknown
    try {
      result = parseResult(item.request.op, outcome.result)
    } catch (e) {
      throw new IntegrityError({ reason: `item ${i}: ${e instanceof Error ? e.message : 'malformed result'}` })
    }
    try {
      const value = item.evm ? item.evm(result as never, expected as Address) : checks[i]!(result as never)
      return { ok: true, value: value as SignBatchValue }
    } catch (e) {
      if (isCustodyError(e, 'INTEGRITY_ERROR')) throw new IntegrityError({ reason: `item ${i}: ${e.message}`, ...(e.details ? { details: e.details } : {}) })
      throw new IntegrityError({ reason: `item ${i}: the result does not verify` })
    }
  })
  return outcomes as SignBatchReturnType<I>
}
