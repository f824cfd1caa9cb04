import { randomUUID } from 'node:crypto'
import * as nodeFs from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/** The open file of an atomic write: the few methods it calls. */
export type StateFileHandle = {
  writeFile(data: string | Uint8Array): Promise<void>
  sync(): Promise<void>
  close(): Promise<void>
}

/**
 * The file-system calls of {@link atomicWriteFile} (`node:fs/promises` by default), injectable so that tests can
 * fail a step as a full (ENOSPC) or read-only (EROFS) file system would.
 */
export type StateFileSystem = {
  open(path: string, flags: string, mode?: number): Promise<StateFileHandle>
  rename(from: string, to: string): Promise<void>
  unlink(path: string): Promise<void>
}

const defaultFs: StateFileSystem = nodeFs

/**
 * Replace `path` with `data` so that a crash leaves either the old or the new content, never a mix:
 * write a temporary file beside it (mode 0600), fsync it, rename it over `path`, fsync the directory.
 *
 * @param path - the file to replace
 * @param data - the new content
 * @param fs - the file-system calls @default node:fs/promises
 * @throws the underlying fs error; the temporary file is removed
 */
export async function atomicWriteFile(path: string, data: string | Uint8Array, fs: StateFileSystem = defaultFs): Promise<void> {
  const dir = dirname(path)
  const tmp = join(dir, `.${basename(path)}.${randomUUID()}.tmp`)
  try {
    const file = await fs.open(tmp, 'wx', 0o600)
    try {
      await file.writeFile(data)
      await file.sync()
    } finally {
      await file.close()
    }
    await fs.rename(tmp, path)
  } catch (e) {
    await fs.unlink(tmp).catch(() => undefined)
    throw e
  }
  const handle = await fs.open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
