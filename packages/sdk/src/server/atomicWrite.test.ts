import * as nodeFs from 'node:fs/promises'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { type AtomicWriteFs, createFileAtomic, writeFileAtomic } from './atomicWrite.js'

const dirs: string[] = []
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'atomic-write-'))
  dirs.push(d)
  return d
}

/** node:fs/promises, recording each call with the temp file's random part replaced by `<tmp>`. */
function recordingFs(dir: string): { fs: AtomicWriteFs; calls: string[] } {
  const calls: string[] = []
  const name = (p: string) => p.replace(dir, '<dir>').replace(/\.[0-9a-f-]{36}\.tmp$/, '.<uuid>.tmp')
  const fs: AtomicWriteFs = {
    async open(path, flags, mode) {
      calls.push(`open ${name(path)} ${flags}${mode === undefined ? '' : ` ${mode.toString(8)}`}`)
      const handle = await nodeFs.open(path, flags, mode)
      return {
        writeFile: async (data) => {
          calls.push(`write ${name(path)}`)
          await handle.writeFile(data)
        },
        sync: async () => {
          calls.push(`fsync ${name(path)}`)
          await handle.sync()
        },
        close: async () => {
          calls.push(`close ${name(path)}`)
          await handle.close()
        },
      }
    },
    rename: async (from, to) => {
      calls.push(`rename ${name(from)} ${name(to)}`)
      await nodeFs.rename(from, to)
    },
    link: async (existing, path) => {
      calls.push(`link ${name(existing)} ${name(path)}`)
      await nodeFs.link(existing, path)
    },
    unlink: async (path) => {
      calls.push(`unlink ${name(path)}`)
      await nodeFs.unlink(path)
    },
    mkdir: async (path, options) => {
      calls.push(`mkdir ${name(path)} ${options.mode.toString(8)}`)
      return nodeFs.mkdir(path, options)
    },
  }
  return { fs, calls }
}

describe('writeFileAtomic', () => {
  it('creates the directory, writes an exclusive 0600 temp file beside the target, fsyncs it, renames it, fsyncs the directory', async () => {
    const dir = await tempDir()
    const { fs, calls } = recordingFs(dir)
    const path = join(dir, 'sub', 'state.json')
    await writeFileAtomic(path, 'v1\n', { fs })
    expect(calls).toEqual([
      'mkdir <dir>/sub 700',
      'open <dir>/sub/.state.json.<uuid>.tmp wx 600',
      'write <dir>/sub/.state.json.<uuid>.tmp',
      'fsync <dir>/sub/.state.json.<uuid>.tmp',
      'close <dir>/sub/.state.json.<uuid>.tmp',
      'rename <dir>/sub/.state.json.<uuid>.tmp <dir>/sub/state.json',
      'open <dir>/sub r',
      'fsync <dir>/sub',
      'close <dir>/sub',
    ])
    expect(await readFile(path, 'utf8')).toBe('v1\n')
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect((await stat(join(dir, 'sub'))).mode & 0o777).toBe(0o700)
  })

  it('replaces an existing file with the given mode and leaves no temp file', async () => {
    const dir = await tempDir()
    const path = join(dir, 'cert.pem')
    await writeFile(path, 'old')
    await writeFileAtomic(path, 'new', { mode: 0o644 })
    expect(await readFile(path, 'utf8')).toBe('new')
    expect((await stat(path)).mode & 0o777).toBe(0o644)
    expect(await readdir(dir)).toEqual(['cert.pem'])
  })

  it('a failing step before the rename throws the fs error unchanged, keeps the old content and removes the temp file', async () => {
    const dir = await tempDir()
    const path = join(dir, 'state.json')
    await writeFile(path, 'old')
    const enospc = Object.assign(new Error('ENOSPC: no space left on device, rename'), { code: 'ENOSPC' })
    const fs: AtomicWriteFs = { ...nodeFs, rename: () => Promise.reject(enospc) }
    await expect(writeFileAtomic(path, 'new', { fs })).rejects.toBe(enospc)
    expect(await readFile(path, 'utf8')).toBe('old')
    expect(await readdir(dir)).toEqual(['state.json'])
  })

  it('runs beforeCommit with the written temp file before the target changes', async () => {
    const dir = await tempDir()
    const path = join(dir, 'state.json')
    await writeFile(path, 'old')
    const seen: string[] = []
    await writeFileAtomic(path, 'new', {
      beforeCommit: async (temp) => {
        seen.push(await readFile(temp, 'utf8'), await readFile(path, 'utf8'))
      },
    })
    expect(seen).toEqual(['new', 'old'])
  })
})

describe('createFileAtomic', () => {
  it('links a fully written temp file into place, removes the temp file, fsyncs the directory', async () => {
    const dir = await tempDir()
    const { fs, calls } = recordingFs(dir)
    const path = join(dir, 'k1.json')
    expect(await createFileAtomic(path, 'record', { fs })).toBe(true)
    expect(calls).toEqual([
      `mkdir <dir> 700`,
      'open <dir>/.k1.json.<uuid>.tmp wx 600',
      'write <dir>/.k1.json.<uuid>.tmp',
      'fsync <dir>/.k1.json.<uuid>.tmp',
      'close <dir>/.k1.json.<uuid>.tmp',
      'link <dir>/.k1.json.<uuid>.tmp <dir>/k1.json',
      'unlink <dir>/.k1.json.<uuid>.tmp',
      'open <dir> r',
      'fsync <dir>',
      'close <dir>',
    ])
    expect(await readFile(path, 'utf8')).toBe('record')
    expect((await stat(path)).mode & 0o777).toBe(0o600)
  })

  it('returns false and leaves an existing file unchanged, with no temp file', async () => {
    const dir = await tempDir()
    const path = join(dir, 'k1.json')
    await writeFile(path, 'first')
    expect(await createFileAtomic(path, 'second')).toBe(false)
    expect(await readFile(path, 'utf8')).toBe('first')
    expect(await readdir(dir)).toEqual(['k1.json'])
  })
})
