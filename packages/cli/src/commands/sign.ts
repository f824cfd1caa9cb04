import { type CustodyClient, type Eip1559TransactionRequest, parseEther, type SignedTransaction, type SignOptions } from '@enclave-custody/sdk'
import { formatUnits, parseUnits } from 'ethers'
import { z } from 'zod'
import { approverStampers } from './apiKeyFile.js'
import { chainIdFlag, retiredChainRule } from './chainIdFlag.js'
import type { CliIo } from './cliIo.js'
import { CommandFailure, integerFlag, numberFlag, UsageError } from './cliOptions.js'
import { connect, httpUrl, keyIdSchema, PROXY_HELP, PROXY_USAGE, approverKeyFileOption, proxyOptions } from './connection.js'
import { defineCommand } from './defineCommand.js'
import { nodeOrigin, quantity, type RpcNode, rpcNode, toQuantity, type TransactionReceipt, waitForReceipt } from './rpcNode.js'

/** Nonces and gas limits: 64-bit unsigned (EIP-2681 bounds the nonce so). */
const uint64 = integerFlag({ min: 0n, max: 2n ** 64n - 1n })
const gwei = z
  .string()
  .regex(/^(?:0|[1-9][0-9]{0,30})(?:\.[0-9]{1,9})?$/, 'must be an amount of gwei such as "30" or "1.5" (at most 9 decimals)')
  .transform((v) => parseUnits(v, 9))
const ether = z
  .string()
  .regex(/^(?:0|[1-9][0-9]{0,30})(?:\.[0-9]{1,18})?$/, 'must be an amount of ether such as "0.01" (at most 18 decimals)')
  .transform((v) => parseEther(v))

/**
 * Sign an EIP-1559 transaction in the enclave. The SDK checks the signature and the signer's address
 * before returning.
 */
export function signTransaction(keyId: string, tx: Eip1559TransactionRequest, { client, options }: { client: CustodyClient; options?: SignOptions }): Promise<SignedTransaction> {
  return client.signEip1559(keyId, tx, options)
}

/** What the node fills when the flags leave it out. */
export type TransactionFields = { chainId: bigint; nonce: bigint; gas: bigint; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }

/**
 * Fill the fields the flags left out from the node: the chain id (`eth_chainId`, and a given one must match it),
 * the nonce (`eth_getTransactionCount` of `from`, pending), the fees (`eth_maxPriorityFeePerGas`, else the median
 * tip of `eth_feeHistory`; max fee = twice the next block's base fee + the tip) and the gas (`eth_estimateGas`).
 *
 * @returns the complete fields and the names of those the node filled
 */
export async function fillFromNode(
  node: RpcNode,
  given: Partial<TransactionFields>,
  tx: { from: () => Promise<string>; to: string; value: bigint; data?: string | undefined },
): Promise<{ fields: TransactionFields; filled: (keyof TransactionFields)[] }> {
  const filled: (keyof TransactionFields)[] = []
  const origin = nodeOrigin(node.url)
  const nodeChainId = quantity(await node.call('eth_chainId'), 'chain id')
  if (given.chainId !== undefined && given.chainId !== nodeChainId) {
    throw new CommandFailure(`--chain-id ${given.chainId} is not the chain of the node at ${origin} (chain id ${nodeChainId})`)
  }
  const retired = retiredChainRule(nodeChainId)
  if (retired !== undefined) throw new CommandFailure(`the node at ${origin} is on chain ${retired}`)
  if (given.chainId === undefined) filled.push('chainId')
  const needsFrom = given.nonce === undefined || given.gas === undefined
  const from = needsFrom ? await tx.from() : undefined
  let nonce = given.nonce
  if (nonce === undefined) {
    nonce = quantity(await node.call('eth_getTransactionCount', [from, 'pending']), 'nonce')
    filled.push('nonce')
  }
  let maxFeePerGas = given.maxFeePerGas
  let maxPriorityFeePerGas = given.maxPriorityFeePerGas
  if (maxFeePerGas === undefined || maxPriorityFeePerGas === undefined) {
    if (maxPriorityFeePerGas === undefined) {
      maxPriorityFeePerGas = await suggestedTip(node)
      filled.push('maxPriorityFeePerGas')
    }
    if (maxFeePerGas === undefined) {
      const history = await node.call<{ baseFeePerGas?: string[] }>('eth_feeHistory', ['0x1', 'latest', []])
      const next = history?.baseFeePerGas?.at(-1)
      if (next === undefined) throw new CommandFailure(`the node at ${origin} reports no base fee (not an EIP-1559 chain?): give --max-fee-gwei`)
      maxFeePerGas = 2n * quantity(next, 'base fee') + maxPriorityFeePerGas
      filled.push('maxFeePerGas')
    } else if (maxPriorityFeePerGas > maxFeePerGas) maxPriorityFeePerGas = maxFeePerGas
  }
  let gas = given.gas
  if (gas === undefined) {
    const call = { from, to: tx.to, value: toQuantity(tx.value), ...(tx.data === undefined ? {} : { data: tx.data }) }
    gas = quantity(await node.call('eth_estimateGas', [call]), 'gas estimate')
    filled.push('gas')
  }
  return { fields: { chainId: nodeChainId, nonce, gas, maxFeePerGas, maxPriorityFeePerGas }, filled }
}

/** The node's suggested priority fee: `eth_maxPriorityFeePerGas`, else the median tip of the last 5 blocks. */
async function suggestedTip(node: RpcNode): Promise<bigint> {
  try {
    return quantity(await node.call('eth_maxPriorityFeePerGas'), 'priority fee')
  } catch (e) {
    if (!(e instanceof CommandFailure) || /cannot reach/.test(e.message)) throw e
  }
  const history = await node.call<{ reward?: string[][] }>('eth_feeHistory', ['0x5', 'latest', [50]])
  const tips = (history?.reward ?? []).map((r) => quantity(r[0], 'priority fee')).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  return tips[Math.floor(tips.length / 2)] ?? 0n
}

const FIELD_TEXT: Record<keyof TransactionFields, (f: TransactionFields) => string> = {
  chainId: (f) => `chain id ${f.chainId}`,
  nonce: (f) => `nonce ${f.nonce}`,
  gas: (f) => `gas ${f.gas}`,
  maxFeePerGas: (f) => `max fee ${formatUnits(f.maxFeePerGas, 9)} gwei`,
  maxPriorityFeePerGas: (f) => `priority fee ${formatUnits(f.maxPriorityFeePerGas, 9)} gwei`,
}

/** Send a signed transaction and wait for its receipt, with a progress line for each step on stderr. */
export async function broadcast(node: RpcNode, signed: SignedTransaction, { io, timeoutMs }: { io: CliIo; timeoutMs: number }): Promise<TransactionReceipt> {
  const hash = await node.call('eth_sendRawTransaction', [signed.rawTransaction])
  if (typeof hash !== 'string' || hash.toLowerCase() !== signed.hash.toLowerCase()) {
    throw new CommandFailure(`the node at ${nodeOrigin(node.url)} answered eth_sendRawTransaction with another hash than ${signed.hash}`)
  }
  io.stderr(`sent ${signed.hash}; waiting for the receipt\n`)
  const receipt = await waitForReceipt(node, signed.hash, { timeoutMs })
  io.stderr(`mined in block ${receipt.blockNumber}: ${receipt.status} (gas used ${receipt.gasUsed})\n`)
  return receipt
}

/** The flags the node can fill, as the errors name them. */
const FILLABLE = [
  ['nonce', '--nonce'],
  ['gas', '--gas'],
  ['maxFeeGwei', '--max-fee-gwei'],
  ['maxPriorityGwei', '--max-priority-gwei'],
] as const

export const signCommand = defineCommand({
  name: 'sign',
  summary: 'sign an EIP-1559 transaction (and broadcast it with --broadcast)',
  usage:
    `custody sign <keyId> --to <address> --value-ether <decimal> [--nonce <n>] [--gas <n>] [--max-fee-gwei <decimal>]\n       [--max-priority-gwei <decimal>] [--chain-id <n>] [--data <hex>] [--rpc-url <url> [--broadcast [--timeout <s>]]]\n       [--approver-key-file <path>]… [--json] ${PROXY_USAGE}`,
  description: [
    'Signs a type-2 transaction in the enclave and prints the raw transaction, its hash and the signer.',
    'With --rpc-url (or CUSTODY_RPC_URL, which `custody dev` puts in dev.env) the node fills what the flags leave',
    'out: the chain id (a given one must match the node), the nonce (pending transactions count), the fees',
    '(eth_maxPriorityFeePerGas; max fee = 2 × next base fee + tip) and the gas (eth_estimateGas); stderr says what it',
    'filled. Without a node, --nonce, --gas, --max-fee-gwei, --max-priority-gwei and --chain-id are required.',
    '--broadcast sends the signed transaction to the node and waits for its receipt (progress on stderr); exit 1',
    'when it reverted. Without --broadcast nothing is sent.',
    PROXY_HELP,
  ].join('\n'),
  positionals: [{ name: 'keyId', help: 'the key to sign with', schema: keyIdSchema }],
  options: {
    to: { flag: 'to', value: 'address', help: 'recipient', schema: z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x-prefixed 20-byte address'), required: true },
    valueEther: { flag: 'value-ether', value: 'decimal', help: 'amount in ether, e.g. 0.01', schema: ether, required: true },
    nonce: { flag: 'nonce', value: 'n', help: "the sender's next nonce (≥ 0; default with --rpc-url: the node's pending count)", schema: uint64.optional() },
    gas: { flag: 'gas', value: 'n', help: 'gas limit, e.g. 21000 (default with --rpc-url: eth_estimateGas)', schema: uint64.optional() },
    maxFeeGwei: { flag: 'max-fee-gwei', value: 'decimal', help: "max fee per gas in gwei (default with --rpc-url: 2 × the next base fee + the tip)", schema: gwei.optional() },
    maxPriorityGwei: { flag: 'max-priority-gwei', value: 'decimal', help: "max priority fee per gas in gwei (default with --rpc-url: the node's suggestion)", schema: gwei.optional() },
    chainId: {
      flag: 'chain-id',
      env: 'CUSTODY_CHAIN_ID',
      value: 'n',
      help: "chain id, e.g. 1 or 11155111; retired testnets such as Goerli 5 are refused (default with --rpc-url: the node's)",
      schema: chainIdFlag.optional(),
    },
    data: { flag: 'data', value: 'hex', help: 'call data', schema: z.string().regex(/^0x(?:[0-9a-fA-F]{2})*$/, 'must be 0x-prefixed hex bytes').optional() },
    rpcUrl: { flag: 'rpc-url', env: 'CUSTODY_RPC_URL', value: 'url', help: 'Ethereum JSON-RPC node: fills the fields not given, and --broadcast sends there', schema: httpUrl.optional() },
    broadcast: { flag: 'broadcast', boolean: true, help: 'send the signed transaction to --rpc-url and wait for its receipt', schema: z.boolean().default(false) },
    timeout: { flag: 'timeout', value: 's', help: 'with --broadcast: seconds to wait for the receipt (default 120)', schema: numberFlag({ min: 1, max: 86_400 }).default(120) },
    approverKeyFile: approverKeyFileOption,
    json: { flag: 'json', boolean: true, help: 'print JSON (with --broadcast: and the receipt: blockNumber, status, gasUsed)', schema: z.boolean().default(false) },
    ...proxyOptions,
  },
  async run({ options: o, positionals: [keyId], io }) {
    if (o.maxPriorityGwei !== undefined && o.maxFeeGwei !== undefined && o.maxPriorityGwei > o.maxFeeGwei) throw new UsageError('--max-priority-gwei must not exceed --max-fee-gwei')
    if (o.rpcUrl === undefined) {
      if (o.broadcast) throw new UsageError('--broadcast needs --rpc-url <url> (or CUSTODY_RPC_URL): the node to send to')
      for (const [key, flag] of FILLABLE) if (o[key] === undefined) throw new UsageError(`${flag} is required (or give --rpc-url <url> to fill it from a node)`)
      if (o.chainId === undefined) throw new UsageError('--chain-id is required (or set CUSTODY_CHAIN_ID, or give --rpc-url <url>)')
    }
    const given: Partial<TransactionFields> = {
      ...(o.chainId === undefined ? {} : { chainId: o.chainId }),
      ...(o.nonce === undefined ? {} : { nonce: o.nonce }),
      ...(o.gas === undefined ? {} : { gas: o.gas }),
      ...(o.maxFeeGwei === undefined ? {} : { maxFeePerGas: o.maxFeeGwei }),
      ...(o.maxPriorityGwei === undefined ? {} : { maxPriorityFeePerGas: o.maxPriorityGwei }),
    }
    const complete = Object.keys(given).length === 5
    // The node is asked only for what is missing, and to broadcast: with every field given, signing stays offline.
    const node = o.rpcUrl !== undefined && (!complete || o.broadcast) ? rpcNode(o.rpcUrl) : undefined
    const approvers = await approverStampers(o.approverKeyFile, io)
    const { client, close } = await connect({ proxy: o, io })
    try {
      let fields = given as TransactionFields
      if (node && !complete) {
        const result = await fillFromNode(node, given, { from: async () => (await client.getKey(keyId as string)).address, to: o.to, value: o.valueEther, data: o.data })
        fields = result.fields
        io.stderr(`from ${nodeOrigin(node.url)}: ${result.filled.map((f) => FIELD_TEXT[f](fields)).join(', ')}\n`)
      }
      const signed = await signTransaction(
        keyId as string,
        {
          chainId: fields.chainId,
          nonce: fields.nonce,
          to: o.to,
          value: o.valueEther,
          gas: fields.gas,
          maxFeePerGas: fields.maxFeePerGas,
          maxPriorityFeePerGas: fields.maxPriorityFeePerGas,
          ...(o.data === undefined ? {} : { data: o.data }),
        },
        { client, ...(approvers.length > 0 ? { options: { approvers } } : {}) },
      )
      if (!o.json) io.stdout(`rawTransaction  ${signed.rawTransaction}\nhash            ${signed.hash}\nfrom            ${signed.from}\n`)
      if (!o.broadcast || !node) {
        if (o.json) io.stdout(`${JSON.stringify(signed)}\n`)
        return 0
      }
      const receipt = await broadcast(node, signed, { io, timeoutMs: o.timeout * 1000 })
      if (o.json) io.stdout(`${JSON.stringify({ ...signed, receipt: { blockNumber: Number(receipt.blockNumber), status: receipt.status, gasUsed: receipt.gasUsed.toString() } })}\n`)
      else io.stdout(`block           ${receipt.blockNumber}\nstatus          ${receipt.status}\n`)
      // Not the hash: error lines redact every 32-byte hex run (a private key's length); it is on stdout.
      if (receipt.status === 'reverted') throw new CommandFailure(`the transaction reverted in block ${receipt.blockNumber} (its hash is on stdout)`)
      return 0
    } finally {
      await close()
    }
  },
})
