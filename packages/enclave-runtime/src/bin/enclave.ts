#!/usr/bin/env node
/**
 * The enclave runtime's process: serves the request handler on a TCP port (vsock is bridged to it by
 * socat inside the enclave image). Dev sealing under --data-dir until the attested KMS sealer is wired.
 */
import pino from 'pino'
import { enclaveServerOptions, helpText, parseConfig } from '../config.js'
import { createRuntime } from '../localEnclave.js'
import { REDACT_PATHS } from '../logger.js'
import { startEnclaveServer } from '../server/enclaveServer.js'
import { configOrExit, runUntilSignal } from './process.js'

const config = configOrExit(() => parseConfig(enclaveServerOptions, process.argv.slice(2), process.env), 'custody-enclave')
if (config === 'help') {
  process.stdout.write(helpText('custody-enclave — the enclave-custody runtime server', enclaveServerOptions))
  process.exit(0)
}
const logger = pino({ level: config.logLevel, redact: { paths: REDACT_PATHS, censor: '[ REDACTED ]' }, base: { svc: 'enclave' } })
const handler = await createRuntime({ dataDir: config.dataDir, maxGas: config.maxGas, logger })
const server = await startEnclaveServer({ handler, port: config.port, host: config.host, logger })
runUntilSignal(logger, () => server.close())
