import type { Eip1559Transaction, Hex, PolicyFacts, Transaction } from '@enclave-custody/sdk'
import { decodeErc20Call } from './erc20Calldata.js'

/**
 * The policy facts of a transaction, as `sign.transaction` (any type) and `sign.eip1559` (an EIP-1559
 * transaction without its `type` tag) carry it after normalisation:
 * - `family` 'evm'; `kind` its type ('legacy', 'eip2930', 'eip1559', 'eip7702');
 * - `chainId` (absent for a legacy transaction without one), `to` (absent for a contract creation), `value`,
 *   `gas`, `maxFeePerGas` and `maxPriorityFeePerGas` (both the gas price for legacy and EIP-2930),
 *   `worstCaseFee` = gas × maxFeePerGas, `contractCreation`;
 * - for a call: `selector` (the first 4 bytes of calldata, lower-case; absent with fewer than 4 bytes) and
 *   `call`: 'none' without calldata, 'transfer' / 'approve' / 'transferFrom' for an ERC-20 call whose arguments
 *   decode strictly (then also `token` = `to`, `recipient` or `spender`, and `amount`), 'unknown' otherwise;
 * - for a contract creation, `data` is init code, not calldata: no `selector`, no ERC-20 facts, and `call` is
 *   'none' with empty init code, 'unknown' otherwise (init code is never decoded as a call, nor refused).
 *
 * An EIP-7702 transaction's `authorizationList` holds authorizations already signed (by any account): it
 * yields no `delegate` fact, which belongs to `sign.authorization`.
 *
 * No fact is ever guessed: calldata with an ERC-20 selector whose arguments do not decode strictly makes
 * extraction throw (see {@link decodeErc20Call}), so that it is never signed, while an unknown selector is a
 * fact (`call: 'unknown'`). Absent facts have no key.
 *
 * @param tx - From `normalizeTransactionRequest(...).transaction`, or `normalizeEip1559Transaction(...)`.
 * @returns The transaction's facts.
 * @throws InvalidArgumentError naming `tx.data` when an ERC-20 call's arguments do not decode strictly.
 * @example
 * import { normalizeTransactionRequest } from '@enclave-custody/sdk'
 * transactionFacts(normalizeTransactionRequest({ chainId: 1, nonce: 0, to, gas: 21000, gasPrice: 1n }).transaction)
 * // { family: 'evm', kind: 'legacy', chainId: 1n, to, value: 0n, gas: 21000n, maxFeePerGas: 1n, …, call: 'none' }
 */
export function transactionFacts(tx: Transaction | Eip1559Transaction): PolicyFacts {
  const kind = 'type' in tx ? tx.type : 'eip1559'
  const [maxFeePerGas, maxPriorityFeePerGas] = 'gasPrice' in tx ? [tx.gasPrice, tx.gasPrice] : [tx.maxFeePerGas, tx.maxPriorityFeePerGas]
  const facts: PolicyFacts = { family: 'evm', kind }
  if (tx.chainId !== null) facts.chainId = tx.chainId
  if (tx.to !== null) facts.to = tx.to
  facts.value = tx.value
  facts.gas = tx.gas
  facts.maxFeePerGas = maxFeePerGas
  facts.maxPriorityFeePerGas = maxPriorityFeePerGas
  facts.worstCaseFee = tx.gas * maxFeePerGas
  facts.contractCreation = tx.to === null
  const { data } = tx
  if (tx.to === null) {
    facts.call = data === '0x' ? 'none' : 'unknown'
    return facts
  }
  if (data.length >= 10) facts.selector = data.slice(0, 10).toLowerCase() as Hex
  const call = decodeErc20Call(data, 'tx.data')
  if (call === undefined) {
    facts.call = data === '0x' ? 'none' : 'unknown'
    return facts
  }
  facts.call = call.name
  facts.token = tx.to
  if (call.name === 'approve') facts.spender = call.spender
  else facts.recipient = call.recipient
  facts.amount = call.amount
  return facts
}
