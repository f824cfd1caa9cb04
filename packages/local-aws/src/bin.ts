#!/usr/bin/env node
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { isCustodyError } from '@enclave-custody/sdk'
import type { PrincipalCredentials } from './auth/verifySigV4.js'
import { startLocalAws } from './startLocalAws.js'

const USAGE = `Usage: local-aws [options]

Wire-compatible AWS KMS and Secrets Manager on loopback, for enclave-custody development and tests.
Prints the endpoint on stdout, then one JSON log line per request on stderr.

Options:
  --port <n>                 TCP port, 0 = any free port (default 0)
  --host <address>           interface to listen on (default 127.0.0.1)
  --data-dir <dir>           persist keys, policies, aliases and secrets here (default: in memory)
  --account-id <12 digits>   account that owns keys and secrets (default 000000000000)
  --region <region>          region for ARNs and SigV4 scopes (default us-east-1)
  --principals <file>        JSON {"<accessKeyId>": {"secretAccessKey": "…", "arn": "…", "sessionToken"?: "…", "policies"?: [IAM policy, …]}}
                             (default: access key "test", secret "test", the account root)
  --attestation-root <file>  trusted root certificate(s) for Nitro attestation documents, PEM; repeatable
  --latency-ms <n>           delay every API call by n ms (default 0)
  --quiet                    no request log
  --help                     show this help
`

/** Parse argv, start the server, print the endpoint, and close gracefully on SIGINT / SIGTERM. */
async function main(argv: string[]): Promise<number> {
  let values: ReturnType<typeof parse>['values']
  try {
    values = parse(argv).values
  } catch (e) {
    process.stderr.write(`local-aws: ${e instanceof Error ? e.message : String(e)}\n\n${USAGE}`)
    return 2
  }
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  const port = values.port === undefined ? undefined : integer('--port', values.port)
  const latencyMs = values['latency-ms'] === undefined ? undefined : integer('--latency-ms', values['latency-ms'])
  const principals = values.principals === undefined ? undefined : await readPrincipals(values.principals)
  const attestationRoots: string[] = []
  for (const path of values['attestation-root'] ?? []) attestationRoots.push(...splitPem(await readFile(path, 'utf8'), path))

  const quiet = values.quiet === true
  const aws = await startLocalAws({
    ...(port === undefined ? {} : { port }),
    ...(values.host === undefined ? {} : { host: values.host }),
    ...(values['data-dir'] === undefined ? {} : { dataDir: values['data-dir'] }),
    ...(values['account-id'] === undefined ? {} : { accountId: values['account-id'] }),
    ...(values.region === undefined ? {} : { region: values.region }),
    ...(principals === undefined ? {} : { principals }),
    ...(latencyMs === undefined ? {} : { latencyMs }),
    attestationRoots,
    ...(quiet ? {} : { log: (entry) => process.stderr.write(`${JSON.stringify({ level: entry.status >= 500 ? 'error' : 'info', ...entry })}\n`) }),
  })
  process.stdout.write(`${aws.endpoint}\n`)

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.stderr.write(`${JSON.stringify({ level: 'info', msg: `${signal}: closing` })}\n`)
      process.once(signal, () => process.exit(1))
      aws.close().then(resolve, resolve)
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  return 0
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      'account-id': { type: 'string' },
      region: { type: 'string' },
      principals: { type: 'string' },
      'attestation-root': { type: 'string', multiple: true },
      'latency-ms': { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}

function integer(flag: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} must be a non-negative integer`)
  return Number(value)
}

async function readPrincipals(path: string): Promise<Record<string, PrincipalCredentials>> {
  let value: unknown
  try {
    value = JSON.parse(await readFile(path, 'utf8'))
  } catch (cause) {
    throw new UsageError(`--principals ${path} is not a readable JSON file`, { cause })
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`--principals ${path} must hold a JSON object`)
  return value as Record<string, PrincipalCredentials>
}

function splitPem(text: string, path: string): string[] {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
  if (blocks.length === 0) throw new UsageError(`--attestation-root ${path} holds no PEM certificate`)
  return blocks.map((b) => `${b}\n`)
}

class UsageError extends Error {
  override name = 'UsageError'
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    const message = isCustodyError(e) || e instanceof UsageError || e instanceof Error ? e.message : String(e)
    process.stderr.write(`local-aws: ${message}\n`)
    process.exit(e instanceof UsageError ? 2 : 1)
  },
)
