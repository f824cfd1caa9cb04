import { isAbsolute, join, relative, resolve } from 'node:path'
import { z } from 'zod'
import { type DevStack, type DevStackOptions, startDevStack } from '../devStack.js'
import { createApiKeyFile, DEV_API_KEY_FILE, readApiKeyFile } from './apiKeyFile.js'
import { chainIdFlag } from './chainIdFlag.js'
import { type CliIo, signalExitCode } from './cliIo.js'
import { numberFlag, UsageError } from './cliOptions.js'
import { defineCommand } from './defineCommand.js'
import { removeDevEnv, writeDevEnv } from './devEnv.js'
import { DEV_RECEIPTS_FILE } from './receiptsFile.js'

export type RunDevStackParameters = {
  /** Absolute data directory: local AWS state, the software NSM's CA, dev credentials, the dev API key, dev.env. */
  dataDir: string
  anvil: boolean
  chainId: number
  awsLatencyMs: number
  /** @default 0 (a free port) */
  proxyPort?: number
  /** @default 0 (a free port) */
  rpcPort?: number
}

export type RunDevStackDeps = {
  io: CliIo
  /** Aborted (with the signal name as reason) to stop the stack. */
  stop: AbortSignal
  /** @default startDevStack */
  start?: (options: DevStackOptions) => Promise<DevStack>
}

/** Grace before an unexpected anvil exit counts as a failure: Ctrl-C reaches anvil and us at once. */
const ANVIL_EXIT_GRACE_MS = 200

/**
 * Run the local stack until `stop` is aborted: create the dev API key `<dataDir>/api-key.json` (0600) unless
 * it exists (it is kept across restarts), start the stack with progress lines, print the endpoints, write
 * `<dataDir>/dev.env` (0600) for the other commands, then stop everything and remove dev.env.
 *
 * @returns the exit code: 128 + signal number when stopped by a signal, 1 when anvil died
 * @throws whatever `startDevStack` throws (after it stopped what it had started); a UsageError when an
 * existing api-key.json is not an API key file (it is never replaced)
 */
export async function runDevStack({ dataDir, anvil, chainId, awsLatencyMs, proxyPort = 0, rpcPort = 0 }: RunDevStackParameters, { io, stop, start = startDevStack }: RunDevStackDeps): Promise<number> {
  const stoppedCode = () => signalExitCode(typeof stop.reason === 'string' ? (stop.reason as NodeJS.Signals) : 'SIGTERM')
  const apiKeyFile = join(dataDir, DEV_API_KEY_FILE)
  const apiKey = (await createApiKeyFile(apiKeyFile)) ?? (await readApiKeyFile(apiKeyFile, io, { source: 'the dev API key' }))
  let stack: DevStack
  try {
    // Keys of an older data directory (sealed before keys had owners) stay usable with the dev API key.
    stack = await start({ dataDir, anvil, chainId, awsLatencyMs, proxyPort, rpcPort, legacyOwners: [apiKey.publicKey], signal: stop, onProgress: (line) => io.stdout(`• ${line}\n`) })
  } catch (e) {
    if (!stop.aborted) throw e
    io.stdout('stopped\n') // the start stopped what it had started
    return stoppedCode()
  }
  let code = 0
  try {
    if (stop.aborted) return stoppedCode()
    const envPath = await writeDevEnv(dataDir, {
      CUSTODY_URL: stack.proxyUrl,
      CUSTODY_AWS_ENDPOINT: stack.awsEndpoint,
      CUSTODY_REGION: stack.region,
      CUSTODY_KMS_KEY_ID: stack.kmsKeyArn,
      CUSTODY_CHAIN_ID: String(chainId),
      ...(stack.anvil ? { CUSTODY_RPC_URL: stack.anvil.rpcUrl } : {}),
      CUSTODY_PCR0: stack.pcr0,
      CUSTODY_ATTESTATION_ROOT: stack.attestationRootFile,
      CUSTODY_API_KEY_FILE: apiKeyFile,
      CUSTODY_AUDIT_LOG: stack.auditLogFile,
      CUSTODY_RECEIPTS_FILE: join(dataDir, DEV_RECEIPTS_FILE),
      AWS_ACCESS_KEY_ID: stack.config.principals.importer.accessKeyId,
      AWS_SECRET_ACCESS_KEY: stack.config.principals.importer.secretAccessKey,
    })
    /** Relative to the working directory when inside it, else absolute. */
    const show = (path: string) => {
      const r = relative(io.cwd, path)
      return r === '' ? '.' : r.startsWith('..') || isAbsolute(r) ? path : r
    }
    const rows: [string, string][] = [
      ['proxy URL', stack.proxyUrl],
      ['AWS endpoint', `${stack.awsEndpoint} (KMS + Secrets Manager, region ${stack.region})`],
      ['KMS key ARN', stack.kmsKeyArn],
      ['PCR0', stack.pcr0],
      ['API key', `${show(apiKeyFile)} (public key ${apiKey.publicKey})`],
      ['anvil RPC', stack.anvil ? `${stack.anvil.rpcUrl} (chain id ${stack.anvil.chainId})` : 'not started (--no-anvil)'],
      ['audit log', `${show(stack.auditLogFile)} (custody audit verify --dev ${show(dataDir)})`],
      ['env file', `${show(envPath)} (e.g. custody generate-key --dev ${show(dataDir)})`],
    ]
    io.stdout(`\ncustody dev is running; Ctrl-C stops it\n${rows.map(([k, v]) => `  ${k.padEnd(13)} ${v}`).join('\n')}\n`)

    const outcome = await new Promise<'stopped' | 'anvil'>((done) => {
      if (stop.aborted) return done('stopped')
      stop.addEventListener('abort', () => done('stopped'), { once: true })
      stack.anvil?.process.once('exit', () => setTimeout(() => done(stop.aborted ? 'stopped' : 'anvil'), ANVIL_EXIT_GRACE_MS))
    })
    if (outcome === 'anvil') {
      io.stderr('custody dev: anvil exited unexpectedly; stopping\n')
      code = 1
    } else code = stoppedCode()
  } finally {
    await stack.close()
    await removeDevEnv(dataDir)
  }
  io.stdout('stopped\n')
  return code
}

/** Force the exit when a stop takes longer than this. */
const STOP_TIMEOUT_MS = 15_000

export const devCommand = defineCommand({
  name: 'dev',
  summary: 'run the local stack: KMS, Secrets Manager, attested enclave, proxy, anvil',
  usage: 'custody dev [--data-dir <dir>] [--no-anvil] [--chain-id <n>] [--proxy-port <port>] [--rpc-port <port>] [--aws-latency-ms <ms>]',
  description:
    'Starts local KMS + Secrets Manager (key policy enforced), the enclave runtime with software attestation,\nthe parent proxy and anvil, writes <dir>/dev.env for `--dev <dir>` (endpoints, importer credentials, the\nenclave\'s PCR0 and attestation root, the API key file, the audit log and receipts files), and runs until\nCtrl-C. The dev API key <dir>/api-key.json (mode 0600) is created on the first start and kept; the proxy\nappends the enclave\'s signed audit events to <dir>/audit.jsonl, and the commands run with --dev append their\nreceipts to <dir>/receipts.jsonl (`custody audit verify --dev <dir>` checks both). <dir>/.gitignore (`*`) keeps the\ndirectory out of git. anvil is stopped with the stack, and by a watchdog if custody dev is killed (even kill -9).',
  options: {
    dataDir: { flag: 'data-dir', env: 'CUSTODY_DEV_DIR', value: 'dir', help: 'state directory (default .custody-dev)', schema: z.string().min(1).default('.custody-dev') },
    noAnvil: { flag: 'no-anvil', boolean: true, help: 'do not start anvil', schema: z.boolean().default(false) },
    chainId: {
      flag: 'chain-id',
      value: 'n',
      help: "anvil's chain id (default 11155111; retired testnets such as Goerli 5 are refused)",
      schema: chainIdFlag.transform(Number).refine(Number.isSafeInteger, 'must be at most 2^53 - 1').default(11155111),
    },
    proxyPort: { flag: 'proxy-port', value: 'port', help: 'port of the parent proxy on 127.0.0.1 (default: a free port)', schema: numberFlag({ min: 0, max: 65_535 }).default(0) },
    rpcPort: { flag: 'rpc-port', value: 'port', help: "port of anvil's JSON-RPC on 127.0.0.1 (default: a free port)", schema: numberFlag({ min: 0, max: 65_535 }).default(0) },
    awsLatencyMs: {
      flag: 'aws-latency-ms',
      value: 'ms',
      help: 'delay every local AWS call (default 0)',
      schema: numberFlag({ min: 0, max: 999_999 }).default(0),
    },
  },
  async run({ options: o, io }) {
    if (o.noAnvil && o.rpcPort !== 0) throw new UsageError('--rpc-port is the port of anvil: drop --no-anvil or --rpc-port')
    if (!o.noAnvil && o.rpcPort !== 0 && o.rpcPort === o.proxyPort) throw new UsageError('--rpc-port and --proxy-port must differ')
    const controller = new AbortController()
    let stopping = false
    const off = io.onSignal((signal) => {
      if (stopping) {
        io.stderr(`${signal} again: exiting without waiting\n`)
        io.exit(signalExitCode(signal))
      }
      stopping = true
      io.stderr(`\n${signal}: stopping\n`)
      controller.abort(signal)
      setTimeout(() => {
        io.stderr(`custody dev: not stopped after ${STOP_TIMEOUT_MS / 1000} s; exiting\n`)
        io.exit(1)
      }, STOP_TIMEOUT_MS).unref()
    })
    try {
      return await runDevStack(
        { dataDir: resolve(io.cwd, o.dataDir), anvil: !o.noAnvil, chainId: o.chainId, awsLatencyMs: o.awsLatencyMs, proxyPort: o.proxyPort, rpcPort: o.rpcPort },
        { io, stop: controller.signal },
      )
    } finally {
      off()
    }
  },
})
