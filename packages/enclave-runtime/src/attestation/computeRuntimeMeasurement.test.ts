import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { computeRuntimeMeasurement } from './computeRuntimeMeasurement.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'measure-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function tree(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true })
    await writeFile(join(root, path), content)
  }
}

describe('computeRuntimeMeasurement', () => {
  it('hashes code files in sorted order with a documented framing', async () => {
    await tree(dir, { 'b.ts': 'export const b = 2\n', 'a/z.js': 'z', 'a/b.json': '{}' })
    const result = await computeRuntimeMeasurement({ directory: dir })
    const expected = createHash('sha384').update('enclave-custody/runtime-measurement/v1\n')
    for (const [path, content] of [
      ['a/b.json', '{}'],
      ['a/z.js', 'z'],
      ['b.ts', 'export const b = 2\n'],
    ] as const) {
      const size = Buffer.alloc(8)
      size.writeBigUInt64BE(BigInt(Buffer.byteLength(content)))
      expected.update(path).update(Uint8Array.of(0)).update(size).update(content)
    }
    expect(result.hex).toBe(expected.digest('hex'))
    expect(result.digest).toHaveLength(48)
    expect(result.fileCount).toBe(3)
    expect(result.directory).toBe(resolve(dir))
  })

  it('changes with code, file names and added files; ignores tests, maps, declarations and dotfiles', async () => {
    await tree(dir, { 'index.ts': 'export {}\n', 'x/y.ts': 'const y = 1\n' })
    const base = (await computeRuntimeMeasurement({ directory: dir })).hex
    await tree(dir, { 'x/y.test.ts': 'test', 'x/y.js.map': '{}', 'x/y.d.ts': 'declare', '.cache/k.ts': 'k', 'README.md': '#' })
    expect((await computeRuntimeMeasurement({ directory: dir })).hex).toBe(base)

    await tree(dir, { 'x/y.ts': 'const y = 2\n' })
    const changed = (await computeRuntimeMeasurement({ directory: dir })).hex
    expect(changed).not.toBe(base)
    await tree(dir, { 'x/y.ts': 'const y = 1\n' })
    expect((await computeRuntimeMeasurement({ directory: dir })).hex).toBe(base)

    await tree(dir, { 'x/extra.ts': '' })
    expect((await computeRuntimeMeasurement({ directory: dir })).hex).not.toBe(base)
  })

  it('is independent of creation order and location', async () => {
    const other = await mkdtemp(join(tmpdir(), 'measure-other-'))
    try {
      await tree(dir, { 'a.ts': 'a', 'b.ts': 'b' })
      await tree(other, { 'b.ts': 'b', 'a.ts': 'a' })
      expect((await computeRuntimeMeasurement({ directory: other })).hex).toBe((await computeRuntimeMeasurement({ directory: dir })).hex)
    } finally {
      await rm(other, { recursive: true, force: true })
    }
  })

  it('measures the runtime package source by default', async () => {
    const result = await computeRuntimeMeasurement()
    expect(result.directory).toMatch(/packages[/\\]enclave-runtime[/\\]src$/)
    expect(result.fileCount).toBeGreaterThan(5)
    expect((await computeRuntimeMeasurement()).hex).toBe(result.hex)
  })

  it('fails on a directory without code', async () => {
    await expect(computeRuntimeMeasurement({ directory: dir })).rejects.toThrow(/no code files/)
  })
})
