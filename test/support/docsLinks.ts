/**
 * Relative links and `#anchors` of the repository's markdown, for test/docs-links.test.ts: which files to read,
 * the links each holds (outside code), and the anchors GitHub gives a page (its headings' slugs, and explicit
 * `id`/`name` attributes).
 */
import { readdirSync, statSync } from 'node:fs'
import { join, relative, sep } from 'node:path'

/** Folders never scanned: dependencies, build output, the generated API reference, local state. */
const SKIP = new Set(['node_modules', '.git', 'dist', 'cdk.out', 'coverage', '.custody-dev', '.data'])

/** Every markdown file of the repository (paths relative to `root`, with `/`), docs/api excluded. */
export function markdownFiles(root: string, dir = root, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name)) continue
    const path = join(dir, name)
    const rel = relative(root, path).split(sep).join('/')
    if (rel === 'docs/api') continue
    if (statSync(path).isDirectory()) markdownFiles(root, path, out)
    else if (name.endsWith('.md')) out.push(rel)
  }
  return out.sort()
}

/** The text without fenced code blocks and inline code spans (their content is not markdown), lines kept. */
export function proseOf(text: string): string {
  const lines = text.split('\n')
  let fence: string | undefined
  return lines
    .map((line) => {
      const m = line.match(/^ *(`{3,}|~{3,})/)
      if (fence === undefined && m) {
        fence = m[1]!
        return ''
      }
      if (fence !== undefined) {
        if (m && m[1]![0] === fence[0] && m[1]!.length >= fence.length && line.trim() === m[1]) fence = undefined
        return ''
      }
      return line.replace(/(`+)(?:(?!\1)[\s\S])*?\1/g, (span) => ' '.repeat(span.length))
    })
    .join('\n')
}

export type Link = { line: number; target: string }

/** Link targets of a markdown text: `[text](target)`, `![alt](target)`, `[id]: target`, `href="…"`, `src="…"`. */
export function linksOf(text: string): Link[] {
  const links: Link[] = []
  proseOf(text)
    .split('\n')
    .forEach((line, i) => {
      const add = (target: string) => links.push({ line: i + 1, target: target.replace(/^<(.*)>$/, '$1') })
      for (const m of line.matchAll(/\]\(\s*(<[^>]*>|[^\s)]+)(?:\s+"[^"]*")?\s*\)/g)) add(m[1]!)
      const ref = line.match(/^ {0,3}\[[^\]]+\]:\s*(\S+)/)
      if (ref) add(ref[1]!)
      for (const m of line.matchAll(/\b(?:href|src)="([^"]*)"/g)) add(m[1]!)
    })
  return links
}

/** A link that leaves the repository (http, https, mailto, …): not checked here (no network in the test). */
export const isExternal = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target)

/**
 * GitHub's anchor for a heading: the rendered text lower-cased, every character that is not a letter, mark,
 * digit, connector (`_`), space or hyphen removed, spaces turned into hyphens (github-slugger's rule).
 */
export function slugOf(heading: string): string {
  const rendered = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
    .replace(/<[^>]+>/g, '') // inline HTML tags
    .replace(/`/g, '')
  return rendered
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-')
}

/** The anchors of a markdown page: heading slugs (repeats get -1, -2, … as on GitHub) and `id`/`name` attributes. */
export function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>()
  const seen = new Map<string, number>()
  const raw = text.split('\n')
  proseOf(text)
    .split('\n')
    .forEach((line, i) => {
      // Headings are read from the original line: a code span in a heading is part of its text.
      const original = raw[i]!
      const h = line.match(/^ {0,3}#{1,6}\s/) ? original.match(/^ {0,3}#{1,6}\s+(.*?)(?:\s+#+\s*)?$/) : null
      if (h) {
        const base = slugOf(h[1]!)
        const n = seen.get(base) ?? 0
        seen.set(base, n + 1)
        anchors.add(n === 0 ? base : `${base}-${n}`)
      }
      for (const m of line.matchAll(/\b(?:id|name)="([^"]+)"/g)) anchors.add(m[1]!)
    })
  return anchors
}
