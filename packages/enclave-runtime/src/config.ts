import { isCustodyError } from '@enclave-custody/sdk'
import type { OptionSpec, Parsed } from '@enclave-custody/sdk/server'
import { z } from 'zod'
import { checkKmsKeyArn } from './trust/checkKmsKeyArn.js'

export { helpText, type OptionSpec, parseConfig } from '@enclave-custody/sdk/server'

const port = z.coerce.number().int().min(0).max(65_535)
const host = z.string().min(1)

export const enclaveServerOptions = {
  port: { flag: 'port', env: 'CUSTODY_ENCLAVE_PORT', help: 'TCP port to listen on (socat bridges vsock here)', schema: port.default(5000) },
  host: { flag: 'host', env: 'CUSTODY_ENCLAVE_HOST', help: 'address to listen on', schema: host.default('127.0.0.1') },
  sealing: { flag: 'sealing', env: 'CUSTODY_SEALING', help: 'kms (attested KMS, production) | dev (local AES key under --data-dir)', schema: z.enum(['kms', 'dev']).default('kms') },
  mode: { flag: 'mode', env: 'CUSTODY_MODE', help: 'production refuses software attestation unless allowed | development', schema: z.enum(['production', 'development']).default('production') },
  attestation: { flag: 'attestation', env: 'CUSTODY_ATTESTATION', help: 'auto (NSM when /dev/nsm exists) | nsm | software', schema: z.enum(['auto', 'nsm', 'software']).default('auto') },
  allowSoftwareAttestation: { flag: 'allow-software-attestation', env: 'CUSTODY_ALLOW_SOFTWARE_ATTESTATION', help: 'allow the software NSM in production mode (staging only)', schema: z.stringbool().default(false), boolean: true },
  softwareNsmDir: { flag: 'software-nsm-dir', env: 'CUSTODY_SOFTWARE_NSM_DIR', help: 'directory of the software NSM CA (shared with local-aws)', schema: z.string().min(1).optional() },
  region: { flag: 'region', env: 'CUSTODY_REGION', help: 'AWS region of KMS (kms sealing)', schema: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/).optional() },
  kmsEndpoint: { flag: 'kms-endpoint', env: 'CUSTODY_KMS_ENDPOINT', help: 'KMS endpoint override; https only, except in --mode development [https://kms.<region>.amazonaws.com]', schema: z.url().optional() },
  secretsEndpoint: {
    flag: 'secrets-endpoint',
    env: 'CUSTODY_SECRETS_ENDPOINT',
    help: 'Secrets Manager endpoint override (signing policies, read in the KMS key\'s account and region); https only, except in --mode development [https://secretsmanager.<region>.amazonaws.com]',
    schema: z.url().optional(),
  },
  kmsKeyArn: {
    flag: 'kms-key-arn',
    env: 'CUSTODY_KMS_KEY_ID',
    help: 'the pinned sealing key: full KMS key ARN in --region, no alias or bare key id (kms sealing: required)',
    schema: z.string().min(1).max(2048).optional(),
  },
  kmsCaBundle: {
    flag: 'kms-ca-bundle',
    env: 'CUSTODY_KMS_CA_BUNDLE',
    help: 'PEM file of the only roots TLS to KMS and Secrets Manager trusts [the Amazon Trust Services roots built into the runtime]',
    schema: z.string().min(1).optional(),
  },
  keyCacheTtlMs: { flag: 'key-cache-ttl-ms', env: 'CUSTODY_KEY_CACHE_TTL_MS', help: 'how long an unsealed key stays in memory', schema: z.coerce.number().int().min(1_000).max(3_600_000).default(300_000) },
  dataDir: { flag: 'data-dir', env: 'CUSTODY_DATA_DIR', help: 'directory for sealed key records (dev sealing only)', schema: z.string().min(1).optional() },
  maxGas: { flag: 'max-gas', env: 'CUSTODY_MAX_GAS', help: 'refuse transactions with more gas than this', schema: z.coerce.bigint().positive().default(30_000_000n) },
  legacyOwners: {
    flag: 'legacy-owners',
    env: 'CUSTODY_LEGACY_OWNERS',
    help: 'comma-separated API public keys that may use records sealed before owners existed (an image build argument: measured into PCR0)',
    schema: z
      .string()
      .regex(/^(?:0x[0-9a-fA-F]{66}|0x[0-9a-fA-F]{130})(?:,(?:0x[0-9a-fA-F]{66}|0x[0-9a-fA-F]{130})){0,15}$/, 'must be 1 to 16 comma-separated 0x-hex P-256 public keys')
      .transform((v) => v.split(','))
      .optional(),
  },
  logLevel: { flag: 'log-level', env: 'CUSTODY_LOG_LEVEL', help: 'fatal|error|warn|info|debug', schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug']).default('info') },
  logPort: { flag: 'log-port', env: 'CUSTODY_LOG_LOCAL_PORT', help: 'loopback port of the log channel to the parent (the enclave entrypoint\'s vsock bridge); logs also go to stdout', schema: port.min(1).optional() },
} satisfies Record<string, OptionSpec>

/** The parsed options of `custody-enclave`. */
export type EnclaveServerConfig = Parsed<typeof enclaveServerOptions>

/**
 * The checks of `custody-enclave`'s configuration that span several options: dev sealing only in
 * development mode and with a data directory; kms sealing with a region and the pinned sealing key as a
 * full key ARN in that region (`checkKmsKeyArn`); a plain `http://` KMS or Secrets Manager endpoint only in
 * development mode.
 *
 * @param config - What {@link parseConfig} returned for {@link enclaveServerOptions}.
 * @returns `config`, unchanged.
 * @throws Error naming the flag and the variable of the first problem.
 */
export function checkEnclaveServerConfig(config: EnclaveServerConfig): EnclaveServerConfig {
  if (config.sealing === 'dev') {
    if (!config.dataDir) throw new Error('--sealing dev needs --data-dir / CUSTODY_DATA_DIR')
    if (config.mode === 'production') throw new Error('--sealing dev is for --mode development only')
    return config
  }
  if (!config.region) throw new Error('--sealing kms needs --region / CUSTODY_REGION')
  if (config.kmsKeyArn === undefined) throw new Error('--sealing kms needs --kms-key-arn / CUSTODY_KMS_KEY_ID (the full ARN of the sealing key)')
  try {
    checkKmsKeyArn(config.kmsKeyArn, { field: 'kmsKeyArn', region: config.region })
  } catch (e) {
    if (!isCustodyError(e, 'INVALID_ARGUMENT')) throw e
    throw new Error(`invalid --kms-key-arn / CUSTODY_KMS_KEY_ID: ${String(e.details?.rule)}`)
  }
  if (config.kmsEndpoint !== undefined && new URL(config.kmsEndpoint).protocol !== 'https:' && config.mode !== 'development') {
    throw new Error('invalid --kms-endpoint / CUSTODY_KMS_ENDPOINT: must be https in production mode (plain http only with --mode development)')
  }
  if (config.secretsEndpoint !== undefined && new URL(config.secretsEndpoint).protocol !== 'https:' && config.mode !== 'development') {
    throw new Error('invalid --secrets-endpoint / CUSTODY_SECRETS_ENDPOINT: must be https in production mode (plain http only with --mode development)')
  }
  return config
}

