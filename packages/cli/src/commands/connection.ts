import { KMSClient } from '@aws-sdk/client-kms'
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { type CustodyClient, createCustodyClient, createKmsImporter, type KmsImporter, nitroEnclave } from '@enclave-custody/sdk'
import { KEY_ID_PATTERN, KEY_ID_RULE } from '@enclave-custody/sdk/protocol'
import { z } from 'zod'
import type { OptionSpec } from './cliOptions.js'

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

/** Where the parent proxy is. */
export const proxyOptions = {
  url: { flag: 'url', env: 'CUSTODY_URL', value: 'url', help: 'parent proxy URL', schema: httpUrl, required: true },
  dev: devOption,
} satisfies Record<string, OptionSpec>

/** The importer side (import-key, generate-key): KMS Encrypt and Secrets Manager with the importer role. */
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
 * Connect to the parent proxy at `url`; with `importer` settings, also build the KMS importer (importer
 * role credentials from `credentials` or the default chain).
 */
export function connect({
  url,
  importer,
  credentials,
}: {
  url: string
  importer?: { kmsKeyId: string; awsEndpoint?: string | undefined; region?: string | undefined }
  credentials?: AwsCredentials | undefined
}): Connection {
  const closers: (() => void)[] = []
  let kmsImporter: KmsImporter | undefined
  if (importer) {
    const config = awsClientConfig({ region: importer.region, endpoint: importer.awsEndpoint, credentials })
    const kms = new KMSClient(config)
    const secretsManager = new SecretsManagerClient(config)
    closers.push(() => kms.destroy(), () => secretsManager.destroy())
    kmsImporter = createKmsImporter({ kms, secretsManager, kmsKeyId: importer.kmsKeyId })
  }
  // The proxy's bearer token, when it requires one, comes only from the environment (never a flag value).
  const token = process.env.CUSTODY_AUTH_TOKEN
  const transport = nitroEnclave({ url, ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) })
  const client = createCustodyClient({ transport, ...(kmsImporter ? { importer: kmsImporter } : {}) })
  return {
    client,
    async close() {
      for (const close of closers) close()
      await client.close()
    },
  }
}

/** `Name: message` of an AWS SDK error. */
export function awsErrorText(e: unknown): string {
  const { name, message } = (e ?? {}) as { name?: string; message?: string }
  return name && message && !message.startsWith(name) ? `${name}: ${message}` : (message ?? name ?? String(e))
}
