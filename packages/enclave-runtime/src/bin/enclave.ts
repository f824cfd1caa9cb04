#!/usr/bin/env node
/**
 * The enclave runtime's process: serves the request handler on a TCP port (inside the enclave socat
 * bridges vsock to it). Production: keys unsealed only through KMS with the NSM's attestation document, signing
 * policies read from Secrets Manager. Development: `--sealing dev` keeps AES-sealed records and signing policies
 * under --data-dir.
 */
import { readFileSync } from 'node:fs'
import pino from 'pino'
import { selectAttestationProvider } from '../attestation/nsm/selectAttestationProvider.js'
import { createAttestedRuntime } from '../attestedRuntime.js'
import { checkEnclaveServerConfig, enclaveServerOptions, helpText, parseConfig } from '../config.js'
import { createRuntime } from '../localEnclave.js'
import { REDACT_PATHS } from '@enclave-custody/sdk/server'
import { createLogChannel } from '../logging/createLogChannel.js'
import { startEnclaveServer } from '../server/enclaveServer.js'
import { parseCaBundle } from '../trust/parseCaBundle.js'
import { configOrExit, runUntilSignal } from '@enclave-custody/sdk/server'

const config = configOrExit(() => {
  const c = parseConfig(enclaveServerOptions, process.argv.slice(2), process.env)
  if (c === 'help') return c
  checkEnclaveServerConfig(c)
  let kmsCaCertificates: string[] | undefined
  if (c.sealing === 'kms' && c.kmsCaBundle !== undefined) {
    let pem: string
    try {
      pem = readFileSync(c.kmsCaBundle, 'utf8')
    } catch {
      throw new Error('invalid --kms-ca-bundle / CUSTODY_KMS_CA_BUNDLE: cannot read the file')
    }
    try {
      kmsCaCertificates = parseCaBundle(pem, 'kmsCaBundle')
    } catch (e) {
      throw new Error(`invalid --kms-ca-bundle / CUSTODY_KMS_CA_BUNDLE: ${String((e as { details?: { rule?: unknown } }).details?.rule ?? 'malformed')}`)
    }
  }
  return { ...c, kmsCaCertificates }
}, 'custody-enclave')
if (config === 'help') {
  process.stdout.write(helpText('custody-enclave — the enclave-custody runtime server', enclaveServerOptions))
  process.exit(0)
}
// With --log-port, every line also goes (allowlisted, rate-limited, never blocking) to the parent's log receiver.
const logChannel = config.logPort === undefined ? undefined : createLogChannel({ port: config.logPort })
const logOptions = { level: config.logLevel, redact: { paths: REDACT_PATHS, censor: '[ REDACTED ]' }, base: { svc: 'enclave' } }
const logger = logChannel
  ? pino(logOptions, pino.multistream([{ level: config.logLevel, stream: process.stdout }, { level: config.logLevel, stream: logChannel }]))
  : pino(logOptions)

let close: () => void = () => {}
let handler: Awaited<ReturnType<typeof createRuntime>>
if (config.sealing === 'kms') {
  const attestation = await selectAttestationProvider({
    mode: config.mode,
    attestation: config.attestation,
    allowSoftwareAttestation: config.allowSoftwareAttestation,
    ...(config.softwareNsmDir ? { softwareNsm: { ca: { dataDir: config.softwareNsmDir } } } : {}),
    logger,
  })
  const runtime = await createAttestedRuntime({
    attestation,
    region: config.region!,
    ...(config.kmsEndpoint ? { kmsEndpoint: config.kmsEndpoint } : {}),
    kmsKeyArn: config.kmsKeyArn!,
    ...(config.kmsCaCertificates ? { kmsCaCertificates: config.kmsCaCertificates } : {}),
    allowHttpKmsEndpoint: config.mode === 'development',
    // Signing policies: Secrets Manager in the pinned key's account and region (same roots as KMS).
    ...(config.secretsEndpoint ? { secretsEndpoint: config.secretsEndpoint } : {}),
    allowHttpSecretsEndpoint: config.mode === 'development',
    keyCacheTtlMs: config.keyCacheTtlMs,
    maxGas: config.maxGas,
    logger,
    ...(config.legacyOwners ? { legacyOwners: config.legacyOwners } : {}),
  })
  logger.info(
    { attestation: attestation.kind, region: config.region, kmsKeyArn: config.kmsKeyArn, kmsTrust: config.kmsCaBundle === undefined ? 'amazon-trust-services' : 'bundle' },
    'attested runtime ready',
  )
  handler = runtime.handler
  close = runtime.close
} else {
  handler = await createRuntime({ dataDir: config.dataDir!, maxGas: config.maxGas, logger, ...(config.legacyOwners ? { legacyOwners: config.legacyOwners } : {}) })
}
const server = await startEnclaveServer({ handler, port: config.port, host: config.host, logger })
runUntilSignal(logger, async () => {
  await server.close()
  close()
})
