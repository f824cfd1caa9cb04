import { randomBytes } from 'node:crypto'
import { mkdir, open, rename, unlink, link } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/** File-system steps, injectable so that tests can crash a write half-way. */
export type WriteSteps = {
  /** Called after the temp file is written and fsynced, before it becomes visible. */
  beforeCommit?: (tempPath: string) => Promise<void> | void
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

async function writeTemp(path: string, data: string | Uint8Array, mode: number): Promise<string> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  const handle = await open(temp, 'wx', mode)
  try {
    await handle.writeFile(data)
    await handle.sync()
  } finally {
    await handle.close()
  }
  return temp
}

/**
 * Atomically replace `path` with `data`: write a temp file, fsync it, rename over the target, fsync
 * the directory. A crash at any point leaves either the old or the new content, never a mix.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, { mode = 0o600, beforeCommit }: { mode?: number } & WriteSteps = {}): Promise<void> {
  const temp = await writeTemp(path, data, mode)
  try {
    await beforeCommit?.(temp)
    await rename(temp, path)
  } catch (e) {
    await unlink(temp).catch(() => {})
    throw e
  }
  await fsyncDir(dirname(path))
}

/**
 * Atomically create `path` only if it does not exist (hard link of a fully written temp file).
 * @returns false when `path` already exists.
 */
export async function createFileAtomic(path: string, data: string | Uint8Array, { mode = 0o600, beforeCommit }: { mode?: number } & WriteSteps = {}): Promise<boolean> {
  const temp = await writeTemp(path, data, mode)
  try {
    await beforeCommit?.(temp)
    await link(temp, path)
    return true
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw e
  } finally {
    await unlink(temp).catch(() => {})
    await fsyncDir(dirname(path)).catch(() => {})
  }
}
