/**
 * The enclave image's build files, checked without Docker or nitro-cli (this machine has neither a Docker
 * engine nor /dev/nsm): script syntax, shellcheck when available, the Dockerfile's pinning and hygiene, and
 * build-eif.sh's argument handling, dry run, dirty-tree check and PCR printing.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ENCLAVE_DIR, ensureShellcheck, HOST_DIR, hasCommand, REPO_ROOT, run } from './shellHelpers.js'

const BUILD = join(ENCLAVE_DIR, 'build-eif.sh')
const KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'
const SCRIPTS = [join(ENCLAVE_DIR, 'entrypoint.sh'), BUILD, join(ENCLAVE_DIR, 'build-runtime-tree.sh'), join(HOST_DIR, 'custody-enclave-run.sh')]

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'enclave-image-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('shell scripts', () => {
  it.each(SCRIPTS)('%s parses (bash -n) and starts with a bash shebang', async (script) => {
    expect(run('bash', ['-n', script]).status).toBe(0)
    expect((await readFile(script, 'utf8')).split('\n')[0]).toBe('#!/usr/bin/env bash')
  })

  it('pass shellcheck (skipped when shellcheck is not available)', (context) => {
    if (!ensureShellcheck()) {
      console.warn('[enclave image] SKIPPED: shellcheck is not installed and could not be installed with apt-get')
      context.skip()
    }
    const result = run('shellcheck', ['--severity=style', ...SCRIPTS])
    expect(result.stdout + result.stderr).toBe('')
    expect(result.status).toBe(0)
  }, 180_000) // room for apt-get install
})

describe('Dockerfile', () => {
  let dockerfile: string
  let pins: string
  beforeAll(async () => {
    dockerfile = await readFile(join(ENCLAVE_DIR, 'Dockerfile'), 'utf8')
    pins = await readFile(join(ENCLAVE_DIR, 'pins.env'), 'utf8')
  })
  const instructions = () => dockerfile.split('\n').filter((l) => /^[A-Z]+\s/.test(l))

  it('builds every stage FROM the digest-pinned NODE_IMAGE argument, which has no default', () => {
    const froms = instructions().filter((l) => l.startsWith('FROM '))
    expect(froms).toEqual([`FROM \${NODE_IMAGE} AS builder`, `FROM \${NODE_IMAGE} AS runtime`])
    expect(instructions()).toContain('ARG NODE_IMAGE')
    expect(dockerfile).not.toMatch(/^# ?syntax=/m) // no frontend image pulled by tag
    // Node 22 (Node 20 is end-of-life); the digest is marked unverified where it stands.
    expect(pins).toMatch(/^NODE_IMAGE=node:22\.\d+\.\d+-bookworm-slim@sha256:[0-9a-f]{64}$/m)
    expect(pins).toMatch(/UNVERIFIED DIGEST[\s\S]*docker buildx imagetools inspect node:22\.\d+\.\d+-bookworm-slim[\s\S]*^NODE_IMAGE=/m)
    expect(pins).toMatch(/^DEBIAN_SNAPSHOT=\d{8}T\d{6}Z$/m)
  })

  it('requires its pinned inputs: no defaults, and each RUN that uses one fails fast without it', () => {
    for (const arg of ['PNPM_VERSION', 'SOURCE_DATE_EPOCH', 'DEBIAN_SNAPSHOT', 'CUSTODY_REGION']) {
      expect(instructions()).toContain(`ARG ${arg}`)
      expect(dockerfile).not.toMatch(new RegExp(`^ARG ${arg}=`, 'm'))
    }
    expect(dockerfile).toMatch(/test -n "\$\{PNPM_VERSION\}" \|\|/)
    expect(dockerfile).toMatch(/test -n "\$\{SOURCE_DATE_EPOCH\}" \|\|/)
    expect(dockerfile).toMatch(/test -n "\$\{DEBIAN_SNAPSHOT\}" \|\|/)
    expect(dockerfile).toMatch(/grep -Eq '\^\[a-z\]\{2\}\(-\[a-z\]\+\)\+-\[0-9\]\+\$' \|\| \{ echo 'CUSTODY_REGION is required/)
  })

  it('installs only socat and iproute2, from the snapshot, and leaves no apt state or package managers', () => {
    expect(dockerfile.match(/apt-get install[^;]*/g)).toEqual(['apt-get install -y --no-install-recommends socat iproute2'])
    expect(dockerfile).toContain(`http://snapshot.debian.org/archive/debian/\${DEBIAN_SNAPSHOT}`)
    expect(dockerfile).toContain(`http://snapshot.debian.org/archive/debian-security/\${DEBIAN_SNAPSHOT}`)
    for (const path of ['/var/lib/apt/lists/*', '/var/cache/apt/*', '/var/log/*', '/usr/local/lib/node_modules/npm', '/usr/local/lib/node_modules/corepack']) {
      expect(dockerfile).toContain(path)
    }
  })

  it('builds the runtime tree with build-runtime-tree.sh alone (the steps the image-tree test repeats)', async () => {
    const script = await readFile(join(ENCLAVE_DIR, 'build-runtime-tree.sh'), 'utf8')
    const builder = dockerfile.slice(dockerfile.indexOf(' AS builder'), dockerfile.indexOf(' AS runtime'))
    expect(builder.match(/^RUN .*/gm)?.at(-1)).toMatch(/^RUN --mount=type=cache,id=enclave-custody-pnpm-store,target=\/pnpm-store \\$/)
    expect(builder).toContain('PNPM_STORE_DIR=/pnpm-store bash packages/enclave-runtime/enclave/build-runtime-tree.sh \\\n      /build/enclave-custody-src /build/enclave-custody-out\n')
    expect(builder).not.toMatch(/pnpm (install|deploy|--filter)/)
    expect(script).toContain("pnpm install --frozen-lockfile --ignore-scripts --filter '@enclave-custody/enclave-runtime...'")
    expect(script).toContain(`deploy --prod "\${pnpm_options[@]}" "$runtime"`)
    expect(script).toContain(`touch --no-dereference --date="@\${SOURCE_DATE_EPOCH}"`)
  })

  it('copies into the runtime only the deployed runtime and the entrypoint, owned by root, with clamped mtimes', () => {
    const copies = instructions().filter((l) => l.startsWith('COPY ') && l.includes('--from='))
    expect(copies).toEqual([
      'COPY --from=builder --chown=0:0 /build/enclave-custody-out/runtime /opt/enclave-custody/runtime',
      'COPY --from=builder --chown=0:0 /build/enclave-custody-out/bin/custody-enclave-entrypoint /usr/local/bin/custody-enclave-entrypoint',
    ])
    // The runtime stage's own files; the builder's are clamped by build-runtime-tree.sh.
    expect(dockerfile.match(/touch --no-dereference --date="@\$\{SOURCE_DATE_EPOCH\}"/g)).toHaveLength(1)
  })

  it('runs the entrypoint as the whole command, with the region and key in the environment', () => {
    expect(instructions()).toContain('ENTRYPOINT []')
    expect(instructions()).toContain('CMD ["/usr/local/bin/custody-enclave-entrypoint"]')
    expect(dockerfile).toMatch(/CUSTODY_REGION=\$\{CUSTODY_REGION\}/)
    expect(dockerfile).toMatch(/CUSTODY_KMS_KEY_ID=\$\{CUSTODY_KMS_KEY_ID\}/)
    // No default: the pinned key is a required build argument, checked as a key ARN in CUSTODY_REGION.
    expect(instructions()).toContain('ARG CUSTODY_KMS_KEY_ID')
    expect(instructions()).not.toContain('ARG CUSTODY_KMS_KEY_ID=')
  })

  it('has a context allowlist that keeps build outputs and unrelated packages out', async () => {
    const ignore = (await readFile(join(ENCLAVE_DIR, 'Dockerfile.dockerignore'), 'utf8')).split('\n').filter((l) => l && !l.startsWith('#'))
    expect(ignore[0]).toBe('**')
    expect(ignore).toEqual(expect.arrayContaining(['!packages/sdk/**', '!packages/enclave-runtime/**', '**/node_modules', '**/dist']))
    expect(ignore.filter((l) => l.startsWith('!packages/'))).toHaveLength(2)
  })
})

describe('build-eif.sh', () => {
  it('--help describes the build and exits 0', () => {
    const result = run(BUILD, ['--help'])
    expect(result.status).toBe(0)
    expect(result.stdout).toMatch(/^build-eif\.sh — build the enclave-custody enclave image/)
    for (const flag of ['--region', '--kms-key-arn', '--output-dir', '--dry-run', '--print-pcrs', '--allow-dirty']) expect(result.stdout).toContain(flag)
  })

  it('--dry-run prints the pinned docker build and the nitro-cli conversion', () => {
    const result = run(BUILD, ['--dry-run', '--allow-dirty', '--region', 'eu-west-1', '--kms-key-arn', 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab', '--output-dir', '/tmp/eif', '--tag', 'enclave-custody/enclave:test'], {
      env: { SOURCE_DATE_EPOCH: '1700000000' },
    })
    expect(result.status).toBe(0)
    const [build = '', eif] = result.stdout.trim().split('\n')
    expect(build).toMatch(/^docker buildx build --file \S+\/packages\/enclave-runtime\/enclave\/Dockerfile --platform linux\/(amd64|arm64) /)
    expect(build).toMatch(/--build-arg NODE_IMAGE=node:22\.\d+\.\d+-bookworm-slim@sha256:[0-9a-f]{64} /)
    expect(build).toContain('--build-arg DEBIAN_SNAPSHOT=')
    expect(build).toMatch(/--build-arg PNPM_VERSION=\d+\.\d+\.\d+ /)
    expect(build).toContain('--build-arg SOURCE_DATE_EPOCH=1700000000 ')
    expect(build).toContain('--build-arg CUSTODY_REGION=eu-west-1 ')
    expect(build).toContain('--build-arg CUSTODY_KMS_KEY_ID=arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab ')
    expect(build).toContain('--provenance=false')
    expect(build).toContain('--output type=docker\\,name=enclave-custody/enclave:test\\,rewrite-timestamp=true')
    expect(build.endsWith(` ${REPO_ROOT} `) || build.endsWith(` ${REPO_ROOT}`)).toBe(true)
    expect(eif).toBe('nitro-cli build-enclave --docker-uri enclave-custody/enclave:test --output-file /tmp/eif/custody.eif > /tmp/eif/pcrs.json')
  })

  const refusals: [string, string[], Record<string, string>, RegExp][] = [
    ['no region', [], {}, /--region must be an AWS region/],
    ['a malformed region', ['--region', 'Europe'], {}, /--region must be an AWS region/],
    ['no sealing key ARN', ['--region', 'us-east-1'], {}, /--kms-key-arn is required: the full ARN of the sealing key/],
    ['an alias', ['--region', 'us-east-1', '--kms-key-arn', 'alias/custody'], {}, /--kms-key-arn must be a KMS key ARN .*not an alias or a bare key id/],
    ['an alias ARN', ['--region', 'us-east-1', '--kms-key-arn', 'arn:aws:kms:us-east-1:111122223333:alias/custody'], {}, /--kms-key-arn must be a KMS key ARN/],
    ['a bare key id', ['--region', 'us-east-1', '--kms-key-arn', '1234abcd-12ab-34cd-56ef-1234567890ab'], {}, /--kms-key-arn must be a KMS key ARN/],
    ['a malformed key ARN', ['--region', 'us-east-1', '--kms-key-arn', 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab; rm -rf'], {}, /--kms-key-arn must be a KMS key ARN/],
    ['a key of another region', ['--region', 'eu-west-1', '--kms-key-arn', 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'], {}, /--kms-key-arn must be a key in --region eu-west-1/],
    ['the old --kms-key-id', ['--region', 'us-east-1', '--kms-key-id', 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'], {}, /--kms-key-id was replaced by --kms-key-arn/],
    ['a base image pinned by tag only', ['--region', 'us-east-1', '--kms-key-arn', 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'], { NODE_IMAGE: 'node:20-bookworm-slim' }, /NODE_IMAGE must be pinned by digest .*imagetools inspect/],
    ['a malformed snapshot', ['--region', 'us-east-1', '--kms-key-arn', 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'], { DEBIAN_SNAPSHOT: 'latest' }, /DEBIAN_SNAPSHOT must be a snapshot\.debian\.org timestamp/],
    ['a missing pins file', ['--region', 'us-east-1', '--kms-key-arn', KEY_ARN, '--pins', '/nonexistent/pins.env'], {}, /no pins file at/],
    ['an unknown flag', ['--region', 'us-east-1', '--debug'], {}, /unknown argument: --debug/],
    ['a flag without its value', ['--region'], {}, /--region needs a value/],
  ]
  it.each(refusals)('fails fast on %s (exit 2, before any build)', (_, args, env, message) => {
    const result = run(BUILD, ['--dry-run', '--allow-dirty', ...args], { env: { SOURCE_DATE_EPOCH: '1700000000', ...env } })
    expect(result.status).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(message)
  })

  it('refuses a tree whose image sources differ from HEAD unless --allow-dirty', async (context) => {
    if (!hasCommand('git')) {
      console.warn('[enclave image] SKIPPED the dirty-tree test: git is not installed')
      context.skip()
    }
    // A throwaway repository with the script at its real place and the files it reads.
    const repo = join(dir, 'repo')
    await mkdir(join(repo, 'packages/enclave-runtime/enclave'), { recursive: true })
    await mkdir(join(repo, 'packages/sdk'), { recursive: true })
    for (const file of ['build-eif.sh', 'pins.env', 'Dockerfile']) {
      await writeFile(join(repo, 'packages/enclave-runtime/enclave', file), await readFile(join(ENCLAVE_DIR, file)), { mode: 0o755 })
    }
    await writeFile(join(repo, 'package.json'), '{ "packageManager": "pnpm@12.4.2" }\n')
    await writeFile(join(repo, 'packages/sdk/index.ts'), 'export {}\n')
    const git = (...args: string[]) => run('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', '-c', 'commit.gpgsign=false', ...args], { cwd: repo })
    expect(git('init', '-q').status).toBe(0)
    expect(git('add', '.').status).toBe(0)
    expect(git('commit', '-q', '-m', 'init').status).toBe(0)
    const script = join(repo, 'packages/enclave-runtime/enclave/build-eif.sh')

    const clean = run(script, ['--dry-run', '--region', 'us-east-1', '--kms-key-arn', KEY_ARN])
    expect(clean.status).toBe(0)
    const epoch = git('log', '-1', '--format=%ct').stdout.trim()
    expect(clean.stdout).toContain(`--build-arg SOURCE_DATE_EPOCH=${epoch} `)
    expect(clean.stdout).toContain(`--docker-uri enclave-custody/enclave:${git('rev-parse', 'HEAD').stdout.trim().slice(0, 12)} `)

    await writeFile(join(repo, 'packages/sdk/extra.ts'), 'export const x = 1\n')
    const dirty = run(script, ['--dry-run', '--region', 'us-east-1', '--kms-key-arn', KEY_ARN])
    expect(dirty.status).toBe(2)
    expect(dirty.stderr).toContain("the image's sources differ from HEAD")
    expect(dirty.stderr).toContain('?? packages/sdk/extra.ts')

    const allowed = run(script, ['--dry-run', '--allow-dirty', '--region', 'us-east-1', '--kms-key-arn', KEY_ARN])
    expect(allowed.status).toBe(0)
    expect(allowed.stderr).toContain('WARNING: building from a dirty tree')

    // Files outside the image's sources do not count.
    await rm(join(repo, 'packages/sdk/extra.ts'))
    await writeFile(join(repo, 'NOTES.md'), 'unrelated\n')
    expect(run(script, ['--dry-run', '--region', 'us-east-1', '--kms-key-arn', KEY_ARN]).status).toBe(0)
  })

  describe('--print-pcrs', () => {
    const pcr = (d: string) => d.repeat(96)
    const measurements = `"Measurements": {\n    "HashAlgorithm": "Sha384 { ... }",\n    "PCR0": "${pcr('a')}",\n    "PCR1": "${pcr('B')}",\n    "PCR2": "${pcr('c')}"\n  }`

    it.each([
      ['build-enclave', `{\n  ${measurements}\n}\n`],
      ['build-enclave with its progress lines captured too', `Start building the Enclave Image...\nEnclave Image successfully created.\n{\n  ${measurements}\n}\n`],
      ['describe-enclaves (the first enclave)', `[\n  {\n    "EnclaveName": "custody",\n    "EnclaveCID": 16,\n    "State": "RUNNING",\n    "Flags": "NONE",\n    ${measurements}\n  }\n]\n`],
    ])('reads %s output', async (name, json) => {
      const file = join(dir, `${name.replace(/\W+/g, '-')}.json`)
      await writeFile(file, json)
      const result = run(BUILD, ['--print-pcrs', file])
      expect(result.status).toBe(0)
      expect(result.stdout).toBe(`PCR0=${pcr('a')}\nPCR1=${pcr('b')}\nPCR2=${pcr('c')}\n`)
    })

    it('fails on output without 48-byte PCRs, or a missing file', async () => {
      const file = join(dir, 'short.json')
      await writeFile(file, `{ "Measurements": { "PCR0": "${'a'.repeat(95)}", "PCR1": "${pcr('b')}", "PCR2": "${pcr('c')}" } }`)
      const short = run(BUILD, ['--print-pcrs', file])
      expect(short.status).toBe(2)
      expect(short.stderr).toContain('has no 48-byte PCR0')
      expect(run(BUILD, ['--print-pcrs', join(dir, 'missing.json')]).stderr).toContain('no such file')
    })
  })
})
