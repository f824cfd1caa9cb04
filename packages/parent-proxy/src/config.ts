import type { OptionSpec } from '@enclave-custody/sdk/server'
import { z } from 'zod'

export { helpText, type OptionSpec, parseConfig } from '@enclave-custody/sdk/server'

const port = z.coerce.number().int().min(0).max(65_535)
const host = z.string().min(1)
const file = z.string().min(1)
const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug']).default('info')

export const parentProxyOptions = {
  port: { flag: 'port', env: 'CUSTODY_PROXY_PORT', help: 'HTTP(S) port to listen on', schema: port.default(8443) },
  host: { flag: 'host', env: 'CUSTODY_PROXY_HOST', help: 'address to listen on (non-loopback needs TLS and auth)', schema: host.default('127.0.0.1') },
  tlsCert: { flag: 'tls-cert', env: 'CUSTODY_TLS_CERT', help: 'PEM certificate file: serve HTTPS', schema: file.optional() },
  tlsKey: { flag: 'tls-key', env: 'CUSTODY_TLS_KEY', help: 'PEM private key file of --tls-cert', schema: file.optional() },
  clientCa: { flag: 'client-ca', env: 'CUSTODY_CLIENT_CA', help: 'PEM CA file: accept client certificates it issued (mTLS)', schema: file.optional() },
  authTokenFile: { flag: 'auth-token-file', env: 'CUSTODY_AUTH_TOKEN_FILE', help: 'file of bearer tokens, one per line (>= 32 chars)', schema: file.optional() },
  enclaveHost: { flag: 'enclave-host', env: 'CUSTODY_ENCLAVE_HOST', help: 'enclave server address (the vsock bridge on the parent)', schema: host.default('127.0.0.1') },
  enclavePort: { flag: 'enclave-port', env: 'CUSTODY_ENCLAVE_PORT', help: 'enclave server port', schema: port.min(1).default(5000) },
  enclaveTimeoutMs: { flag: 'enclave-timeout-ms', env: 'CUSTODY_ENCLAVE_TIMEOUT_MS', help: 'timeout of one enclave round trip', schema: z.coerce.number().int().min(100).max(120_000).default(10_000) },
  poolSize: { flag: 'pool-size', env: 'CUSTODY_POOL_SIZE', help: 'connections to the enclave', schema: z.coerce.number().int().min(1).max(64).default(4) },
  drainTimeoutMs: { flag: 'drain-timeout-ms', env: 'CUSTODY_DRAIN_TIMEOUT_MS', help: 'on SIGTERM, time in-flight requests get to finish', schema: z.coerce.number().int().min(0).max(300_000).default(10_000) },
  records: { flag: 'records', env: 'CUSTODY_RECORDS', help: 'where key records live: secretsmanager | enclave', schema: z.enum(['secretsmanager', 'enclave']).default('enclave') },
  secretPrefix: { flag: 'secret-prefix', env: 'CUSTODY_SECRET_PREFIX', help: 'Secrets Manager name prefix of key records', schema: z.string().min(1).max(256).default('enclave-custody/keys/') },
  region: { flag: 'region', env: 'CUSTODY_REGION', help: 'AWS region (Secrets Manager, KMS)', schema: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/).optional() },
  awsEndpoint: { flag: 'aws-endpoint', env: 'CUSTODY_AWS_ENDPOINT', help: 'AWS endpoint override (local-aws in development)', schema: z.url().optional() },
  credentials: { flag: 'credentials', env: 'CUSTODY_CREDENTIALS', help: 'instance credentials: imds | env (AWS_ACCESS_KEY_ID…) | none', schema: z.enum(['imds', 'env', 'none']).default('none') },
  imdsEndpoint: { flag: 'imds-endpoint', env: 'CUSTODY_IMDS_ENDPOINT', help: 'instance metadata endpoint', schema: z.url().default('http://169.254.169.254') },
  auditLog: { flag: 'audit-log', env: 'CUSTODY_AUDIT_LOG', help: 'append the enclave\'s signed audit events to this JSON-lines file', schema: file.optional() },
  logLevel: { flag: 'log-level', env: 'CUSTODY_LOG_LEVEL', help: 'fatal|error|warn|info|debug', schema: logLevel },
} satisfies Record<string, OptionSpec>

