import { mkdir, open, readFile, unlink } from 'node:fs/promises'
import { join } from 'node:path'

const LOCK_FILE = 'local-aws.lock'

/**
 * Create `dir` (mode 0700) and take its lock file, so two servers never write the same state. A lock left by
 * a process that no longer runs is taken over.
 *
 * @param dir - the data directory
 * @returns a function that releases the lock
 * @throws Error when another live process (or another server in this process) holds the lock
 */
export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const path = join(dir, LOCK_FILE)
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const file = await open(path, 'wx', 0o600)
      try {
        await file.writeFile(`${process.pid}\n`)
        await file.sync()
      } finally {
        await file.close()
      }
      return async () => {
        await unlink(path).catch(() => undefined)
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    }
    const holder = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10)
    if (Number.isSafeInteger(holder) && holder > 0 && isAlive(holder)) {
      throw new Error(`local-aws: data directory ${dir} is in use by process ${holder} (remove ${path} if that is wrong)`)
    }
    await unlink(path).catch(() => undefined)
  }
  throw new Error(`local-aws: could not lock data directory ${dir}`)
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}
