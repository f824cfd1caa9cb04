/**
 * scripts/release-dry-run.ts against small fixture workspaces (no build): a good release passes with the
 * versions the changesets ask for and the source untouched; a package whose `exports` names a missing file, a
 * package left out of its CHANGELOG's tarball and a changeset naming an unknown package each fail with exit
 * 1 and one line naming the package. The real workspace's dry run is test/pack.slow.test.ts's first step (its
 * tarballs are the ones installed there).
 */
import { copyFileSync, existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCommand as run } from '../scripts/runCommand.js'
import { repoRoot } from './vectors.js'

const script = join(repoRoot, 'scripts', 'release-dry-run.ts')
const dryRun = (args: string[]) => run(join(repoRoot, 'node_modules', '.bin', 'tsx'), [script, ...args], { cwd: repoRoot, timeout: 300_000 })

type Files = Record<string, string>

/** A public CommonJS package with types, its CHANGELOG at `version`, packing `files`. */
function publicPackage(name: string, version: string, extra: { exports?: unknown; dependencies?: Record<string, string>; files?: string[] } = {}): Files {
  const manifest = {
    name,
    version,
    description: `fixture ${name}`,
    license: 'Apache-2.0',
    engines: { node: '>=20.19' },
    type: 'commonjs',
    exports: extra.exports ?? { '.': { types: './dist/index.d.ts', default: './dist/index.js' } },
    main: './dist/index.js',
    types: './dist/index.d.ts',
    files: extra.files ?? ['dist', 'LICENSE', 'CHANGELOG.md'],
    ...(extra.dependencies === undefined ? {} : { dependencies: extra.dependencies }),
  }
  return {
    'package.json': `${JSON.stringify(manifest, null, 2)}\n`,
    'dist/index.js': 'exports.answer = 42\n',
    'dist/index.d.ts': 'export declare const answer: number\n',
    'CHANGELOG.md': `# ${name}\n\n## ${version}\n\n- First version.\n`,
    LICENSE: 'Apache License 2.0 (fixture)\n',
  }
}

/** A fixture workspace: packages/<dir> for each entry, the repository's changelog generator, one changeset. */
async function fixture(root: string, packages: Record<string, Files>, changeset: string): Promise<void> {
  const files: Files = {
    'package.json': `${JSON.stringify({ name: 'fixture-root', private: true, type: 'module' }, null, 2)}\n`,
    'pnpm-workspace.yaml': 'packages:\n  - packages/*\n',
    '.changeset/config.json': `${JSON.stringify({ baseBranch: 'main', access: 'public', changelog: './changelog.cjs', commit: false, fixed: [], linked: [], privatePackages: { version: false, tag: false }, updateInternalDependencies: 'patch' }, null, 2)}\n`,
    '.changeset/fixture-change.md': changeset,
  }
  for (const [dir, pkg] of Object.entries(packages)) for (const [file, text] of Object.entries(pkg)) files[`packages/${dir}/${file}`] = text
  for (const [file, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, file)), { recursive: true })
    await writeFile(join(root, file), text)
  }
  copyFileSync(join(repoRoot, '.changeset', 'changelog.cjs'), join(root, '.changeset', 'changelog.cjs'))
}

const CHANGE = '---\n"@fixture/good": minor\n---\n\n`answer()` is now 43 for everyone.\n'
const APP = { 'package.json': `${JSON.stringify({ name: '@fixture/app', version: '0.0.0', private: true, dependencies: { '@fixture/good': 'workspace:*' } }, null, 2)}\n` }

describe('release dry run on fixture workspaces', () => {
  let work: string
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'custody-release-fixture-'))
  })
  afterAll(async () => {
    if (work !== undefined) await rm(work, { recursive: true, force: true })
  })

  it('a good release: exit 0, versions as the changeset says, dependents patched, tarballs pinned, CHANGELOG inside, source untouched', async () => {
    const root = join(work, 'good')
    const out = join(work, 'good-out')
    const user = publicPackage('@fixture/user', '2.3.4', { dependencies: { '@fixture/good': 'workspace:*' } })
    const loose = publicPackage('@fixture/loose', '0.5.0', { dependencies: { '@fixture/good': 'workspace:^' } })
    await fixture(root, { good: publicPackage('@fixture/good', '1.0.0'), user, loose, app: APP }, CHANGE)
    const r = await dryRun(['--root', root, '--no-build', '--out', out])
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0)
    expect(r.stdout).toContain(`tarballs in ${out}`)

    const report = JSON.parse(await readFile(join(out, 'dry-run.json'), 'utf8')) as { packages: { name: string; oldVersion: string; newVersion: string; bump: string; tarball: string }[] }
    expect(report.packages.map((p) => [p.name, p.oldVersion, p.newVersion, p.bump])).toEqual([
      ['@fixture/good', '1.0.0', '1.1.0', 'minor'],
      ['@fixture/loose', '0.5.0', '0.5.0', 'none'],
      ['@fixture/user', '2.3.4', '2.3.5', 'patch'],
    ])
    const packed = async (tarball: string, file: string) => (await run('tar', ['-xzOf', join(out, tarball), `package/${file}`], { timeout: 60_000 })).stdout
    // workspace:* is pinned to the new version and releases the dependent; ^1.0.0 takes 1.1.0 without a release.
    for (const [tarball, range] of [
      ['fixture-user-2.3.5.tgz', '1.1.0'],
      ['fixture-loose-0.5.0.tgz', '^1.1.0'],
    ] as const) {
      const manifest = await packed(tarball, 'package.json')
      expect(manifest, tarball).not.toContain('workspace:')
      expect(JSON.parse(manifest).dependencies, tarball).toEqual({ '@fixture/good': range })
    }
    const changelog = await packed('fixture-good-1.1.0.tgz', 'CHANGELOG.md')
    expect(changelog).toBe('# @fixture/good\n\n## 1.1.0\n\n### Minor Changes\n\n- `answer()` is now 43 for everyone.\n\n## 1.0.0\n\n- First version.\n')
    expect(await packed('fixture-user-2.3.5.tgz', 'CHANGELOG.md')).toContain('## 2.3.5\n\n### Patch Changes\n\n- Depends on `@fixture/good@1.1.0`.\n')

    // The source workspace is as it was: the changeset pending, versions and CHANGELOGs unchanged.
    expect(existsSync(join(root, '.changeset', 'fixture-change.md'))).toBe(true)
    expect(JSON.parse(readFileSync(join(root, 'packages', 'good', 'package.json'), 'utf8')).version).toBe('1.0.0')
    expect(readFileSync(join(root, 'packages', 'good', 'CHANGELOG.md'), 'utf8')).toBe('# @fixture/good\n\n## 1.0.0\n\n- First version.\n')
    expect(existsSync(join(root, 'packages', 'user', 'node_modules'))).toBe(false)
  })

  it('a package whose exports name a missing file: exit 1 naming the package and publint', async () => {
    const root = join(work, 'broken')
    const broken = publicPackage('@fixture/broken', '0.4.0', { exports: { '.': { types: './dist/index.d.ts', default: './dist/missing.js' } }, dependencies: { '@fixture/good': 'workspace:*' } })
    await fixture(root, { good: publicPackage('@fixture/good', '1.0.0'), broken }, CHANGE)
    const r = await dryRun(['--root', root, '--no-build', '--out', join(work, 'broken-out')])
    expect(r.code, r.stdout).toBe(1)
    expect(r.stderr).toMatch(/^release dry run failed: @fixture\/broken: publint: .*missing\.js/m)
  })

  it('a package whose files leave CHANGELOG.md out: exit 1 naming the package', async () => {
    const root = join(work, 'no-changelog')
    await fixture(root, { good: publicPackage('@fixture/good', '1.0.0', { files: ['dist', 'LICENSE'] }) }, CHANGE)
    const r = await dryRun(['--root', root, '--no-build', '--out', join(work, 'no-changelog-out')])
    expect(r.code, r.stdout).toBe(1)
    expect(r.stderr).toContain('release dry run failed: @fixture/good: CHANGELOG.md is not in the tarball (add it to "files" in package.json)')
  })

  it('a changeset naming a package the workspace does not have: exit 1 naming it, before anything is packed', async () => {
    const root = join(work, 'unknown')
    await fixture(root, { good: publicPackage('@fixture/good', '1.0.0') }, '---\n"@fixture/gone": patch\n---\n\nA fix.\n')
    const r = await dryRun(['--root', root, '--no-build', '--out', join(work, 'unknown-out')])
    expect(r.code, r.stdout).toBe(1)
    expect(r.stderr).toContain('release dry run failed: @fixture/gone: named in .changeset/fixture-change.md but not a package of this workspace')
    expect(existsSync(join(work, 'unknown-out'))).toBe(false)
  })

  it('--help exits 0; an unknown flag or an empty --out exits 2 naming it', async () => {
    const help = await dryRun(['--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('--no-build')
    const unknown = await dryRun(['--publish'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("'--publish'")
    const empty = await dryRun(['--out', ' '])
    expect(empty.code).toBe(2)
    expect(empty.stderr).toContain('--out needs a directory')
  })
})
