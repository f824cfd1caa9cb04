import { mkdtempSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { getChain, isCustodyError, type KeyInfo, RETIRED_TESTNETS } from '@enclave-custody/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApiKeyFile } from '../src/commands/apiKeyFile.js'
import { formatKeyTable } from '../src/commands/list.js'
import { commands, runCli } from '../src/commands/runCli.js'
import { captureIo, runCustody } from './helpers.js'

// A real API key file and a well-formed PCR0 allowlist, so that the checks after them are what is tested.
const authDir = mkdtempSync(join(tmpdir(), 'custody-cli-flags-'))
const API_KEY_FILE = join(authDir, 'api-key.json')
const PCR0 = 'ab'.repeat(48)
const TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
/** Nothing listens on port 1. */
const DEAD_URL = 'http://127.0.0.1:1'
const auth = ['--api-key-file', API_KEY_FILE, '--pcr0', PCR0]
const sign = ['sign', 'k1', '--url', DEAD_URL, ...auth, '--to', TO, '--value-ether', '0.01', '--gas', '21000', '--max-fee-gwei', '30', '--max-priority-gwei', '1']
beforeAll(async () => {
  await createApiKeyFile(API_KEY_FILE)
})
afterAll(() => rm(authDir, { recursive: true, force: true }))

async function cli(argv: string[], env: Record<string, string> = {}) {
  const io = captureIo({ env })
  const code = await runCli(argv, io, { version: '1.2.3' })
  return { code, out: io.out(), err: io.err() }
}

/** The rule `getChain` gives for a chain id it refuses (the SDK's words, not a copy of its table). */
function getChainRule(id: number): string {
  try {
    getChain(id)
  } catch (e) {
    if (isCustodyError(e, 'INVALID_ARGUMENT')) return e.details!.rule as string
  }
  throw new Error(`getChain(${id}) did not refuse it`)
}

describe('a repeated single-value flag is a usage error', () => {
  it('custody sign --nonce 0 --nonce 1: exit 2, naming the flag, nothing signed (process)', async () => {
    const { code, stdout, stderr } = await runCustody([...sign, '--chain-id', '1', '--nonce', '0', '--nonce', '1'])
    expect(stdout).toBe('')
    expect(stderr).toBe('custody sign: --nonce may be given once (run `custody sign --help`)\n')
    expect(code).toBe(2)
  })

  it('also in the --flag=value form, and for a flag given once with its variable set (the flag wins, no error)', async () => {
    expect(await cli([...sign, '--chain-id', '1', '--nonce=0', '--nonce=1'])).toMatchObject({ code: 2, err: expect.stringMatching(/^custody sign: --nonce may be given once/) })
    // Given once as a flag and once in the environment: not a repeat (the flag wins); the run gets to the proxy.
    const once = await cli([...sign, '--nonce', '0', '--chain-id', '1'], { CUSTODY_CHAIN_ID: '10' })
    expect(once.err).not.toContain('may be given once')
  })

  const singles = commands.flatMap((c) =>
    Object.values(c.options)
      .filter((s) => !s.multiple)
      .map((s) => [c.name, s.flag, s.boolean === true] as const),
  )
  it.each(singles)('custody %s --%s twice: exit 2', async (name, flag, boolean) => {
    const argv = boolean ? [name, `--${flag}`, `--${flag}`] : [name, `--${flag}`, 'x1', `--${flag}`, 'x2']
    const { code, out, err } = await cli(argv)
    expect(out).toBe('')
    expect(err).toBe(`custody ${name}: --${flag} may be given once (run \`custody ${name} --help\`)\n`)
    expect(code).toBe(2)
  })

  const multiples = commands.flatMap((c) =>
    Object.values(c.options)
      .filter((s) => s.multiple)
      .map((s) => [c.name, s.flag] as const),
  )
  it('there are repeatable flags to keep repeatable', () => {
    expect(multiples.map(([c, f]) => `${c} --${f}`)).toEqual(expect.arrayContaining(['sign --pcr0', 'sign --approver-key-file', 'key-policy --admin']))
  })
  it.each(multiples)('custody %s --%s twice: not refused as a repeat', async (name, flag) => {
    const { err } = await cli([name, `--${flag}`, 'x1', `--${flag}`, 'x2'])
    expect(err).not.toContain('may be given once')
  })

  it('repeated --pcr0 values are all kept: two allowlisted PCR0s get as far as the proxy (process)', async () => {
    const { code, stderr } = await runCustody(['list', '--url', DEAD_URL, '--api-key-file', API_KEY_FILE, '--pcr0', PCR0, '--pcr0', 'cd'.repeat(48)])
    expect(stderr).toBe('custody list: cannot reach the custody proxy at http://127.0.0.1:1: is `custody dev` running?\n')
    expect(code).toBe(1)
  })
})

describe('integer flags name the flag and the rule', () => {
  it('custody sign --nonce -1 says "must be ≥ 0" (process)', async () => {
    const { code, stdout, stderr } = await runCustody([...sign, '--chain-id', '1', '--nonce', '-1'])
    expect(stdout).toBe('')
    expect(stderr).toBe('custody sign: --nonce must be ≥ 0 (run `custody sign --help`)\n')
    expect(code).toBe(2)
  })

  it.each([
    ['--nonce=-1', [...sign, '--chain-id', '1', '--nonce=-1'], 'custody sign: --nonce must be ≥ 0'],
    ['a fractional nonce', [...sign, '--chain-id', '1', '--nonce', '1.5'], 'custody sign: --nonce must be a decimal integer ≥ 0'],
    ['a nonce above 2^64 - 1', [...sign, '--chain-id', '1', '--nonce', (2n ** 64n).toString()], 'custody sign: --nonce must be ≤ 18446744073709551615'],
    ['a negative chain id', [...sign, '--nonce', '0', '--chain-id', '-1'], 'custody sign: --chain-id must be ≥ 1'],
    ['a zero chain id', [...sign, '--nonce', '0', '--chain-id', '0'], 'custody sign: --chain-id must be ≥ 1'],
    ['a hex chain id for dev', ['dev', '--chain-id', '0x1'], 'custody dev: --chain-id must be a decimal integer ≥ 1'],
    ['a negative chain id in the environment', [...sign, '--nonce', '0'], 'custody sign: CUSTODY_CHAIN_ID must be ≥ 1'],
    ['a negative proxy port', ['dev', '--proxy-port', '-1'], 'custody dev: --proxy-port must be ≥ 0'],
    ['a proxy port above 65535', ['dev', '--proxy-port', '65536'], 'custody dev: --proxy-port must be ≤ 65535'],
    ['a negative rpc port', ['dev', '--rpc-port', '-8545'], 'custody dev: --rpc-port must be ≥ 0'],
    ['a negative latency', ['dev', '--aws-latency-ms', '-5'], 'custody dev: --aws-latency-ms must be ≥ 0'],
    ['a negative account index', ['wallet', 'account', 'add', 'w', '--index', '-1'], 'custody wallet: --index must be ≥ 0'],
    ['a zero SSM timeout', ['pcr0', '--instance', 'i-0123456789abcdef0', '--timeout', '0'], 'custody pcr0: --timeout must be ≥ 1'],
    ['a negative policy version', ['policy', 'set', 'k1', '--version', '-2'], 'custody policy: --version must be ≥ 1'],
  ])('%s', async (what, argv, message) => {
    const env: Record<string, string> = what.includes('environment') ? { CUSTODY_CHAIN_ID: '-3' } : {}
    const { code, out, err } = await cli(argv as string[], env)
    expect(out).toBe('')
    expect(err.split(' (run `')[0]).toBe(message)
    expect(code).toBe(2)
  })

  it('a negative gas limit given once says "must be ≥ 0"', async () => {
    const argv = ['sign', 'k1', '--url', DEAD_URL, ...auth, '--to', TO, '--value-ether', '0.01', '--nonce', '0', '--gas', '-1', '--max-fee-gwei', '30', '--max-priority-gwei', '1', '--chain-id', '1']
    expect((await cli(argv)).err).toMatch(/^custody sign: --gas must be ≥ 0 /)
  })
})

describe('--chain-id of a retired testnet is refused as getChain refuses it', () => {
  it('custody sign --chain-id 5 (Goerli): exit 2 with the SDK\'s rule (process)', async () => {
    const { code, stdout, stderr } = await runCustody([...sign, '--nonce', '0', '--chain-id', '5'])
    expect(stdout).toBe('')
    expect(stderr).toBe(`custody sign: --chain-id ${getChainRule(5)} (run \`custody sign --help\`)\n`)
    expect(stderr).toContain('Goerli')
    expect(code).toBe(2)
  })

  it.each(Object.keys(RETIRED_TESTNETS).map(Number))('chain id %i: refused by sign (flag and CUSTODY_CHAIN_ID) and dev', async (id) => {
    const rule = getChainRule(id)
    expect((await cli([...sign, '--nonce', '0', '--chain-id', String(id)])).err.split(' (run `')[0]).toBe(`custody sign: --chain-id ${rule}`)
    expect((await cli([...sign, '--nonce', '0'], { CUSTODY_CHAIN_ID: String(id) })).err.split(' (run `')[0]).toBe(`custody sign: CUSTODY_CHAIN_ID ${rule}`)
    const dev = await cli(['dev', '--chain-id', String(id)])
    expect(dev.err.split(' (run `')[0]).toBe(`custody dev: --chain-id ${rule}`)
    expect(dev.code).toBe(2)
  })

  it('chain ids without a preset (a local 31337) and live testnets are signed for: the run gets to the proxy', async () => {
    for (const id of ['31337', '11155111', '560048']) {
      const { code, err } = await cli([...sign, '--nonce', '0', '--chain-id', id])
      expect(err).toBe('custody sign: cannot reach the custody proxy at http://127.0.0.1:1: is `custody dev` running?\n')
      expect(code).toBe(1)
    }
  })
})

describe('a proxy that does not answer: "is `custody dev` running?"', () => {
  it.each([
    ['list', ['list', '--url', DEAD_URL, ...auth]],
    ['address', ['address', 'k1', '--url', DEAD_URL, ...auth]],
    ['address --json', ['address', 'k1', '--json', '--url', DEAD_URL, ...auth]],
    ['sign', [...sign, '--nonce', '0', '--chain-id', '1']],
    ['wallet list', ['wallet', 'list', '--url', DEAD_URL, ...auth]],
    ['policy get', ['policy', 'get', 'k1', '--url', DEAD_URL, ...auth]],
  ])('custody %s: exit 1, one line naming the URL (process)', async (_, argv) => {
    const { code, stdout, stderr } = await runCustody(argv)
    expect(stdout).toBe('')
    expect(stderr).toMatch(/^custody [a-z-]+: cannot reach the custody proxy at http:\/\/127\.0\.0\.1:1: is `custody dev` running\?\n$/)
    expect(code).toBe(1)
  })
})

describe('custody list: an aligned table', () => {
  const key = (keyId: string, address: string, at: string) => ({ keyId, address, createdAt: new Date(at) }) as unknown as KeyInfo
  it('sizes each column to its longest cell (ids shorter and longer than the header, a taproot address longer than an EVM one)', () => {
    const table = formatKeyTable([
      key('a', '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', '2026-01-02T03:04:05.000Z'),
      key('treasury-hot-wallet-2', 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq', '2026-01-02T03:04:06.000Z'),
      key('sol', 'bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297', '2026-01-02T03:04:07.000Z'),
    ])
    const lines = table.split('\n')
    expect(lines.pop()).toBe('')
    expect(lines).toEqual([
      'KEY ID                 ADDRESS                                                         CREATED',
      'a                      0x70997970C51812dc3A010C7d01b50e0d17dc79C8                      2026-01-02T03:04:05.000Z',
      'treasury-hot-wallet-2  bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq                      2026-01-02T03:04:06.000Z',
      'sol                    bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297  2026-01-02T03:04:07.000Z',
    ])
  })

  it('ids shorter than the header: the header does not push the columns out of line', () => {
    const table = formatKeyTable([key('a', '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', '2026-01-02T03:04:05.000Z'), key('bob', '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC', '2026-01-02T03:04:06.000Z')])
    expect(table).toBe(
      [
        'KEY ID  ADDRESS                                     CREATED',
        'a       0x70997970C51812dc3A010C7d01b50e0d17dc79C8  2026-01-02T03:04:05.000Z',
        'bob     0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC  2026-01-02T03:04:06.000Z',
        '',
      ].join('\n'),
    )
  })
})

describe('custody sign without a node', () => {
  const base = ['sign', 'k1', '--url', DEAD_URL, ...auth, '--to', TO, '--value-ether', '0.01']
  it.each([
    ['no --nonce', [...base, '--gas', '21000', '--max-fee-gwei', '30', '--max-priority-gwei', '1', '--chain-id', '1'], 'custody sign: --nonce is required (or give --rpc-url <url> to fill it from a node)'],
    ['no --max-fee-gwei', [...base, '--nonce', '0', '--gas', '21000', '--max-priority-gwei', '1', '--chain-id', '1'], 'custody sign: --max-fee-gwei is required (or give --rpc-url <url> to fill it from a node)'],
    ['no --chain-id', [...base, '--nonce', '0', '--gas', '21000', '--max-fee-gwei', '30', '--max-priority-gwei', '1'], 'custody sign: --chain-id is required (or set CUSTODY_CHAIN_ID, or give --rpc-url <url>)'],
    ['--broadcast', [...base, '--nonce', '0', '--gas', '21000', '--max-fee-gwei', '30', '--max-priority-gwei', '1', '--chain-id', '1', '--broadcast'], 'custody sign: --broadcast needs --rpc-url <url> (or CUSTODY_RPC_URL): the node to send to'],
    ['a bad --rpc-url', [...base, '--rpc-url', 'ws://x'], 'custody sign: --rpc-url must be an http(s) URL'],
  ])('%s: exit 2 naming the flag (process)', async (_, argv, message) => {
    const { code, stdout, stderr } = await runCustody(argv, { env: { CUSTODY_RPC_URL: undefined, CUSTODY_CHAIN_ID: undefined } })
    expect(stdout).toBe('')
    expect(stderr).toBe(`${message} (run \`custody sign --help\`)\n`)
    expect(code).toBe(2)
  })

  it('a node that does not answer is named by its origin only (a provider key in the path stays out)', async () => {
    const { code, err: stderr } = await cli([...base, '--rpc-url', 'http://127.0.0.1:1/v3/secret-project-key', '--nonce', '0', '--chain-id', '1', '--gas', '21000', '--max-fee-gwei', '30'])
    expect(stderr).toBe('custody sign: cannot reach the node at http://127.0.0.1:1 (--rpc-url): connection failed\n')
    expect(code).toBe(1)
  })
})
