/**
 * The release as `changeset version` and `pnpm publish -r` would make it, without touching the working tree:
 *
 * 1. `pnpm build` (unless `--no-build`);
 * 2. a staged copy of the workspace in a temporary directory: the root manifest, pnpm-workspace.yaml and
 *    .changeset/, each private package's package.json, each public package's directory without its
 *    node_modules (what `files` picks from it is what the repository's own `pnpm pack` would pick), and one
 *    link per `workspace:` dependency (all `pnpm pack` needs to turn the range into a version; no install);
 * 3. `changeset version` there, checked against the versions the changesets ask for (computed here from their
 *    front matter, the config's fixed groups and the dependents of a released package), the new CHANGELOG
 *    sections, and the `workspace:` ranges left as they were;
 * 4. `pnpm pack` of every public package, each tarball checked: the new version, no `workspace:` left, the
 *    workspace dependencies at their new versions, the CHANGELOG section inside, then publint (strict) and
 *    are-the-types-wrong (every resolution mode, node10 included).
 *
 * Any failure exits 1 with one line per problem naming the package (every tarball's lint failures together);
 * a bad flag exits 2. The tarballs stay in `--out DIR` (a new temporary directory by default), with
 * `dry-run.json` listing them.
 *
 * Usage: pnpm release:dry-run [--no-build] [--keep] [--out DIR] [--root DIR] [--help]
 */
import { existsSync } from 'node:fs'
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { basename, dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { type CommandRun as Run, runCommand as run } from './runCommand.js'

const scriptRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const bin = (name: string) => join(scriptRoot, 'node_modules', '.bin', name)
const changesetCli = join(scriptRoot, 'node_modules', '@changesets', 'cli', 'bin.js')

/** A failed release dry run: the package it concerns (when one does) and the problem, in one line. */
export class ReleaseDryRunError extends Error {
  override name = 'ReleaseDryRunError'
  readonly packageName: string | undefined
  readonly problem: string
  constructor({ packageName, problem }: { packageName?: string; problem: string }) {
    super(packageName === undefined ? problem : `${packageName}: ${problem}`)
    this.packageName = packageName
    this.problem = problem
  }
}

export type ReleaseDryRunParameters = {
  /** The workspace to release (the directory holding pnpm-workspace.yaml). @default the repository this script is in */
  root?: string
  /** Where the tarballs and dry-run.json go. @default a new directory under the OS temp directory */
  out?: string
  /** Run `pnpm build` in `root` first. @default true */
  build?: boolean
  /** Keep the staged workspace (its path is printed). @default false */
  keep?: boolean
  /** Progress lines. @default console.log */
  log?: (line: string) => void
}

export type ReleasedPackage = { name: string; dir: string; oldVersion: string; newVersion: string; bump: Bump | 'none'; tarball: string }
export type ReleaseDryRunReturnType = { out: string; stage: string | undefined; packages: ReleasedPackage[] }

type Bump = 'major' | 'minor' | 'patch'
const BUMPS: readonly Bump[] = ['patch', 'minor', 'major']
const DEP_FIELDS = ['dependencies', 'peerDependencies', 'optionalDependencies', 'devDependencies'] as const
type Manifest = { name: string; version: string; private?: boolean } & Partial<Record<(typeof DEP_FIELDS)[number], Record<string, string>>>
type WorkspacePackage = { name: string; dir: string; manifest: Manifest }
/** The last lines of a failed command's output, on one line. */
function tail(r: Run, lines = 6): string {
  const text = `${r.stdout}\n${r.stderr}`
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
  return text.slice(-lines).join(' | ') || `exit code ${r.code}`
}

async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await readFile(file, 'utf8')) as T
}

/** The workspace's packages from pnpm-workspace.yaml's `packages` (patterns of the form `dir/*` or `dir`). */
async function workspacePackages(root: string): Promise<WorkspacePackage[]> {
  const yaml = await readFile(join(root, 'pnpm-workspace.yaml'), 'utf8').catch(() => {
    throw new ReleaseDryRunError({ problem: `${root} has no pnpm-workspace.yaml` })
  })
  const block = /^packages:\s*\n((?:[ \t]+-.*\n?)+)/m.exec(yaml)?.[1] ?? ''
  const patterns = [...block.matchAll(/-\s*["']?([^"'\s#]+)["']?/g)].map((m) => m[1]!)
  const dirs: string[] = []
  for (const pattern of patterns) {
    if (pattern.startsWith('!')) continue
    if (!/^[\w.-]+(?:\/[\w.-]+)*(?:\/\*)?$/.test(pattern)) throw new ReleaseDryRunError({ problem: `pnpm-workspace.yaml: pattern "${pattern}" is not of the form "dir/*" or "dir" (the dry run reads only those)` })
    if (pattern.endsWith('/*')) {
      const parent = pattern.slice(0, -2)
      const entries = await readdir(join(root, parent), { withFileTypes: true }).catch(() => [])
      for (const e of entries) if (e.isDirectory()) dirs.push(`${parent}/${e.name}`)
    } else dirs.push(pattern)
  }
  const out: WorkspacePackage[] = []
  for (const dir of dirs.sort()) {
    const file = join(root, dir, 'package.json')
    if (!existsSync(file)) continue
    const manifest = await readJson<Manifest>(file)
    out.push({ name: manifest.name, dir, manifest })
  }
  return out
}

/** `x.y.z` bumped; prerelease and build suffixes are refused (the dry run does not model `changeset pre`). */
function bumpVersion(name: string, version: string, bump: Bump): string {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(version)
  if (m === null) throw new ReleaseDryRunError({ packageName: name, problem: `version "${version}" is not x.y.z (prereleases are not handled by the dry run)` })
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])]
  return bump === 'major' ? `${major + 1}.0.0` : bump === 'minor' ? `${major}.${minor + 1}.0` : `${major}.${minor}.${patch + 1}`
}

const maxBump = (a: Bump | undefined, b: Bump | undefined): Bump | undefined => (a === undefined ? b : b === undefined ? a : BUMPS[Math.max(BUMPS.indexOf(a), BUMPS.indexOf(b))])

type Changeset = { id: string; releases: Map<string, Bump | 'none'>; summary: string }

/** The changesets in `.changeset/` (every .md but README.md): front matter `"name": bump` lines, then the summary. */
async function readChangesets(root: string, names: Set<string>): Promise<Changeset[]> {
  const dir = join(root, '.changeset')
  const files = (await readdir(dir)).filter((f) => f.endsWith('.md') && f !== 'README.md').sort()
  const out: Changeset[] = []
  for (const file of files) {
    const text = await readFile(join(dir, file), 'utf8')
    const m = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?([\s\S]*)$/.exec(text)
    if (m === null) throw new ReleaseDryRunError({ problem: `.changeset/${file}: no front matter (--- "package": bump ---)` })
    const releases = new Map<string, Bump | 'none'>()
    for (const line of m[1]!.split(/\r?\n/)) {
      if (line.trim() === '') continue
      const r = /^\s*["']?([^"':]+(?::[^"':]+)?)["']?\s*:\s*(major|minor|patch|none)\s*$/.exec(line)
      if (r === null) throw new ReleaseDryRunError({ problem: `.changeset/${file}: "${line.trim()}" is not "package": major|minor|patch|none` })
      if (!names.has(r[1]!)) throw new ReleaseDryRunError({ packageName: r[1], problem: `named in .changeset/${file} but not a package of this workspace` })
      releases.set(r[1]!, r[2] as Bump | 'none')
    }
    out.push({ id: file.slice(0, -3), releases, summary: m[2]!.trim() })
  }
  return out
}

type ChangesetConfig = { fixed?: string[][]; linked?: string[][]; ignore?: string[]; updateInternalDependencies?: 'patch' | 'minor'; privatePackages?: boolean | { version?: boolean } }

/**
 * The new version of every public package, as the changesets ask: each named package's highest bump; every
 * member of a fixed group the group's highest bump, from the group's highest version; a package depending on
 * a released one through a `workspace:` range the new version leaves at least a patch. Independent of changesets' own code, so that a config
 * that does not do what it says shows up as a mismatch.
 */
function expectedVersions(packages: WorkspacePackage[], changesets: Changeset[], config: ChangesetConfig): Map<string, { bump: Bump | undefined; version: string }> {
  if ((config.linked ?? []).length > 0) throw new ReleaseDryRunError({ problem: '.changeset/config.json: linked groups are not modelled by the dry run' })
  if ((config.ignore ?? []).length > 0) throw new ReleaseDryRunError({ problem: '.changeset/config.json: ignore is not modelled by the dry run (private packages are left out already)' })
  const privateVersioned = typeof config.privatePackages === 'object' ? config.privatePackages.version === true : config.privatePackages === true
  if (privateVersioned) throw new ReleaseDryRunError({ problem: '.changeset/config.json: privatePackages.version must be false (private packages are not released)' })
  const publicPackages = packages.filter((p) => p.manifest.private !== true)
  const bumps = new Map<string, Bump | undefined>(publicPackages.map((p) => [p.name, undefined]))
  for (const cs of changesets) {
    for (const [name, bump] of cs.releases) {
      if (!bumps.has(name)) throw new ReleaseDryRunError({ packageName: name, problem: `.changeset/${cs.id}.md names a private package (private packages are not released)` })
      if (bump !== 'none') bumps.set(name, maxBump(bumps.get(name), bump))
    }
  }
  const fixed = (config.fixed ?? []).map((group) => group.filter((n) => bumps.has(n)))
  for (let changed = true; changed; ) {
    changed = false
    const raise = (name: string, bump: Bump | undefined) => {
      const next = maxBump(bumps.get(name), bump)
      if (next !== bumps.get(name)) {
        bumps.set(name, next)
        changed = true
      }
    }
    for (const group of fixed) {
      const top = group.map((n) => bumps.get(n)).reduce(maxBump, undefined)
      if (top !== undefined) for (const n of group) raise(n, top)
    }
    for (const p of publicPackages) {
      for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies'] as const) {
        for (const [dep, range] of Object.entries(p.manifest[field] ?? {})) {
          const bump = bumps.get(dep)
          if (!range.startsWith('workspace:') || bump === undefined) continue
          const dependency = publicPackages.find((q) => q.name === dep)!
          if (leavesRange(p.name, range, dependency.manifest.version, bumpVersion(dep, dependency.manifest.version, bump))) raise(p.name, 'patch')
        }
      }
    }
  }
  const current = new Map(publicPackages.map((p) => [p.name, p.manifest.version]))
  const out = new Map<string, { bump: Bump | undefined; version: string }>()
  for (const p of publicPackages) {
    const bump = bumps.get(p.name)
    const group = fixed.find((g) => g.includes(p.name))
    const base = group === undefined ? p.manifest.version : group.map((n) => current.get(n)!).reduce((a, b) => (compareVersions(a, b) >= 0 ? a : b))
    out.set(p.name, { bump, version: bump === undefined ? p.manifest.version : bumpVersion(p.name, base, bump) })
  }
  return out
}

/**
 * Whether a dependent must be released for its `workspace:` range to take the dependency's new version:
 * `workspace:*` publishes the exact version (always), `workspace:^` and `workspace:~` a caret or tilde range
 * from the old version (when the new one falls outside it), as changesets decides for out-of-range dependents.
 */
function leavesRange(dependent: string, range: string, oldVersion: string, newVersion: string): boolean {
  const spec = range.slice('workspace:'.length)
  if (spec === '*' || spec === '') return true
  const [o, n] = [oldVersion.split('.').map(Number), newVersion.split('.').map(Number)]
  if (spec === '~') return o[0] !== n[0] || o[1] !== n[1]
  if (spec === '^') return o[0] !== n[0] || (o[0] === 0 && (o[1] !== n[1] || (o[1] === 0 && o[2] !== n[2])))
  throw new ReleaseDryRunError({ packageName: dependent, problem: `range "${range}" is not modelled by the dry run (use workspace:*, workspace:^ or workspace:~)` })
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number)
  const pb = b.split('.').map(Number)
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return (pa[i] ?? 0) - (pb[i] ?? 0)
  return 0
}

/** The `workspace:` ranges of a manifest, field by field. */
function workspaceRanges(m: Manifest): Record<string, string> {
  const out: Record<string, string> = {}
  for (const field of DEP_FIELDS) for (const [dep, range] of Object.entries(m[field] ?? {})) if (range.startsWith('workspace:')) out[`${field}.${dep}`] = range
  return out
}

/** What `pnpm pack` must write for a `workspace:` range once the dependency is at `version`. */
function publishedRange(range: string, version: string): string {
  const spec = range.slice('workspace:'.length)
  if (spec === '*' || spec === '') return version
  if (spec === '^' || spec === '~') return `${spec}${version}`
  return spec
}

/** The text of one file inside a tarball, or undefined when it is not there. */
async function fromTarball(tarball: string, file: string): Promise<string | undefined> {
  const r = await run('tar', ['-xzOf', tarball, `package/${file}`], { timeout: 60_000 })
  return r.code === 0 ? r.stdout : undefined
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await fn(items[i]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

/** publint (strict: warnings fail) and are-the-types-wrong (no problem, every entry point resolved under node10). */
async function lintTarball(name: string, tarball: string, cwd: string): Promise<void> {
  const [publint, attw] = await Promise.all([
    run(bin('publint'), ['run', tarball, '--strict'], { cwd, timeout: 300_000 }),
    run(bin('attw'), [tarball, '--format', 'json'], { cwd, timeout: 300_000 }),
  ])
  if (publint.code !== 0 || !publint.stdout.includes('All good!')) {
    // Its Errors and Warnings (--strict fails on both), not its Suggestions.
    const issues: string[] = []
    let section = ''
    for (const line of publint.stdout.split('\n').map((l) => l.trim())) {
      if (/^[A-Z][a-z]+:$/.test(line)) section = line.slice(0, -1).toLowerCase()
      else if (/^\d+\.\s/.test(line) && (section === 'errors' || section === 'warnings')) issues.push(`${section.slice(0, -1)}: ${line.replace(/^\d+\.\s+/, '')}`)
    }
    throw new ReleaseDryRunError({ packageName: name, problem: `publint: ${issues.length > 0 ? issues.join('; ') : tail(publint)}` })
  }
  type Report = { analysis?: { problems?: { kind: string; entrypoint?: string; resolutionKind?: string }[]; entrypoints?: Record<string, { resolutions: Record<string, { resolution?: { fileName: string } }> }> } }
  let report: Report
  try {
    report = JSON.parse(attw.stdout) as Report
  } catch {
    throw new ReleaseDryRunError({ packageName: name, problem: `are-the-types-wrong did not run: ${tail(attw)}` })
  }
  const problems = report.analysis?.problems ?? []
  if (problems.length > 0) {
    const list = problems.map((p) => `${p.kind}${p.entrypoint === undefined ? '' : ` (${p.entrypoint}${p.resolutionKind === undefined ? '' : `, ${p.resolutionKind}`})`}`)
    throw new ReleaseDryRunError({ packageName: name, problem: `are-the-types-wrong: ${[...new Set(list)].join(', ')}` })
  }
  for (const [entry, e] of Object.entries(report.analysis?.entrypoints ?? {})) {
    if (!e.resolutions.node10?.resolution?.fileName) throw new ReleaseDryRunError({ packageName: name, problem: `are-the-types-wrong: entry point "${entry}" does not resolve under node10` })
  }
  if (attw.code !== 0) throw new ReleaseDryRunError({ packageName: name, problem: `are-the-types-wrong exited ${attw.code}: ${tail(attw)}` })
}

/** The release dry run (see the file's comment). Throws a {@link ReleaseDryRunError} naming the package on any failure. */
export async function releaseDryRun(parameters: ReleaseDryRunParameters = {}): Promise<ReleaseDryRunReturnType> {
  const root = resolve(parameters.root ?? scriptRoot)
  const log = parameters.log ?? ((line: string) => console.log(line))
  const t0 = Date.now()
  const took = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`

  if (!existsSync(join(root, '.changeset', 'config.json'))) throw new ReleaseDryRunError({ problem: `${root} has no .changeset/config.json` })
  if (parameters.build !== false) {
    log('release dry run: pnpm build')
    const r = await run('pnpm', ['build'], { cwd: root, timeout: 1_200_000 })
    if (r.code !== 0) throw new ReleaseDryRunError({ problem: `pnpm build failed: ${tail(r)}` })
  }

  const packages = await workspacePackages(root)
  const names = new Set(packages.map((p) => p.name))
  const config = await readJson<ChangesetConfig>(join(root, '.changeset', 'config.json'))
  const changesets = await readChangesets(root, names)
  const expected = expectedVersions(packages, changesets, config)
  const publicPackages = packages.filter((p) => p.manifest.private !== true)

  const stage = await mkdtemp(join(tmpdir(), 'enclave-custody-release-'))
  try {
    // Stage: what changesets reads and what pnpm packs, nothing installed.
    for (const file of ['package.json', 'pnpm-workspace.yaml', 'LICENSE']) if (existsSync(join(root, file))) await cp(join(root, file), join(stage, file))
    await cp(join(root, '.changeset'), join(stage, '.changeset'), { recursive: true })
    for (const p of packages) {
      if (p.manifest.private === true) {
        await mkdir(join(stage, p.dir), { recursive: true })
        await cp(join(root, p.dir, 'package.json'), join(stage, p.dir, 'package.json'))
      } else {
        await cp(join(root, p.dir), join(stage, p.dir), { recursive: true, filter: (src) => basename(src) !== 'node_modules' })
      }
    }
    for (const p of publicPackages) {
      const deps = new Set(Object.keys(workspaceRanges(p.manifest)).map((k) => k.slice(k.indexOf('.') + 1)))
      for (const dep of deps) {
        const target = packages.find((q) => q.name === dep)
        if (target === undefined) throw new ReleaseDryRunError({ packageName: p.name, problem: `depends on "${dep}" through workspace: but no workspace package has that name` })
        const link = join(stage, p.dir, 'node_modules', dep)
        await mkdir(dirname(link), { recursive: true })
        await symlink(relative(dirname(link), join(stage, target.dir)), link, 'dir')
      }
    }
    log(`release dry run: staged ${publicPackages.length} public and ${packages.length - publicPackages.length} private packages, ${changesets.length} changeset(s) (${took()})`)

    // changeset version, then check what it did.
    const before = new Map(packages.map((p) => [p.name, workspaceRanges(p.manifest)]))
    const version = await run(process.execPath, [changesetCli, 'version'], { cwd: stage, timeout: 300_000, env: { ...process.env, CI: 'true' } })
    if (version.code !== 0) throw new ReleaseDryRunError({ problem: `changeset version failed: ${tail(version)}` })
    for (const p of packages) {
      const now = await readJson<Manifest>(join(stage, p.dir, 'package.json'))
      const want = p.manifest.private === true ? p.manifest.version : expected.get(p.name)!.version
      if (now.version !== want) throw new ReleaseDryRunError({ packageName: p.name, problem: `changeset version made it ${now.version}, the changesets ask for ${want}` })
      const ranges = workspaceRanges(now)
      for (const [key, range] of Object.entries(before.get(p.name)!)) {
        if (ranges[key] !== range) throw new ReleaseDryRunError({ packageName: p.name, problem: `changeset version rewrote ${key} from "${range}" to "${ranges[key]}"` })
      }
    }
    for (const p of publicPackages) {
      const { bump, version: newVersion } = expected.get(p.name)!
      if (bump === undefined) continue
      const changelog = await readFile(join(stage, p.dir, 'CHANGELOG.md'), 'utf8').catch(() => '')
      const section = sectionOf(changelog, newVersion)
      if (section === undefined) throw new ReleaseDryRunError({ packageName: p.name, problem: `CHANGELOG.md has no "## ${newVersion}" section above the earlier ones` })
      for (const cs of changesets) {
        if (!cs.releases.has(p.name) || cs.releases.get(p.name) === 'none') continue
        const firstLine = cs.summary.split('\n')[0]!.trim()
        if (!section.includes(firstLine)) throw new ReleaseDryRunError({ packageName: p.name, problem: `CHANGELOG.md ${newVersion} lacks the entry of .changeset/${cs.id}.md` })
      }
    }
    const left = (await readdir(join(stage, '.changeset'))).filter((f) => f.endsWith('.md') && f !== 'README.md')
    if (left.length > 0) throw new ReleaseDryRunError({ problem: `changeset version left ${left.join(', ')} in .changeset/` })
    for (const p of publicPackages) {
      const { bump, version: v } = expected.get(p.name)!
      log(`  ${p.name} ${p.manifest.version} → ${v}${bump === undefined ? ' (unchanged)' : ` (${bump})`}`)
    }
    log(`release dry run: changeset version checked (${took()})`)

    // pnpm pack each public package from the staged copy, then check each tarball.
    const out = parameters.out === undefined ? await mkdtemp(join(tmpdir(), 'enclave-custody-tarballs-')) : resolve(parameters.out)
    await mkdir(out, { recursive: true })
    log(`release dry run: packing into ${out}`)
    const released: ReleasedPackage[] = []
    for (const p of publicPackages) {
      const { bump, version: newVersion } = expected.get(p.name)!
      const tarball = join(out, `${p.name.replace(/^@/, '').replace('/', '-')}-${newVersion}.tgz`)
      await rm(tarball, { force: true })
      const r = await run('pnpm', ['pack', '--pack-destination', out], { cwd: join(stage, p.dir), timeout: 300_000 })
      if (r.code !== 0 || !existsSync(tarball)) throw new ReleaseDryRunError({ packageName: p.name, problem: `pnpm pack failed: ${tail(r)}` })
      const text = await fromTarball(tarball, 'package.json')
      if (text === undefined) throw new ReleaseDryRunError({ packageName: p.name, problem: 'the tarball has no package/package.json' })
      if (text.includes('workspace:')) throw new ReleaseDryRunError({ packageName: p.name, problem: `the packed package.json still holds a workspace: range: ${/"[^"]*":\s*"workspace:[^"]*"/.exec(text)?.[0]}` })
      const packed = JSON.parse(text) as Manifest
      if (packed.version !== newVersion) throw new ReleaseDryRunError({ packageName: p.name, problem: `the packed package.json says ${packed.version}, not ${newVersion}` })
      for (const [key, range] of Object.entries(workspaceRanges(p.manifest))) {
        const [field, dep] = [key.slice(0, key.indexOf('.')) as (typeof DEP_FIELDS)[number], key.slice(key.indexOf('.') + 1)]
        const want = publishedRange(range, expected.get(dep)?.version ?? packages.find((q) => q.name === dep)!.manifest.version)
        if (packed[field]?.[dep] !== want) throw new ReleaseDryRunError({ packageName: p.name, problem: `the packed ${field} has ${dep} "${packed[field]?.[dep]}", not "${want}"` })
      }
      if (bump !== undefined) {
        const changelog = await fromTarball(tarball, 'CHANGELOG.md')
        if (changelog === undefined) throw new ReleaseDryRunError({ packageName: p.name, problem: 'CHANGELOG.md is not in the tarball (add it to "files" in package.json)' })
        if (sectionOf(changelog, newVersion) === undefined) throw new ReleaseDryRunError({ packageName: p.name, problem: `the packed CHANGELOG.md has no "## ${newVersion}" section` })
      }
      released.push({ name: p.name, dir: p.dir, oldVersion: p.manifest.version, newVersion, bump: bump ?? 'none', tarball })
      log(`  packed ${basename(tarball)} (${Math.round((await stat(tarball)).size / 1024)} kB)`)
    }
    log(`release dry run: ${released.length} tarballs packed and checked (${took()}); publint and are-the-types-wrong…`)
    // Every tarball is linted; the failures are reported together, in package order. attw is CPU-bound: on a
    // 2-core machine one tarball at a time is faster than two (measured), so one core is left free.
    const failures = (await mapLimit(released, Math.max(1, Math.min(4, availableParallelism() - 1)), (p) => lintTarball(p.name, p.tarball, stage).then(() => undefined, (e: unknown) => e))).filter((e) => e !== undefined)
    for (const e of failures) if (!(e instanceof ReleaseDryRunError)) throw e
    if (failures.length > 0) {
      const first = failures[0] as ReleaseDryRunError
      throw new ReleaseDryRunError({ packageName: first.packageName, problem: [first.problem, ...failures.slice(1).map((e) => (e as Error).message)].join('\n') })
    }
    log(`release dry run: publint and are-the-types-wrong pass on every tarball (${took()})`)

    await writeFile(join(out, 'dry-run.json'), `${JSON.stringify({ packages: released.map((p) => ({ ...p, tarball: basename(p.tarball) })) }, null, 2)}\n`)
    log(`release dry run: ok in ${took()}; tarballs in ${out}${parameters.keep === true ? `; staged workspace kept in ${stage}` : ''}`)
    return { out, stage: parameters.keep === true ? stage : undefined, packages: released }
  } catch (error) {
    if (parameters.keep === true) log(`release dry run: staged workspace kept in ${stage}`)
    throw error
  } finally {
    if (parameters.keep !== true) await rm(stage, { recursive: true, force: true })
  }
}

/** The text of the first `## <version>` section of a CHANGELOG when it is the newest one, else undefined. */
function sectionOf(changelog: string, version: string): string | undefined {
  const headings = [...changelog.matchAll(/^## (\S+)\s*$/gm)]
  if (headings[0]?.[1] !== version) return undefined
  return changelog.slice(headings[0].index, headings[1]?.index ?? changelog.length)
}

const USAGE = `pnpm release:dry-run — version, pack and lint every public package as a release would, in a temporary copy

  --no-build    do not run \`pnpm build\` first (the packages' dist/ must be current)
  --keep        keep the staged workspace (its path is printed)
  --out DIR     put the tarballs and dry-run.json in DIR (default: a new temporary directory)
  --root DIR    release the workspace in DIR instead of this repository
  -h, --help    this help

Exits 1 naming the package and the problem when a release would be broken; the working tree is never modified.`

async function main(): Promise<void> {
  let values: { help?: boolean; build?: boolean; 'no-build'?: boolean; keep?: boolean; out?: string; root?: string }
  try {
    values = parseArgs({
      options: { help: { type: 'boolean', short: 'h' }, 'no-build': { type: 'boolean' }, keep: { type: 'boolean' }, out: { type: 'string' }, root: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }).values
  } catch (error) {
    console.error(`release dry run: ${(error as Error).message}\n\n${USAGE}`)
    process.exit(2)
  }
  if (values.help === true) {
    console.log(USAGE)
    return
  }
  for (const flag of ['out', 'root'] as const) {
    if (values[flag] !== undefined && values[flag]!.trim() === '') {
      console.error(`release dry run: --${flag} needs a directory`)
      process.exit(2)
    }
  }
  if (values.root !== undefined && !existsSync(join(values.root, 'pnpm-workspace.yaml'))) {
    console.error(`release dry run: --root ${values.root}: no pnpm-workspace.yaml there`)
    process.exit(2)
  }
  try {
    await releaseDryRun({ root: values.root, out: values.out, build: values['no-build'] !== true, keep: values.keep === true })
  } catch (error) {
    if (!(error instanceof ReleaseDryRunError)) throw error
    console.error(`release dry run failed: ${error.message}`)
    process.exit(1)
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main()
