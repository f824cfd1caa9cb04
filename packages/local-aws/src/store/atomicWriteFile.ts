import { randomUUID } from 'node:crypto'
import { open, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/**
 * Replace `path` with `data` so that a crash leaves either the old or the new content, never a mix:
 * write a temporary file beside it (mode 0600), fsync it, rename it over `path`, fsync the directory.
 *
 * @param path - the file to replace
 * @param data - the new content
 * @throws the underlying fs error; the temporary file is removed
 */
export async function atomicWriteFile(path: string, data: string | Uint8Array): Promise<void> {
  const dir = dirname(path)
  const tmp = join(dir, `.${basename(path)}.${randomUUID()}.tmp`)
  try {
    const file = await open(tmp, 'wx', 0o600)
    try {
      await file.writeFile(data)
      await file.sync()
    } finally {
      await file.close()
    }
    await rename(tmp, path)
  } catch (e) {
    await unlink(tmp).catch(() => undefined)
    throw e
  }
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
