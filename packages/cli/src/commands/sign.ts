import { type CustodyClient, type Eip1559TransactionRequest, parseEther, type SignedTransaction, type SignOptions } from '@enclave-custody/sdk'
import { parseUnits } from 'ethers'
import { z } from 'zod'
import { approverStampers } from './apiKeyFile.js'
import { UsageError } from './cliOptions.js'
import { connect, keyIdSchema, PROXY_HELP, PROXY_USAGE, approverKeyFileOption, proxyOptions } from './connection.js'
import { defineCommand } from './defineCommand.js'

const integer = z
  .string()
  .regex(/^(?:0|[1-9][0-9]{0,77})$/, 'must be a non-negative decimal integer')
  .transform((v) => BigInt(v))
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

export const signCommand = defineCommand({
  name: 'sign',
  summary: 'sign an EIP-1559 transaction',
  usage:
    `custody sign <keyId> --to <address> --value-ether <decimal> --nonce <n> --gas <n> --max-fee-gwei <decimal>\n       --max-priority-gwei <decimal> --chain-id <n> [--data <hex>] [--approver-key-file <path>]… [--json]\n       ${PROXY_USAGE}`,
  description: `Signs a type-2 transaction in the enclave and prints the raw transaction and its hash (nothing is broadcast).\n${PROXY_HELP}`,
  positionals: [{ name: 'keyId', help: 'the key to sign with', schema: keyIdSchema }],
  options: {
    to: { flag: 'to', value: 'address', help: 'recipient', schema: z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x-prefixed 20-byte address'), required: true },
    valueEther: { flag: 'value-ether', value: 'decimal', help: 'amount in ether, e.g. 0.01', schema: ether, required: true },
    nonce: { flag: 'nonce', value: 'n', help: "the sender's next nonce", schema: integer, required: true },
    gas: { flag: 'gas', value: 'n', help: 'gas limit, e.g. 21000', schema: integer, required: true },
    maxFeeGwei: { flag: 'max-fee-gwei', value: 'decimal', help: 'max fee per gas in gwei', schema: gwei, required: true },
    maxPriorityGwei: { flag: 'max-priority-gwei', value: 'decimal', help: 'max priority fee per gas in gwei', schema: gwei, required: true },
    chainId: { flag: 'chain-id', env: 'CUSTODY_CHAIN_ID', value: 'n', help: 'chain id, e.g. 1 or 11155111', schema: integer, required: true },
    data: { flag: 'data', value: 'hex', help: 'call data', schema: z.string().regex(/^0x(?:[0-9a-fA-F]{2})*$/, 'must be 0x-prefixed hex bytes').optional() },
    approverKeyFile: approverKeyFileOption,
    json: { flag: 'json', boolean: true, help: 'print JSON', schema: z.boolean().default(false) },
    ...proxyOptions,
  },
  async run({ options: o, positionals: [keyId], io }) {
    if (o.maxPriorityGwei > o.maxFeeGwei) throw new UsageError('--max-priority-gwei must not exceed --max-fee-gwei')
    if (o.chainId === 0n) throw new UsageError('--chain-id must be positive')
    const approvers = await approverStampers(o.approverKeyFile, io)
    const { client, close } = await connect({ proxy: o, io })
    try {
      const signed = await signTransaction(
        keyId as string,
        {
          chainId: o.chainId,
          nonce: o.nonce,
          to: o.to,
          value: o.valueEther,
          gas: o.gas,
          maxFeePerGas: o.maxFeeGwei,
          maxPriorityFeePerGas: o.maxPriorityGwei,
          ...(o.data === undefined ? {} : { data: o.data }),
        },
        { client, ...(approvers.length > 0 ? { options: { approvers } } : {}) },
      )
      if (o.json) io.stdout(`${JSON.stringify(signed)}\n`)
      else io.stdout(`rawTransaction  ${signed.rawTransaction}\nhash            ${signed.hash}\nfrom            ${signed.from}\n`)
      return 0
    } finally {
      await close()
    }
  },
})
