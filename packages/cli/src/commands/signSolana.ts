import type { CustodyClient, SignSolanaMessageReturnType, SignSolanaTransactionReturnType } from '@enclave-custody/sdk'
import { z } from 'zod'
import { approverStampers } from './apiKeyFile.js'
import { UsageError } from './cliOptions.js'
import { connect, keyIdSchema, PROXY_HELP, PROXY_USAGE, approverKeyFileOption, proxyOptions } from './connection.js'
import { defineCommand } from './defineCommand.js'
import { readPayloadArgument } from './readPayloadArgument.js'

type SignOptions = Parameters<CustodyClient['signSolanaTransaction']>[2]

/**
 * Sign a Solana transaction (its compiled message, or a whole wire transaction) or an off-chain message (version 0)
 * in the enclave; the SDK verifies the ed25519 signature against the key before returning.
 *
 * @returns the signature (base58), the signer and its slot, and for a transaction the signed wire transaction (base64)
 * @throws the SDK's errors: InvalidArgumentError (a malformed message, a key that is not a signer…), PolicyDeniedError
 */
export async function signSolana(
  keyId: string,
  payload: { transaction: string | Uint8Array } | { message: string | Uint8Array },
  { client, options }: { client: CustodyClient; options?: SignOptions },
): Promise<SignSolanaTransactionReturnType | SignSolanaMessageReturnType> {
  return 'transaction' in payload ? client.signSolanaTransaction(keyId, { transaction: payload.transaction }, options) : client.signSolanaMessage(keyId, { message: payload.message }, options)
}

export const signSolanaCommand = defineCommand({
  name: 'sign-solana',
  summary: 'sign a Solana transaction or off-chain message',
  usage: `custody sign-solana <keyId> (--transaction <base64|@file> | --message <base64|@file>) [--approver-key-file <path>]… [--json]\n       ${PROXY_USAGE}`,
  description: `--transaction: a compiled transaction message (legacy or v0) or a wire transaction; prints the signature (base58,\nthe transaction id when the key pays the fees) and the wire transaction with the signature in the key's slot\n(nothing is sent). --message: an off-chain message (version 0, with its signing domain); prints the signature.\n${PROXY_HELP}`,
  positionals: [{ name: 'keyId', help: 'the ed25519 key or Solana account to sign with', schema: keyIdSchema }],
  options: {
    transaction: { flag: 'transaction', value: 'base64|@file', help: 'the transaction message or wire transaction: base64, or @path of a file holding it', schema: z.string().optional() },
    message: { flag: 'message', value: 'base64|@file', help: 'an off-chain message (version 0): base64, or @path of a file holding it', schema: z.string().optional() },
    approverKeyFile: approverKeyFileOption,
    json: { flag: 'json', boolean: true, help: 'print JSON', schema: z.boolean().default(false) },
    ...proxyOptions,
  },
  async run({ options: o, positionals: [keyId], io }) {
    if ((o.transaction === undefined) === (o.message === undefined)) throw new UsageError('give exactly one of --transaction or --message')
    const payload = o.transaction !== undefined ? { transaction: await readPayloadArgument(o.transaction, '--transaction', io) } : { message: await readPayloadArgument(o.message!, '--message', io) }
    const approvers = await approverStampers(o.approverKeyFile, io)
    const { client, close } = await connect({ proxy: o, io })
    try {
      const signed = await signSolana(keyId as string, payload, { client, ...(approvers.length > 0 ? { options: { approvers } } : {}) })
      if (o.json) io.stdout(`${JSON.stringify(signed)}\n`)
      else {
        const lines = [`signature    ${signed.signature}`, `signer       ${signed.signer}`, `signerIndex  ${signed.signerIndex}`]
        if ('transaction' in signed) lines.push(`transaction  ${signed.transaction}`)
        io.stdout(`${lines.join('\n')}\n`)
      }
      return 0
    } finally {
      await close()
    }
  },
})
