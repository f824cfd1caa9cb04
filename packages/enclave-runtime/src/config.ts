import { parseArgs } from 'node:util'
import { z } from 'zod'

/** One command-line option: its flag, environment variable, schema and help line. */
export type OptionSpec = { flag: string; env: string; help: string; schema: z.ZodType; boolean?: boolean }

const port = z.coerce.number().int().min(0).max(65_535)
const host = z.string().min(1)

export const enclaveServerOptions = {
  port: { flag: 'port', env: 'CUSTODY_ENCLAVE_PORT', help: 'TCP port to listen on (socat bridges vsock here)', schema: port.default(5000) },
  host: { flag: 'host', env: 'CUSTODY_ENCLAVE_HOST', help: 'address to listen on', schema: host.default('127.0.0.1') },
  dataDir: { flag: 'data-dir', env: 'CUSTODY_DATA_DIR', help: 'directory for sealed key records (dev sealing)', schema: z.string().min(1) },
  maxGas: { flag: 'max-gas', env: 'CUSTODY_MAX_GAS', help: 'refuse transactions with more gas than this', schema: z.coerce.bigint().positive().default(30_000_000n) },
  logLevel: { flag: 'log-level', env: 'CUSTODY_LOG_LEVEL', help: 'fatal|error|warn|info|debug', schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug']).default('info') },
} satisfies Record<string, OptionSpec>

export const parentProxyOptions = {
  port: { flag: 'port', env: 'CUSTODY_PROXY_PORT', help: 'HTTP port to listen on', schema: port.default(8443) },
  host: { flag: 'host', env: 'CUSTODY_PROXY_HOST', help: 'address to listen on', schema: host.default('127.0.0.1') },
  enclaveHost: { flag: 'enclave-host', env: 'CUSTODY_ENCLAVE_HOST', help: 'enclave server address (vsock bridge)', schema: host.default('127.0.0.1') },
  enclavePort: { flag: 'enclave-port', env: 'CUSTODY_ENCLAVE_PORT', help: 'enclave server port', schema: port.min(1).default(5000) },
  enclaveTimeoutMs: { flag: 'enclave-timeout-ms', env: 'CUSTODY_ENCLAVE_TIMEOUT_MS', help: 'timeout of one enclave round trip', schema: z.coerce.number().int().min(100).max(120_000).default(10_000) },
  logLevel: { flag: 'log-level', env: 'CUSTODY_LOG_LEVEL', help: 'fatal|error|warn|info|debug', schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug']).default('info') },
} satisfies Record<string, OptionSpec>

type Parsed<S extends Record<string, OptionSpec>> = { [K in keyof S]: z.output<S[K]['schema']> }

/** The `--help` text of a command from its option table. */
export function helpText(usage: string, specs: Record<string, OptionSpec>): string {
  const rows = Object.values(specs).map((s) => `  --${s.flag.padEnd(20)} ${s.help} (env ${s.env})`)
  return `${usage}\n\nOptions:\n${rows.join('\n')}\n  --${'help'.padEnd(20)} show this help\n`
}

/**
 * Parse configuration once at start: flags win over environment variables, every value is checked
 * against its schema, and the first problem is reported naming the flag and the variable.
 */
export function parseConfig<S extends Record<string, OptionSpec>>(specs: S, argv: string[], env: NodeJS.ProcessEnv): Parsed<S> | 'help' {
  const options = Object.fromEntries(Object.values(specs).map((s) => [s.flag, { type: s.boolean ? 'boolean' : 'string' } as const]))
  const { values } = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false })
  if (values.help) return 'help'
  const out: Record<string, unknown> = {}
  for (const [key, spec] of Object.entries(specs)) {
    const raw = (values as Record<string, unknown>)[spec.flag] ?? env[spec.env]
    const parsed = spec.schema.safeParse(raw === '' ? undefined : raw)
    if (!parsed.success) throw new Error(`invalid --${spec.flag} / ${spec.env}: ${parsed.error.issues[0]?.message ?? 'invalid'}`)
    out[key] = parsed.data
  }
  return out as Parsed<S>
}
