import { readFile, stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { CliIo } from './cliIo.js'
import { UsageError } from './cliOptions.js'

/** Larger than any BIP-39 mnemonic (24 words of at most 8 letters) with some whitespace: a bigger file is refused unread. */
const MAX_MNEMONIC_FILE_BYTES = 4096
/** The mnemonic lengths BIP-39 defines. */
const WORD_COUNTS = [12, 15, 18, 21, 24]

/**
 * Read a BIP-39 mnemonic from a file (`-` = standard input) or piped standard input — never from a flag value or an
 * argument, so that it stays out of shell history and `ps`. No word is ever echoed, not even in errors. The words
 * are joined by single spaces; their checksum and word list are the enclave's to check.
 *
 * @param file - the `--mnemonic-file` path, or undefined for standard input
 * @returns the words, separated by single spaces
 * @throws UsageError naming the source when there is none or it does not hold 12, 15, 18, 21 or 24 words
 * @example
 * const mnemonic = await readMnemonic('wallet.txt', io)
 */
export async function readMnemonic(file: string | undefined, io: CliIo): Promise<string> {
  let text: string
  let where: string
  if (file !== undefined && file !== '-') {
    if (/\s/.test(file.trim())) throw new UsageError('--mnemonic-file takes a path, never the mnemonic itself')
    const path = resolve(io.cwd, file)
    try {
      const info = await stat(path)
      if (!info.isFile()) throw new UsageError(`--mnemonic-file: ${file} is not a regular file`)
      if (info.size > MAX_MNEMONIC_FILE_BYTES) throw new UsageError(`--mnemonic-file: ${file} is larger than ${MAX_MNEMONIC_FILE_BYTES} bytes`)
      if ((info.mode & 0o077) !== 0) io.stderr(`warning: ${file} is readable by other users; chmod 600 it\n`)
      text = await readFile(path, 'utf8')
    } catch (e) {
      if (e instanceof UsageError) throw e
      throw new UsageError(`--mnemonic-file: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`)
    }
    where = file
  } else {
    if (io.stdinIsTTY) throw new UsageError('no mnemonic: give --mnemonic-file <path> or pipe it on standard input (never on the command line)')
    text = await io.readStdin()
    where = 'standard input'
  }
  const words = text.trim().split(/\s+/).filter(Boolean)
  if (!WORD_COUNTS.includes(words.length)) throw new UsageError(`the mnemonic from ${where} must be 12, 15, 18, 21 or 24 words (it has ${words.length})`)
  return words.join(' ')
}

/**
 * Read a BIP-39 passphrase from a file: its content without the final newline (every other character counts).
 *
 * @throws UsageError naming the file when it cannot be read
 */
export async function readPassphrase(file: string, io: CliIo): Promise<string> {
  const path = resolve(io.cwd, file)
  try {
    const info = await stat(path)
    if (!info.isFile() || info.size > MAX_MNEMONIC_FILE_BYTES) throw new UsageError(`--passphrase-file: ${file} is not a regular file of at most ${MAX_MNEMONIC_FILE_BYTES} bytes`)
    return (await readFile(path, 'utf8')).replace(/\r?\n$/, '')
  } catch (e) {
    if (e instanceof UsageError) throw e
    throw new UsageError(`--passphrase-file: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`)
  }
}
