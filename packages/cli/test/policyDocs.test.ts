/**
 * docs/policies.md cannot drift from the code: its facts table is the SDK's POLICY_FACTS and OPERATORS_BY_TYPE,
 * every JSON block naming a file is that file, every file under docs/policies/ is used, and every cookbook command
 * runs through `custody policy test` and prints the line the page shows under it (exit 0 allowed, 1 denied) — each
 * recipe with at least one allowed and one denied payload.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { FACT_NAMES, OPERATORS_BY_TYPE, POLICY_FACTS } from '@enclave-custody/sdk'
import { describe, expect, it } from 'vitest'
import { runCli } from '../src/commands/runCli.js'
import { captureIo, repoRoot } from './helpers.js'

const DOC = join(repoRoot, 'docs', 'policies.md')
const FILES_DIR = join(repoRoot, 'docs', 'policies')
const doc = readFileSync(DOC, 'utf8')

/** The facts table as docs/policies.md must hold it. */
function factsTable(): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|')
  const rows = FACT_NAMES.map((fact) => {
    const { type, help, values } = POLICY_FACTS[fact]
    const meaning = `${help}${values ? ` (values: ${values.map((v) => `\`${v}\``).join(', ')})` : ''}`
    return `| \`${fact}\` | ${type} | ${OPERATORS_BY_TYPE[type].map((o) => `\`${o}\``).join(' ')} | ${cell(meaning)} |`
  })
  return ['| fact | type | operators | meaning |', '|---|---|---|---|', ...rows].join('\n')
}

/** Fenced blocks: their info string and body. */
function blocks(text: string): { info: string; body: string }[] {
  return [...text.matchAll(/^```([^\n]*)\n([\s\S]*?)^```$/gm)].map((m) => ({ info: m[1]!.trim(), body: m[2]! }))
}

/** The `## Cookbook` section, split by its `###` recipes. */
function recipes(): { title: string; text: string }[] {
  const cookbook = doc.slice(doc.indexOf('\n## Cookbook\n'))
  expect(cookbook.length).toBeGreaterThan(100)
  return cookbook
    .split(/^### /m)
    .slice(1)
    .map((part) => ({ title: part.slice(0, part.indexOf('\n')), text: part }))
}

/** Each `custody policy test …` line of a recipe's sh blocks, with the `# line` the page shows under it. */
function commands(text: string): { argv: string[]; expected: string }[] {
  const out: { argv: string[]; expected: string }[] = []
  for (const { info, body } of blocks(text).filter((b) => b.info === 'sh')) {
    const lines = body.split('\n')
    lines.forEach((line, i) => {
      if (!line.startsWith('custody policy test ')) return
      const next = lines[i + 1] ?? ''
      expect(next.startsWith('# '), `${info} block: "${line}" must be followed by "# <output>"`).toBe(true)
      out.push({ argv: line.split(/\s+/).slice(1), expected: next.slice(2) })
    })
  }
  return out
}

describe('docs/policies.md', () => {
  it('its facts table is POLICY_FACTS: every fact, its type and its operators', () => {
    const begin = doc.indexOf('<!-- facts:begin -->\n')
    const end = doc.indexOf('<!-- facts:end -->')
    expect(begin).toBeGreaterThan(0)
    expect(doc.slice(begin + '<!-- facts:begin -->\n'.length, end).trim()).toBe(factsTable())
  })

  it('every JSON block that names a file is that file, and every file under docs/policies/ is used', () => {
    const named = blocks(doc).filter((b) => /^json file=/.test(b.info))
    const shown = new Set<string>()
    for (const { info, body } of named) {
      const file = info.slice('json file='.length)
      shown.add(file)
      expect(JSON.parse(body), file).toEqual(JSON.parse(readFileSync(join(repoRoot, file), 'utf8')))
    }
    const files = readdirSync(FILES_DIR).map((f) => `docs/policies/${f}`)
    // Every policy is shown on the page; every file (payloads too) is at least named by a command.
    for (const file of files.filter((f) => f.endsWith('.policy.json'))) expect(shown.has(file), file).toBe(true)
    for (const file of files) expect(doc.includes(file), file).toBe(true)
    expect(files.length).toBeGreaterThanOrEqual(18)
  })

  it('has the five cookbook recipes, each with an allowed and a denied payload', () => {
    const titles = recipes().map((r) => r.title)
    expect(titles).toEqual([
      'Treasury with a daily limit',
      'Hot wallet restricted to one contract and one function',
      '2-of-3 approval above a threshold',
      'Deny EIP-7702 delegations except to a named delegate',
      'Deny permits to unknown spenders (and DAI and Permit2 permits)',
    ])
    for (const { title, text } of recipes()) {
      const expected = commands(text).map((c) => c.expected)
      expect(expected.some((e) => e.startsWith('allowed')), title).toBe(true)
      expect(expected.some((e) => e.startsWith('denied')), title).toBe(true)
    }
  })

  it('every cookbook command prints the line shown under it (exit 0 allowed, 1 denied)', async () => {
    const all = recipes().flatMap((r) => commands(r.text).map((c) => ({ ...c, title: r.title })))
    expect(all.length).toBeGreaterThanOrEqual(14)
    for (const { argv, expected, title } of all) {
      const io = captureIo({ cwd: repoRoot })
      const code = await runCli(argv, io)
      const what = `${title}: custody ${argv.join(' ')}`
      const line = io.out()
      if (expected.endsWith('…')) expect(line.startsWith(expected.slice(0, -1)), `${what}\n${line}`).toBe(true)
      else expect(line, what).toBe(`${expected}\n`)
      expect(code, `${what}\n${io.err()}`).toBe(expected.startsWith('allowed') ? 0 : 1)
    }
  })
})
