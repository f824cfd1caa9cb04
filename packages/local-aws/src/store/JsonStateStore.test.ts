import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { JsonStateStore } from './JsonStateStore.js'
import { lockDataDir } from './lockDataDir.js'

type State = { version: 1; items: string[] }
const initial = (): State => ({ version: 1, items: [] })
const validate = (value: unknown): State => {
  if (typeof value !== 'object' || value === null || (value as State).version !== 1) throw new Error('bad state')
  return value as State
}

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'local-aws-store-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('JsonStateStore', () => {
  it('persists committed mutations (mode 0600) and reloads them', async () => {
    const file = join(dir, 'state.json')
    const store = await JsonStateStore.open({ file, initial, validate })
    expect(await store.update((d) => d.items.push('a'))).toBe(1)
    await store.update((d) => d.items.push('b'))
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ version: 1, items: ['a', 'b'] })
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    const reopened = await JsonStateStore.open({ file, initial, validate })
    expect(reopened.state.items).toEqual(['a', 'b'])
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([])
  })

  it('leaves state and file untouched when a mutation throws', async () => {
    const file = join(dir, 'state.json')
    const store = await JsonStateStore.open({ file, initial, validate })
    await store.update((d) => d.items.push('kept'))
    await expect(
      store.update((d) => {
        d.items.push('lost')
        throw new Error('abort')
      }),
    ).rejects.toThrow('abort')
    expect(store.state.items).toEqual(['kept'])
    expect(JSON.parse(await readFile(file, 'utf8')).items).toEqual(['kept'])
    await store.update((d) => d.items.push('next'))
    expect(store.state.items).toEqual(['kept', 'next'])
  })

  it('serialises concurrent mutations: each sees the previous one', async () => {
    const store = await JsonStateStore.open({ file: join(dir, 'state.json'), initial, validate })
    const lengths = await Promise.all(Array.from({ length: 40 }, (_, i) => store.update((d) => d.items.push(String(i)))))
    expect(lengths).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
    expect(store.state.items).toEqual(Array.from({ length: 40 }, (_, i) => String(i)))
  })

  it('does not expose uncommitted drafts to readers', async () => {
    const store = await JsonStateStore.open({ file: join(dir, 'state.json'), initial, validate })
    const pending = store.update((d) => {
      d.items.push('x')
    })
    expect(store.state.items).toEqual([])
    await pending
    expect(store.state.items).toEqual(['x'])
  })

  it('keeps state in memory without a file', async () => {
    const store = await JsonStateStore.open({ file: undefined, initial, validate })
    await store.update((d) => d.items.push('m'))
    expect(store.state.items).toEqual(['m'])
    expect(await readdir(dir)).toEqual([])
  })

  it('fails fast on a corrupt or invalid file', async () => {
    const file = join(dir, 'state.json')
    await writeFile(file, '{"version":')
    await expect(JsonStateStore.open({ file, initial, validate })).rejects.toThrow(/not valid JSON/)
    await writeFile(file, '{"version":2}')
    await expect(JsonStateStore.open({ file, initial, validate })).rejects.toThrow('bad state')
  })
})

describe('lockDataDir', () => {
  it('creates the directory, refuses a second holder, and can be taken again after release', async () => {
    const data = join(dir, 'nested', 'data')
    const release = await lockDataDir(data)
    expect((await stat(data)).mode & 0o777).toBe(0o700)
    await expect(lockDataDir(data)).rejects.toThrow(/in use by process/)
    await release()
    const again = await lockDataDir(data)
    await again()
  })

  it('takes over a lock left by a process that is gone', async () => {
    await writeFile(join(dir, 'local-aws.lock'), '2147483646\n')
    const release = await lockDataDir(dir)
    expect((await readFile(join(dir, 'local-aws.lock'), 'utf8')).trim()).toBe(String(process.pid))
    await release()
  })
})
