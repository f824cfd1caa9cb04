/**
 * Usage errors of the multi-chain commands: exit 2 and one line naming the flag, before anything is sent (the proxy
 * URL is unreachable), and no mnemonic or private key is ever taken from the command line or echoed.
 */
import { mkdtempSync } from 'node:fs'
import { chmod, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MATRIX_BITCOIN } from '../../enclave-runtime/test/support/policyMatrix.js'
import { createApiKeyFile } from '../src/commands/apiKeyFile.js'
import { readMnemonic } from '../src/commands/readMnemonic.js'
import { runCli } from '../src/commands/runCli.js'
import { BTC_TEST_PRIVATE_KEY, BTC_TEST_PUBLIC_KEY, bitcoinPayload, psbtBase64 } from './chainPayloads.js'
import { captureIo } from './helpers.js'

const MNEMONIC = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about'
const dir = mkdtempSync(join(tmpdir(), 'custody-chains-usage-'))
const API_KEY_FILE = join(dir, 'api-key.json')
const sign = ['--url', 'http://127.0.0.1:1', '--api-key-file', API_KEY_FILE, '--pcr0', 'ab'.repeat(48)]
const conn = [...sign, '--kms-key-id', 'k']
const PSBT = psbtBase64({ outputs: [[MATRIX_BITCOIN.payee, 120_000n]], fee: 1_410n })
beforeAll(async () => {
  await createApiKeyFile(API_KEY_FILE)
  await writeFile(join(dir, 'policy.json'), JSON.stringify({ rules: [{ id: 'payee', effect: 'allow', when: { family: { eq: 'bitcoin' }, outputAddresses: { allIn: [MATRIX_BITCOIN.payee] }, fee: { lte: '2000' } } }] }))
  await writeFile(join(dir, 'psbt.json'), JSON.stringify(bitcoinPayload(PSBT)))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

async function cli(argv: string[], overrides: Parameters<typeof captureIo>[0] = {}) {
  const io = captureIo({ cwd: dir, ...overrides })
  const code = await runCli(argv, io)
  return { code, out: io.out(), err: io.err() }
}

describe('usage errors of the multi-chain commands: exit 2, one line naming the flag', () => {
  const cases: [string, string[], string][] = [
    ['sign-psbt without --network', ['sign-psbt', 'k1', '--psbt', PSBT, ...sign], 'custody sign-psbt: --network is required'],
    ['sign-psbt with an unknown network', ['sign-psbt', 'k1', '--psbt', PSBT, '--network', 'litecoin', ...sign], 'custody sign-psbt: --network must be one of mainnet, testnet, signet, regtest'],
    ['sign-psbt without --psbt', ['sign-psbt', 'k1', '--network', 'mainnet', ...sign], 'custody sign-psbt: --psbt is required'],
    ['sign-psbt with a missing file', ['sign-psbt', 'k1', '--psbt', '@/nonexistent/tx.psbt', '--network', 'mainnet', ...sign], 'custody sign-psbt: --psbt: cannot read /nonexistent/tx.psbt (ENOENT)'],
    ['sign-solana with neither payload', ['sign-solana', 'k1', ...sign], 'custody sign-solana: give exactly one of --transaction or --message'],
    ['sign-solana with both payloads', ['sign-solana', 'k1', '--transaction', 'AQAB', '--message', 'AQAB', ...sign], 'custody sign-solana: give exactly one of --transaction or --message'],
    ['generate-key with an unknown kind', ['generate-key', '--kind', 'rsa', ...conn], 'custody generate-key: --kind must be secp256k1 or ed25519'],
    ['wallet account add with an unknown family', ['wallet', 'account', 'add', 'w1', '--family', 'dogecoin', ...conn], 'custody wallet: --family must be one of evm, bitcoin, solana'],
    ['wallet account add without --family', ['wallet', 'account', 'add', 'w1', ...conn], 'custody wallet: --family is required for `wallet account add`'],
    ['wallet account add without a wallet', ['wallet', 'account', 'add', '--family', 'evm', ...conn], 'custody wallet: <walletId> is required for `wallet account add`'],
    ['wallet account add with --path and --index', ['wallet', 'account', 'add', 'w1', '--family', 'evm', '--path', "m/44'/60'/0'/0/0", '--index', '1', ...conn], 'custody wallet: give --path or --index, not both'],
    ['--network for an EVM account', ['wallet', 'account', 'add', 'w1', '--family', 'evm', '--network', 'testnet', ...conn], 'custody wallet: --network is for bitcoin accounts only'],
    ['a malformed path', ['wallet', 'account', 'add', 'w1', '--family', 'evm', '--path', '44/60', ...conn], "custody wallet: --path must be a BIP-32 path"],
    ['wallet create with --words 13', ['wallet', 'create', '--words', '13', ...conn], 'custody wallet: --words must be 12, 15, 18, 21 or 24'],
    ['--family given to wallet create', ['wallet', 'create', '--family', 'evm', ...conn], 'custody wallet: --family is not an option of `wallet create`'],
    ['an unknown wallet action', ['wallet', 'delete', ...conn], 'custody wallet: <action> must be create, import, account or list'],
    ['wallet create without --kms-key-id', ['wallet', 'create', ...conn.slice(0, -2)], 'custody wallet: --kms-key-id is required (or set CUSTODY_KMS_KEY_ID)'],
    ['a PSBT payload without --public-key', ['policy', 'test', '--file', 'policy.json', '--payload', 'psbt.json'], 'custody policy: --public-key is required for a sign.bitcoinPsbt payload'],
    ['a --public-key that is not on the curve', ['policy', 'test', '--file', 'policy.json', '--payload', 'psbt.json', '--public-key', `02${'ff'.repeat(32)}`], 'custody policy: --public-key is not a point of secp256k1'],
  ]
  it.each(cases)('%s', async (_, argv, message) => {
    const { code, out, err } = await cli(argv)
    expect(out).toBe('')
    expect(err.startsWith(message), err).toBe(true)
    expect(code).toBe(2)
    expect(err.trimEnd().split('\n')).toHaveLength(1)
  })
})

describe('mnemonics and private keys never come from the command line, and are never echoed', () => {
  it.each([
    ['--mnemonic with the words', ['wallet', 'import', '--mnemonic', MNEMONIC, ...conn], 'custody wallet: --mnemonic is refused'],
    ['--mnemonic=', ['wallet', 'import', `--mnemonic=${MNEMONIC}`, ...conn], 'custody wallet: --mnemonic is refused'],
    ['words as arguments', ['wallet', 'import', 'abandon', 'ability', ...conn], 'custody wallet: `wallet import` takes no argument'],
    ['the words as --mnemonic-file', ['wallet', 'import', '--mnemonic-file', MNEMONIC, ...conn], 'custody wallet: --mnemonic-file takes a path, never the mnemonic itself'],
    ['a private key as --public-key', ['policy', 'test', '--file', 'policy.json', '--payload', 'psbt.json', '--public-key', BTC_TEST_PRIVATE_KEY], 'custody policy: --public-key takes a public key'],
  ])('%s: exit 2, nothing echoed', async (_, argv, message) => {
    const { code, out, err } = await cli(argv)
    expect(code).toBe(2)
    expect(err.startsWith(message), err).toBe(true)
    expect(out + err).not.toContain('ability')
    expect(out + err).not.toContain('abandon abandon')
    expect(out + err).not.toContain('0101010101')
  })

  it('a terminal on stdin, a wrong word count and an unreadable file are refused without quoting the words', async () => {
    await expect(readMnemonic(undefined, captureIo({ stdinIsTTY: true }))).rejects.toThrow('no mnemonic: give --mnemonic-file <path> or pipe it on standard input (never on the command line)')
    await expect(readMnemonic('-', captureIo({ stdinIsTTY: false, readStdin: async () => 'secret words only' }))).rejects.toThrow('the mnemonic from standard input must be 12, 15, 18, 21 or 24 words (it has 3)')
    await expect(readMnemonic('/nonexistent/m.txt', captureIo())).rejects.toThrow('--mnemonic-file: cannot read /nonexistent/m.txt (ENOENT)')
    const file = join(dir, 'open.txt')
    await writeFile(file, MNEMONIC)
    await chmod(file, 0o644)
    const io = captureIo()
    expect(await readMnemonic(file, io)).toBe(MNEMONIC)
    expect(io.err()).toContain('is readable by other users; chmod 600 it')
  })
})

describe('custody policy test over Bitcoin and Solana payloads', () => {
  it('a PSBT with the key: list-valued facts print as arrays of strings, change left out', async () => {
    const { code, out, err } = await cli(['policy', 'test', '--file', 'policy.json', '--payload', 'psbt.json', '--public-key', BTC_TEST_PUBLIC_KEY, '--json'])
    expect(err).toBe('')
    expect(code).toBe(0)
    expect(JSON.parse(out)).toMatchObject({
      allowed: true,
      rule: 'payee',
      facts: { family: 'bitcoin', kind: 'psbt', fee: '1410', spendAmount: '120000', outputAddresses: [MATRIX_BITCOIN.payee], amountsProven: true },
    })
    // The uncompressed key is the same key.
    const uncompressed = await cli(['policy', 'test', '--file', 'policy.json', '--payload', 'psbt.json', '--public-key', '0x04' + (await import('ethers')).SigningKey.computePublicKey(BTC_TEST_PUBLIC_KEY, false).slice(4), '--json'])
    expect(JSON.parse(uncompressed.out).facts).toEqual(JSON.parse(out).facts)
    // Another key (the generator point): it owns no input, so the enclave would sign nothing.
    const other = await cli(['policy', 'test', '--file', 'policy.json', '--payload', 'psbt.json', '--public-key', '0x0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798', '--json'])
    expect(other).toMatchObject({ code: 2, out: '' })
    expect(other.err).toMatch(/^custody policy: --payload psbt\.json: "params\.psbt" has no input the key owns/)
  })
})
