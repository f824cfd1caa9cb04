#!/usr/bin/env node
/** The parent-instance proxy's process: the HTTP API in front of the enclave's framed socket. */
import { readFileSync } from 'node:fs'
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import pino from 'pino'
import { helpText, parentProxyOptions, parseConfig } from '../config.js'
import type { AwsCredentials } from '../types.js'
import { REDACT_PATHS } from '@enclave-custody/sdk/server'
import { createImdsCredentialsProvider } from '../imdsCredentials.js'
import { createAuditFileSink } from '../auditFile.js'
import { startParentProxy } from '../parentProxy.js'
import { createSecretsManagerRecordSource } from '../recordSource.js'
import { configOrExit, runUntilSignal } from '@enclave-custody/sdk/server'

const config = configOrExit(() => {
  const c = parseConfig(parentProxyOptions, process.argv.slice(2), process.env)
  if (c === 'help') return c
  if (!!c.tlsCert !== !!c.tlsKey) throw new Error('--tls-cert and --tls-key go together')
  if (c.records === 'secretsmanager' && !c.region) throw new Error('--records secretsmanager needs --region / CUSTODY_REGION')
  if (c.records === 'secretsmanager' && c.credentials === 'none') throw new Error('--records secretsmanager needs --credentials imds (or env)')
  return c
}, 'custody-proxy')
if (config === 'help') {
  process.stdout.write(helpText('custody-proxy — the enclave-custody parent proxy', parentProxyOptions))
  process.exit(0)
}

const logger = pino({ level: config.logLevel, redact: { paths: REDACT_PATHS, censor: '[ REDACTED ]' }, base: { svc: 'proxy' } })
const read = (path: string) => readFileSync(path)

const envCredentials = async (): Promise<AwsCredentials> => {
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: sessionToken } = process.env
  if (!accessKeyId || !secretAccessKey) throw new Error('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set')
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) }
}
const credentials =
  config.credentials === 'imds'
    ? createImdsCredentialsProvider({ endpoint: config.imdsEndpoint, logger })
    : config.credentials === 'env'
      ? envCredentials
      : undefined

const secrets =
  config.records === 'secretsmanager'
    ? new SecretsManagerClient({
        region: config.region,
        ...(config.awsEndpoint ? { endpoint: config.awsEndpoint } : {}),
        credentials: async () => {
          const { expiration, ...c } = await credentials!()
          return { ...c, ...(expiration ? { expiration: new Date(expiration) } : {}) }
        },
        requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000 },
        maxAttempts: 3,
      })
    : undefined

const tokens = config.authTokenFile
  ? read(config.authTokenFile)
      .toString('utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
  : []

const audit = config.auditLog ? createAuditFileSink(config.auditLog, { logger }) : undefined
const proxy = await startParentProxy({
  port: config.port,
  host: config.host,
  enclave: { host: config.enclaveHost, port: config.enclavePort },
  enclaveTimeoutMs: config.enclaveTimeoutMs,
  poolSize: config.poolSize,
  drainTimeoutMs: config.drainTimeoutMs,
  logger,
  ...(config.tlsCert && config.tlsKey ? { tls: { cert: read(config.tlsCert), key: read(config.tlsKey), ...(config.clientCa ? { clientCa: read(config.clientCa) } : {}) } } : {}),
  ...(tokens.length || config.clientCa ? { auth: { bearerTokens: tokens, mtls: !!config.clientCa } } : {}),
  ...(secrets ? { records: createSecretsManagerRecordSource({ client: secrets, prefix: config.secretPrefix }) } : {}),
  ...(credentials ? { credentials } : {}),
  ...(audit ? { auditSink: audit.write, auditResume: audit.last } : {}),
})
process.stdout.write(`${JSON.stringify({ msg: 'ready', url: proxy.url })}\n`)
runUntilSignal(logger, async () => {
  await proxy.close()
  await audit?.close()
  secrets?.destroy()
})
