import {
  type Chain,
  type CustodyClient,
  chains,
  explorerTxUrl,
  formatEther,
  getChain,
  RETIRED_TESTNETS,
  sepolia,
  type TransactionRequest,
} from '@enclave-custody/sdk'
import type { Provider } from 'ethers'

/** The chain this example targets unless told otherwise. */
export const DEFAULT_CHAIN_ID = sepolia.id

export type RunParameters = {
  /** A custody client (`createCustodyClient`); only `getKey` and `signTransaction` are used. */
  custody: Pick<CustodyClient, 'getKey' | 'signTransaction'>
  keyId: string
  /** Any ethers provider on the target chain: nonce, fees and gas come from it, and it broadcasts. */
  provider: Provider
  to: string
  /** Amount in wei. */
  value: bigint
  /** The chain the provider must be on: refuse to sign for another one. @default 11155111 (Sepolia) */
  chainId?: number
  /** Explorer metadata for a chain without a preset (`defineChain`). @default the preset of the chain id, if any */
  chain?: Chain
  /** Blocks to wait for after inclusion. @default 1 */
  confirmations?: number
  /** How long to wait for the receipt. @default 300_000 ms */
  timeoutMs?: number
  /** Progress lines. @default console.log */
  log?: (line: string) => void
}

export type RunResult = {
  from: string
  to: string
  value: bigint
  chainId: number
  hash: string
  /** Absent for a chain without explorer. */
  explorerUrl: string | undefined
  blockNumber: number
  status: 'success' | 'reverted'
  gasUsed: bigint
}

/** The preset of a chain id, if there is one (a retired testnet throws: its RPC would be a stale config). */
function presetOf(chainId: number): Chain | undefined {
  if (RETIRED_TESTNETS[chainId] !== undefined) return getChain(chainId)
  return chains.find((c) => c.id === chainId)
}

/**
 * Send `value` wei from the custody key to `to`: read nonce and fees from the provider, sign an EIP-1559
 * transfer through the custody client (a legacy EIP-155 one on a chain without EIP-1559), broadcast it,
 * print the explorer link and wait for confirmation.
 *
 * @throws when the provider is on another chain than `chainId`, when `chainId` is a retired testnet, and on
 *   any custody error (policy, unknown key) or a reverted transaction.
 */
export async function run({
  custody,
  keyId,
  provider,
  to,
  value,
  chainId = DEFAULT_CHAIN_ID,
  chain = presetOf(chainId),
  confirmations = 1,
  timeoutMs = 300_000,
  log = console.log,
}: RunParameters): Promise<RunResult> {
  if (chain && chain.id !== chainId) throw new Error(`chain ${chain.name} has id ${chain.id}, not ${chainId}`)
  const network = await provider.getNetwork()
  if (network.chainId !== BigInt(chainId)) throw new Error(`the RPC endpoint is on chain ${network.chainId}, not ${chainId}: refusing to sign`)
  const { address: from } = await custody.getKey(keyId)
  log(`1. key ${keyId} → ${from} on ${chain?.name ?? `chain ${chainId}`}`)

  const [nonce, feeData, gas, balance] = await Promise.all([
    provider.getTransactionCount(from, 'pending'),
    provider.getFeeData(),
    provider.estimateGas({ from, to, value }),
    provider.getBalance(from),
  ])
  const { maxFeePerGas, maxPriorityFeePerGas, gasPrice } = feeData
  const fees =
    maxFeePerGas != null && maxPriorityFeePerGas != null
      ? ({ type: 'eip1559', maxFeePerGas, maxPriorityFeePerGas } as const)
      : gasPrice != null
        ? ({ type: 'legacy', gasPrice } as const) // a chain without EIP-1559: still EIP-155 (chainId set)
        : undefined
  if (!fees) throw new Error('the provider reports no fee data')
  log(`2. from the provider: nonce ${nonce}, gas ${gas}, ${fees.type} fees, balance ${formatEther(balance)}`)

  const request: TransactionRequest = { chainId, nonce, to, value, gas, ...fees }
  const signed = await custody.signTransaction(keyId, request)
  log(`3. signed in the enclave: ${signed.hash}`)

  const response = await provider.broadcastTransaction(signed.rawTransaction)
  if (response.hash !== signed.hash) throw new Error(`the node reports hash ${response.hash}, not ${signed.hash}`)
  const explorerUrl = chain?.explorer ? explorerTxUrl(chain, signed.hash) : undefined
  log(`4. broadcast: ${explorerUrl ?? `${signed.hash} (no explorer for chain ${chainId})`}`)

  const receipt = await response.wait(confirmations, timeoutMs)
  if (!receipt) throw new Error(`no receipt within ${timeoutMs} ms`)
  const status = receipt.status === 1 ? 'success' : 'reverted'
  log(`5. ${status} in block ${receipt.blockNumber} (${confirmations} confirmation${confirmations === 1 ? '' : 's'}), gas used ${receipt.gasUsed}`)
  if (status !== 'success') throw new Error(`transaction ${signed.hash} reverted`)
  return { from, to, value, chainId, hash: signed.hash, explorerUrl, blockNumber: receipt.blockNumber, status, gasUsed: receipt.gasUsed }
}
