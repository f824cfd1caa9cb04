import { open, readdir, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { IntegrityError, InvalidArgumentError, type SignedSigningPolicy, UnavailableError } from '@enclave-custody/sdk'
import { KEY_ID_PATTERN, KEY_ID_RULE } from '@enclave-custody/sdk/protocol'
import { type WriteSteps, writeFileAtomic } from '@enclave-custody/sdk/server'
import { storageWriteError } from '../../keys/storageWriteError.js'
import type { PolicyStore } from '../types.js'

/** Options of {@link createFilePolicyStore}. */
export type CreateFilePolicyStoreParameters = {
  /** The directory of the policy files, one `<keyId>.json` per key (created on the first write, mode 0700). */
  dir: string
  /** File-system steps of a write (a crash half-way, the fs calls), injectable for tests. @default none, node:fs/promises */
  steps?: WriteSteps
}

/** The file store: reads and writes (kind `file`). */
export type FilePolicyStore = PolicyStore & {
  readonly kind: 'file'
  write(keyId: string, signed: SignedSigningPolicy): Promise<void>
  /** The file a keyId's policy lives in (after checking the keyId). */
  pathOf(keyId: string): string
}

/** What {@link createFilePolicyStore} returns. */
export type CreateFilePolicyStoreReturnType = FilePolicyStore

/** Thrown by the store's methods. */
export type FilePolicyStoreErrorType = InvalidArgumentError | IntegrityError | UnavailableError

const SUFFIX = '.json'
/** A policy file larger than this is not one (a signed document is a few hundred KiB at most). */
export const MAX_POLICY_FILE_BYTES = 1024 * 1024

/**
 * A policy store of local files (development sealing): the signed policy of `keyId` is the JSON file
 * `<dir>/<keyId>.json`.
 *
 * - `read(keyId)` returns the parsed JSON (untrusted: the handler verifies it against the key's owners), or
 *   `undefined` when the file does not exist. A file that is not JSON, or larger than
 *   {@link MAX_POLICY_FILE_BYTES}, is an `IntegrityError`; any other failure to read (permissions, a directory
 *   in its place) an `UnavailableError` — never "no policy".
 * - `write(keyId, signed)` replaces the file atomically (temp file, fsync, rename, fsync of the directory:
 *   a crash leaves the old or the new document, never a mix), mode 0600. Leftover temp files of an
 *   interrupted write are removed before the first write.
 *
 * Every keyId is checked against `KEY_ID_PATTERN` before it becomes part of a path, so no keyId reaches
 * outside `dir`. Dev only: production reads policies from Secrets Manager (`createSecretsManagerPolicyStore`).
 *
 * @param parameters - The directory, and write steps for tests.
 * @returns The store.
 * @throws InvalidArgumentError when `dir` is not a non-empty string.
 * @example
 * import { createFilePolicyStore } from './filePolicyStore.js'
 * const store = createFilePolicyStore({ dir: join(dataDir, 'policies') })
 * await store.write('treasury', signed)
 * const stored = await store.read('treasury') // the JSON written, to be verified
 */
export function createFilePolicyStore({ dir, steps = {} }: CreateFilePolicyStoreParameters): CreateFilePolicyStoreReturnType {
  if (typeof dir !== 'string' || dir.length === 0) throw new InvalidArgumentError({ field: 'dir', rule: 'must be a non-empty path' })

  const pathOf = (keyId: string): string => {
    if (typeof keyId !== 'string' || !KEY_ID_PATTERN.test(keyId)) throw new InvalidArgumentError({ field: 'keyId', rule: KEY_ID_RULE })
    return join(dir, `${keyId}${SUFFIX}`)
  }

  // Temp files of a write that crashed before its rename: removed once, before the first write.
  let swept: Promise<void> | undefined
  const sweep = () => {
    swept ??= readdir(dir)
      .then((entries) => Promise.all(entries.filter((f) => f.startsWith('.') && f.endsWith('.tmp')).map((f) => unlink(join(dir, f)).catch(() => {}))))
      .then(
        () => {},
        () => {},
      )
    return swept
  }

  return {
    kind: 'file',
    pathOf,
    async read(keyId) {
      const path = pathOf(keyId)
      let text: string
      try {
        const handle = await open(path, 'r')
        try {
          const { size } = await handle.stat()
          if (size > MAX_POLICY_FILE_BYTES) {
            throw new IntegrityError({ reason: `the stored signing policy of "${keyId}" is larger than ${MAX_POLICY_FILE_BYTES} bytes`, details: { field: 'policy' } })
          }
          text = await handle.readFile('utf8')
        } finally {
          await handle.close()
        }
      } catch (e) {
        if (e instanceof IntegrityError) throw e
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
        // Fail closed: a policy file that exists but cannot be read is not "no policy".
        const code = (e as NodeJS.ErrnoException).code
        throw new UnavailableError({ reason: `cannot read the stored signing policy of "${keyId}"${typeof code === 'string' && /^E[A-Z]{1,16}$/.test(code) ? ` (${code})` : ''}` })
      }
      try {
        return JSON.parse(text) as unknown
      } catch {
        throw new IntegrityError({ reason: `the stored signing policy of "${keyId}" is not JSON`, details: { field: 'policy' } })
      }
    },
    async write(keyId, signed) {
      const path = pathOf(keyId)
      const documentKeyId = (signed as { document?: { keyId?: unknown } } | undefined)?.document?.keyId
      if (documentKeyId !== keyId) {
        throw new InvalidArgumentError({ field: 'signed.document.keyId', rule: 'must be the keyId the policy is stored under' })
      }
      await sweep()
      try {
        await writeFileAtomic(path, `${JSON.stringify(signed, null, 2)}\n`, { mode: 0o600, ...steps })
      } catch (e) {
        // A full or read-only data directory: UNAVAILABLE naming the cause; the previous document stays.
        throw storageWriteError(e, `the signing policy of "${keyId}"`)
      }
    },
  }
}
