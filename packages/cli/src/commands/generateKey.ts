import type { CustodyClient, KeyInfo } from '@enclave-custody/sdk'
import { z } from 'zod'
import { connect, credentialsOf, importerOptions, keyIdSchema, PROXY_HELP, PROXY_USAGE, proxyOptions } from './connection.js'
import { defineCommand } from './defineCommand.js'
import { type KeyPolicyFlags, keyPolicyOptions, policyOf, printKey } from './keyCommands.js'

/**
 * Have the enclave create a key: KMS GenerateDataKey with the enclave's attestation as Recipient, so the
 * key exists in plaintext only inside the attested enclave; its sealed record is stored by the importer.
 */
export function generateKey(
  { keyId, kind, ...policy }: { keyId?: string | undefined; kind?: 'secp256k1' | 'ed25519' | undefined } & KeyPolicyFlags,
  { client }: { client: CustodyClient },
): Promise<KeyInfo> {
  const widened = policyOf(policy)
  return client.importKey({ generate: true, ...(keyId === undefined ? {} : { keyId }), ...(kind === undefined ? {} : { kind }), ...widened })
}

export const generateKeyCommand = defineCommand({
  name: 'generate-key',
  summary: 'create a key inside the enclave (KMS GenerateDataKey, attested)',
  usage: `custody generate-key [--kind secp256k1|ed25519] [--key-id <id>] [--json] ${PROXY_USAGE} [--kms-key-id <id> …]`,
  description: `The enclave generates the key from a KMS data key only it can read; the importer stores the sealed record.\nsecp256k1 keys sign for EVM chains and Bitcoin (sign-psbt), ed25519 keys for Solana (sign-solana).\n${PROXY_HELP}`,
  options: {
    kind: {
      flag: 'kind',
      value: 'secp256k1|ed25519',
      help: 'the curve: secp256k1 (EVM, Bitcoin) or ed25519 (Solana) (default: secp256k1)',
      schema: z.enum(['secp256k1', 'ed25519'], { error: 'must be secp256k1 or ed25519' }).optional(),
    },
    keyId: { flag: 'key-id', value: 'id', help: 'id to give the key (default: random)', schema: keyIdSchema.optional() },
    json: { flag: 'json', boolean: true, help: 'print JSON', schema: z.boolean().default(false) },
    ...keyPolicyOptions,
    ...proxyOptions,
    ...importerOptions,
  },
  async run({ options: o, io, devEnv }) {
    const { client, close } = await connect({ proxy: o, importer: o, credentials: credentialsOf(devEnv), io })
    try {
      const policy = {
        allowRawDigest: o.allowRawDigest,
        allowReplayableLegacy: o.allowReplayableLegacy,
        allowAnyChainAuthorization: o.allowAnyChainAuthorization,
        allowUnprovenBitcoinAmounts: o.allowUnprovenBitcoinAmounts,
        allowBitcoinSighashTypes: o.allowBitcoinSighashTypes,
      }
      printKey(io, await generateKey({ keyId: o.keyId, kind: o.kind, ...policy }, { client }), o.json)
      return 0
    } finally {
      await close()
    }
  },
})
