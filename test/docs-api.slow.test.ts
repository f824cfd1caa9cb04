/**
 * The API reference (`pnpm run docs`: TypeDoc over typedoc.json into docs/api/, git-ignored) builds without a single
 * warning — a `{@link}` to nothing or to a symbol the entry points do not export fails it (validation, with
 * warnings treated as errors) — and documents every public entry point of every published package. About 40 s, so
 * it runs with the slow suite. (`pnpm docs` alone is pnpm's own `docs <package>` command: run the script.)
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { repoRoot } from './vectors.js'

type Manifest = { name: string; private?: boolean; exports?: Record<string, unknown> }

/** `@enclave-custody/sdk`, `@enclave-custody/sdk/viem`, …: every export of every package that is not private. */
function publicEntryPoints(): string[] {
  return readdirSync(join(repoRoot, 'packages')).flatMap((dir) => {
    const file = join(repoRoot, 'packages', dir, 'package.json')
    if (!existsSync(file)) return []
    const manifest = JSON.parse(readFileSync(file, 'utf8')) as Manifest
    if (manifest.private) return []
    return Object.keys(manifest.exports ?? {})
      .filter((key) => key !== './package.json')
      .map((key) => (key === '.' ? manifest.name : `${manifest.name}/${key.slice(2)}`))
  })
}

describe('API reference (TypeDoc)', () => {
  const out = mkdtempSync(join(tmpdir(), 'custody-api-'))
  afterAll(() => rmSync(out, { recursive: true, force: true }))

  it('typedoc.json fails on broken or unexported links and writes to the git-ignored docs/api', () => {
    const config = JSON.parse(readFileSync(join(repoRoot, 'typedoc.json'), 'utf8'))
    expect(config).toMatchObject({ out: 'docs/api', treatWarningsAsErrors: true, validation: { invalidLink: true, notExported: true } })
    expect(readFileSync(join(repoRoot, '.gitignore'), 'utf8').split('\n')).toContain('docs/api/')
    expect(readFileSync(join(repoRoot, 'package.json'), 'utf8')).toContain('"docs": "typedoc"')
  })

  it('builds without warnings and has a page for every public entry point', () => {
    const typedoc = spawnSync(join(repoRoot, 'node_modules', '.bin', 'typedoc'), ['--out', out], { cwd: repoRoot, encoding: 'utf8', timeout: 300_000 })
    const output = `${typedoc.stdout}${typedoc.stderr}`
    expect(typedoc.status, output).toBe(0)
    expect(output).not.toMatch(/\[(warning|error)\]/)
    const pages = readdirSync(join(out, 'modules'))
    const entries = publicEntryPoints()
    expect(entries).toContain('@enclave-custody/sdk/viem')
    // TypeDoc names a module's page after its @module tag: `@enclave-custody/sdk/viem` → `_enclave-custody_sdk_viem.html`.
    for (const entry of entries) expect(pages, entry).toContain(`${entry.replace(/[@/]/g, '_')}.html`)
    expect(pages.length).toBe(entries.length)
  })
})
