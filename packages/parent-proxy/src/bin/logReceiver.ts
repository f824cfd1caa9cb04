#!/usr/bin/env node
/**
 * custody-log-receiver (dist/bin/log-receiver.js): the parent's end of the enclave's log channel. Listens on
 * loopback (custody-enclave-log-bridge.service bridges the enclave's vsock log port here) and prints each
 * line it receives, sanitised, as one JSON line on stdout; custody-enclave-logs.service appends stdout to
 * /var/log/enclave-custody/enclave.log, which the CloudWatch agent ships. Its own start/stop lines go to
 * stderr (the journal).
 */
import { z } from 'zod'
import { helpText, type OptionSpec, parseConfig } from '../config.js'
import { startLogReceiver } from '../startLogReceiver.js'
import { configOrExit } from '@enclave-custody/sdk/server'

const options = {
  port: {
    flag: 'port',
    env: 'CUSTODY_LOG_RECEIVER_PORT',
    help: 'loopback TCP port to listen on (the vsock log bridge connects here)',
    schema: z.coerce.number().int().min(0).max(65_535).default(5011),
  },
  host: { flag: 'host', env: 'CUSTODY_LOG_RECEIVER_HOST', help: 'address to listen on', schema: z.string().min(1).default('127.0.0.1') },
} satisfies Record<string, OptionSpec>

const config = configOrExit(() => parseConfig(options, process.argv.slice(2), process.env), 'custody-log-receiver')
if (config === 'help') {
  process.stdout.write(helpText('custody-log-receiver — prints the enclave’s log lines, sanitised, on stdout', options))
  process.exit(0)
}
const receiver = await startLogReceiver({ port: config.port, host: config.host })
const note = (msg: string) => process.stderr.write(`${JSON.stringify({ level: 'info', time: Date.now(), svc: 'log-receiver', msg, host: receiver.host, port: receiver.port })}\n`)
note('log receiver listening')
const stop = () => {
  note('log receiver stopping')
  receiver.close().then(
    () => process.exit(0),
    () => process.exit(1),
  )
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
