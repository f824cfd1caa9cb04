import { randomBytes } from 'node:crypto'
import * as nodeFs from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { UnavailableError } from '@enclave-custody/sdk'
import { fileSystemCause } from '@enclave-custody/sdk/server'

/** The open file of an atomic write: the few methods it calls. */
export type AtomicWriteHandle = {
  writeFile(data: string | Uint8Array): Promise<void>
  sync(): Promise<void>
  close(): Promise<void>
}

/**
 * The file-system calls of an atomic write (`node:fs/promises` by default). Injectable so that tests can make a
 * step fail as a full (ENOSPC) or read-only (EROFS) file system would: everything here runs as root, so
 * permissions cannot simulate either.
 */
export type AtomicWriteFs = {
  open(path: string, flags: string, mode?: number): Promise<AtomicWriteHandle>
  rename(from: string, to: string): Promise<void>
  link(existing: string, path: string): Promise<void>
  unlink(path: string): Promise<void>
  mkdir(path: string, options: { recursive: true; mode: number }): Promise<unknown>
}

/** File-system steps, injectable so that tests can crash a write half-way or fail one of its calls. */
export type WriteSteps = {
  /** Called after the temp file is written and fsynced, before it becomes visible. */
  beforeCommit?: (tempPath: string) => Promise<void> | void
  /** The file-system calls. @default node:fs/promises */
  fs?: AtomicWriteFs
}

const defaultFs: AtomicWriteFs = nodeFs

async function fsyncDir(fs: AtomicWriteFs, dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

async function writeTemp(fs: AtomicWriteFs, path: string, data: string | Uint8Array, mode: number): Promise<string> {
  await fs.mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  const handle = await fs.open(temp, 'wx', mode)
  try {
    try {
      await handle.writeFile(data)
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch (e) {
    // A short write (ENOSPC) or a failed fsync must not leave a half temp file behind.
    await fs.unlink(temp).catch(() => {})
    throw e
  }
  return temp
}

/**
 * Atomically replace `path` with `data`: write a temp file, fsync it, rename over the target, fsync
 * the directory. A crash at any point leaves either the old or the new content, never a mix; a failed
 * step before the rename leaves the old content and no temp file.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, { mode = 0o600, beforeCommit, fs = defaultFs }: { mode?: number } & WriteSteps = {}): Promise<void> {
  const temp = await writeTemp(fs, path, data, mode)
  try {
    await beforeCommit?.(temp)
    await fs.rename(temp, path)
  } catch (e) {
    await fs.unlink(temp).catch(() => {})
    throw e
  }
  await fsyncDir(fs, dirname(path))
}

/**
 * Atomically create `path` only if it does not exist (hard link of a fully written temp file).
 * @returns false when `path` already exists.
 */
export async function createFileAtomic(path: string, data: string | Uint8Array, { mode = 0o600, beforeCommit, fs = defaultFs }: { mode?: number } & WriteSteps = {}): Promise<boolean> {
  const temp = await writeTemp(fs, path, data, mode)
  try {
    await beforeCommit?.(temp)
    await fs.link(temp, path)
    return true
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw e
  } finally {
    await fs.unlink(temp).catch(() => {})
    await fsyncDir(fs, dirname(path)).catch(() => {})
  }
}


/**
 * A failed write of the data directory as the caller should see it: an `UnavailableError` naming the cause and
 * its errno code (`cannot store the key record: no space left on device (ENOSPC)`) — no path, no stack, no
 * data; the fs error stays as `cause` for the logs. Anything that is not an fs error (no errno `code`) is
 * returned unchanged.
 *
 * @param e - what the write threw
 * @param what - what was being written, for the message ("the key record")
 */
export function storageWriteError(e: unknown, what: string): unknown {
  const fs = fileSystemCause(e)
  if (!fs) return e
  return new UnavailableError({ reason: `cannot store ${what}: ${fs.cause} (${fs.code})`, cause: e })
}
