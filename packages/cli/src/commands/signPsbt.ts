import type { CustodyClient, SignBitcoinPsbtParameters, SignBitcoinPsbtReturnType } from '@enclave-custody/sdk'
import { z } from 'zod'
import { approverStampers } from './apiKeyFile.js'
import { connect, keyIdSchema, PROXY_HELP, PROXY_USAGE, approverKeyFileOption, proxyOptions } from './connection.js'
import { defineCommand } from './defineCommand.js'
import { readPayloadArgument } from './readPayloadArgument.js'
import { BITCOIN_NETWORK_NAMES } from './wallet.js'

/**
 * Sign a Bitcoin PSBT in the enclave: the SDK parses it before sending and verifies every signature the answer
 * adds against the key's public side.
 *
 * @returns the signed PSBT (base64), the inputs signed, and with `finalize` the transaction (hex) and its txid
 * @throws the SDK's errors: InvalidArgumentError (a malformed PSBT, an input the key does not own…), PolicyDeniedError
 */
export function signPsbt(keyId: string, params: SignBitcoinPsbtParameters, { client, options }: { client: CustodyClient; options?: Parameters<CustodyClient['signBitcoinPsbt']>[2] }): Promise<SignBitcoinPsbtReturnType> {
  return client.signBitcoinPsbt(keyId, params, options)
}

export const signPsbtCommand = defineCommand({
  name: 'sign-psbt',
  summary: 'sign a Bitcoin PSBT (BIP-174)',
  usage: `custody sign-psbt <keyId> --psbt <base64|@file> --network <network> [--finalize] [--allow-unproven-amounts]\n       [--approver-key-file <path>]… [--json] ${PROXY_USAGE}`,
  description: `Signs the inputs of the PSBT the key owns (P2PKH, P2SH-P2WPKH, P2WPKH, P2TR key path; an HD account: those whose\nderivation names its fingerprint) and prints the signed PSBT; with --finalize, also the final transaction and its txid\n(nothing is broadcast). The key's signing policy sees the PSBT's facts (outputs, fee, fee rate; see \`custody policy test\`).\n${PROXY_HELP}`,
  positionals: [{ name: 'keyId', help: 'the key or Bitcoin account to sign with', schema: keyIdSchema }],
  options: {
    psbt: { flag: 'psbt', value: 'base64|@file', help: 'the PSBT: base64, or @path of a file holding base64 or the binary PSBT', schema: z.string(), required: true },
    network: {
      flag: 'network',
      value: 'network',
      help: 'mainnet, testnet, signet or regtest',
      schema: z.enum(BITCOIN_NETWORK_NAMES, { error: `must be one of ${BITCOIN_NETWORK_NAMES.join(', ')}` }),
      required: true,
    },
    finalize: { flag: 'finalize', boolean: true, help: 'finalize the signed inputs and print the transaction (every other input must be final)', schema: z.boolean().default(false) },
    allowUnprovenAmounts: {
      flag: 'allow-unproven-amounts',
      boolean: true,
      help: 'sign segwit v0 inputs whose amount only a witnessUtxo states (needs a key sealed with allowUnprovenBitcoinAmounts)',
      schema: z.boolean().default(false),
    },
    approverKeyFile: approverKeyFileOption,
    json: { flag: 'json', boolean: true, help: 'print JSON', schema: z.boolean().default(false) },
    ...proxyOptions,
  },
  async run({ options: o, positionals: [keyId], io }) {
    const psbt = await readPayloadArgument(o.psbt, '--psbt', io)
    const approvers = await approverStampers(o.approverKeyFile, io)
    const { client, close } = await connect({ proxy: o, io })
    try {
      const signed = await signPsbt(
        keyId as string,
        { psbt, network: o.network, ...(o.finalize ? { finalize: true } : {}), ...(o.allowUnprovenAmounts ? { allow: { unprovenSegwitAmounts: true } } : {}) },
        { client, ...(approvers.length > 0 ? { options: { approvers } } : {}) },
      )
      if (o.json) io.stdout(`${JSON.stringify(signed)}\n`)
      else {
        const lines = [`psbt          ${signed.psbt}`, `signedInputs  ${signed.signedInputs.join(', ')}`]
        if (signed.transaction !== undefined) lines.push(`transaction   ${signed.transaction}`, `txid          ${signed.txid}`)
        io.stdout(`${lines.join('\n')}\n`)
      }
      return 0
    } finally {
      await close()
    }
  },
})
