import { randomUUID } from 'node:crypto'
import * as nodeFs from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/** The open file of an atomic write: the few methods it calls. */
export type AtomicWriteHandle = {
  writeFile(data: string | Uint8Array): Promise<void>
  sync(): Promise<void>
  close(): Promise<void>
}

/**
 * The file-system calls of an atomic write (`node:fs/promises` by default). Injectable so that tests can make a
 * step fail as a full (ENOSPC) or read-only (EROFS) file system would: tests run as root, so permissions cannot
 * simulate either.
 */
export type AtomicWriteFs = {
  open(path: string, flags: string, mode?: number): Promise<AtomicWriteHandle>
  rename(from: string, to: string): Promise<void>
  link(existing: string, path: string): Promise<void>
  unlink(path: string): Promise<void>
  mkdir(path: string, options: { recursive: true; mode: number }): Promise<unknown>
}

/** File-system steps of an atomic write, injectable so that tests can crash a write half-way or fail one of its calls. */
export type WriteSteps = {
  /** Called after the temp file is written and fsynced, before it becomes visible. */
  beforeCommit?: (tempPath: string) => Promise<void> | void
  /** The file-system calls. @default node:fs/promises */
  fs?: AtomicWriteFs
}

/** Options of {@link writeFileAtomic} and {@link createFileAtomic}. */
export type AtomicWriteOptions = WriteSteps & {
  /** Permissions of the new file. @default 0o600 */
  mode?: number
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

/** Create the parent directory (0700), then write and fsync `.<name>.<uuid>.tmp` beside `path` (exclusive create). */
async function writeTemp(fs: AtomicWriteFs, path: string, data: string | Uint8Array, mode: number): Promise<string> {
  const dir = dirname(path)
  await fs.mkdir(dir, { recursive: true, mode: 0o700 })
  const temp = join(dir, `.${basename(path)}.${randomUUID()}.tmp`)
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
 * Atomically replace `path` with `data`: create the directory if needed (0700), write a temp file beside `path`
 * (exclusive create, `mode`), fsync it, rename it over `path`, fsync the directory. A crash at any point leaves
 * either the old or the new content, never a mix; a failed step before the rename leaves the old content and no
 * temp file. The temp file is `.<name>.<uuid>.tmp`, for the caller to clean up after a crash.
 *
 * @param path - the file to replace
 * @param data - the new content
 * @param options - `mode` and the injectable steps
 * @throws the underlying fs error unchanged (map it with {@link fileSystemCause}); the temp file is removed
 * @example
 * import { writeFileAtomic } from '@enclave-custody/sdk/server'
 * await writeFileAtomic('/var/lib/app/state.json', '{}\n', { mode: 0o600 })
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const { mode = 0o600, beforeCommit, fs = defaultFs } = options
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
 * Atomically create `path` only if it does not exist: a fully written and fsynced temp file is hard-linked into
 * place, then removed, and the directory fsynced.
 *
 * @param path - the file to create
 * @param data - its content
 * @param options - `mode` and the injectable steps
 * @returns false when `path` already exists (it is left unchanged)
 * @throws the underlying fs error unchanged (map it with {@link fileSystemCause}); the temp file is removed
 * @example
 * import { createFileAtomic } from '@enclave-custody/sdk/server'
 * const created = await createFileAtomic('/var/lib/app/keys/k1.json', record)
 */
export async function createFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<boolean> {
  const { mode = 0o600, beforeCommit, fs = defaultFs } = options
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
