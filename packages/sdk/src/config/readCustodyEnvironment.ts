import { readFileSync } from 'node:fs'
import { apiKeyStamper } from '../auth/apiKeyStamper.js'
import type { Stamper } from '../auth/types.js'
import type { InvalidArgumentError } from '../errors/CustodyError.js'
import { canonicalApiKey } from '../keys/owners.js'
import type { AttestationPolicy } from '../session/attestEnclave.js'
import { fail } from '../utils/assert.js'

/** The variables read, by name: `process.env` or any object of the same shape. */
export type CustodyEnvironmentVariables = Readonly<Record<string, string | undefined>>

export type ReadCustodyEnvironmentOptions = {
  /**
   * Reads the files `CUSTODY_ATTESTATION_ROOT` and `CUSTODY_API_KEY_FILE` name, as UTF-8 text. Inject one
   * where there is no `node:fs` (a browser, a worker) or to read from elsewhere.
   * @default (path) => readFileSync(path, 'utf8')
   */
  readFile?: (path: string) => string
}

/** What `nitroEnclave` and `createCustodyClient` need, read from the environment. */
export type ReadCustodyEnvironmentReturnType = {
  /** `CUSTODY_URL`: the parent proxy, an http(s) URL. */
  url: string
  /**
   * `CUSTODY_PCR0`, `CUSTODY_ATTESTATION_ROOT` and `CUSTODY_ALLOW_DEBUG_ENCLAVE`: what the enclave must
   * attest to. `roots` only when a root file is named (else the SDK's default, the AWS Nitro root);
   * `allowDebugEnclave` only when `true`.
   */
  attestation: AttestationPolicy
  /** `CUSTODY_AUTH_TOKEN`: `{ authorization: 'Bearer …' }` for the parent proxy, or `{}`. */
  headers: Record<string, string>
  /** `CUSTODY_API_KEY` or `CUSTODY_API_KEY_FILE`: signs every request. The private key lives only inside it. */
  stamper: Stamper
}

export type ReadCustodyEnvironmentErrorType = InvalidArgumentError

const MAX_PCR0 = 5
const PCR0 = /^(?:0x)?[0-9a-fA-F]{96}$/
const DEBUG_PCR0 = /^(?:0x)?0{96}$/
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g
/** Larger than any API key file: a larger one is refused unparsed. */
const MAX_API_KEY_FILE_CHARS = 4096
/** A value that is key material rather than a path: a private key, or the key file's JSON. */
const KEY_MATERIAL = /^(?:0x)?[0-9a-fA-F]{64}$|^\{/

const readUtf8 = (path: string): string => readFileSync(path, 'utf8')

/**
 * Read and check the settings of a custody deployment from environment variables, once, at start:
 *
 * - `CUSTODY_URL` (required): the parent proxy, an http(s) URL.
 * - `CUSTODY_PCR0` (required): the enclave images allowed to answer, 48 bytes of hex each, comma-separated
 *   (1 to 5: one, or two during a rotation), from the build's `pcrs.json` or the stack's `AcceptedPCR0s`
 *   output — never from the proxy. The all-zero PCR0 of a debug-mode enclave is refused unless
 *   `CUSTODY_ALLOW_DEBUG_ENCLAVE=true` (never in production: the parent can read a debug enclave's memory).
 * - `CUSTODY_ATTESTATION_ROOT` (optional): a PEM file of the attestation root(s). Default: the AWS Nitro
 *   Enclaves root built into the SDK. Against a local `custody dev` stack: its software NSM root.
 * - `CUSTODY_API_KEY` (the API key's P-256 private key, hex) or `CUSTODY_API_KEY_FILE` (a JSON file
 *   `{ publicKey, privateKey }`, as `custody api-key create --out <file>` and `custody dev` write it; a
 *   `publicKey` present must be the private key's): exactly one.
 * - `CUSTODY_AUTH_TOKEN` (optional): the parent proxy's bearer token.
 *
 * Against a local stack, `set -a; . <data dir>/dev.env; set +a` sets all but `CUSTODY_AUTH_TOKEN`.
 *
 * @param env - the variables. @default process.env
 * @param options - {@link ReadCustodyEnvironmentOptions}: how files are read.
 * @returns the URL, attestation policy and headers for `nitroEnclave`, and the stamper for `createCustodyClient`.
 * @throws InvalidArgumentError whose `details.field` is the variable that is missing or wrong. No message
 *   quotes an API key, whether it came inline, as a file, or by mistake in the file variable.
 * @example
 * import { createCustodyClient, nitroEnclave, readCustodyEnvironment } from '@enclave-custody/sdk'
 * const { url, attestation, headers, stamper } = readCustodyEnvironment()
 * const custody = createCustodyClient({ transport: nitroEnclave({ url, attestation, headers }), stamper })
 */
export function readCustodyEnvironment(env: CustodyEnvironmentVariables = process.env, { readFile = readUtf8 }: ReadCustodyEnvironmentOptions = {}): ReadCustodyEnvironmentReturnType {
  const url = required(env, 'CUSTODY_URL', 'the parent proxy of your custody deployment, e.g. https://custody.internal:8443')
  // The URL is never echoed: it may carry credentials.
  if (!URL.canParse(url) || !['http:', 'https:'].includes(new URL(url).protocol)) fail('CUSTODY_URL', 'must be an http(s) URL')

  const allowDebugEnclave = readBoolean(env, 'CUSTODY_ALLOW_DEBUG_ENCLAVE')
  const pcr0 = required(env, 'CUSTODY_PCR0', "the enclave image's PCR0, 96 hex digits; two, comma-separated, during a rotation")
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0)
  if (pcr0.length === 0 || pcr0.length > MAX_PCR0) fail('CUSTODY_PCR0', `must list 1 to ${MAX_PCR0} PCR0 values, comma-separated`)
  for (const [i, v] of pcr0.entries()) {
    if (!PCR0.test(v)) fail('CUSTODY_PCR0', `value ${i + 1} is not a PCR0 (48 bytes, 96 hex digits)`)
    if (DEBUG_PCR0.test(v) && !allowDebugEnclave) {
      fail('CUSTODY_PCR0', `value ${i + 1} is all zeros, the PCR0 of a debug-mode enclave: refused unless CUSTODY_ALLOW_DEBUG_ENCLAVE=true`)
    }
  }

  const rootFile = env.CUSTODY_ATTESTATION_ROOT?.trim()
  let roots: string[] | undefined
  if (rootFile) {
    if (rootFile.includes('-----BEGIN')) fail('CUSTODY_ATTESTATION_ROOT', 'takes the path of a PEM file, not the certificate itself')
    roots = readText(readFile, rootFile, 'CUSTODY_ATTESTATION_ROOT').match(PEM_CERTIFICATE) ?? []
    if (roots.length === 0) fail('CUSTODY_ATTESTATION_ROOT', `(${rootFile}) holds no PEM certificate`)
  }

  const token = env.CUSTODY_AUTH_TOKEN?.trim()
  return {
    url,
    attestation: { pcr0, ...(roots ? { roots } : {}), ...(allowDebugEnclave ? { allowDebugEnclave } : {}) },
    headers: token ? { authorization: `Bearer ${token}` } : {},
    stamper: readStamper(env, readFile),
  }
}

function required(env: CustodyEnvironmentVariables, name: string, meaning: string): string {
  const value = env[name]?.trim()
  if (!value) fail(name, `is not set (${meaning})`)
  return value
}

function readBoolean(env: CustodyEnvironmentVariables, name: string): boolean {
  const value = env[name]?.trim() ?? ''
  if (value !== '' && value !== 'true' && value !== 'false') fail(name, 'must be true or false')
  return value === 'true'
}

function readText(readFile: (path: string) => string, path: string, name: string): string {
  try {
    return readFile(path)
  } catch (e) {
    const code = (e as { code?: unknown } | null)?.code
    return fail(name, `(${path}) cannot be read: ${typeof code === 'string' && /^[A-Z_]{1,32}$/.test(code) ? code : 'error'}`)
  }
}

/** The API key's stamper. Errors name the variable, never a key (nor a JSON parser's excerpt of one). */
function readStamper(env: CustodyEnvironmentVariables, readFile: (path: string) => string): Stamper {
  const inline = env.CUSTODY_API_KEY?.trim()
  const file = env.CUSTODY_API_KEY_FILE?.trim()
  if (inline && file) fail('CUSTODY_API_KEY', 'is set, and so is CUSTODY_API_KEY_FILE: set one of them')
  if (inline) return stamperOf(inline, 'CUSTODY_API_KEY')
  if (!file) {
    fail(
      'CUSTODY_API_KEY',
      'is not set (the P-256 private key of your API key, hex), nor CUSTODY_API_KEY_FILE (a JSON file { publicKey, privateKey }, as `custody api-key create --out <file>` writes one)',
    )
  }
  // The path is quoted in messages below: make sure it is one.
  if (KEY_MATERIAL.test(file)) fail('CUSTODY_API_KEY_FILE', 'takes the path of an API key file, never the key itself')
  const text = readText(readFile, file, 'CUSTODY_API_KEY_FILE')
  if (text.length > MAX_API_KEY_FILE_CHARS) fail('CUSTODY_API_KEY_FILE', `(${file}) is not an API key file (too large)`)
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    // JSON.parse quotes the text it choked on: its message must not travel.
    fail('CUSTODY_API_KEY_FILE', `(${file}) is not JSON`)
  }
  const { privateKey, publicKey } = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as { privateKey?: unknown; publicKey?: unknown }
  if (typeof privateKey !== 'string') fail('CUSTODY_API_KEY_FILE', `(${file}) has no "privateKey" string`)
  const stamper = stamperOf(privateKey.trim(), 'CUSTODY_API_KEY_FILE')
  if (publicKey !== undefined && !samePublicKey(publicKey, stamper.publicKey)) {
    fail('CUSTODY_API_KEY_FILE', `(${file}): its "publicKey" is not the public key of its "privateKey"`)
  }
  return stamper
}

function stamperOf(privateKey: string, name: string): Stamper {
  try {
    return apiKeyStamper({ privateKey })
  } catch {
    return fail(name, 'is not a P-256 private key (64 hex digits, 1..n-1)')
  }
}

/** Whether `claimed` is `actual` as a point (compressed or uncompressed, with or without 0x, any case). */
function samePublicKey(claimed: unknown, actual: string): boolean {
  if (typeof claimed !== 'string') return false
  const hex = claimed.trim()
  try {
    return canonicalApiKey(hex.startsWith('0x') ? hex : `0x${hex}`, 'publicKey') === canonicalApiKey(actual, 'publicKey')
  } catch {
    return false
  }
}
