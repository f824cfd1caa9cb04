import type { CustodyClient, KeyInfo } from '@enclave-custody/sdk'
import { z } from 'zod'
import type { CliIo } from './cliIo.js'
import { connect, credentialsOf, importerOptions, keyIdSchema, PROXY_HELP, PROXY_USAGE, proxyOptions } from './connection.js'
import { defineCommand } from './defineCommand.js'
import { type KeyPolicyFlags, keyPolicyOptions, policyOf, printKey } from './keyCommands.js'
import { readPrivateKey, type ReadPrivateKeyParameters } from './readPrivateKey.js'

export type ImportKeyCommandParameters = ReadPrivateKeyParameters & { keyId?: string | undefined }

/**
 * Import an existing private key: the SDK seals it to the attested enclave's HPKE key (the proxy and the
 * network see only ciphertext), the enclave seals it under the attested KMS key, and the importer role stores
 * the record it returns in Secrets Manager. The key's owner is the API key that stamped the request.
 *
 * @returns the new key's id and address
 * @throws UsageError for a missing or malformed key; CustodyError from the SDK
 */
export async function importKey(
  { keyId, allowRawDigest, allowReplayableLegacy, allowAnyChainAuthorization, allowUnprovenBitcoinAmounts, allowBitcoinSighashTypes, ...source }: ImportKeyCommandParameters & KeyPolicyFlags,
  { client, io }: { client: CustodyClient; io: CliIo },
): Promise<KeyInfo> {
  const privateKey = await readPrivateKey(source, io)
  return client.importKey({ privateKey, ...(keyId === undefined ? {} : { keyId }), ...policyOf({ allowRawDigest, allowReplayableLegacy, allowAnyChainAuthorization, allowUnprovenBitcoinAmounts, allowBitcoinSighashTypes }) })
}

export const importKeyCommand = defineCommand({
  name: 'import-key',
  summary: 'import an existing private key, sealed to the attested enclave',
  usage: `custody import-key [--private-key-file <path> | --private-key-env <NAME> | < keyfile] [--key-id <id>]\n       ${PROXY_USAGE} [--kms-key-id <id> …]`,
  description:
    `Reads the key from a file, an environment variable or standard input (never from a flag value), seals it\nto the attested enclave (HPKE: the proxy sees only ciphertext), which seals it under the KMS key; the importer\nrole stores the record in Secrets Manager. The key belongs to the API key that stamps the request.\n${PROXY_HELP}`,
  options: {
    privateKeyFile: { flag: 'private-key-file', value: 'path', help: 'file holding the key, 0x + 64 hex digits ("-" = stdin)', schema: z.string().min(1).optional() },
    privateKeyEnv: { flag: 'private-key-env', value: 'NAME', help: 'environment variable holding the key', schema: z.string().min(1).optional() },
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
      printKey(io, await importKey({ file: o.privateKeyFile, envName: o.privateKeyEnv, keyId: o.keyId, ...policy }, { client, io }), o.json)
      return 0
    } finally {
      await close()
    }
  },
})
