/**
 * The file key store keeps the text of recently read records in memory, checked against the file's identity on
 * every read: whatever happens to a record file behind the store (removed, replaced by another file, rewritten in
 * place) is what the next read sees, and every caller gets its own parsed copy.
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { createFileKeyStore } from '../src/keys/fileKeyStore.js'
import type { SealedKeyRecord } from '../src/keys/types.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'file-key-store-cache-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

const record = (keyId: string, address: string) => ({ version: 1, keyId, address, ciphertext: 'AA==', encryptionContext: {}, createdAt: '2026-12-07T00:00:00.000Z' }) as unknown as SealedKeyRecord

it('serves what is on disk now: removed, replaced and rewritten records are read anew', async () => {
  const store = await createFileKeyStore(dir)
  const path = join(dir, 'k1.json')
  await store.put(record('k1', '0x1111111111111111111111111111111111111111'))
  expect((await store.get('k1'))?.address).toBe('0x1111111111111111111111111111111111111111')
  expect((await store.get('k1'))?.address).toBe('0x1111111111111111111111111111111111111111')

  // Rewritten in place, same size: another modification time.
  const text = await readFile(path, 'utf8')
  await new Promise((r) => setTimeout(r, 5))
  await writeFile(path, text.replace('0x1111111111111111111111111111111111111111', '0x2222222222222222222222222222222222222222'))
  expect((await store.get('k1'))?.address).toBe('0x2222222222222222222222222222222222222222')

  // Replaced by another file (another inode), as an atomic writer would.
  await writeFile(`${path}.new`, text.replace('0x1111111111111111111111111111111111111111', '0x3333333333333333333333333333333333333333'))
  await rename(`${path}.new`, path)
  expect((await store.get('k1'))?.address).toBe('0x3333333333333333333333333333333333333333')

  await unlink(path)
  expect(await store.get('k1')).toBeUndefined()
  expect(await store.list()).toEqual([])
})

it('sees a record rewritten in place whose modification time was set back (its change time moves)', async () => {
  const store = await createFileKeyStore(dir)
  const path = join(dir, 'k3.json')
  await store.put(record('k3', '0x1111111111111111111111111111111111111111'))
  expect((await store.get('k3'))?.address).toBe('0x1111111111111111111111111111111111111111')
  const before = await stat(path, { bigint: true })
  const text = await readFile(path, 'utf8')
  // touch keeps nanoseconds (utimes from JavaScript rounds them): the reference holds the record's mtime.
  execFileSync('touch', ['-m', '-r', path, `${path}.ref`])
  await new Promise((r) => setTimeout(r, 5))
  await writeFile(path, text.replace('0x1111111111111111111111111111111111111111', '0x4444444444444444444444444444444444444444'))
  // Same inode, same size, the old modification time to the nanosecond: only the change time tells.
  execFileSync('touch', ['-m', '-r', `${path}.ref`, path])
  const after = await stat(path, { bigint: true })
  expect([after.ino, after.size, after.mtimeNs]).toEqual([before.ino, before.size, before.mtimeNs])
  expect((await store.get('k3'))?.address).toBe('0x4444444444444444444444444444444444444444')
})

it('gives every reader its own copy', async () => {
  const store = await createFileKeyStore(dir)
  await store.put(record('k2', '0x1111111111111111111111111111111111111111'))
  const first = (await store.get('k2'))!
  ;(first as { address: string }).address = 'changed by a reader'
  expect((await store.get('k2'))?.address).toBe('0x1111111111111111111111111111111111111111')
  expect(await store.get('k2')).not.toBe(await store.get('k2'))
})
