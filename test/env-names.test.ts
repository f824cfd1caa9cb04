/**
 * One name per setting (issue 15 point 3): docs/configuration.md is the table of every environment variable
 * our programs read, and this test keeps it true.
 *
 * - every `CUSTODY_*` name in the shipped code (sources, the enclave image, host units, the CDK app and its
 *   Lambda, the examples, the scripts) has a row in the table, and every row is read somewhere;
 * - every `CUSTODY_*` name a README or doc mentions is in the table (no doc teaches a name nothing reads);
 * - none of the retired names listed at the end of the page appears anywhere else in the repository.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { describe, expect, it } from 'vitest'
import { repoRoot } from './vectors.js'

const PAGE = 'docs/configuration.md'
const SKIP_DIRS = new Set(['node_modules', '.git', 'dist', 'cdk.out', 'coverage', 'api', '.custody-dev', '.changeset'])
const TEXT = /\.(?:ts|mts|cts|js|mjs|cjs|sh|service|yaml|yml|json|md|example|env|txt|toml)$|(?:^|\/)(?:Dockerfile|\.env\.example)$/

/** Identifiers that look like variables but are not: a symbol's name in the SDK. */
const NOT_VARIABLES = new Set(['CUSTODY_ERROR_BRAND'])

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (SKIP_DIRS.has(name)) continue
    const path = join(dir, name)
    if (statSync(path).isDirectory()) walk(path, out)
    else if (TEXT.test(path)) out.push(relative(repoRoot, path).split(sep).join('/'))
  }
  return out
}

const FILES = walk(repoRoot)
const read = (file: string) => readFileSync(join(repoRoot, file), 'utf8')
const namesIn = (text: string) => new Set([...text.matchAll(/\bCUSTODY_[A-Z0-9_]*[A-Z0-9]\b/g)].map((m) => m[0]).filter((n) => !NOT_VARIABLES.has(n)))

/** Shipped code: what runs for a user or on a host, not tests (tests may name variables of their own). */
const isShippedCode = (f: string) =>
  !/\.test\.ts$|\/test\/|^test\//.test(f) &&
  !f.endsWith('.md') &&
  (/^packages\/[^/]+\/(?:src|enclave|host|lib|lambda|bin)\//.test(f) || /^examples\/[^/]+\/(?:src\/|\.env\.example$)/.test(f) || f.startsWith('scripts/'))

const page = read(PAGE)
const [shipped, rest] = page.split(/^## Tests$/m)
const [tests, retiredPart] = (rest ?? '').split(/^## Retired names$/m)
const rowNames = (text: string) => [...text.matchAll(/^\| `([A-Z0-9_]+)`/gm)].map((m) => m[1]!)
const forShippedCode = new Set(rowNames(shipped!))
const forTests = new Set(rowNames(tests ?? ''))
const documented = new Set([...forShippedCode, ...forTests])
const retired = rowNames(retiredPart ?? '')
const isTestCode = (f: string) => /\.test\.ts$|\/test\/|^test\//.test(f) && f !== 'test/env-names.test.ts'

describe('environment variables: one name each, one table (docs/configuration.md)', () => {
  it('the page has a table of current names, one of the tests\' and a list of retired ones', () => {
    expect(forShippedCode.size).toBeGreaterThan(50)
    expect(forTests.size).toBeGreaterThan(0)
    expect(retired).toEqual(expect.arrayContaining(['KMS_KEY_ARN', 'RPC_URL', 'CUSTODY_PROXY_URL', 'CUSTODY_TOKEN']))
  })

  it('every name the shipped code reads has a row, and every row is read by the shipped code', () => {
    const inCode = new Map<string, string>()
    for (const f of FILES.filter(isShippedCode)) for (const n of namesIn(read(f))) if (!inCode.has(n)) inCode.set(n, f)
    const undocumented = [...inCode].filter(([n]) => !forShippedCode.has(n)).map(([n, f]) => `${n} (${f})`)
    const unread = [...forShippedCode].filter((n) => !inCode.has(n))
    expect({ undocumented, unread }).toEqual({ undocumented: [], unread: [] })
  })

  it('the tests\' own variables are read by tests only', () => {
    const inTests = new Set(FILES.filter(isTestCode).flatMap((f) => [...namesIn(read(f))]))
    expect([...forTests].filter((n) => !inTests.has(n))).toEqual([])
  })

  it('every name a README or doc mentions is in the table', () => {
    const stale: string[] = []
    for (const f of FILES.filter((f) => f.endsWith('.md') && f !== PAGE && !f.endsWith('CHANGELOG.md'))) {
      for (const n of namesIn(read(f))) if (!documented.has(n)) stale.push(`${n} (${f})`)
    }
    expect(stale).toEqual([])
  })

  it('no retired name is used anywhere else in the repository', () => {
    const uses: string[] = []
    const retiredWords = new RegExp(`\\b(?:${retired.filter((n) => n !== 'AWS_REGION').join('|')})\\b`)
    for (const f of FILES) {
      if (f === PAGE || f.endsWith('CHANGELOG.md') || f === 'test/env-names.test.ts') continue
      const text = read(f)
      if (retiredWords.test(text)) uses.push(`${text.match(retiredWords)![0]} (${f})`)
      // AWS_REGION stays the AWS tools' own variable; only the enclave image and runtime stopped reading it.
      if (f.startsWith('packages/enclave-runtime/') && /\bAWS_REGION\b/.test(text)) uses.push(`AWS_REGION (${f})`)
    }
    expect(uses).toEqual([])
  })
})
