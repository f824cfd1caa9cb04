import { mkdtempSync } from 'node:fs'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApiKeyFile } from '../src/commands/apiKeyFile.js'
import { readPrivateKey } from '../src/commands/readPrivateKey.js'
import { commands, runCli } from '../src/commands/runCli.js'
import { captureIo, runCustody } from './helpers.js'

// A well-known public test key (anvil account #2): never holds real funds.
const TEST_KEY = '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a'
const KEY_DIGITS = TEST_KEY.slice(2)

// A real API key file and a well-formed PCR0 allowlist, so that the checks after them are what is tested.
const authDir = mkdtempSync(join(tmpdir(), 'custody-cli-auth-'))
const API_KEY_FILE = join(authDir, 'api-key.json')
const PCR0 = 'ab'.repeat(48)
const auth = ['--api-key-file', API_KEY_FILE, '--pcr0', PCR0]
beforeAll(async () => {
  await createApiKeyFile(API_KEY_FILE)
})
afterAll(() => rm(authDir, { recursive: true, force: true }))

async function cli(argv: string[], overrides: Parameters<typeof captureIo>[0] = {}) {
  const io = captureIo(overrides)
  const code = await runCli(argv, io, { version: '1.2.3' })
  return { code, out: io.out(), err: io.err() }
}

describe('custody --help', () => {
  it('lists every command', async () => {
    const { code, out } = await cli(['--help'])
    expect(code).toBe(0)
    for (const c of commands) expect(out).toContain(`  ${c.name} `)
    expect(commands.map((c) => c.name)).toEqual(['dev', 'api-key', 'import-key', 'generate-key', 'address', 'list', 'wallet', 'sign', 'sign-psbt', 'sign-solana', 'audit', 'pcr0', 'key-policy', 'policy'])
  })

  it('prints usage on stderr with exit 2 when no command is given, and the version with --version', async () => {
    expect(await cli([])).toMatchObject({ code: 2, out: '' })
    expect((await cli([])).err).toContain('Usage: custody <command>')
    expect(await cli(['--version'])).toEqual({ code: 0, out: '1.2.3\n', err: '' })
  })

  it.each(['dev', 'api-key', 'import-key', 'generate-key', 'address', 'list', 'wallet', 'sign', 'sign-psbt', 'sign-solana', 'audit', 'pcr0', 'key-policy', 'policy'])('custody %s --help describes every option', async (name) => {
    const { code, out, err } = await cli([name, '--help'])
    expect(err).toBe('')
    expect(code).toBe(0)
    expect(out).toMatch(new RegExp(`^Usage: custody ${name}`))
    const command = commands.find((c) => c.name === name)!
    for (const spec of Object.values(command.options)) expect(out).toContain(`--${spec.flag}`)
    expect(out).toContain('-h, --help')
    expect(await cli(['help', name])).toEqual({ code, out, err })
  })
})

describe('usage errors: exit 2, one line naming the flag', () => {
  const sign = ['sign', 'k1', '--url', 'http://127.0.0.1:1', ...auth, '--to', '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', '--value-ether', '0.01', '--nonce', '0', '--gas', '21000', '--max-fee-gwei', '30', '--max-priority-gwei', '1', '--chain-id', '1']
  /** `sign` with `flag` set to `value` (a flag is given once: a repeat is itself a usage error). */
  const signWith = (flag: string, value: string) => {
    const i = sign.indexOf(flag)
    return i < 0 ? [...sign, flag, value] : [...sign.slice(0, i + 1), value, ...sign.slice(i + 2)]
  }
  const cases: [string, string[], string][] = [
    ['an unknown flag', ['list', '--bogus'], 'custody list: unknown option --bogus'],
    ['a flag without its value', ['sign', 'k1', '--to'], 'custody sign: --to <address> needs a value'],
    ['a value for a boolean flag', ['list', '--json=yes'], 'custody list: --json takes no value'],
    ['a missing required flag', ['list'], 'custody list: --url is required (or set CUSTODY_URL)'],
    ['a malformed URL', ['list', '--url', 'ftp://x'], 'custody list: --url must be an http(s) URL'],
    ['a fractional nonce', signWith('--nonce', '1.5'), 'custody sign: --nonce must be a decimal integer ≥ 0'],
    ['ether with too many decimals', signWith('--value-ether', '0.0000000000000000001'), 'custody sign: --value-ether must be an amount of ether'],
    ['a priority fee above the max fee', signWith('--max-priority-gwei', '31'), 'custody sign: --max-priority-gwei must not exceed --max-fee-gwei'],
    ['a bad address', signWith('--to', '0x1234'), 'custody sign: --to must be a 0x-prefixed 20-byte address'],
    ['a missing positional', ['address', '--url', 'http://127.0.0.1:1', ...auth], 'custody address: <keyId> is required'],
    ['an extra positional', ['list', 'extra', '--url', 'http://127.0.0.1:1'], 'custody list: unexpected argument #1'],
    ['a bad PCR0', ['key-policy', '--pcr0', 'ab', '--instance-role', 'x', '--importer-role', 'y', '--admin', 'z'], 'custody key-policy: --pcr0 must be 96 hex digits'],
    ['a bad instance id', ['pcr0', '--instance', 'web-1'], 'custody pcr0: --instance must be an EC2 instance id'],
    ['no pcr0 source', ['pcr0'], 'custody pcr0: give exactly one of --asg, --instance or --from-json'],
    ['a bad chain id', ['dev', '--chain-id', '0x1'], 'custody dev: --chain-id must be a decimal integer ≥ 1'],
    ['a bad env value, naming the variable', ['list'], 'custody list: CUSTODY_URL must be an http(s) URL'],
    ['--dev without dev.env', ['list', '--dev', '/nonexistent/custody-dev'], 'custody list: --dev: /nonexistent/custody-dev/dev.env not found'],
    ['an unknown command', ['frobnicate'], 'custody: unknown command "frobnicate"'],
  ]
  it.each(cases)('%s', async (what, argv, message) => {
    const env = what.includes('env value') ? { CUSTODY_URL: 'not a url' } : {}
    const { code, out, err } = await cli(argv, { env })
    expect(code).toBe(2)
    expect(out).toBe('')
    expect(err.startsWith(message)).toBe(true)
    expect(err.trimEnd().split('\n')).toHaveLength(1)
  })
})

describe('private keys are never taken from or echoed by flags', () => {
  it.each([
    ['as a positional', ['import-key', TEST_KEY, '--url', 'http://127.0.0.1:1', ...auth, '--kms-key-id', 'k']],
    ['as --private-key-file', ['import-key', '--private-key-file', TEST_KEY, '--url', 'http://127.0.0.1:1', ...auth, '--kms-key-id', 'k']],
    ['as --private-key-env', ['import-key', '--private-key-env', KEY_DIGITS, '--url', 'http://127.0.0.1:1', ...auth, '--kms-key-id', 'k']],
    ['as an unknown --private-key flag', ['import-key', `--private-key=${TEST_KEY}`]],
    ['as a keyId', ['address', TEST_KEY, '--url', 'http://127.0.0.1:1', ...auth]],
    ['as --api-key-file', ['list', '--url', 'http://127.0.0.1:1', '--api-key-file', TEST_KEY, '--pcr0', PCR0]],
    ['as a command', [TEST_KEY]],
  ])('%s: refused with exit 2, key not echoed', async (_, argv) => {
    const { code, out, err } = await cli(argv)
    expect(code).toBe(2)
    expect(out + err).not.toContain(KEY_DIGITS)
    expect(out + err).not.toMatch(/[0-9a-f]{40}/i)
  })

  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'custody-cli-'))
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  it('reads the key from a file, an environment variable or stdin, 0x optional, whitespace trimmed', async () => {
    const file = join(dir, 'key')
    await writeFile(file, `${KEY_DIGITS}\n`, { mode: 0o600 })
    const io = captureIo({ env: { MY_KEY: ` ${TEST_KEY} ` }, stdinIsTTY: false, readStdin: async () => `${TEST_KEY}\n` })
    expect(await readPrivateKey({ file }, io)).toBe(TEST_KEY)
    expect(await readPrivateKey({ envName: 'MY_KEY' }, io)).toBe(TEST_KEY)
    expect(await readPrivateKey({}, io)).toBe(TEST_KEY)
    expect(await readPrivateKey({ file: '-' }, io)).toBe(TEST_KEY)
    expect(io.err()).toBe('')
  })

  it('warns about a key file others can read', async () => {
    const file = join(dir, 'open-key')
    await writeFile(file, TEST_KEY)
    await chmod(file, 0o644)
    const io = captureIo()
    expect(await readPrivateKey({ file }, io)).toBe(TEST_KEY)
    expect(io.err()).toContain('is readable by other users; chmod 600 it')
  })

  it.each([
    ['a terminal on stdin', {}, { stdinIsTTY: true }, 'no private key: give --private-key-file <path>, --private-key-env <NAME>, or pipe it on standard input'],
    ['both sources', { file: 'a', envName: 'B' }, {}, 'give either --private-key-file or --private-key-env, not both'],
    ['an unset variable', { envName: 'NOPE' }, {}, '--private-key-env: NOPE is not set'],
    ['a missing file', { file: '/nonexistent/key' }, {}, '--private-key-file: cannot read /nonexistent/key (ENOENT)'],
    ['a short key on stdin', {}, { stdinIsTTY: false, readStdin: async () => TEST_KEY.slice(0, 40) }, 'the private key from standard input must be 32 bytes of hex (0x followed by 64 hex digits)'],
    ['a key with a typo', { envName: 'K' }, { env: { K: `${TEST_KEY.slice(0, 65)}g` } }, 'the private key from environment variable K must be 32 bytes of hex (0x followed by 64 hex digits)'],
  ] as const)('refuses %s without echoing anything secret', async (_, source, overrides, message) => {
    const io = captureIo(overrides as Parameters<typeof captureIo>[0])
    await expect(readPrivateKey(source, io)).rejects.toThrow(message)
  })
})

describe('as a real process', () => {
  it('exits 2 on a bad flag, with one line on stderr', async () => {
    const { code, stdout, stderr } = await runCustody(['sign', '--nonce'])
    expect(code).toBe(2)
    expect(stdout).toBe('')
    expect(stderr).toBe('custody sign: --nonce <n> needs a value (run `custody sign --help`)\n')
  })

  it('exits 1 with one line when the proxy is unreachable', async () => {
    const { code, stdout, stderr } = await runCustody(['list', '--url', 'http://127.0.0.1:1', ...auth])
    expect(code).toBe(1)
    expect(stdout).toBe('')
    expect(stderr).toBe('custody list: cannot reach the custody proxy at http://127.0.0.1:1: is `custody dev` running?\n')
  })

  it('prints help and the version', async () => {
    const help = await runCustody(['--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('Usage: custody <command> [options]')
    const version = await runCustody(['--version'])
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/)
  })
})
