import { readdir, readFile, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { InternalError, KEY_ID_PATTERN, KeyExistsError } from '@enclave-custody/sdk/protocol'
import { createFileAtomic, type WriteSteps } from '@enclave-custody/sdk/server'
import { storageWriteError } from './storageWriteError.js'
import type { KeyStore, SealedKeyRecord } from './types.js'

const SUFFIX = '.json'
/** Records whose text is kept in memory (about 1-2 kB each), most recently read first out last. */
const CACHED_RECORDS = 1_000
/** Largest record file kept in memory (a record is 1-2 kB; anything far larger is not one, and is read each time). */
const MAX_CACHED_RECORD_BYTES = 64 * 1024

/**
 * Sealed records as one JSON file per key under `<dir>`, created atomically (write temp, fsync,
 * link into place, fsync the directory). Records are immutable once written. Leftover temp files of
 * an interrupted write are removed when the store opens.
 */
export async function createFileKeyStore(dir: string, steps: WriteSteps = {}): Promise<Required<KeyStore>> {
  const entries = await readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [] as string[]
    throw e
  })
  await Promise.all(entries.filter((f) => f.startsWith('.') && f.endsWith('.tmp')).map((f) => unlink(join(dir, f)).catch(() => {})))

  const pathOf = (keyId: string) => {
    if (!KEY_ID_PATTERN.test(keyId)) throw new InternalError({ reason: 'invalid keyId reached the key store' })
    return join(dir, `${keyId}${SUFFIX}`)
  }

  /**
   * The text of recently read records, with the file's identity when it was read. A sign reads its key's record:
   * a `stat` that finds the same file (inode, size, modification and change times in nanoseconds; the change time
   * cannot be set back by `utimes`) serves the text from memory rather than opening and reading the file again; a
   * file replaced, rewritten or removed behind the store is read anew. Only record-sized files are kept.
   */
  const texts = new Map<string, { text: string; identity: string }>()

  async function readText(path: string): Promise<string> {
    const { ino, size, mtimeNs, ctimeNs } = await stat(path, { bigint: true })
    const identity = `${ino}:${size}:${mtimeNs}:${ctimeNs}`
    const known = texts.get(path)
    texts.delete(path)
    if (known?.identity === identity) {
      texts.set(path, known)
      return known.text
    }
    const text = await readFile(path, 'utf8')
    if (size <= BigInt(MAX_CACHED_RECORD_BYTES) && BigInt(Buffer.byteLength(text)) === size) {
      if (texts.size >= CACHED_RECORDS) texts.delete(texts.keys().next().value as string)
      texts.set(path, { text, identity })
    }
    return text
  }

  async function read(path: string): Promise<SealedKeyRecord | undefined> {
    try {
      // Parsed for each caller: nobody shares (or can change) another reader's record.
      return JSON.parse(await readText(path)) as SealedKeyRecord
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw new InternalError({ reason: 'unreadable key record', cause: e })
    }
  }

  return {
    async put(record) {
      let created: boolean
      try {
        created = await createFileAtomic(pathOf(record.keyId), `${JSON.stringify(record, null, 2)}\n`, steps)
      } catch (e) {
        // A full or read-only data directory: UNAVAILABLE naming the cause, nothing stored.
        throw storageWriteError(e, 'the key record')
      }
      if (!created) throw new KeyExistsError({ keyId: record.keyId })
    },
    get: (keyId) => read(pathOf(keyId)),
    async list() {
      const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith(SUFFIX) && !f.startsWith('.')).sort()
      const records = await Promise.all(files.map((f) => read(join(dir, f))))
      return records.filter((r): r is SealedKeyRecord => r !== undefined)
    },
  }
}

/** An in-memory key store (tests, ephemeral local enclaves). */
export function createMemoryKeyStore(): Required<KeyStore> {
  const records = new Map<string, SealedKeyRecord>()
  return {
    async put(record) {
      if (records.has(record.keyId)) throw new KeyExistsError({ keyId: record.keyId })
      records.set(record.keyId, structuredClone(record))
    },
    async get(keyId) {
      const r = records.get(keyId)
      return r && structuredClone(r)
    },
    async list() {
      return [...records.values()].sort((a, b) => a.keyId.localeCompare(b.keyId)).map((r) => structuredClone(r))
    },
  }
}
