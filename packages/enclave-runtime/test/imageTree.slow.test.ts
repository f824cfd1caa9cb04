/**
 * Reproducible enclave image (issue 10, point 10): the file tree the image ships is built twice, without
 * Docker, by the very script the Dockerfile's builder stage runs (enclave/build-runtime-tree.sh), and the
 * two trees must be identical file by file: path, type, mode, mtime, content and symbolic-link target.
 *
 * The two builds differ in everything that must not matter: the directory (and its depth), TZ, umask,
 * locale, the sources' mtimes, and a cold pnpm store, metadata cache and state directory each (packages
 * come from the npm registry, which must be reachable). Before build-runtime-tree.sh, the Dockerfile's steps
 * gave a different runtime/package.json on every run (dependencies in a different order).
 *
 * Slow (two installs and builds): runs in `pnpm test:slow`, not in `pnpm test`.
 */
import { execFile, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { cp, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ENCLAVE_DIR, REPO_ROOT } from './shellHelpers.js'

/** The build context, as Dockerfile.dockerignore allows it (checked against that file below). */
const CONTEXT_FILES = ['package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', 'tsconfig.base.json', 'tsup.base.ts']
const CONTEXT_DIRS = ['packages/sdk', 'packages/enclave-runtime']
const EXCLUDED_DIRS = new Set(['packages/enclave-runtime/test'])
const excluded = (path: string, name: string) =>
  name === 'node_modules' || name === 'dist' || name.endsWith('.test.ts') || name.endsWith('.test-d.ts') || EXCLUDED_DIRS.has(path)

const SOURCE_DATE_EPOCH = 1_700_000_000

/** Copy the build context from the working tree (what `docker buildx build` would send) to `to`. */
async function copyContext(to: string): Promise<void> {
  for (const file of CONTEXT_FILES) await cp(join(REPO_ROOT, file), join(to, file))
  const walk = async (path: string): Promise<void> => {
    await mkdir(join(to, path), { recursive: true })
    for (const entry of await readdir(join(REPO_ROOT, path), { withFileTypes: true })) {
      const child = `${path}/${entry.name}`
      if (excluded(child, entry.name)) continue
      if (entry.isDirectory()) await walk(child)
      else await cp(join(REPO_ROOT, child), join(to, child), { verbatimSymlinks: true })
    }
  }
  for (const dir of CONTEXT_DIRS) await walk(dir)
}

/** Set every mtime under `root` to `seconds` (plus a per-file offset, so that no two builds agree by chance). */
async function touchAll(root: string, seconds: number): Promise<void> {
  let n = 0
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) await walk(path)
      n += 1
      if (!entry.isSymbolicLink()) await utimes(path, seconds + n, seconds + n)
    }
  }
  await walk(root)
}

type Tree = { entries: string[]; hash: string; problems: string[] }

/**
 * One line per entry, sorted by path: `<type> <mode> <mtime> <path> <sha256 | -> target>`; the tree hash is
 * the SHA-256 of those lines. Hard links and owners are reported as problems (the tree must have none; the
 * image's COPY --chown sets the owners).
 */
async function hashTree(root: string): Promise<Tree> {
  const entries: string[] = []
  const problems: string[] = []
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name)
      const rel = relative(root, path)
      const st = await lstat(path)
      const mode = (st.mode & 0o7777).toString(8).padStart(4, '0')
      const mtime = Math.floor(st.mtimeMs / 1000)
      if (st.isSymbolicLink()) entries.push(`l ---- ${mtime} ${rel} -> ${await readlink(path)}`)
      else if (st.isDirectory()) {
        entries.push(`d ${mode} ${mtime} ${rel}`)
        await walk(path)
      } else if (st.isFile()) {
        if (st.nlink !== 1) problems.push(`${rel} has ${st.nlink} hard links`)
        entries.push(`f ${mode} ${mtime} ${rel} ${createHash('sha256').update(await readFile(path)).digest('hex')}`)
      } else problems.push(`${rel} is neither a file, a directory nor a symbolic link`)
    }
  }
  await walk(root)
  entries.sort()
  return { entries, hash: createHash('sha256').update(`${entries.join('\n')}\n`).digest('hex'), problems }
}

type Build = { label: string; src: string; out: string; tree: Tree; seconds: number }

let dir: string
const builds: Build[] = []

/** Run build-runtime-tree.sh from the copied context at `src` with its own umask, TZ, locale and cold pnpm directories. */
async function build(label: string, src: string, setting: { umask: string; tz: string; lang: string }): Promise<Build> {
  const base = join(dir, label)
  const out = join(base, 'out')
  const started = Date.now()
  // CUSTODY_IMAGE_TREE_SCRIPT runs the comparison over another script (<source> <output>), e.g. an older
  // version of the steps, to see this test fail on it.
  const script = process.env.CUSTODY_IMAGE_TREE_SCRIPT ?? join(src, 'packages/enclave-runtime/enclave/build-runtime-tree.sh')
  // Asynchronous, so that the two builds run at the same time (each waits mostly on its cold pnpm store).
  const result = await new Promise<{ status: number | null; signal: string | null; stdout: string; stderr: string }>((done) => {
    execFile(
      'bash',
      ['-c', `umask ${setting.umask} && exec bash "$0" "$1" "$2"`, script, src, out],
      {
        env: {
          ...process.env,
          TZ: setting.tz,
          LANG: setting.lang,
          LC_ALL: setting.lang,
          SOURCE_DATE_EPOCH: String(SOURCE_DATE_EPOCH),
          PNPM_STORE_DIR: join(base, 'pnpm-store'),
          PNPM_CACHE_DIR: join(base, 'pnpm-cache'),
          PNPM_STATE_DIR: join(base, 'pnpm-state'),
        },
        encoding: 'utf8',
        timeout: 900_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const status = error === null ? 0 : typeof error.code === 'number' ? error.code : null
        done({ status, signal: error?.signal ?? null, stdout, stderr })
      },
    )
  })
  if (result.status !== 0) throw new Error(`build ${label} failed (status ${result.status}, signal ${result.signal}):\n${result.stdout.slice(-4000)}\n${result.stderr.slice(-8000)}`)
  const tree = await hashTree(out)
  return { label, src, out, tree, seconds: Math.round((Date.now() - started) / 1000) }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'image-tree-'))
  // One snapshot of the working tree, copied twice, so that concurrent edits cannot make the builds differ.
  const a = join(dir, 'a', 'src')
  const b = join(dir, 'b', 'a', 'deeper', 'place', 'src')
  await copyContext(a)
  await mkdir(join(b, '..'), { recursive: true })
  await cp(a, b, { recursive: true, verbatimSymlinks: true })
  await touchAll(a, 1_500_000_000)
  await touchAll(b, 1_900_000_000)
  builds.push(
    ...(await Promise.all([
      build('a', a, { umask: '022', tz: 'UTC', lang: 'C.UTF-8' }),
      build('b', b, { umask: '077', tz: 'Pacific/Chatham', lang: 'C' }),
    ])),
  )
  for (const { label, tree, seconds } of builds) {
    console.log(`[image tree] build ${label}: ${tree.entries.length} entries, tree sha256 ${tree.hash} (${seconds} s)`)
  }
}, 1_800_000)

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true })
})

describe('the enclave image tree (build-runtime-tree.sh, twice, outside Docker)', () => {
  it('mirrors the Docker build context allowlist', async () => {
    const ignore = (await readFile(join(ENCLAVE_DIR, 'Dockerfile.dockerignore'), 'utf8')).split('\n').filter((l) => l && !l.startsWith('#'))
    expect(ignore).toEqual([
      '**',
      ...CONTEXT_FILES.map((f) => `!${f}`),
      ...CONTEXT_DIRS.map((d) => `!${d}/**`),
      '**/node_modules',
      '**/dist',
      '**/*.test.ts',
      '**/*.test-d.ts',
      ...EXCLUDED_DIRS,
    ])
  })

  it('is identical file by file: path, type, mode, mtime, content, link target', () => {
    const [a, b] = builds as [Build, Build]
    const onlyA = a.tree.entries.filter((e) => !b.tree.entries.includes(e))
    const onlyB = b.tree.entries.filter((e) => !a.tree.entries.includes(e))
    expect({ onlyA: onlyA.slice(0, 20), onlyB: onlyB.slice(0, 20) }).toEqual({ onlyA: [], onlyB: [] })
    expect(a.tree.hash).toBe(b.tree.hash)
    expect(a.tree.entries.length).toBeGreaterThan(1000)
  })

  it('has no hard links, only relative links inside the tree, and one mtime', () => {
    for (const { tree } of builds) {
      expect(tree.problems).toEqual([])
      for (const entry of tree.entries) expect(entry).toMatch(new RegExp(`^[fdl] (0755|0644|----) ${SOURCE_DATE_EPOCH} `))
      expect(tree.entries.filter((e) => e.startsWith('l ') && / -> \//.test(e))).toEqual([])
    }
  })

  it('names neither build directory, and keeps none of pnpm’s state or shims', () => {
    const [a] = builds as [Build]
    for (const { tree, src, out } of builds) {
      expect(tree.entries.filter((e) => e.includes(src) || e.includes(out) || e.includes('@file+'))).toEqual([])
      expect(tree.entries.filter((e) => /(^|\/)(\.bin|\.modules\.yaml|\.pnpm-workspace-state-v1\.json|pnpm-lock\.yaml|lock\.yaml)( |\/|$)/.test(e.split(' ')[3]!))).toEqual([])
    }
    expect(a.tree.entries.filter((e) => /^f \S+ \S+ (runtime\/package\.json|bin\/custody-enclave-entrypoint|runtime\/dist\/bin\/enclave\.js) /.test(e)).map((e) => e.split(' ').slice(0, 4).join(' '))).toEqual([
      `f 0644 ${SOURCE_DATE_EPOCH} runtime/package.json`,
      `f 0755 ${SOURCE_DATE_EPOCH} bin/custody-enclave-entrypoint`,
      `f 0755 ${SOURCE_DATE_EPOCH} runtime/dist/bin/enclave.js`, // tsup marks a file with a shebang executable
    ])
  })

  it('writes runtime/package.json itself: the workspace manifest’s dependencies, keys sorted', async () => {
    const [a] = builds as [Build]
    const written = JSON.parse(await readFile(join(a.out, 'runtime/package.json'), 'utf8'))
    const manifest = JSON.parse(await readFile(join(a.src, 'packages/enclave-runtime/package.json'), 'utf8'))
    expect(Object.keys(written)).toEqual(['name', 'version', 'private', 'license', 'type', 'dependencies'])
    expect(written.type).toBe('module')
    expect(Object.keys(written.dependencies)).toEqual(Object.keys(manifest.dependencies).sort())
    expect(written.dependencies).toEqual(manifest.dependencies)
  })

  it('runs: the deployed runtime starts from the tree (its --help)', () => {
    const [a] = builds as [Build]
    const result = spawnSync(process.execPath, [join(a.out, 'runtime/dist/bin/enclave.js'), '--help'], { encoding: 'utf8', timeout: 60_000 })
    expect(result.stderr).toBe('')
    expect(result.status).toBe(0)
    expect(result.stdout).toMatch(/^custody-enclave — the enclave-custody runtime server/)
  })

  it('holds no parent-side code: no proxy, record source, IMDS credentials or log receiver (they live in packages/parent-proxy)', async () => {
    const [a] = builds as [Build]
    const paths = a.tree.entries.map((e) => e.split(' ')[3]!)
    // Our own files only: third-party packages keep their names (the AWS SDK has an ImdsCredentials.js).
    const ours = paths.filter((p) => !p.startsWith('runtime/node_modules/'))
    expect(ours.filter((p) => /parentProxy|parent-proxy|recordSource|imdsCredentials|logReceiver|log-receiver|enclaveConnection/i.test(p))).toEqual([])
    expect(paths.filter((p) => /^runtime\/node_modules\/(\.pnpm\/)?@enclave-custody[+/]parent-proxy/.test(p))).toEqual([])
    expect(paths.filter((p) => /^runtime\/dist\/bin\/proxy\./.test(p))).toEqual([])
    // Bundled code keeps the exported names: none of the parent's entry points is in the runtime's dist.
    const dist = paths.filter((p) => /^runtime\/dist\/.*\.(c?js)$/.test(p))
    expect(dist.length).toBeGreaterThan(0)
    for (const file of dist) {
      const text = await readFile(join(a.out, file), 'utf8')
      expect({ file, found: text.match(/startParentProxy|createSecretsManagerRecordSource|createImdsCredentialsProvider|startLogReceiver|formatEnclaveLogLine|createEnclavePool/g) ?? [] }).toEqual({ file, found: [] })
    }
  })
})
