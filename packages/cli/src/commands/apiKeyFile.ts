import { readFile, stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { createFileAtomic } from '@enclave-custody/enclave-runtime'
import { apiKeyStamper, generateApiKey, type Hex, type Stamper } from '@enclave-custody/sdk'
import type { CliIo } from './cliIo.js'
import { UsageError } from './cliOptions.js'
import { KEY_LIKE } from './readPrivateKey.js'

/** File name of the API key `custody dev` keeps in its data directory (across restarts). */
export const DEV_API_KEY_FILE = 'api-key.json'

/** Larger than any API key file: a bigger file is refused unread. */
const MAX_API_KEY_FILE_BYTES = 4096

/**
 * Write a new API key (`generateApiKey`) to `path` as `{ "publicKey": "0x…", "privateKey": "0x…" }`, mode
 * 0600, atomically, and only if nothing is there yet.
 *
 * @returns the new key's public key, or `undefined` when `path` already exists (left untouched)
 */
export async function createApiKeyFile(path: string): Promise<{ publicKey: Hex } | undefined> {
  const { publicKey, privateKey } = generateApiKey()
  const created = await createFileAtomic(path, `${JSON.stringify({ publicKey, privateKey }, null, 2)}\n`, { mode: 0o600 })
  return created ? { publicKey } : undefined
}

export type ReadApiKeyFileOptions = {
  /** How errors name the file's source. @default '--api-key-file' */
  source?: string
}

/**
 * Read an API key file (from `custody api-key create` or `custody dev`) and build its stamper. Nothing of the
 * file's content reaches an error: a malformed file is named, never quoted. Warns on `io.stderr` when others
 * can read the file.
 *
 * @param file - the path as given (relative to `io.cwd`)
 * @returns the stamper and the key's public key
 * @throws UsageError naming the source for a missing, unreadable or malformed file
 */
export async function readApiKeyFile(file: string, io: CliIo, { source = '--api-key-file' }: ReadApiKeyFileOptions = {}): Promise<{ stamper: Stamper; publicKey: string }> {
  if (KEY_LIKE.test(file.trim())) throw new UsageError(`${source} takes the path of an API key file, never the key itself`)
  const path = resolve(io.cwd, file)
  let text: string
  try {
    const info = await stat(path)
    if (!info.isFile()) throw new UsageError(`${source}: ${file} is not a regular file`)
    if (info.size > MAX_API_KEY_FILE_BYTES) throw new UsageError(`${source}: ${file} is not an API key file (too large)`)
    if ((info.mode & 0o077) !== 0) io.stderr(`warning: API key file ${file} is readable by other users; chmod 600 it\n`)
    text = await readFile(path, 'utf8')
  } catch (e) {
    if (e instanceof UsageError) throw e
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT' && source === '--api-key-file') {
      throw new UsageError(`API key file ${file} not found (--api-key-file or CUSTODY_API_KEY_FILE); create one with \`custody api-key create --out ${file}\``)
    }
    throw new UsageError(`${source}: cannot read ${file} (${code ?? 'error'})`)
  }
  const malformed = () => new UsageError(`${source}: ${file} is not an API key file (JSON { "publicKey": "0x…", "privateKey": "0x…" } from \`custody api-key create\`)`)
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    // JSON.parse quotes the text it choked on: its message must not travel.
    throw malformed()
  }
  const { publicKey, privateKey } = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as { publicKey?: unknown; privateKey?: unknown }
  if (typeof publicKey !== 'string' || typeof privateKey !== 'string') throw malformed()
  let stamper: Stamper
  try {
    stamper = apiKeyStamper({ privateKey })
  } catch {
    throw new UsageError(`${source}: ${file} holds no valid P-256 private key`)
  }
  if (stamper.publicKey.toLowerCase() !== publicKey.toLowerCase()) throw new UsageError(`${source}: in ${file}, publicKey is not the private key's public key`)
  return { stamper, publicKey: stamper.publicKey }
}

/** The stampers of approvers' API key files (`--approver-key-file`, repeatable), read like `--api-key-file`. */
export async function approverStampers(files: readonly string[], io: CliIo): Promise<Stamper[]> {
  const stampers: Stamper[] = []
  for (const file of files) stampers.push((await readApiKeyFile(file, io, { source: '--approver-key-file' })).stamper)
  return stampers
}
