import { readdir, unlink } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * Remove the temporary files that `writeFileAtomic` (`@enclave-custody/sdk/server`) leaves beside `<name>` when
 * the process dies between writing and renaming (`kill -9`, power loss): `.<name>.<uuid>.tmp`. Only call it while
 * holding the data directory's lock (no live writer). The state files themselves and every other file are left
 * alone.
 *
 * @param dir - the data directory
 * @param names - the state files whose temporary files to remove (e.g. `kms.json`)
 * @returns the names of the removed files
 * @throws the underlying fs error, except a file that vanished meanwhile
 */
export async function removeStaleTempFiles(dir: string, names: readonly string[]): Promise<string[]> {
  const patterns = names.map((name) => new RegExp(`^\\.${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\\.tmp$`))
  const removed: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isFile() || !patterns.some((p) => p.test(entry.name))) continue
    try {
      await unlink(join(dir, entry.name))
      removed.push(entry.name)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
    }
  }
  return removed
}
