import { readFile, stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { CliIo } from './cliIo.js'
import { UsageError } from './cliOptions.js'

export type ReadPrivateKeyParameters = {
  /** A file holding the key (`-` = standard input). */
  file?: string | undefined
  /** The name of an environment variable holding the key. */
  envName?: string | undefined
}

/** 32 bytes of hex: what a private key looks like (refused where a path or a name is expected). */
export const KEY_LIKE = /^(?:0x)?[0-9a-fA-F]{64}$/
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/

/**
 * Read a private key from a file, an environment variable or standard input — never from a flag
 * value, so that it stays out of shell history and `ps`. The key is never echoed, not even in errors.
 *
 * @returns the key as 0x + 64 hex digits (a bare 64-digit hex string is accepted)
 * @throws UsageError naming the source when there is none, several, or the content is not a key
 */
export async function readPrivateKey({ file, envName }: ReadPrivateKeyParameters, io: CliIo): Promise<`0x${string}`> {
  if (file !== undefined && envName !== undefined) throw new UsageError('give either --private-key-file or --private-key-env, not both')
  let text: string
  let where: string
  if (envName !== undefined) {
    if (KEY_LIKE.test(envName.trim())) throw new UsageError('--private-key-env takes the NAME of an environment variable, never the key itself')
    if (!ENV_NAME.test(envName)) throw new UsageError('--private-key-env must name an environment variable ([A-Za-z_][A-Za-z0-9_]*)')
    const value = io.env[envName]
    if (value === undefined || value === '') throw new UsageError(`--private-key-env: ${envName} is not set`)
    text = value
    where = `environment variable ${envName}`
  } else if (file !== undefined && file !== '-') {
    if (KEY_LIKE.test(file.trim())) throw new UsageError('--private-key-file takes a path, never the key itself')
    const path = resolve(io.cwd, file)
    try {
      const info = await stat(path)
      if (!info.isFile()) throw new UsageError(`--private-key-file: ${file} is not a regular file`)
      if ((info.mode & 0o077) !== 0) io.stderr(`warning: ${file} is readable by other users; chmod 600 it\n`)
      text = await readFile(path, 'utf8')
    } catch (e) {
      if (e instanceof UsageError) throw e
      throw new UsageError(`--private-key-file: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`)
    }
    where = file
  } else {
    if (io.stdinIsTTY) {
      throw new UsageError('no private key: give --private-key-file <path>, --private-key-env <NAME>, or pipe it on standard input')
    }
    text = await io.readStdin()
    where = 'standard input'
  }
  const key = text.trim()
  if (!KEY_LIKE.test(key)) throw new UsageError(`the private key from ${where} must be 32 bytes of hex (0x followed by 64 hex digits)`)
  return (key.startsWith('0x') ? key : `0x${key}`) as `0x${string}`
}
