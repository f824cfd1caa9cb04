import { KMSClient } from '@aws-sdk/client-kms'
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { type CustodyClient, createCustodyClient, createKmsImporter, isCustodyError, type KmsImporter, nitroEnclave } from '@enclave-custody/sdk'
import { KEY_ID_PATTERN, KEY_ID_RULE } from '@enclave-custody/sdk/protocol'
import { z } from 'zod'
import { readApiKeyFile } from './apiKeyFile.js'
import type { CliIo } from './cliIo.js'
import { CommandFailure, type OptionSpec } from './cliOptions.js'
import { readAttestationRoots } from './readAttestationRoots.js'
import { openReceiptsFile } from './receiptsFile.js'

/** An http(s) URL. */
export const httpUrl = z.string().refine((s) => {
  try {
    return ['http:', 'https:'].includes(new URL(s).protocol)
  } catch {
    return false
  }
}, 'must be an http(s) URL')

/**
 * Key ids as the SDK accepts them (1–64 of [A-Za-z0-9._-], not a long hex run). Checked here too so that
 * a private key pasted in place of a keyId is refused before it is sent anywhere, and never echoed.
 */
export const keyIdSchema = z.string().regex(KEY_ID_PATTERN, KEY_ID_RULE)

export const regionSchema = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, 'must be a region name such as us-east-1')

/** `--dev <dir>`: take CUSTODY_* settings and the importer's credentials from `<dir>/dev.env`. */
export const devOption = {
  flag: 'dev',
  value: 'dir',
  help: 'use the local stack of `custody dev --data-dir <dir>` (reads <dir>/dev.env)',
  schema: z.string().min(1).optional(),
} satisfies OptionSpec

/** Most PCR0 values an allowlist takes (the SDK's limit: the current image and a few next ones). */
const MAX_PCR0 = 5

/** The all-zero PCR0 a debug-mode enclave reports, whatever code it runs. */
export const DEBUG_PCR0 = '0'.repeat(96)

/**
 * A PCR0 list, comma-separated (and the flag may repeat); each value 96 hex digits, `0x` optional; lower-cased
 * and without duplicates. The all-zero PCR0 is let through: `pcr0Allowlist` refuses it.
 */
export const pcr0List = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (typeof v === 'string' ? [v] : v).flatMap((s) => s.split(',')).map((s) => s.trim().replace(/^0x/i, '').toLowerCase()))
  .pipe(
    z
      .array(z.string().regex(/^[0-9a-f]{96}$/, 'must be 96 hex digits (SHA-384) per value, comma-separated'))
      .min(1, 'needs at least one value')
      .max(MAX_PCR0, `takes at most ${MAX_PCR0} values`),
  )
  .transform((values) => [...new Set(values)])

/**
 * `--pcr0` / `CUSTODY_PCR0`: the PCR0 allowlist (`pcr0List`). The all-zero PCR0 of a debug-mode enclave (any
 * code) is refused.
 */
export const pcr0Allowlist = pcr0List.refine((values) => !values.includes(DEBUG_PCR0), 'must not be the all-zero PCR0 of a debug-mode enclave (it attests any code)')

/** The sign commands' approvers: each file's API key stamps an approval of the request (a rule's quorum, the owners' threshold). */
export const approverKeyFileOption = {
  flag: 'approver-key-file',
  value: 'path',
  help: "an approver's API key file: its approval stamp goes on the request (a policy rule's quorum, or the owners' threshold)",
  multiple: true,
  schema: z.array(z.string().min(1)).default([]),
} as const

/** Where the parent proxy is, and what the CLI requires of the enclave behind it and stamps its requests with. */
export const proxyOptions = {
  url: { flag: 'url', env: 'CUSTODY_URL', value: 'url', help: 'parent proxy URL', schema: httpUrl, required: true },
  apiKeyFile: {
    flag: 'api-key-file',
    env: 'CUSTODY_API_KEY_FILE',
    value: 'path',
    help: 'API key that stamps every request (from `custody api-key create`)',
    schema: z.string().min(1),
    required: true,
  },
  pcr0: {
    flag: 'pcr0',
    env: 'CUSTODY_PCR0',
    value: 'hex[,hex…]',
    help: "allowed PCR0 of the enclave image, comma-separated (the build's pcrs.json)",
    multiple: true,
    schema: pcr0Allowlist,
    required: true,
  },
  attestationRoot: {
    flag: 'attestation-root',
    env: 'CUSTODY_ATTESTATION_ROOT',
    value: 'pem-file',
    help: 'PEM root(s) of the attestation (default: the AWS Nitro root)',
    schema: z.string().min(1).optional(),
  },
  receipts: {
    flag: 'receipts',
    env: 'CUSTODY_RECEIPTS_FILE',
    value: 'file',
    help: 'append the audit receipt of every answer to this JSON-lines file (mode 0600), for `custody audit verify`',
    schema: z.string().min(1).optional(),
  },
  trustedCreator: {
    flag: 'trusted-creator',
    env: 'CUSTODY_TRUSTED_CREATORS',
    value: 'apiKey[,apiKey…]',
    help: 'API public keys besides yours whose keys you use (a co-owner or delegate of a key someone else created)',
    multiple: true,
    schema: z
      .union([z.string(), z.array(z.string())])
      .transform((values) => [values].flat().flatMap((v) => v.split(',')).filter(Boolean))
      .pipe(z.array(z.string().regex(/^0x(?:0[23][0-9a-fA-F]{64}|04[0-9a-fA-F]{128})$/, 'must be 0x-hex P-256 public keys (33 or 65 bytes)')).max(64))
      .optional(),
  },
  dev: devOption,
} satisfies Record<string, OptionSpec>

/** The proxy options in a usage line. */
export const PROXY_USAGE = '[--dev <dir> | --url <url> --api-key-file <path> --pcr0 <hex>[,<hex>…] [--attestation-root <pem-file>]]\n       [--receipts <file>]'

/** What every command that talks to the proxy does, for its help. */
export const PROXY_HELP =
  'Before its first request the command attests the enclave (PCR0 in --pcr0, certificate chain to\n--attestation-root or the AWS Nitro root), stamps every request with the API key of --api-key-file and\naccepts only answers signed by the attested enclave; --receipts keeps the audit receipt of each answer.\n--dev <dir> fills all of these from <dir>/dev.env (receipts: <dir>/receipts.jsonl).'

/** The proxy options' values, as `connect` takes them. */
export type ProxySettings = {
  url: string
  apiKeyFile: string
  pcr0: readonly string[]
  attestationRoot?: string | undefined
  receipts?: string | undefined
  trustedCreator?: readonly string[] | undefined
}

/** The importer side (import-key, generate-key): the importer role stores the records the enclave seals (Secrets Manager). */
export const importerOptions = {
  kmsKeyId: { flag: 'kms-key-id', env: 'CUSTODY_KMS_KEY_ID', value: 'id', help: 'KMS key that seals private keys', schema: z.string().min(1).max(2048), required: true },
  awsEndpoint: { flag: 'aws-endpoint', env: 'CUSTODY_AWS_ENDPOINT', value: 'url', help: 'KMS and Secrets Manager endpoint, for local-aws (default: AWS)', schema: httpUrl.optional() },
  region: { flag: 'region', env: 'CUSTODY_REGION', value: 'region', help: 'AWS region (default: AWS_REGION or the profile)', schema: regionSchema.optional() },
} satisfies Record<string, OptionSpec>

export type AwsCredentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string }

/**
 * Credentials of a dev.env, or `undefined` for the AWS SDK's default chain (environment, profile, SSO,
 * instance role).
 */
export function credentialsOf(devEnv: Readonly<Record<string, string>> | undefined): AwsCredentials | undefined {
  if (!devEnv?.AWS_ACCESS_KEY_ID || !devEnv.AWS_SECRET_ACCESS_KEY) return undefined
  return {
    accessKeyId: devEnv.AWS_ACCESS_KEY_ID,
    secretAccessKey: devEnv.AWS_SECRET_ACCESS_KEY,
    ...(devEnv.AWS_SESSION_TOKEN ? { sessionToken: devEnv.AWS_SESSION_TOKEN } : {}),
  }
}

/** Settings of an AWS SDK client: region and endpoint when given, credentials when given (else the default chain). */
export function awsClientConfig({ region, endpoint, credentials }: { region?: string | undefined; endpoint?: string | undefined; credentials?: AwsCredentials | undefined }) {
  return {
    ...(region ? { region } : {}),
    ...(endpoint ? { endpoint } : {}),
    ...(credentials ? { credentials } : {}),
    maxAttempts: 3,
  }
}

/** A custody client over the parent proxy, with the importer when one is needed. */
export type Connection = { client: CustodyClient; close(): Promise<void> }

/**
 * Connect to the parent proxy at `proxy.url`: requests are stamped with the API key of `proxy.apiKeyFile`, and
 * the client attests the enclave (PCR0 in `proxy.pcr0`, chain to `proxy.attestationRoot` or the AWS Nitro
 * root) before its first request and accepts only answers the attested enclave signed. With `importer`
 * settings, also build the KMS importer (importer role credentials from `credentials` or the default chain).
 * With `proxy.receipts`, every verified answer's audit receipt is appended to that file.
 *
 * @throws UsageError for an unreadable or malformed API key or root file, or a receipts file that cannot be
 * opened (naming the flag, never the key)
 */
export async function connect({
  proxy,
  importer,
  credentials,
  io,
}: {
  proxy: ProxySettings
  importer?: { kmsKeyId: string; awsEndpoint?: string | undefined; region?: string | undefined }
  credentials?: AwsCredentials | undefined
  io: CliIo
}): Promise<Connection> {
  const { stamper } = await readApiKeyFile(proxy.apiKeyFile, io)
  const roots = proxy.attestationRoot === undefined ? undefined : await readAttestationRoots(proxy.attestationRoot, io)
  const receipts = proxy.receipts === undefined ? undefined : await openReceiptsFile(proxy.receipts, io)
  const closers: (() => void | Promise<void>)[] = []
  if (receipts) closers.push(receipts.close)
  let kmsImporter: KmsImporter | undefined
  if (importer) {
    const config = awsClientConfig({ region: importer.region, endpoint: importer.awsEndpoint, credentials })
    const kms = new KMSClient(config)
    const secretsManager = new SecretsManagerClient(config)
    closers.push(() => kms.destroy(), () => secretsManager.destroy())
    kmsImporter = createKmsImporter({ kms, secretsManager, kmsKeyId: importer.kmsKeyId })
  }
  // The proxy's bearer token, when it requires one, comes only from the environment (never a flag value).
  const token = io.env.CUSTODY_AUTH_TOKEN
  const transport = nitroEnclave({
    url: proxy.url,
    attestation: { pcr0: [...proxy.pcr0], ...(roots ? { roots } : {}) },
    ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
  })
  const sdkClient = createCustodyClient({
    transport,
    stamper,
    ...(kmsImporter ? { importer: kmsImporter } : {}),
    ...(receipts ? { onReceipt: receipts.append } : {}),
    ...(proxy.trustedCreator?.length ? { trustedCreators: proxy.trustedCreator } : {}),
  })
  const client = withHints(sdkClient, { url: proxy.url, defaultRoot: roots === undefined })
  return {
    client,
    async close() {
      try {
        await client.close()
      } finally {
        for (const close of closers) await close()
      }
    },
  }
}

/** The message of a proxy that does not answer: where the CLI looked, and the likely reason. */
export function unreachableProxyMessage(url: string): string {
  let origin = url
  try {
    origin = new URL(url).origin
  } catch {}
  return `cannot reach the custody proxy at ${origin}: is \`custody dev\` running?`
}

/**
 * The client, with hints on two failures a new user meets first: a proxy that does not answer (nothing
 * listens at the URL: `custody dev` is not running, or the URL is wrong), and — without --attestation-root,
 * when only the AWS Nitro root is trusted — a failed attestation of a local stack (software NSM).
 */
function withHints(client: CustodyClient, { url, defaultRoot }: { url: string; defaultRoot: boolean }): CustodyClient {
  const hinted = {} as Record<string, unknown>
  for (const [name, method] of Object.entries(client) as [string, unknown][]) {
    // Members that are not methods (approvalRequest, a table of builders) pass through as they are.
    if (typeof method !== 'function') {
      hinted[name] = method
      continue
    }
    hinted[name] = async (...args: unknown[]) => {
      try {
        return await method(...args)
      } catch (e) {
        if (isCustodyError(e, 'UNAVAILABLE') && /cannot reach the parent proxy/.test(e.shortMessage)) throw new CommandFailure(unreachableProxyMessage(url))
        if (!defaultRoot || !isCustodyError(e, 'ATTESTATION_FAILED')) throw e
        throw new CommandFailure(`${e.shortMessage} (ATTESTATION_FAILED); only the AWS Nitro root is trusted without --attestation-root (a local stack: --dev <dir>)`)
      }
    }
  }
  return hinted as CustodyClient
}

/** `Name: message` of an AWS SDK error. */
export function awsErrorText(e: unknown): string {
  const { name, message } = (e ?? {}) as { name?: string; message?: string }
  return name && message && !message.startsWith(name) ? `${name}: ${message}` : (message ?? name ?? String(e))
}
