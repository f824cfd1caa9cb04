/**
 * The fenced code blocks of the repository's documentation and their `doc-test` marks, for
 * test/docs-blocks.test.ts.
 *
 * A block is runnable as written, or the line right above its opening fence says why it is not run:
 *
 *     <!-- doc-test: needs-aws -->                 needs an AWS account, a Nitro host or a deployment
 *     <!-- doc-test: needs-registry -->            publishes to (or needs credentials for) the npm registry
 *     <!-- doc-test: output -->                    sample output of the block before it
 *     <!-- doc-test: notation -->                  a wire format, grammar or diagram, not a program
 *     <!-- doc-test: synopsis -->                  `custody …` usage lines with <placeholders>; each command's --help is run
 *     <!-- doc-test: covered-by <path> [<path>…] -->  the named test(s) run this code (or its exact equivalent)
 *     <!-- doc-test: continues -->                 a `ts` block run after the runnable `ts` block above it in the
 *                                                  same file, as one program (in a scope of its own)
 *
 * Unmarked blocks: `ts` runs as a complete program, `sh` runs in bash, `json file=<path>` must be that file (and a
 * policy or payload the CLI accepts). Any other unmarked block fails the test.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

export const DOC_MARKS = ['needs-aws', 'needs-registry', 'output', 'notation', 'synopsis', 'covered-by', 'continues'] as const
export type DocMark = (typeof DOC_MARKS)[number]

export type DocBlock = {
  /** Path relative to the repository root. */
  file: string
  /** 1-based line of the opening fence. */
  line: number
  /** The info string's first word (`ts`, `sh`, `json`, … or `''`). */
  lang: string
  /** The whole info string (`json file=docs/policies/x.json`). */
  info: string
  /** The block's text, without the fences' indentation. */
  body: string
  mark?: { kind: DocMark; args: string[] }
  /** A `doc-test` comment above the fence that is not a valid mark. */
  markError?: string
}

/** Markdown files whose blocks are checked: README.md, packages/* and examples/* READMEs, docs/*.md. */
export function docFiles(root: string): string[] {
  const readmes = (dir: string) =>
    readdirSync(join(root, dir), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => `${dir}/${d.name}/README.md`)
      .filter((f) => {
        try {
          readFileSync(join(root, f))
          return true
        } catch {
          return false
        }
      })
  const docs = readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`)
  return ['README.md', ...readmes('packages'), ...readmes('examples'), ...docs].sort()
}

const FENCE = /^( *)(`{3,}|~{3,})(.*)$/
const MARK = /^<!--\s*doc-test:\s*(.*?)\s*-->$/

/** The fenced blocks of one markdown text (CommonMark fences, indented inside list items included). */
export function parseBlocks(file: string, text: string): DocBlock[] {
  const lines = text.split('\n')
  const blocks: DocBlock[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = lines[i]!.match(FENCE)
    if (!open) continue
    const [, indent, fence, rest] = open as unknown as [string, string, string, string]
    const info = rest.trim()
    let end = i + 1
    while (end < lines.length) {
      const close = lines[end]!.match(FENCE)
      if (close && close[2]![0] === fence[0] && close[2]!.length >= fence.length && close[3]!.trim() === '') break
      end++
    }
    const body = lines
      .slice(i + 1, end)
      .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l.trimStart()))
      .join('\n')
    const block: DocBlock = { file, line: i + 1, lang: info.split(/\s+/)[0] ?? '', info, body }
    const above = (lines[i - 1] ?? '').trim()
    const mark = above.match(MARK)
    if (mark) {
      const [kind, ...args] = mark[1]!.split(/\s+/)
      if (!(DOC_MARKS as readonly string[]).includes(kind!)) block.markError = `unknown doc-test mark "${kind}" (marks: ${DOC_MARKS.join(', ')})`
      else if (kind === 'covered-by' && args.length === 0) block.markError = 'covered-by names no test file'
      else if (kind !== 'covered-by' && args.length > 0) block.markError = `doc-test: ${kind} takes no argument`
      else block.mark = { kind: kind as DocMark, args }
    } else if (above.includes('doc-test')) block.markError = `malformed doc-test mark: ${above}`
    blocks.push(block)
    i = end
  }
  return blocks
}

/** `doc-test` comments that are not on the line right above a fence (a mark that marks nothing). */
export function strayMarks(file: string, text: string): string[] {
  const lines = text.split('\n')
  const out: string[] = []
  lines.forEach((line, i) => {
    if (!/<!--\s*doc-test/.test(line)) return
    if (!FENCE.test(lines[i + 1] ?? '')) out.push(`${file}:${i + 1}: a doc-test mark must be on the line right above a fence`)
  })
  return out
}

/** How the test treats a block, or why it cannot. */
export type BlockPlan =
  | { run: 'ts' }
  | { run: 'sh' }
  | { run: 'json-file'; path: string }
  | { run: 'continues' }
  | { run: 'synopsis' }
  | { run: 'none'; mark: DocMark }
  | { run: 'error'; reason: string }

/**
 * Commands an unmarked sh block may not hold: the test would publish, push, deploy, call AWS or the internet, or
 * rebuild the workspace's dist folders under other tests' feet (`pnpm build`, the release dry run).
 */
const UNSAFE = /\b(?:pnpm|npm|yarn|changeset)\s+(?:-\S+\s+)*publish\b|\bpnpm\s+(?:run\s+)?(?:build|release:dry-run)\b|\bgit\s+(?:push|commit|tag)\b|\bsudo\b|\baws\s|\bcdk\s+(?:deploy|destroy|bootstrap)\b|\bcurl\b|\bwget\b/

export function planOf(block: DocBlock): BlockPlan {
  if (block.markError) return { run: 'error', reason: block.markError }
  const kind = block.mark?.kind
  if (kind === undefined) {
    if (block.lang === 'ts') return { run: 'ts' }
    if (block.lang === 'sh') {
      const unsafe = block.body.match(UNSAFE)
      return unsafe
        ? { run: 'error', reason: `an sh block with \`${unsafe[0]}\` is not run (it publishes, reaches beyond this machine or rebuilds the workspace): mark it` }
        : { run: 'sh' }
    }
    const file = block.info.match(/^json file=(\S+)$/)
    if (file) return { run: 'json-file', path: file[1]! }
    return {
      run: 'error',
      reason: `a \`${block.lang || 'untagged'}\` block is not runnable: mark it (<!-- doc-test: ${DOC_MARKS.join(' | ')} -->)`,
    }
  }
  if (kind === 'continues') return block.lang === 'ts' ? { run: 'continues' } : { run: 'error', reason: 'only a ts block continues a program' }
  if (kind === 'synopsis') return block.lang === 'sh' ? { run: 'synopsis' } : { run: 'error', reason: 'a synopsis is an sh block' }
  return { run: 'none', mark: kind }
}

/** `file:line` of a block, for messages. */
export const where = (b: DocBlock) => `${b.file}:${b.line}`

const IMPORT = /^import\s[^;]*?\sfrom\s+'[^']+'\s*;?\s*$|^import\s+'[^']+'\s*;?\s*$/

/**
 * One program per runnable `ts` block: its text, then each `continues` block after it in the same file, each in a
 * scope of its own (`{ … }`) so that their names do not collide; a continued block's imports go to the top.
 */
export function tsPrograms(blocks: DocBlock[]): { head: DocBlock; parts: DocBlock[]; source: string; errors: string[] }[] {
  const programs: { head: DocBlock; parts: DocBlock[]; source: string; errors: string[] }[] = []
  let current: (typeof programs)[number] | undefined
  for (const block of blocks) {
    const plan = planOf(block)
    if (plan.run === 'ts') {
      current = { head: block, parts: [block], source: '', errors: [] }
      programs.push(current)
    } else if (plan.run === 'continues') {
      if (current === undefined || current.head.file !== block.file) {
        programs.push({ head: block, parts: [block], source: '', errors: [`${where(block)}: continues, but no runnable ts block is above it in ${block.file}`] })
        current = undefined
      } else current.parts.push(block)
    }
  }
  for (const p of programs) {
    if (p.errors.length > 0) continue
    const imports: string[] = []
    const bodies: string[] = [`// ${where(p.head)}\n${p.head.body}`]
    for (const part of p.parts.slice(1)) {
      const rest: string[] = []
      for (const line of part.body.split('\n')) {
        if (IMPORT.test(line)) imports.push(line)
        else if (/^import\s/.test(line)) p.errors.push(`${where(part)}: a continued block's imports must be one line each`)
        else rest.push(line)
      }
      bodies.push(`// ${where(part)}\n{\n${rest.join('\n')}\n}`)
    }
    p.source = `${[...new Set(imports)].join('\n')}\n${bodies.join('\n')}\n`
  }
  return programs
}
