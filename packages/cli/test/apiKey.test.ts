import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLocalRuntime, type EnclaveServer, startEnclaveServer } from '@enclave-custody/enclave-runtime'
import { type ParentProxy, startParentProxy } from '@enclave-custody/parent-proxy'
import { apiKeyStamper } from '@enclave-custody/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readApiKeyFile } from '../src/commands/apiKeyFile.js'
import { runCli } from '../src/commands/runCli.js'
import { captureIo, runCustody } from './helpers.js'

const PCR0 = 'ab'.repeat(48)

async function cli(argv: string[], overrides: Parameters<typeof captureIo>[0] = {}) {
  const io = captureIo(overrides)
  const code = await runCli(argv, io)
  return { code, out: io.out(), err: io.err() }
}

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'custody-api-key-'))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

describe('custody api-key create', () => {
  it('writes a new key file (0600, JSON { publicKey, privateKey }) and prints only the public key', async () => {
    const file = join(dir, 'created.json')
    const { code, out, err } = await cli(['api-key', 'create', '--out', file])
    expect(code).toBe(0)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    const json = JSON.parse(await readFile(file, 'utf8')) as { publicKey: string; privateKey: string }
    expect(Object.keys(json).sort()).toEqual(['privateKey', 'publicKey'])
    expect(json.privateKey).toMatch(/^0x[0-9a-f]{64}$/)
    // The public key is the private key's (compressed SEC1), and it is all stdout holds.
    expect(apiKeyStamper({ privateKey: json.privateKey }).publicKey).toBe(json.publicKey)
    expect(out).toBe(`${json.publicKey}\n`)
    expect(out + err).not.toContain(json.privateKey.slice(2))
    expect(err).toContain(`wrote ${file} (mode 0600)`)
    // The other commands read it back.
    expect((await readApiKeyFile(file, captureIo())).publicKey).toBe(json.publicKey)
  })

  it('refuses to overwrite an existing file (exit 1, content unchanged), as a real process too', async () => {
    const file = join(dir, 'kept.json')
    expect((await cli(['api-key', 'create', '--out', file])).code).toBe(0)
    const before = await readFile(file, 'utf8')
    const again = await cli(['api-key', 'create', '--out', file])
    expect(again).toEqual({ code: 1, out: '', err: `custody api-key: ${file} already exists; not overwritten (an API key file is never replaced)\n` })
    const other = join(dir, 'other')
    await writeFile(other, 'not a key')
    const proc = await runCustody(['api-key', 'create', '--out', other])
    expect(proc.code).toBe(1)
    expect(proc.stdout).toBe('')
    expect(await readFile(file, 'utf8')).toBe(before)
    expect(await readFile(other, 'utf8')).toBe('not a key')
  })

  it.each([
    ['no --out', ['api-key', 'create'], 'custody api-key: --out is required'],
    ['an unknown action', ['api-key', 'delete', '--out', 'x'], 'custody api-key: <action> must be "create"'],
    ['a missing directory', ['api-key', 'create', '--out', '/nonexistent/dir/key.json'], 'custody api-key: --out: directory /nonexistent/dir does not exist'],
    ['a key in place of the path', ['api-key', 'create', '--out', `0x${'cd'.repeat(32)}`], 'custody api-key: --out takes a file path, never a key'],
  ])('usage error for %s (exit 2)', async (_, argv, message) => {
    const { code, out, err } = await cli(argv)
    expect(code).toBe(2)
    expect(out).toBe('')
    expect(err.startsWith(message)).toBe(true)
  })
})

describe('--api-key-file, --pcr0, --attestation-root: usage errors', () => {
  const url = ['--url', 'http://127.0.0.1:1']
  let keyFile: string
  beforeAll(async () => {
    keyFile = join(dir, 'usage.json')
    await cli(['api-key', 'create', '--out', keyFile])
  })

  it('a missing API key names the flag and the variable', async () => {
    expect(await cli(['list', ...url, '--pcr0', PCR0])).toMatchObject({ code: 2, err: expect.stringMatching(/^custody list: --api-key-file is required \(or set CUSTODY_API_KEY_FILE\)/) })
    const missing = join(dir, 'missing.json')
    const expected = `custody list: API key file ${missing} not found (--api-key-file or CUSTODY_API_KEY_FILE); create one with \`custody api-key create --out ${missing}\``
    const byFlag = await cli(['list', ...url, '--pcr0', PCR0, '--api-key-file', missing])
    const byEnv = await cli(['list', ...url, '--pcr0', PCR0], { env: { CUSTODY_API_KEY_FILE: missing } })
    for (const r of [byFlag, byEnv]) {
      expect(r.code).toBe(2)
      expect(r.out).toBe('')
      expect(r.err.startsWith(expected)).toBe(true)
    }
  })

  it.each([
    ['missing', [], {}, 'custody list: --pcr0 is required (or set CUSTODY_PCR0)'],
    ['too short', ['--pcr0', 'ab'], {}, 'custody list: --pcr0 must be 96 hex digits (SHA-384) per value, comma-separated'],
    ['not hex', ['--pcr0', 'zz'.repeat(48)], {}, 'custody list: --pcr0 must be 96 hex digits (SHA-384) per value, comma-separated'],
    ['one bad value in a list', ['--pcr0', `${PCR0},${PCR0.slice(2)}`], {}, 'custody list: --pcr0 must be 96 hex digits (SHA-384) per value, comma-separated'],
    ['bad, from the variable', [], { CUSTODY_PCR0: 'nope' }, 'custody list: CUSTODY_PCR0 must be 96 hex digits (SHA-384) per value, comma-separated'],
    ['the debug-mode zeros', ['--pcr0', '00'.repeat(48)], {}, 'custody list: --pcr0 must not be the all-zero PCR0 of a debug-mode enclave'],
    ['more than five', ['--pcr0', Array.from({ length: 6 }, (_, i) => `${i}`.repeat(96)).join(',')], {}, 'custody list: --pcr0 takes at most 5 values'],
  ] as const)('a bad --pcr0 (%s) is a usage error', async (_, flags, env, message) => {
    const { code, out, err } = await cli(['list', ...url, '--api-key-file', keyFile, ...flags], { env })
    expect(code).toBe(2)
    expect(out).toBe('')
    expect(err.startsWith(message)).toBe(true)
    expect(err.trimEnd().split('\n')).toHaveLength(1)
  })

  it('a malformed API key file is named, never quoted; a file others can read draws a warning', async () => {
    const secret = 'cd'.repeat(32)
    const cases: [string, string, string][] = [
      ['broken-json', `{"publicKey":"0x02","privateKey":"0x${secret}"`, 'is not an API key file'],
      ['bare-key', `0x${secret}\n`, 'is not an API key file'],
      ['bad-private', JSON.stringify({ publicKey: '0x02', privateKey: `0x${'ff'.repeat(32)}` }), 'holds no valid P-256 private key'],
      ['mismatch', JSON.stringify({ publicKey: `0x02${'11'.repeat(32)}`, privateKey: `0x${secret}` }), 'publicKey is not the private key\'s public key'],
    ]
    for (const [name, content, message] of cases) {
      const file = join(dir, `${name}.json`)
      await writeFile(file, content, { mode: 0o600 })
      const { code, out, err } = await cli(['list', ...url, '--pcr0', PCR0, '--api-key-file', file])
      expect(code, name).toBe(2)
      expect(err, name).toContain(message)
      expect(out + err, name).not.toContain(secret)
      expect(out + err, name).not.toMatch(/[0-9a-f]{40}/i)
    }
    await chmod(keyFile, 0o644)
    try {
      const { err } = await cli(['list', ...url, '--pcr0', PCR0, '--api-key-file', keyFile])
      expect(err).toContain(`warning: API key file ${keyFile} is readable by other users; chmod 600 it`)
    } finally {
      await chmod(keyFile, 0o600)
    }
  })

  it('an attestation root file without a certificate is a usage error', async () => {
    const { code, err } = await cli(['list', ...url, '--pcr0', PCR0, '--api-key-file', keyFile, '--attestation-root', keyFile])
    expect(code).toBe(2)
    expect(err.startsWith(`custody list: --attestation-root: ${keyFile} holds no PEM certificate`)).toBe(true)
    const missing = await cli(['list', ...url, '--pcr0', PCR0, '--api-key-file', keyFile, '--attestation-root', join(dir, 'none.pem')])
    expect(missing.err.startsWith(`custody list: --attestation-root: cannot read ${join(dir, 'none.pem')} (ENOENT)`)).toBe(true)
  })
})

describe('against an attesting enclave behind a proxy', () => {
  let server: EnclaveServer
  let proxy: ParentProxy
  let pcr0: string
  let rootFile: string
  let keyFile: string

  beforeAll(async () => {
    const runtime = await createLocalRuntime()
    pcr0 = runtime.attestation.pcr0[0]!
    rootFile = join(dir, 'root.pem')
    await writeFile(rootFile, runtime.attestation.roots![0]!)
    server = await startEnclaveServer({ handler: runtime.handler, port: 0 })
    proxy = await startParentProxy({ enclave: { host: '127.0.0.1', port: server.port } })
    keyFile = join(dir, 'caller.json')
    await cli(['api-key', 'create', '--out', keyFile])
  })
  afterAll(async () => {
    await proxy?.close()
    await server?.close()
  })

  const list = (flags: string[], env: Record<string, string> = {}) => cli(['list', '--url', proxy.url, '--api-key-file', keyFile, ...flags], { env })

  it('answers when the PCR0 is allowed and the root is given (flags or variables)', async () => {
    expect(await list(['--pcr0', pcr0, '--attestation-root', rootFile])).toEqual({ code: 0, out: '', err: 'no keys\n' })
    // A rotation list holding the right value, in either case and with 0x.
    expect(await list(['--pcr0', `${PCR0},0x${pcr0.toUpperCase()}`, '--attestation-root', rootFile])).toEqual({ code: 0, out: '', err: 'no keys\n' })
    expect(await list([], { CUSTODY_PCR0: pcr0, CUSTODY_ATTESTATION_ROOT: rootFile })).toEqual({ code: 0, out: '', err: 'no keys\n' })
  })

  it('refuses an enclave whose PCR0 is not allowed (ATTESTATION_FAILED, exit 1)', async () => {
    const { code, out, err } = await list(['--pcr0', PCR0, '--attestation-root', rootFile])
    expect(code).toBe(1)
    expect(out).toBe('')
    expect(err).toMatch(/^custody list: .*PCR0 [0-9a-f]{16}… is not in the allowlist.*\(ATTESTATION_FAILED\)\n$/)
  })

  it('sends CUSTODY_AUTH_TOKEN of its environment to a proxy that requires a bearer token', async () => {
    const token = 'tok_cli_0123456789abcdef0123456789abcdef'
    const guarded = await startParentProxy({ enclave: { host: '127.0.0.1', port: server.port }, auth: { bearerTokens: [token] } })
    try {
      const at = (env: Record<string, string>) =>
        cli(['list', '--url', guarded.url, '--api-key-file', keyFile, '--pcr0', pcr0, '--attestation-root', rootFile], { env })
      expect(await at({ CUSTODY_AUTH_TOKEN: token })).toEqual({ code: 0, out: '', err: 'no keys\n' })
      for (const env of [{}, { CUSTODY_AUTH_TOKEN: `${token}x` }] as Record<string, string>[]) {
        const refused = await at(env)
        expect(refused.code).toBe(1)
        expect(refused.err).toMatch(/token/)
        expect(refused.err).not.toContain(token)
      }
    } finally {
      await guarded.close()
    }
  })

  it('refuses the software NSM without --attestation-root (the default root is AWS Nitro)', async () => {
    const { code, err } = await list(['--pcr0', pcr0])
    expect(code).toBe(1)
    expect(err).toMatch(/^custody list: attestation failed: .*not a trusted root.*\(ATTESTATION_FAILED\); only the AWS Nitro root is trusted without --attestation-root \(a local stack: --dev <dir>\)\n$/)
  })
})
