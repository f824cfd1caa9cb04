import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { parseEnv } from 'node:util'
import { writeFileAtomic } from '@enclave-custody/enclave-runtime'
import { UsageError } from './cliOptions.js'

/** File name of the environment `custody dev` writes into its data directory. */
export const DEV_ENV_FILE = 'dev.env'

/** The variables of dev.env. */
export type DevEnv = {
  CUSTODY_URL: string
  CUSTODY_AWS_ENDPOINT: string
  CUSTODY_REGION: string
  CUSTODY_KMS_KEY_ID: string
  CUSTODY_CHAIN_ID: string
  CUSTODY_RPC_URL?: string
  /** The enclave's PCR0 (the software NSM's measurement of the runtime code): the attestation allowlist. */
  CUSTODY_PCR0: string
  /** The software NSM's root certificate (PEM file): what the attestation must chain to. */
  CUSTODY_ATTESTATION_ROOT: string
  /** Absolute path of `<dataDir>/api-key.json`, the dev API key that stamps requests. */
  CUSTODY_API_KEY_FILE: string
  /** Absolute path of `<dataDir>/audit.jsonl`, the enclave's signed audit events as the proxy stores them. */
  CUSTODY_AUDIT_LOG: string
  /** Absolute path of `<dataDir>/receipts.jsonl`, where commands run with `--dev` append their audit receipts. */
  CUSTODY_RECEIPTS_FILE: string
  /** The importer role's local credentials: may KMS Encrypt and create secrets, never decrypt. */
  AWS_ACCESS_KEY_ID: string
  AWS_SECRET_ACCESS_KEY: string
}

/** Values that need no quoting in a shell (`set -a; . dev.env`) and cannot break a line. */
const PLAIN = /^[A-Za-z0-9+/=:.,_@-]*$/
/** Values a shell takes literally between single quotes (paths with spaces, say); `readDevEnv` strips them. */
const QUOTABLE = /^[^'\n\r\\]*$/

export const devEnvPath = (dataDir: string) => join(dataDir, DEV_ENV_FILE)

/** Write `<dataDir>/dev.env` atomically with mode 0600: it holds the importer's credentials (and names the API key file). */
export async function writeDevEnv(dataDir: string, env: DevEnv): Promise<string> {
  const lines = ['# Written by `custody dev`, removed when it stops. Holds local importer credentials: keep it private.']
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue
    if (PLAIN.test(value)) lines.push(`${name}=${value}`)
    else if (QUOTABLE.test(value)) lines.push(`${name}='${value}'`)
    else throw new Error(`dev.env: ${name} has characters that cannot be quoted for a shell`)
  }
  const path = devEnvPath(dataDir)
  await writeFileAtomic(path, `${lines.join('\n')}\n`, { mode: 0o600 })
  return path
}

/** Remove `<dataDir>/dev.env` (its endpoints die with the stack). */
export async function removeDevEnv(dataDir: string): Promise<void> {
  await rm(devEnvPath(dataDir), { force: true })
}

/** Variable names taken from dev.env; parseEnv keeps any name, a shell only these. */
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * Read `<dataDir>/dev.env` with Node's `util.parseEnv` (dotenv syntax: `NAME=value` lines, `#` comments,
 * also after an unquoted value, single, double or backtick quotes, `export ` prefixes, `\n` escapes in
 * double quotes). Names that are not shell variable names are dropped.
 * @throws UsageError when the file is missing (custody dev is not running there) or cannot be read
 */
export async function readDevEnv(dataDir: string): Promise<Record<string, string>> {
  let text: string
  try {
    text = await readFile(devEnvPath(dataDir), 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new UsageError(`--dev: ${devEnvPath(dataDir)} not found; start \`custody dev --data-dir ${dataDir}\` first`)
    }
    throw new UsageError(`--dev: cannot read ${devEnvPath(dataDir)} (${(e as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  // Own properties only (Object.fromEntries): no line can reach the result's prototype.
  return Object.fromEntries(
    Object.entries(parseEnv(text)).flatMap(([name, value]) => (value !== undefined && NAME.test(name.trim()) ? [[name.trim(), value]] : [])),
  )
}
