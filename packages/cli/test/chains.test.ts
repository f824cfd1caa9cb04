/**
 * The multi-chain commands over a real dev stack (in-process: local AWS, software-attested enclave, proxy):
 * `generate-key --kind`, `wallet create | import | account add | list`, `sign-psbt` and `sign-solana`, each answer
 * cross-checked with independent libraries (bitcoinjs-lib for PSBTs and transactions, @solana/kit for Solana, the
 * BIP-84 and BIP-44 test vectors for HD addresses).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Address, getPublicKeyFromAddress, getTransactionDecoder, type SignatureBytes, verifySignature } from '@solana/kit'
import * as bitcoin from 'bitcoinjs-lib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runDevStack } from '../src/commands/dev.js'
import { runCli } from '../src/commands/runCli.js'
import { BTC_TEST_PRIVATE_KEY, BTC_TEST_PUBLIC_KEY, ownP2wpkh, psbtBase64, sol, solanaMessageBase64, solanaOffchainMessageBase64 } from './chainPayloads.js'
import { captureIo, until } from './helpers.js'

/** The BIP-39 test mnemonic of BIP-84's and BIP-44's vectors (a public test wallet: never holds funds). */
const MNEMONIC = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about'
/** BIP-84: m/84'/0'/0'/0/0 of that mnemonic; BIP-44 (EVM): m/44'/60'/0'/0/0; its master fingerprint. */
const BIP84_ADDRESS = 'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu'
const EVM_ADDRESS = '0x9858EfFD232B4033E47d90003D41EC34EcaEda94'
const FINGERPRINT = '0x73c5da0a'
/** BIP-84: the public key of m/84'/0'/0'/0/0. */
const BIP84_PUBKEY = '0330d54fd0dd420a6e5f8d3624f5f3482cae350f79d5f0753bf5beef9c2d91af3c'

let root: string
let dataDir: string
const stop = new AbortController()
let running: Promise<number>

async function cli(argv: string[], overrides: Parameters<typeof captureIo>[0] = {}) {
  const io = captureIo({ cwd: root, ...overrides })
  const code = await runCli(argv, io)
  return { code, out: io.out(), err: io.err() }
}
/** `custody <argv> --dev <dir> --json`, expected to succeed: its JSON. */
async function json<T = Record<string, unknown>>(argv: string[], overrides: Parameters<typeof captureIo>[0] = {}): Promise<T> {
  const r = await cli([...argv, '--dev', dataDir, '--json'], overrides)
  expect(r.err).toBe('')
  expect(r.code).toBe(0)
  return JSON.parse(r.out) as T
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'custody-chains-'))
  dataDir = join(root, 'dev')
  const devIo = captureIo({ cwd: root })
  running = runDevStack({ dataDir, anvil: false, chainId: 1, awsLatencyMs: 0 }, { io: devIo, stop: stop.signal })
  await until(() => devIo.out().includes('custody dev is running') || devIo.err() !== '', 60_000, 'custody dev start')
  expect(devIo.err()).toBe('')
}, 90_000)
afterAll(async () => {
  stop.abort('SIGTERM')
  await running
  await rm(root, { recursive: true, force: true })
})

describe('generate-key --kind', () => {
  it('ed25519: a Solana key (base58 address of its 32-byte public key); the default stays secp256k1', async () => {
    const ed = await json<{ kind: string; curve: string; address: string; publicKey: string }>(['generate-key', '--kind', 'ed25519'])
    expect(ed).toMatchObject({ kind: 'ed25519', curve: 'ed25519' })
    expect(ed.address).toMatch(/^[1-9A-HJ-NP-Za-km-z]{32,44}$/)
    // The address is the public key in base58 (kit decodes it back to the same 32 bytes).
    const raw = new Uint8Array(await crypto.subtle.exportKey('raw', await getPublicKeyFromAddress(ed.address as Address)))
    expect(`0x${Buffer.from(raw).toString('hex')}`).toBe(ed.publicKey)
    const plain = await json(['generate-key'])
    expect(plain).toMatchObject({ kind: 'secp256k1', curve: 'secp256k1' })
    expect(plain.address).toMatch(/^0x[0-9a-fA-F]{40}$/)
    const text = await cli(['generate-key', '--kind', 'ed25519', '--key-id', 'sol-text', '--dev', dataDir])
    expect(text).toMatchObject({ code: 0, err: '' })
    expect(text.out).toMatch(/^keyId {4}sol-text\nkind {5}ed25519\nfamily {3}solana\naddress {2}[1-9A-HJ-NP-Za-km-z]{32,44}\n$/)
  })
})

describe('custody wallet', () => {
  it('import reads the mnemonic from a file; accounts give the BIP-84 and BIP-44 vectors; list shows them', async () => {
    const file = join(root, 'mnemonic.txt')
    await writeFile(file, `  ${MNEMONIC.replaceAll(' ', '\n')}\n`, { mode: 0o600 })
    const wallet = await json(['wallet', 'import', '--mnemonic-file', file, '--wallet-id', 'abandon'])
    expect(wallet).toMatchObject({ keyId: 'abandon', kind: 'hd-wallet', fingerprint: FINGERPRINT })
    const btc = await json(['wallet', 'account', 'add', 'abandon', '--family', 'bitcoin', '--index', '0', '--key-id', 'abandon-btc'])
    expect(btc).toMatchObject({ keyId: 'abandon-btc', kind: 'hd-account', family: 'bitcoin', walletId: 'abandon', path: "m/84'/0'/0'/0/0", address: BIP84_ADDRESS, network: 'mainnet', format: 'p2wpkh' })
    const evm = await json(['wallet', 'account', 'add', 'abandon', '--family', 'evm', '--path', "m/44'/60'/0'/0/0", '--key-id', 'abandon-evm'])
    expect(evm).toMatchObject({ family: 'evm', path: "m/44'/60'/0'/0/0", address: EVM_ADDRESS })
    const solana = await json<{ address: string; path: string }>(['wallet', 'account', 'add', 'abandon', '--family', 'solana', '--key-id', 'abandon-sol'])
    expect(solana).toMatchObject({ family: 'solana', path: "m/44'/501'/0'/0'" })
    expect(solana.address).toMatch(/^[1-9A-HJ-NP-Za-km-z]{32,44}$/)

    const listed = await json<{ walletId: string; fingerprint: string; accounts: unknown[] }[]>(['wallet', 'list'])
    expect(listed.find((w) => w.walletId === 'abandon')).toMatchObject({
      fingerprint: FINGERPRINT,
      accounts: [
        { keyId: 'abandon-btc', family: 'bitcoin', path: "m/84'/0'/0'/0/0", address: BIP84_ADDRESS, network: 'mainnet', format: 'p2wpkh' },
        { keyId: 'abandon-evm', family: 'evm', path: "m/44'/60'/0'/0/0", address: EVM_ADDRESS },
        { keyId: 'abandon-sol', family: 'solana', path: "m/44'/501'/0'/0'", address: solana.address },
      ],
    })
    // `custody list --json` shows every key with its kind and HD fields.
    const keys = await json<{ keyId: string; kind: string; path?: string }[]>(['list'])
    expect(keys.find((k) => k.keyId === 'abandon')).toMatchObject({ kind: 'hd-wallet', fingerprint: FINGERPRINT })
    expect(keys.find((k) => k.keyId === 'abandon-btc')).toMatchObject({ kind: 'hd-account', family: 'bitcoin', walletId: 'abandon', path: "m/84'/0'/0'/0/0" })
    const text = await cli(['wallet', 'list', '--dev', dataDir])
    expect(text.code).toBe(0)
    expect(text.out).toContain(`wallet abandon  fingerprint ${FINGERPRINT}`)
    expect(text.out).toMatch(new RegExp(`^  abandon-btc +bitcoin +m/84'/0'/0'/0/0 +${BIP84_ADDRESS}$`, 'm'))
    // Nothing of the mnemonic is ever printed.
    expect(text.out + text.err).not.toContain('abandon abandon')
  })

  it('import reads standard input; create draws a new wallet (12 words)', async () => {
    const piped = await json(['wallet', 'import', '--wallet-id', 'piped'], { stdinIsTTY: false, readStdin: async () => `${MNEMONIC}\n` })
    expect(piped).toMatchObject({ keyId: 'piped', kind: 'hd-wallet', fingerprint: FINGERPRINT })
    const created = await json<{ keyId: string; fingerprint: string }>(['wallet', 'create', '--words', '12', '--wallet-id', 'fresh'])
    expect(created).toMatchObject({ keyId: 'fresh', kind: 'hd-wallet' })
    expect(created.fingerprint).toMatch(/^0x[0-9a-f]{8}$/)
    const text = await cli(['wallet', 'create', '--dev', dataDir])
    expect(text.code).toBe(0)
    expect(text.out).toMatch(/^walletId {5}\S+\nfingerprint {2}0x[0-9a-f]{8}\n$/)
  })

  it('refuses an unknown family and an account of a key that is not a wallet', async () => {
    const bad = await cli(['wallet', 'account', 'add', 'abandon', '--family', 'dogecoin', '--dev', dataDir])
    expect(bad).toMatchObject({ code: 2, out: '' })
    expect(bad.err).toMatch(/^custody wallet: --family must be one of evm, bitcoin, solana/)
    const notWallet = await cli(['wallet', 'account', 'add', 'abandon-btc', '--family', 'evm', '--dev', dataDir])
    expect(notWallet.code).toBe(2)
    expect(notWallet.err).toMatch(/^custody wallet: .*must name an HD wallet/)
  })
})

describe('custody sign-psbt', () => {
  it('signs and finalizes a PSBT of an imported key: the transaction and txid agree with bitcoinjs-lib', async () => {
    const keyFile = join(root, 'btc.key')
    await writeFile(keyFile, BTC_TEST_PRIVATE_KEY, { mode: 0o600 })
    expect((await cli(['import-key', '--private-key-file', keyFile, '--key-id', 'btc-plain', '--dev', dataDir])).code).toBe(0)
    const psbt = psbtBase64({ outputs: [['bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4', 50_000n]], fee: 1_000n })

    // Not finalized: the PSBT comes back with a partial signature by the key.
    const partial = await json<{ psbt: string; signedInputs: number[] }>(['sign-psbt', 'btc-plain', '--psbt', psbt, '--network', 'mainnet'])
    expect(partial.signedInputs).toEqual([0])
    const parsed = bitcoin.Psbt.fromBase64(partial.psbt)
    expect(Buffer.from(parsed.data.inputs[0]!.partialSig![0]!.pubkey).toString('hex')).toBe(BTC_TEST_PUBLIC_KEY.slice(2))

    // Finalized, from a binary file: the transaction spends the input to the same outputs; bitcoinjs computes the same txid.
    const file = join(root, 'tx.psbt')
    await writeFile(file, Buffer.from(psbt, 'base64'))
    const final = await json<{ transaction: string; txid: string }>(['sign-psbt', 'btc-plain', '--psbt', `@${file}`, '--network', 'mainnet', '--finalize'])
    const tx = bitcoin.Transaction.fromHex(final.transaction)
    expect(tx.getId()).toBe(final.txid)
    expect(tx.outs.map((o) => o.value)).toEqual([50_000n, 200_000n - 50_000n - 1_000n])
    expect(Buffer.from(tx.outs[1]!.script).equals(Buffer.from(ownP2wpkh().output!))).toBe(true)
    expect(Buffer.from(tx.ins[0]!.witness[1]!).toString('hex')).toBe(BTC_TEST_PUBLIC_KEY.slice(2))

    const text = await cli(['sign-psbt', 'btc-plain', '--psbt', psbt, '--network', 'mainnet', '--finalize', '--dev', dataDir])
    expect(text.out).toBe(`psbt          ${(JSON.parse((await cli(['sign-psbt', 'btc-plain', '--psbt', psbt, '--network', 'mainnet', '--finalize', '--dev', dataDir, '--json'])).out) as { psbt: string }).psbt}\nsignedInputs  0\ntransaction   ${final.transaction}\ntxid          ${final.txid}\n`)
  })

  it('--allow-unproven-amounts signs a witnessUtxo-only input only for a key sealed with --allow-unproven-bitcoin-amounts', async () => {
    const keyFile = join(root, 'btc.key')
    await writeFile(keyFile, BTC_TEST_PRIVATE_KEY, { mode: 0o600 })
    expect((await cli(['import-key', '--private-key-file', keyFile, '--key-id', 'btc-unproven', '--allow-unproven-bitcoin-amounts', '--dev', dataDir])).code).toBe(0)
    const psbt = psbtBase64({ outputs: [['bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4', 50_000n]], fee: 1_000n, proven: false })
    const sealed = await json<{ signedInputs: number[] }>(['sign-psbt', 'btc-unproven', '--psbt', psbt, '--network', 'mainnet', '--allow-unproven-amounts'])
    expect(sealed.signedInputs).toEqual([0])
    const plain = await cli(['sign-psbt', 'btc-plain', '--psbt', psbt, '--network', 'mainnet', '--allow-unproven-amounts', '--dev', dataDir])
    expect(plain.code).toBe(1)
    expect(plain.err).toMatch(/^custody sign-psbt: .*allowUnprovenBitcoinAmounts.*\(POLICY_DENIED\)\n$/)
  })

  it('refuses a PSBT for another network than the account, naming the field', async () => {
    const psbt = psbtBase64({ outputs: [], fee: 500n })
    const r = await cli(['sign-psbt', 'abandon-btc', '--psbt', psbt, '--network', 'testnet', '--dev', dataDir])
    expect(r).toEqual({ code: 2, out: '', err: 'custody sign-psbt: "network" must be mainnet: the key is a Bitcoin account on mainnet (INVALID_ARGUMENT)\n' })
  })

  it('an HD account signs the input whose derivation names its fingerprint and path (BIP-84 vector key)', async () => {
    const psbt = psbtBase64({ outputs: [['bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4', 10_000n]], fee: 700n, owner: { pubkey: BIP84_PUBKEY, fingerprint: FINGERPRINT, path: "m/84'/0'/0'/0/0" } })
    const final = await json<{ transaction: string; txid: string; signedInputs: number[] }>(['sign-psbt', 'abandon-btc', '--psbt', psbt, '--network', 'mainnet', '--finalize'])
    expect(final.signedInputs).toEqual([0])
    const tx = bitcoin.Transaction.fromHex(final.transaction)
    expect(tx.getId()).toBe(final.txid)
    expect(Buffer.from(tx.ins[0]!.witness[1]!).toString('hex')).toBe(BIP84_PUBKEY)
    // The change goes back to the account's own address, as bitcoinjs encodes it.
    expect(bitcoin.address.fromOutputScript(tx.outs[1]!.script, bitcoin.networks.bitcoin)).toBe(BIP84_ADDRESS)
  })
})

describe('custody sign-solana', () => {
  it('signs a transaction message (the signature verifies with kit, the wire transaction carries it) and an off-chain message', async () => {
    const key = await json<{ keyId: string; address: string }>(['generate-key', '--kind', 'ed25519', '--key-id', 'sol-1'])
    const message = solanaMessageBase64([sol.transfer('AKnL4NNf3DGWZJS6cPknBuEGnVsV4A4m5tgebLHaRSZ9', 1_000n, key.address as Address)], { feePayer: key.address })
    const signed = await json<{ signature: string; signer: string; signerIndex: number; transaction: string }>(['sign-solana', 'sol-1', '--transaction', message])
    expect(signed).toMatchObject({ signer: key.address, signerIndex: 0 })
    const publicKey = await getPublicKeyFromAddress(key.address as Address)
    const wire = getTransactionDecoder().decode(Buffer.from(signed.transaction, 'base64'))
    const signature = wire.signatures[key.address as Address]!
    expect(await verifySignature(publicKey, signature as SignatureBytes, Buffer.from(message, 'base64'))).toBe(true)
    expect(Buffer.from(wire.messageBytes).toString('base64')).toBe(message)

    const offchain = solanaOffchainMessageBase64('custody test', key.address)
    const file = join(root, 'offchain.b64')
    await writeFile(file, `${offchain}\n`)
    const text = await cli(['sign-solana', 'sol-1', '--message', `@${file}`, '--dev', dataDir])
    expect(text).toMatchObject({ code: 0, err: '' })
    expect(text.out).toMatch(new RegExp(`^signature {4}[1-9A-HJ-NP-Za-km-z]{64,88}\\nsigner {7}${key.address}\\nsignerIndex {2}0\\n$`))
  })

  it('refuses a transaction the key is not a signer of', async () => {
    const message = solanaMessageBase64([sol.transfer('AKnL4NNf3DGWZJS6cPknBuEGnVsV4A4m5tgebLHaRSZ9', 1n)])
    const r = await cli(['sign-solana', 'sol-1', '--transaction', message, '--dev', dataDir])
    expect(r.code).toBe(2)
    expect(r.err).toMatch(/^custody sign-solana: .*required signers/)
  })
})
