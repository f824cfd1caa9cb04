import type { CustodyClient, KeyInfo } from '@enclave-custody/sdk'
import { z } from 'zod'
import type { CliIo } from './cliIo.js'
import { connect, credentialsOf, importerOptions, keyIdSchema, proxyOptions } from './connection.js'
import { defineCommand } from './defineCommand.js'
import { type KeyPolicyFlags, keyPolicyOptions, policyOf, printKey } from './keyCommands.js'
import { readPrivateKey, type ReadPrivateKeyParameters } from './readPrivateKey.js'

export type ImportKeyCommandParameters = ReadPrivateKeyParameters & { keyId?: string | undefined }

/**
 * Seal an existing private key under the attested KMS key (KMS Encrypt by the importer role, context
 * `{ keyId }`) and store its record in Secrets Manager; the enclave never receives the plaintext.
 *
 * @returns the new key's id and address
 * @throws UsageError for a missing or malformed key; CustodyError from the SDK
 */
export async function importKey(
  { keyId, allowRawDigest, allowReplayableLegacy, allowAnyChainAuthorization, ...source }: ImportKeyCommandParameters & KeyPolicyFlags,
  { client, io }: { client: CustodyClient; io: CliIo },
): Promise<KeyInfo> {
  const privateKey = await readPrivateKey(source, io)
  return client.importKey({ privateKey, ...(keyId === undefined ? {} : { keyId }), ...policyOf({ allowRawDigest, allowReplayableLegacy, allowAnyChainAuthorization }) })
}

export const importKeyCommand = defineCommand({
  name: 'import-key',
  summary: 'seal an existing private key (KMS Encrypt) and store its record',
  usage: 'custody import-key [--private-key-file <path> | --private-key-env <NAME> | < keyfile] [--key-id <id>]',
  description:
    'Reads the key from a file, an environment variable or standard input (never from a flag value),\nencrypts it with KMS as the importer role and stores the sealed record in Secrets Manager.',
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
    const { client, close } = connect({ url: o.url, importer: o, credentials: credentialsOf(devEnv) })
    try {
      const policy = { allowRawDigest: o.allowRawDigest, allowReplayableLegacy: o.allowReplayableLegacy, allowAnyChainAuthorization: o.allowAnyChainAuthorization }
      printKey(io, await importKey({ file: o.privateKeyFile, envName: o.privateKeyEnv, keyId: o.keyId, ...policy }, { client, io }), o.json)
      return 0
    } finally {
      await close()
    }
  },
})
