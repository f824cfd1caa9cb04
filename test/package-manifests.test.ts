/**
 * What the published manifests promise a consumer, checked from the sources (fast; the packed and
 * installed packages are exercised by test/pack.slow.test.ts):
 *
 * - no export condition a consumer might enable (`source`, …) points at TypeScript sources; the workspace
 *   reaches them only through the private `@enclave-custody/source` condition;
 * - every runtime dependency is imported by published code, and every package published code imports is
 *   declared (a dependency or a peer);
 * - ethers and viem are optional peers of the SDK, and nothing its main entry imports reaches them;
 * - each subpath export resolves for tools that predate "exports" (node10 stub folders);
 * - an Apache-2.0 LICENSE at the root and in each published package.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { repoRoot } from './vectors.js'

type Manifest = {
  name: string
  private?: boolean
  license?: string
  exports?: Record<string, unknown>
  dependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
  optionalDependencies?: Record<string, string>
  peerDependenciesMeta?: Record<string, { optional?: boolean }>
  devDependencies?: Record<string, string>
  bin?: Record<string, string>
  files?: string[]
}

const PRIVATE_CONDITION = '@enclave-custody/source'
const read = (path: string) => readFileSync(path, 'utf8')
const manifestOf = (dir: string) => JSON.parse(read(join(dir, 'package.json'))) as Manifest

const packageDirs = readdirSync(join(repoRoot, 'packages')).map((n) => join(repoRoot, 'packages', n))
const published = packageDirs.filter((dir) => manifestOf(dir).private !== true)

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const path = join(dir, n)
    return statSync(path).isDirectory() ? walk(path) : [path]
  })
}

/** Source files that ship and run (not tests, not test helpers). */
const shippedSources = (dir: string) => walk(join(dir, 'src')).filter((f) => /\.ts$/.test(f) && !/\.test(?:-d)?\.ts$/.test(f))

/** Comments removed, so that TSDoc @example imports do not count as imports. */
const code = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '')

const IMPORT = /(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require(?:\.resolve)?\(\s*['"]([^'"]+)['"]\s*\)/g
const packageName = (specifier: string) => (specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!)

/** Bare packages imported by `file` (runtime imports only; `import type` is erased). */
function bareImports(file: string): { name: string; typeOnly: boolean }[] {
  return [...code(read(file)).matchAll(IMPORT)]
    .map((m) => ({ specifier: (m[2] ?? m[3] ?? m[4])!, typeOnly: m[1] !== undefined }))
    .filter(({ specifier }) => !specifier.startsWith('.') && !specifier.startsWith('node:'))
    .map(({ specifier, typeOnly }) => ({ name: packageName(specifier), typeOnly }))
}

/** Every file reachable from `entry` through relative imports (type-only ones too: they reach the .d.ts). */
function reachable(entry: string): string[] {
  const seen = new Set<string>()
  const stack = [entry]
  while (stack.length > 0) {
    const file = stack.pop()!
    if (seen.has(file)) continue
    seen.add(file)
    for (const m of code(read(file)).matchAll(IMPORT)) {
      const specifier = (m[2] ?? m[3] ?? m[4])!
      if (!specifier.startsWith('.')) continue
      const base = resolve(dirname(file), specifier.replace(/\.js$/, ''))
      const target = [`${base}.ts`, join(base, 'index.ts')].find(existsSync)
      if (target === undefined) throw new Error(`${relative(repoRoot, file)}: cannot resolve ${specifier}`)
      stack.push(target)
    }
  }
  return [...seen]
}

/** Every condition → target pair of an exports map, depth first. */
function conditionTargets(value: unknown, path: string[] = []): { conditions: string[]; target: string }[] {
  if (typeof value === 'string') return [{ conditions: path, target: value }]
  if (typeof value !== 'object' || value === null) return []
  return Object.entries(value).flatMap(([k, v]) => conditionTargets(v, [...path, k]))
}

describe('export conditions', () => {
  it('TypeScript sources are reachable only through the private workspace condition', () => {
    const manifests = [...packageDirs, ...readdirSync(join(repoRoot, 'examples')).map((n) => join(repoRoot, 'examples', n))].map((d) => manifestOf(d))
    const pairs = manifests.flatMap((m) => conditionTargets(m.exports ?? {}).map((p) => ({ name: m.name, ...p })))
    expect(pairs.length).toBeGreaterThan(20)
    for (const { name, conditions, target } of pairs) {
      expect(conditions, `${name}: ${conditions.join(' > ')}`).not.toContain('source')
      if (/\.ts$/.test(target) && !/\.d\.c?ts$/.test(target)) expect(conditions.at(-1), `${name}: ${conditions.join(' > ')} → ${target}`).toBe(PRIVATE_CONDITION)
    }
  })

  it('tools and processes of the workspace name the private condition, never the common one', () => {
    const files = [
      'package.json',
      'vitest.config.ts',
      'tsconfig.base.json',
      'packages/infra/cdk.json',
      'packages/infra/lib/bundling/bundleNodeEntry.ts',
      'test/support/processes.ts',
      'packages/cli/test/helpers.ts',
    ]
    for (const file of files) {
      const text = read(join(repoRoot, file))
      expect(text, file).toContain(PRIVATE_CONDITION)
      expect(text, file).not.toMatch(/--conditions[= ]source\b|conditions:\s*\[\s*'source'|"customConditions":\s*\[\s*"source"/)
    }
  })
})

describe('dependencies of the published packages', () => {
  for (const dir of published) {
    const manifest = manifestOf(dir)
    it(`${manifest.name}: every dependency is imported by published code, and every import is declared`, () => {
      const imported = new Set(shippedSources(dir).flatMap((f) => bareImports(f).map((i) => i.name)))
      imported.delete(manifest.name)
      // Resolved at run time by path rather than imported: the anvil binary package of the dev stack.
      const byPath = new Set(shippedSources(dir).flatMap((f) => [...code(read(f)).matchAll(/require\.resolve\(\s*'([^']+)'/g)].map((m) => packageName(m[1]!))))
      const declared = Object.keys(manifest.dependencies ?? {})
      expect(declared.filter((d) => !imported.has(d) && !byPath.has(d))).toEqual([])
      const peers = Object.keys(manifest.peerDependencies ?? {})
      // Optional dependencies (a native binding with a pure fallback) are imported where they load, declared as such.
      const optional = Object.keys(manifest.optionalDependencies ?? {})
      expect([...imported].filter((i) => !declared.includes(i) && !peers.includes(i) && !optional.includes(i))).toEqual([])
    })
  }

  it('ethers, viem and @solana/kit are optional peers of the SDK, never its dependencies', () => {
    const sdk = manifestOf(join(repoRoot, 'packages', 'sdk'))
    for (const peer of ['ethers', 'viem', '@solana/kit']) {
      expect(sdk.dependencies?.[peer], peer).toBeUndefined()
      expect(sdk.peerDependencies?.[peer], peer).toMatch(/^\^\d/)
      expect(sdk.peerDependenciesMeta?.[peer]?.optional, peer).toBe(true)
      // The workspace's own tests use the exact version.
      expect(sdk.devDependencies?.[peer], peer).toMatch(/^\d+\.\d+\.\d+$/)
    }
  })

  it("nothing the SDK's main entry and ./protocol import reaches ethers, viem or @solana/kit (only ./ethers, ./viem and ./solana do)", () => {
    const sdk = join(repoRoot, 'packages', 'sdk', 'src')
    const hosts = ['ethers', 'viem', '@solana/kit', 'bitcoinjs-lib']
    for (const entry of ['index.ts', 'protocol/index.ts']) {
      const files = reachable(join(sdk, entry))
      expect(files.length, entry).toBeGreaterThan(20)
      const offending = files.flatMap((f) => bareImports(f).filter((i) => hosts.includes(i.name)).map((i) => `${relative(sdk, f)} → ${i.name}`))
      expect(offending, entry).toEqual([])
    }
    // ./solana uses @solana/kit for its types only (nothing of it at run time); ./bitcoin reads bitcoinjs-lib and scure objects structurally.
    const solana = reachable(join(sdk, 'solana', 'index.ts')).flatMap((f) => bareImports(f).filter((i) => i.name === '@solana/kit'))
    expect(solana.length).toBeGreaterThan(0)
    expect(solana.every((i) => i.typeOnly)).toBe(true)
    expect(reachable(join(sdk, 'bitcoin', 'index.ts')).flatMap((f) => bareImports(f).filter((i) => hosts.includes(i.name)))).toEqual([])
    // The detector sees the adapters' imports (a broken one would make the check above pass vacuously).
    expect(reachable(join(sdk, 'ethers', 'index.ts')).some((f) => bareImports(f).some((i) => i.name === 'ethers'))).toBe(true)
    expect(reachable(join(sdk, 'viem', 'index.ts')).some((f) => bareImports(f).some((i) => i.name === 'viem'))).toBe(true)
  })
})

describe('subpath exports for tools that predate "exports" (node10)', () => {
  for (const dir of published) {
    const manifest = manifestOf(dir)
    const subpaths = Object.keys(manifest.exports ?? {}).filter((k) => k !== '.' && k !== './package.json')
    if (subpaths.length === 0) continue
    it(`${manifest.name}: a stub folder per subpath, shipped, pointing at what the exports map builds`, () => {
      for (const subpath of subpaths) {
        const folder = subpath.slice(2)
        const stub = JSON.parse(read(join(dir, folder, 'package.json'))) as { main: string; types: string; module: string }
        const entry = manifest.exports![subpath] as { require: { types: string; default: string }; import: { default: string } }
        expect(resolve(dir, folder, stub.main), subpath).toBe(resolve(dir, entry.require.default))
        expect(resolve(dir, folder, stub.types), subpath).toBe(resolve(dir, entry.require.types))
        expect(resolve(dir, folder, stub.module), subpath).toBe(resolve(dir, entry.import.default))
        expect(manifest.files, subpath).toContain(`${folder}/package.json`)
      }
    })
  }
})

describe('license', () => {
  const apache = () => read(join(repoRoot, 'LICENSE'))

  it('the root LICENSE is the Apache License 2.0 that every package.json names', () => {
    expect(apache()).toContain('Apache License')
    expect(apache()).toContain('Version 2.0, January 2004')
    expect(apache()).toContain('END OF TERMS AND CONDITIONS')
    expect(manifestOf(repoRoot).license).toBe('Apache-2.0')
  })

  for (const dir of published) {
    const manifest = manifestOf(dir)
    it(`${manifest.name} ships the same LICENSE`, () => {
      expect(manifest.license).toBe('Apache-2.0')
      expect(read(join(dir, 'LICENSE'))).toBe(apache())
      expect(manifest.files).toContain('LICENSE')
    })
  }
})
