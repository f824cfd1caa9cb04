#!/usr/bin/env node
/** The parent-instance proxy's process: the HTTP API in front of the enclave's framed socket. */
import pino from 'pino'
import { helpText, parentProxyOptions, parseConfig } from '../config.js'
import { REDACT_PATHS } from '../logger.js'
import { startParentProxy } from '../proxy/parentProxy.js'
import { configOrExit, runUntilSignal } from './process.js'

const config = configOrExit(() => parseConfig(parentProxyOptions, process.argv.slice(2), process.env), 'custody-proxy')
if (config === 'help') {
  process.stdout.write(helpText('custody-proxy — the enclave-custody parent proxy', parentProxyOptions))
  process.exit(0)
}
const logger = pino({ level: config.logLevel, redact: { paths: REDACT_PATHS, censor: '[ REDACTED ]' }, base: { svc: 'proxy' } })
const proxy = await startParentProxy({
  port: config.port,
  host: config.host,
  enclave: { host: config.enclaveHost, port: config.enclavePort },
  enclaveTimeoutMs: config.enclaveTimeoutMs,
  logger,
})
process.stdout.write(`${JSON.stringify({ msg: 'ready', url: proxy.url })}\n`)
runUntilSignal(logger, () => proxy.close())
