/**
 * A clone of this repository alone runs every test: no test, helper, script or source file reaches for
 * a path outside the repository root (the project's shared notes beside the checkout, an absolute
 * workstation path, an environment override pointing elsewhere). Known-answer vectors live in
 * test/vectors/ with their SOURCES.md.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { describe, expect, it } from 'vitest'
import { readVector, repoRoot, vectorsDir } from './vectors.js'

/** Build outputs, installed packages and the vector data itself: not code. */
const SKIPPED_DIRS = new Set(['node_modules', 'dist', 'cdk.out', '.git', 'coverage'])
const CODE = /\.(?:[cm]?[jt]s|json|sh|ya?ml|toml|service|env|example)$|(?:^|\/)(?:Dockerfile[^/]*|run)$/

function codeFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (SKIPPED_DIRS.has(name)) continue
    const path = join(dir, name)
    if (path === vectorsDir) continue
    const stat = statSync(path)
    if (stat.isDirectory()) codeFiles(path, out)
    else if (CODE.test(relative(repoRoot, path).split(sep).join('/'))) out.push(path)
  }
  return out
}

// Spelled in pieces so that this file does not match itself.
const SHARED = ['sha', 'red'].join('')
const VECTORS_ENV = ['CUSTODY', 'VECTORS', 'DIR'].join('_')
const UP = '..'
const FORBIDDEN: readonly { rule: string; pattern: RegExp }[] = [
  { rule: 'a path into the shared notes beside the checkout', pattern: new RegExp(`\\.\\./${SHARED}\\b`) },
  { rule: 'an absolute path into the shared notes', pattern: new RegExp(`/work/${SHARED}\\b`) },
  { rule: 'an absolute workstation path', pattern: /['"`]\/work\/main\b/ },
  { rule: "a path.join/resolve of '..' then the shared notes", pattern: new RegExp(`['"]\\.\\.['"]\\s*,\\s*['"]${SHARED}['"]`) },
  { rule: 'an environment override for the vectors directory', pattern: new RegExp(VECTORS_ENV) },
]

/** A quoted relative path (starting with ./ or ../), resolved against the file's folder. */
const RELATIVE_LITERAL = /(['"])(\.\.?\/[^'"\s$`{}*]*)\1/g

/** Every reference in `text` (the content of `file`) to something outside the repository root. */
function outsideReferences(file: string, text: string): string[] {
  const found: string[] = []
  const lines = text.split('\n')
  lines.forEach((line, i) => {
    const where = `${relative(repoRoot, file)}:${i + 1}`
    for (const { rule, pattern } of FORBIDDEN) if (pattern.test(line)) found.push(`${where}: ${rule}: ${line.trim()}`)
    if (!/\.[cm]?[jt]s$/.test(file)) return
    for (const match of line.matchAll(RELATIVE_LITERAL)) {
      const target = resolve(dirname(file), match[2]!)
      if (target !== repoRoot && !target.startsWith(repoRoot + sep)) found.push(`${where}: '${match[2]}' resolves outside the repository: ${line.trim()}`)
    }
  })
  return found
}

describe('the repository is self-contained', () => {
  it('the detector finds the references the vectors helper used to make, and relative paths that climb out', () => {
    const helper = join(repoRoot, 'test', 'vectors.ts')
    expect(outsideReferences(helper, `export const vectorsDir = resolve(repoRoot, '..', '${SHARED}', 'vectors')`)).toHaveLength(1)
    expect(outsideReferences(helper, `const VECTORS = process.env.${VECTORS_ENV} ?? vectorsDir`)).toHaveLength(1)
    expect(outsideReferences(helper, `readFileSync('/work/${SHARED}/vectors/eth/x.json')`)).toHaveLength(1)
    expect(outsideReferences(helper, `import x from '${UP}/${UP}/${SHARED}/vectors/x.json'`).length).toBeGreaterThan(0)
    expect(outsideReferences(helper, `import { y } from '${UP}/${UP}/outside/y.js'`)).toHaveLength(1)
    // Inside the repository: fine.
    expect(outsideReferences(helper, `import { y } from '../packages/sdk/src/index.js'`)).toEqual([])
    expect(outsideReferences(helper, `import { y } from './vectors.js'`)).toEqual([])
  })

  it('no test, helper, script or source file refers to a path outside the repository root', () => {
    const files = codeFiles(repoRoot)
    // The walk reaches every area (a broken walk would make this test pass vacuously).
    for (const expected of ['test/vectors.ts', 'packages/sdk/src/index.ts', 'packages/enclave-runtime/src/unseal/cms.test.ts', 'package.json', '.ci/run']) {
      expect(files.map((f) => relative(repoRoot, f).split(sep).join('/'))).toContain(expected)
    }
    const found = files.flatMap((file) => outsideReferences(file, readFileSync(file, 'utf8')))
    expect(found).toEqual([])
  })

  it('the vectors are inside the repository, each with its origin in SOURCES.md', () => {
    expect(vectorsDir.startsWith(repoRoot + sep)).toBe(true)
    const sources = readFileSync(join(vectorsDir, 'SOURCES.md'), 'utf8')
    const files = (function walk(dir: string): string[] {
      return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [relative(vectorsDir, join(dir, n)).split(sep).join('/')]))
    })(vectorsDir).filter((f) => f !== 'SOURCES.md')
    expect(files.length).toBe(13)
    for (const file of files) expect(sources, `${file} has no entry in test/vectors/SOURCES.md`).toContain(`\`${file}\``)
  })

  it('every vector a test reads by name exists in the repository', () => {
    const names = new Set<string>()
    for (const file of codeFiles(repoRoot).filter((f) => f.endsWith('.ts'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/readVector<[^(]*>\(\s*'([^']+)'|readVector\(\s*'([^']+)'/g)) names.add((m[1] ?? m[2])!)
    }
    expect(names.size).toBeGreaterThanOrEqual(5)
    for (const name of names) {
      expect(existsSync(join(vectorsDir, name)), name).toBe(true)
      expect(() => readVector(name)).not.toThrow()
    }
  })
})
