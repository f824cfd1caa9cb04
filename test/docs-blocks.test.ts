/**
 * Every fenced code block of README.md, packages/* and examples/* READMEs and docs/*.md runs here against a local
 * stack, or is marked with why it does not (the marks: test/support/docsBlocks.ts). One `custody dev` serves every
 * block, started the way the CLI README starts it, in a directory that mirrors the repository (so that
 * `.custody-dev` and the repository's relative paths both resolve); `custody`, `custody-proxy` and
 * `custody-log-receiver` are on the PATH (`custody` runs its commands in this process: `serveCli`).
 *
 * - `ts` blocks run as written, each a program of its own (with the `continues` blocks after it), imported in
 *   this process one after another, with dev.env's variables in the environment (what
 *   `set -a; . .custody-dev/dev.env; set +a` gives a reader) and the mirrored repository as directory;
 * - `sh` blocks run in bash (`-e -o pipefail`), a file's blocks one after another in document order;
 * - `json file=…` blocks must equal the file, and the file must be a signing policy (`*.policy.json`) or a
 *   payload `custody policy test` accepts;
 * - `synopsis` blocks: every `custody …` line's command answers `--help`, every `pnpm <script>` exists, every file
 *   a `node` line names exists;
 * - `covered-by` marks name files that exist.
 */
import { spawn } from 'node:child_process'
import { createServer, type Server } from 'node:net'
import { existsSync, readdirSync, readFileSync, symlinkSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { readDevEnv, runCli, runDevStack } from '@enclave-custody/cli'
import { normalizeSigningPolicy } from '@enclave-custody/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readPayloadFile } from '../packages/cli/src/commands/policyFiles.js'
import { captureIo } from '../packages/cli/test/helpers.js'
import { DOC_MARKS, type DocBlock, docFiles, parseBlocks, planOf, strayMarks, tsPrograms, where } from './support/docsBlocks.js'
import { repoRoot } from './vectors.js'

const files = docFiles(repoRoot)
const texts = new Map(files.map((f) => [f, readFileSync(join(repoRoot, f), 'utf8')]))
const blocks = files.flatMap((f) => parseBlocks(f, texts.get(f)!))
const programs = tsPrograms(blocks)
const shBlocks = blocks.filter((b) => planOf(b).run === 'sh')
const tsx = join(repoRoot, 'node_modules', 'tsx', 'dist', 'loader.mjs')
const nodeArgs = ['--conditions=@enclave-custody/source', '--import', tsx]

type Ran = { code: number | null; output: string }

/** Run a command to completion; its output (stdout and stderr interleaved) is kept for the failure message. */
function run(command: string, args: string[], { cwd, env, timeoutMs = 120_000 }: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (c: Buffer) => {
      output += c.toString()
    })
    child.stderr.on('data', (c: Buffer) => {
      output += c.toString()
    })
    const timer = setTimeout(() => {
      output += `\n[docs-blocks] killed after ${timeoutMs} ms`
      child.kill('SIGKILL')
    }, timeoutMs)
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })
}

/** At most `limit` of `tasks` at a time; each result is a promise of its own. */
function pool<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T>[] {
  const results: Promise<T>[] = []
  const running: Promise<unknown>[] = []
  for (const task of tasks) {
    const ready = running.length >= limit ? Promise.race(running) : Promise.resolve()
    const result = ready.then(task)
    const slot: Promise<unknown> = result.then(
      () => running.splice(running.indexOf(slot), 1),
      () => running.splice(running.indexOf(slot), 1),
    )
    running.push(slot)
    results.push(result)
  }
  return results
}

/** A synopsis line's problem, or undefined when the command it shows exists. */
async function checkSynopsisLine(line: string, scripts: Record<string, string>): Promise<string | undefined> {
  const words = line.split(/\s+/)
  if (words[0] === 'custody') {
    const command = words.slice(1).filter((_, i, all) => all.slice(0, i + 1).every((x) => /^[a-z][a-z0-9-]*$/.test(x)))
    const io = captureIo({ cwd: repoRoot })
    const code = await runCli([...command, '--help'], io)
    return code === 0 && io.out().includes('Usage') ? undefined : `custody ${command.join(' ')} --help exits ${code}: ${io.err()}`
  }
  if (words[0] === 'pnpm') return scripts[words[1]!] === undefined ? `pnpm ${words[1]}: no such script in package.json` : undefined
  if (words[0] === 'node') {
    const missing = words.filter((w) => /\.(ts|js|mjs)$/.test(w) && !w.startsWith('-') && !existsSync(join(repoRoot, w)))
    return missing.length > 0 ? `${missing.join(', ')} does not exist` : undefined
  }
  return `a synopsis line must start with custody, pnpm or node: ${line}`
}

/** The command lines of an sh block: comments dropped, `\` continuations joined. */
const commandLines = (body: string) =>
  body
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.replace(/(^|\s)#.*$/, '').trim())
    .filter((l) => l !== '')

/**
 * Run a ts program in this process: imported as a module (the workspace is already loaded here, so a program
 * costs what it does, not a node + tsx start), with `env` as its environment and `cwd` as its directory.
 * Programs run one at a time (the environment and the directory are the process's). "Exits 0" is "completes".
 */
async function runTsInProcess(file: string, { cwd, env }: { cwd: string; env: NodeJS.ProcessEnv }): Promise<Ran> {
  const savedEnv = { ...process.env }
  const savedCwd = process.cwd()
  let output = ''
  const { log, error, warn } = console
  const collect = (...args: unknown[]) => {
    output += `${args.map(String).join(' ')}\n`
  }
  Object.assign(process.env, env)
  process.chdir(cwd)
  console.log = console.error = console.warn = collect
  try {
    await import(pathToFileURL(file).href)
    return { code: 0, output }
  } catch (e) {
    return { code: 1, output: `${output}${(e as Error).stack ?? String(e)}` }
  } finally {
    Object.assign(console, { log, error, warn })
    process.chdir(savedCwd)
    for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k]
    Object.assign(process.env, savedEnv)
  }
}

/**
 * `custody` for the sh blocks: a small node script (no tsx, no workspace loaded) that hands its arguments,
 * environment, directory and standard input to this process over a Unix socket, where `runCli` runs the command
 * with them, and streams back its output and exit code. A `custody` line then costs the command, not a start of
 * the CLI from its sources (seconds each on two cores).
 */
function serveCli(socket: string): Promise<Server> {
  const server = createServer((conn) => {
    let request = ''
    conn.setEncoding('utf8')
    const send = (m: object) => conn.write(`${JSON.stringify(m)}\n`)
    conn.on('data', async (chunk: string) => {
      request += chunk
      const end = request.indexOf('\n')
      if (end === -1) return
      conn.removeAllListeners('data')
      const { argv, env, cwd, stdin } = JSON.parse(request.slice(0, end)) as { argv: string[]; env: Record<string, string>; cwd: string; stdin: string }
      const io = captureIo({ cwd, env, stdinIsTTY: false, readStdin: async () => stdin, stdout: (o) => send({ o }), stderr: (e) => send({ e }) })
      const code = await runCli(argv, io).catch((e: unknown) => {
        send({ e: `custody (in-process): ${String(e)}\n` })
        return 70
      })
      conn.end(`${JSON.stringify({ code })}\n`)
    })
  })
  return new Promise((resolve, reject) => server.once('error', reject).listen(socket, () => resolve(server)))
}

const cliClient = (socket: string) => `import { connect } from 'node:net'
const chunks = []
for await (const c of process.stdin) chunks.push(c)
const conn = connect(${JSON.stringify(socket)})
conn.write(JSON.stringify({ argv: process.argv.slice(2), env: process.env, cwd: process.cwd(), stdin: Buffer.concat(chunks).toString('utf8') }) + '\\n')
let buffered = ''
conn.setEncoding('utf8')
conn.on('data', (text) => {
  buffered += text
  for (let i = buffered.indexOf('\\n'); i !== -1; i = buffered.indexOf('\\n')) {
    const m = JSON.parse(buffered.slice(0, i))
    buffered = buffered.slice(i + 1)
    if (m.o !== undefined) process.stdout.write(m.o)
    if (m.e !== undefined) process.stderr.write(m.e)
    if (m.code !== undefined) process.exitCode = m.code
  }
})
`

describe('documentation code blocks', () => {
  it('every block is runnable as written or carries a valid doc-test mark', () => {
    const problems: string[] = []
    for (const [file, text] of texts) problems.push(...strayMarks(file, text))
    for (const block of blocks) {
      const plan = planOf(block)
      if (plan.run === 'error') problems.push(`${where(block)}: ${plan.reason}`)
      if (block.mark?.kind === 'covered-by')
        for (const path of block.mark.args) if (!existsSync(join(repoRoot, path))) problems.push(`${where(block)}: covered-by ${path}: no such file`)
    }
    for (const p of programs) problems.push(...p.errors)
    const count = (pred: (b: DocBlock) => boolean) => blocks.filter(pred).length
    const marks = Object.fromEntries(DOC_MARKS.map((m) => [m, count((b) => b.mark?.kind === m)]))
    console.log(
      `[docs-blocks] ${blocks.length} blocks in ${files.length} files: run ${programs.length} ts programs (${count((b) => planOf(b).run === 'ts')} blocks + ${marks.continues} continued), ${shBlocks.length} sh; ${count((b) => planOf(b).run === 'json-file')} json checked; marked ${JSON.stringify(marks)}`,
    )
    expect(problems).toEqual([])
    // The scan sees the files it should: a parser that found nothing would pass the check above.
    expect(files).toContain('packages/sdk/README.md')
    expect(blocks.length).toBeGreaterThanOrEqual(100)
  })

  it('the parser reads marks (indented ones too), fences, continuations and marks that mark nothing', () => {
    const text = [
      '```ts',
      "import { parseEther } from '@enclave-custody/sdk'",
      'const a = parseEther("1")',
      '```',
      '',
      '<!-- doc-test: continues -->',
      '```ts',
      "import { formatEther } from '@enclave-custody/sdk'",
      'console.log(formatEther(a))',
      '```',
      '',
      '  <!-- doc-test: covered-by test/demo.test.ts -->',
      '  ```sh',
      '  pnpm demo',
      '  ```',
      '',
      '```',
      'output',
      '```',
      '<!-- doc-test: nonsense -->',
      '```sh',
      'x',
      '```',
      '<!-- doc-test: needs-aws -->',
      '',
    ].join('\n')
    const parsed = parseBlocks('x.md', text)
    expect(parsed.map((b) => [b.line, b.lang, planOf(b).run])).toEqual([
      [1, 'ts', 'ts'],
      [7, 'ts', 'continues'],
      [13, 'sh', 'none'],
      [17, '', 'error'],
      [21, 'sh', 'error'],
    ])
    expect(parsed[2]!.body).toBe('pnpm demo')
    expect(strayMarks('x.md', text)).toEqual(['x.md:24: a doc-test mark must be on the line right above a fence'])
    const [program] = tsPrograms(parsed)
    expect(program!.errors).toEqual([])
    expect(program!.source.startsWith("import { formatEther } from '@enclave-custody/sdk'\n")).toBe(true)
    expect(program!.source).toContain('{\nconsole.log(formatEther(a))\n}')
  })

  it('an unmarked sh block that would publish, deploy, call AWS or rebuild the workspace is refused, not run', () => {
    const plans = ['pnpm publish -r --access public', 'pnpm build', 'pnpm release:dry-run --keep', 'aws kms list-keys', 'git push', 'custody dev --help'].map(
      (cmd) => planOf(parseBlocks('x.md', `\`\`\`sh\n${cmd}\n\`\`\`\n`)[0]!).run,
    )
    expect(plans).toEqual(['error', 'error', 'error', 'error', 'error', 'sh'])
  })

  it('json blocks naming a file are that file, and each is a signing policy or a payload the CLI accepts', async () => {
    const json = blocks.filter((b) => planOf(b).run === 'json-file')
    expect(json.length).toBeGreaterThanOrEqual(8)
    for (const block of json) {
      const path = (planOf(block) as { path: string }).path
      expect(JSON.parse(block.body), where(block)).toEqual(JSON.parse(readFileSync(join(repoRoot, path), 'utf8')))
      if (path.endsWith('.policy.json')) expect(() => normalizeSigningPolicy(JSON.parse(block.body)), where(block)).not.toThrow()
      else await expect(readPayloadFile(join(repoRoot, path), captureIo({ cwd: repoRoot })), where(block)).resolves.toBeDefined()
    }
  })

  it('every synopsis line names a command that exists', async () => {
    const scripts = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts
    const synopses = blocks.filter((b) => planOf(b).run === 'synopsis')
    expect(synopses.length).toBeGreaterThan(0)
    const problems: string[] = []
    for (const block of synopses)
      for (const line of commandLines(block.body)) {
        const problem = await checkSynopsisLine(line, scripts)
        if (problem) problems.push(`${where(block)}: ${problem}`)
      }
    expect(problems).toEqual([])
  })

  describe('against one local stack (custody dev)', () => {
    let work: string
    const stopDev = new AbortController()
    let devRun: Promise<number> | undefined
    let devStopped = false
    let devOutput = ''
    let shEnv: NodeJS.ProcessEnv
    let tsEnv: NodeJS.ProcessEnv
    let results: Map<DocBlock, Promise<Ran>>
    let cliServer: Server | undefined

    beforeAll(async () => {
      // The repository seen from elsewhere: its top-level entries linked, its own .custody-dev.
      work = await mkdtemp(join(tmpdir(), 'custody-docs-blocks-'))
      for (const entry of readdirSync(repoRoot)) if (!['.custody-dev', '.data', '.git'].includes(entry)) symlinkSync(join(repoRoot, entry), join(work, entry))
      const bin = join(work, '.doc-bin')
      await mkdir(bin)
      const shim = async (name: string, script: string) => {
        await writeFile(join(bin, name), `#!/bin/sh\nexec "${process.execPath}" ${nodeArgs.join(' ')} "${join(repoRoot, script)}" "$@"\n`)
        await chmod(join(bin, name), 0o755)
      }
      cliServer = await serveCli(join(bin, 'cli.sock'))
      await writeFile(join(bin, 'custody-client.mjs'), cliClient(join(bin, 'cli.sock')))
      await writeFile(join(bin, 'custody'), `#!/bin/sh\nexec "${process.execPath}" "${join(bin, 'custody-client.mjs')}" "$@"\n`)
      await chmod(join(bin, 'custody'), 0o755)
      await shim('custody-proxy', 'packages/parent-proxy/src/bin/proxy.ts')
      await shim('custody-log-receiver', 'packages/parent-proxy/src/bin/logReceiver.ts')
      shEnv = { ...process.env, PATH: `${bin}:${process.env.PATH}`, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }

      // `custody dev` in this process (the command's own function; packages/cli/test/dev.e2e.test.ts runs the process).
      const collect = (text: string) => {
        devOutput += text
      }
      const io = captureIo({ cwd: work, stdout: collect, stderr: collect })
      devRun = runDevStack({ dataDir: join(work, '.custody-dev'), anvil: true, chainId: 11155111, awsLatencyMs: 0 }, { io, stop: stopDev.signal })
      devRun.then(
        () => {
          devStopped = true
        },
        (e) => {
          devStopped = true
          devOutput += `\n${String(e)}`
        },
      )
      const envFile = join(work, '.custody-dev', 'dev.env')
      const deadline = Date.now() + 45_000
      while (!(devOutput.includes('custody dev is running') && existsSync(envFile))) {
        if (Date.now() > deadline || devStopped) throw new Error(`custody dev did not start:\n${devOutput}`)
        await new Promise((r) => setTimeout(r, 100))
      }
      const devEnv = await readDevEnv(join(work, '.custody-dev'))
      tsEnv = { ...shEnv, ...devEnv }

      const dir = join(work, '.doc-blocks')
      await mkdir(dir)
      const name = (b: DocBlock) => `${b.file.replace(/[^A-Za-z0-9]+/g, '-')}-L${b.line}`
      results = new Map()
      const runTs = async (p: (typeof programs)[number]) => {
        const file = join(dir, `${name(p.head)}.ts`)
        await writeFile(file, p.source)
        return runTsInProcess(file, { cwd: work, env: tsEnv })
      }
      const runSh = (block: DocBlock) => async () => {
        const file = join(dir, `${name(block)}.sh`)
        await writeFile(file, block.body)
        return run('bash', ['-e', '-o', 'pipefail', file], { cwd: work, env: shEnv })
      }
      // A file's sh blocks run one after another, in document order (a later one may use what an earlier one made);
      // files and ts programs side by side. Blocks that read the audit log run when everything else is done, so
      // that no request is half-written into it.
      const readsAuditLog = (b: DocBlock) => /\baudit verify\b/.test(b.body)
      const chains = [...new Set(shBlocks.map((b) => b.file))].map((file) => shBlocks.filter((b) => b.file === file && !readsAuditLog(b)))
      const pending = new Map<DocBlock, (r: Ran) => void>()
      for (const block of [...shBlocks, ...programs.map((p) => p.head)])
        results.set(block, new Promise<Ran>((resolve) => pending.set(block, resolve)))
      const tasks = [
        // The ts programs, one after another in this process; the sh chains beside them.
        async () => {
          for (const p of programs) pending.get(p.head)!(await runTs(p))
        },
        ...chains.map((chain) => async () => {
          for (const block of chain) pending.get(block)!(await runSh(block)())
        }),
      ]
      const last = shBlocks.filter(readsAuditLog)
      void Promise.allSettled(pool(tasks, 3)).then(async () => {
        for (const block of last) pending.get(block)!(await runSh(block)())
      })
    }, 60_000)

    afterAll(async () => {
      stopDev.abort('SIGINT')
      await devRun?.catch(() => {})
      await new Promise((resolve) => (cliServer ? cliServer.close(resolve) : resolve(undefined)))
      if (work) await rm(work, { recursive: true, force: true })
    }, 20_000)

    it.each(programs.map((p) => [p.parts.map(where).join(' + '), p] as const))('ts %s runs and exits 0', async (_, program) => {
      const { code, output } = await results.get(program.head)!
      expect(code, `${output}\n--- program ---\n${program.source}`).toBe(0)
    }, 240_000)

    it.each(shBlocks.map((b) => [where(b), b] as const))('sh %s runs and exits 0', async (_, block) => {
      const { code, output } = await results.get(block)!
      expect(code, `${output}\n--- block ---\n${block.body}`).toBe(0)
    }, 240_000)
  })
})
