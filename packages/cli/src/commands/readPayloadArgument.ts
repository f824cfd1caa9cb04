import { readFile, stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { CliIo } from './cliIo.js'
import { UsageError } from './cliOptions.js'

/** What a PSBT file starts with when it is binary (BIP-174 magic `psbt` 0xff). */
const PSBT_MAGIC = [0x70, 0x73, 0x62, 0x74, 0xff]
/** Larger than any payload the enclave signs (a 256 KiB PSBT in base64): a bigger file is refused unread. */
const MAX_PAYLOAD_FILE_BYTES = 512 * 1024

/**
 * A payload flag's value (`--psbt`, `--transaction`, `--message`): base64 as given, or `@<path>` for a file holding
 * base64 (surrounding whitespace ignored) or raw bytes (a binary PSBT, recognized by its magic, or with `binary`).
 *
 * @returns the base64 text or the bytes, for the SDK to check (canonical base64, size, structure)
 * @throws UsageError naming the flag and the file when it cannot be read
 * @example
 * await readPayloadArgument('@tx.psbt', '--psbt', io) // Uint8Array of a binary PSBT, or its base64
 */
export async function readPayloadArgument(value: string, flag: string, io: CliIo): Promise<string | Uint8Array> {
  if (!value.startsWith('@')) {
    if (value.trim() === '') throw new UsageError(`${flag} must not be empty`)
    return value.trim()
  }
  const file = value.slice(1)
  if (file === '') throw new UsageError(`${flag} @<path> needs a path`)
  const path = resolve(io.cwd, file)
  let bytes: Buffer
  try {
    const info = await stat(path)
    if (!info.isFile()) throw new UsageError(`${flag}: ${file} is not a regular file`)
    if (info.size > MAX_PAYLOAD_FILE_BYTES) throw new UsageError(`${flag}: ${file} is larger than ${MAX_PAYLOAD_FILE_BYTES} bytes`)
    bytes = await readFile(path)
  } catch (e) {
    if (e instanceof UsageError) throw e
    throw new UsageError(`${flag}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  if (PSBT_MAGIC.every((b, i) => bytes[i] === b)) return new Uint8Array(bytes)
  const text = bytes.toString('utf8').trim()
  if (text === '') throw new UsageError(`${flag}: ${file} is empty`)
  return text
}
