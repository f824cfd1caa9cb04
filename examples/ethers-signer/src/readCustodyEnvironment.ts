import { readFileSync } from 'node:fs'
import { type AttestationPolicy, apiKeyStamper, type Stamper } from '@enclave-custody/sdk'

/** What `nitroEnclave` and `createCustodyClient` need, read from the environment. */
export type CustodyEnvironment = {
  /** `CUSTODY_URL`: the parent proxy. */
  url: string
  /** `CUSTODY_PCR0` (and `CUSTODY_ATTESTATION_ROOT`): what the enclave must attest to. */
  attestation: AttestationPolicy
  /** `CUSTODY_API_KEY` or `CUSTODY_API_KEY_FILE`: signs every request. The key lives only inside it. */
  stamper: Stamper
  /** `CUSTODY_TOKEN`: the proxy's bearer token, if any. */
  headers: Record<string, string>
}

/** A missing or malformed variable, named in the message. The message never quotes a secret. */
export class EnvironmentError extends Error {
  override name = 'EnvironmentError'
}

export type ReadCustodyEnvironmentOptions = {
  /** Reads `CUSTODY_ATTESTATION_ROOT` and `CUSTODY_API_KEY_FILE`. @default readFileSync(path, 'utf8') */
  readFile?: (path: string) => string
}

const PCR0 = /^(?:0x)?[0-9a-f]{96}$/i
const MAX_PCR0 = 5
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

/**
 * Read the custody settings of a real deployment:
 *
 * - `CUSTODY_URL` (required): the parent proxy.
 * - `CUSTODY_PCR0` (required): the enclave images allowed to answer, comma-separated (one, or two during a
 *   rotation), from the build's `pcrs.json` or the stack's `AcceptedPCR0s` output — never from the proxy.
 * - `CUSTODY_ATTESTATION_ROOT` (optional): a PEM file of the attestation root(s). Default: the AWS Nitro
 *   Enclaves root built into the SDK. Against the local stack: its software NSM root (`<dataDir>/nsm/…`).
 * - `CUSTODY_API_KEY` (the P-256 private key, hex) or `CUSTODY_API_KEY_FILE` (a JSON file
 *   `{ publicKey, privateKey }`, as `custody api-key create --out <file>` and `custody dev` write it): exactly one.
 *
 * Against a local `custody dev` stack, `set -a; . <data dir>/dev.env; set +a` sets all of them.
 * - `CUSTODY_TOKEN` (optional): the proxy's bearer token.
 *
 * @throws EnvironmentError naming the variable that is missing or wrong (never quoting a key).
 * @example
 * const { url, attestation, stamper, headers } = readCustodyEnvironment(process.env)
 * const custody = createCustodyClient({ transport: nitroEnclave({ url, attestation, headers }), stamper })
 */
export function readCustodyEnvironment(env: NodeJS.ProcessEnv, { readFile = (path) => readFileSync(path, 'utf8') }: ReadCustodyEnvironmentOptions = {}): CustodyEnvironment {
  const url = required(env, 'CUSTODY_URL', 'the parent proxy of your custody deployment, e.g. https://custody.internal:8443')

  const pcr0 = required(env, 'CUSTODY_PCR0', "the enclave image's PCR0 (96 hex digits; two, comma-separated, during a rotation)")
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0)
  if (pcr0.length === 0 || pcr0.length > MAX_PCR0) throw new EnvironmentError(`CUSTODY_PCR0 must list 1 to ${MAX_PCR0} PCR0 values, comma-separated`)
  for (const [i, v] of pcr0.entries()) {
    if (!PCR0.test(v)) throw new EnvironmentError(`CUSTODY_PCR0 value ${i + 1} is not a PCR0 (96 hex digits)`)
    if (/^(?:0x)?0+$/i.test(v)) throw new EnvironmentError(`CUSTODY_PCR0 value ${i + 1} is all zeros, the PCR0 of a debug-mode enclave: refusing it`)
  }

  const rootFile = env.CUSTODY_ATTESTATION_ROOT
  let roots: string[] | undefined
  if (rootFile) {
    const pem = readText(readFile, rootFile, 'CUSTODY_ATTESTATION_ROOT')
    roots = pem.match(PEM_CERTIFICATE) ?? []
    if (roots.length === 0) throw new EnvironmentError(`CUSTODY_ATTESTATION_ROOT (${rootFile}) holds no PEM certificate`)
  }

  const token = env.CUSTODY_TOKEN
  return {
    url,
    attestation: { pcr0, ...(roots ? { roots } : {}) },
    stamper: readStamper(env, readFile),
    headers: token ? { authorization: `Bearer ${token}` } : {},
  }
}

function required(env: NodeJS.ProcessEnv, name: string, meaning: string): string {
  const value = env[name]?.trim()
  if (!value) throw new EnvironmentError(`${name} is not set (${meaning}): copy .env.example to .env and fill it in`)
  return value
}

function readText(readFile: (path: string) => string, path: string, name: string): string {
  try {
    return readFile(path)
  } catch (e) {
    throw new EnvironmentError(`${name} (${path}) cannot be read: ${(e as NodeJS.ErrnoException).code ?? 'error'}`)
  }
}

/** The API key's stamper. Error messages name the variable, never the value (nor a JSON parser's excerpt of it). */
function readStamper(env: NodeJS.ProcessEnv, readFile: (path: string) => string): Stamper {
  const inline = env.CUSTODY_API_KEY?.trim()
  const file = env.CUSTODY_API_KEY_FILE?.trim()
  if (inline && file) throw new EnvironmentError('CUSTODY_API_KEY and CUSTODY_API_KEY_FILE are both set: set one of them')
  if (inline) return stamperOf(inline, 'CUSTODY_API_KEY')
  if (!file) {
    throw new EnvironmentError(
      'CUSTODY_API_KEY is not set (the P-256 private key of your API key, hex), nor CUSTODY_API_KEY_FILE (a JSON file { publicKey, privateKey }, as `custody api-key create --out <file>` writes one)',
    )
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(readText(readFile, file, 'CUSTODY_API_KEY_FILE'))
  } catch (e) {
    if (e instanceof EnvironmentError) throw e
    throw new EnvironmentError(`CUSTODY_API_KEY_FILE (${file}) is not JSON`)
  }
  const { privateKey, publicKey } = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as { privateKey?: unknown; publicKey?: unknown }
  if (typeof privateKey !== 'string') throw new EnvironmentError(`CUSTODY_API_KEY_FILE (${file}) has no "privateKey" string`)
  const stamper = stamperOf(privateKey.trim(), 'CUSTODY_API_KEY_FILE')
  if (publicKey !== undefined && (typeof publicKey !== 'string' || compressed(publicKey) !== compressed(stamper.publicKey))) {
    throw new EnvironmentError(`CUSTODY_API_KEY_FILE (${file}): its "publicKey" is not the public key of its "privateKey"`)
  }
  return stamper
}

function stamperOf(privateKey: string, name: string): Stamper {
  try {
    return apiKeyStamper({ privateKey })
  } catch {
    throw new EnvironmentError(`${name} is not a P-256 private key (64 hex digits, 1..n-1)`)
  }
}

/** A SEC1 public key, hex, in its compressed form (an uncompressed 04‖x‖y becomes 02/03‖x), lower case. */
function compressed(publicKey: string): string {
  const hex = publicKey.trim().toLowerCase().replace(/^0x/, '')
  if (/^04[0-9a-f]{128}$/.test(hex)) return `${Number.parseInt(hex.slice(-1), 16) % 2 === 0 ? '02' : '03'}${hex.slice(2, 66)}`
  return hex
}
