import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type SignedSigningPolicy, isCustodyError } from '@enclave-custody/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFilePolicyStore, MAX_POLICY_FILE_BYTES } from './filePolicyStore.js'

let root: string
let n = 0
const freshDir = () => join(root, `store-${++n}`)
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'custody-file-policy-store-'))
})
afterAll(async () => {
  await rm(root, { recursive: true, force: true })
})

/** A document's shape (the store does not verify it: the handler does). */
const signed = (keyId: string, version: number): SignedSigningPolicy => ({
  document: { keyId, keyPublicKey: `0x04${'ab'.repeat(64)}`, version, rules: [], signers: [] },
  approvals: [{ publicKey: `0x02${'cd'.repeat(32)}`, scheme: 'p256-ecdsa-sha256', signature: `0x${'ef'.repeat(64)}` }],
}) as SignedSigningPolicy

/** The error `fn` throws (fails when it does not throw). */
async function thrown(fn: () => Promise<unknown>): Promise<{ code?: string; message: string; details?: Record<string, unknown> }> {
  try {
    await fn()
  } catch (e) {
    return e as { code?: string; message: string }
  }
  throw new Error('did not throw')
}

describe('createFilePolicyStore', () => {
  it('reads undefined for a key without a file, even before the directory exists', async () => {
    const store = createFilePolicyStore({ dir: freshDir() })
    expect(store.kind).toBe('file')
    expect(await store.read('treasury')).toBeUndefined()
  })

  it('writes <dir>/<keyId>.json (mode 0600, directory 0700) and reads back the same JSON', async () => {
    const dir = freshDir()
    const store = createFilePolicyStore({ dir })
    await store.write('treasury', signed('treasury', 1))
    expect(store.pathOf('treasury')).toBe(join(dir, 'treasury.json'))
    expect(JSON.parse(await readFile(join(dir, 'treasury.json'), 'utf8'))).toEqual(signed('treasury', 1))
    expect((await stat(join(dir, 'treasury.json'))).mode & 0o777).toBe(0o600)
    expect((await stat(dir)).mode & 0o777).toBe(0o700)
    expect(await store.read('treasury')).toEqual(signed('treasury', 1))
    // Another store over the same directory (a restart) reads the same.
    expect(await createFilePolicyStore({ dir }).read('treasury')).toEqual(signed('treasury', 1))
  })

  it('replaces a document: the newer one is read, no temp file stays behind', async () => {
    const dir = freshDir()
    const store = createFilePolicyStore({ dir })
    await store.write('hot-1', signed('hot-1', 1))
    await store.write('hot-1', signed('hot-1', 2))
    expect(((await store.read('hot-1')) as SignedSigningPolicy).document.version).toBe(2)
    expect(await readdir(dir)).toEqual(['hot-1.json'])
  })

  it('a write that crashes before its rename leaves the old document, and its temp file is swept by the next store', async () => {
    const dir = freshDir()
    await createFilePolicyStore({ dir }).write('k', signed('k', 1))
    const crashing = createFilePolicyStore({
      dir,
      steps: {
        beforeCommit: () => {
          throw new Error('power cut')
        },
      },
    })
    await expect(crashing.write('k', signed('k', 2))).rejects.toThrow('power cut')
    expect(((await crashing.read('k')) as SignedSigningPolicy).document.version).toBe(1)
    // A temp file left by a process that died mid-write (writeFileAtomic removes its own on a thrown error).
    await writeFile(join(dir, '.k.json.0011223344aa.tmp'), '{"half":')
    const next = createFilePolicyStore({ dir })
    await next.write('other', signed('other', 1))
    expect((await readdir(dir)).sort()).toEqual(['k.json', 'other.json'])
  })

  it('a file that is not JSON is an IntegrityError, never "no policy"', async () => {
    const dir = freshDir()
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'broken.json'), '{"document": ')
    const e = await thrown(() => createFilePolicyStore({ dir }).read('broken'))
    expect(isCustodyError(e, 'INTEGRITY_ERROR')).toBe(true)
    expect(e.message).toMatchInlineSnapshot(`"integrity check failed: the stored signing policy of "broken" is not JSON"`)
  })

  it('a file larger than MAX_POLICY_FILE_BYTES is an IntegrityError (not read into memory)', async () => {
    const dir = freshDir()
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'huge.json'), `"${'x'.repeat(MAX_POLICY_FILE_BYTES)}"`)
    const e = await thrown(() => createFilePolicyStore({ dir }).read('huge'))
    expect(isCustodyError(e, 'INTEGRITY_ERROR')).toBe(true)
  })

  it('a policy file that cannot be read fails closed: UNAVAILABLE', async () => {
    const dir = freshDir()
    await mkdir(join(dir, 'dir-in-the-way.json'), { recursive: true })
    const e = await thrown(() => createFilePolicyStore({ dir }).read('dir-in-the-way'))
    expect(isCustodyError(e, 'UNAVAILABLE')).toBe(true)
    expect(e.message).toMatchInlineSnapshot(`"unavailable: cannot read the stored signing policy of "dir-in-the-way" (EISDIR)"`)
    if (process.getuid?.() !== 0) {
      // Permissions do not stop root: only checked for another user.
      await writeFile(join(dir, 'locked.json'), JSON.stringify(signed('locked', 1)))
      await chmod(join(dir, 'locked.json'), 0o000)
      expect(isCustodyError(await thrown(() => createFilePolicyStore({ dir }).read('locked')), 'UNAVAILABLE')).toBe(true)
    }
  })

  it('checks every keyId against KEY_ID_PATTERN before it touches a path', async () => {
    const dir = freshDir()
    const store = createFilePolicyStore({ dir })
    for (const keyId of ['../escape', 'a/b', '', '.hidden', 'a'.repeat(65), 'ab'.repeat(16), 'x\0y', 'key.json/..', 42, undefined]) {
      const read = await thrown(() => store.read(keyId as string))
      expect([keyId, read.code, read.details?.field]).toEqual([keyId, 'INVALID_ARGUMENT', 'keyId'])
      const write = await thrown(() => store.write(keyId as string, signed(keyId as string, 1)))
      expect([keyId, write.code, write.details?.field]).toEqual([keyId, 'INVALID_ARGUMENT', 'keyId'])
    }
    expect(await readdir(root)).not.toContain('escape')
    await expect(readdir(dir)).rejects.toMatchObject({ code: 'ENOENT' }) // nothing was written
  })

  it('refuses to store a document under another keyId than its own', async () => {
    const dir = freshDir()
    const e = await thrown(() => createFilePolicyStore({ dir }).write('alice', signed('bob', 1)))
    expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'signed.document.keyId' } })
    expect(await createFilePolicyStore({ dir }).read('alice')).toBeUndefined()
  })

  it('refuses a directory that is not a path', () => {
    for (const dir of ['', undefined, 3]) expect(() => createFilePolicyStore({ dir: dir as string })).toThrow(/"dir" must be a non-empty path/)
  })
})
