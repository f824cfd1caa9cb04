/**
 * HD wallets and their accounts through the in-process enclave: a wallet imported from the BIP-39 test mnemonic
 * (sealed with HPKE) derives the standard addresses (checked against ethers, bitcoinjs-lib and the well-known
 * Solana address); accounts sign for their family (EVM checked with viem, Bitcoin with bitcoinjs-lib, Solana with
 * ed25519 verification); the wallet's owners, signing policy and rolling limit govern every account (one limit for
 * all); a parent that edits an account's record (its path, its wallet) gets nothing signed.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type CustodyClient, createCustodyClient, isCustodyError, type SealedKeyRecord, type Transport } from '@enclave-custody/sdk'
import { EnclaveSigner } from '@enclave-custody/sdk/ethers'
import { ed25519 } from '@noble/curves/ed25519.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { base58, base64 } from '@scure/base'
import * as bitcoin from 'bitcoinjs-lib'
import { HDNodeWallet } from 'ethers'
import { recoverTransactionAddress } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { localEnclave } from '../src/localEnclave.js'
import { bitcoinjsSigner, scriptOf } from './bitcoinFixtures.js'
import { newStamper } from './support/stamps.js'

const MNEMONIC = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about'
/** BIP-84's test vector (m/84'/0'/0'/0/0 of the mnemonic above). */
const BIP84_FIRST = 'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu'
/** The mnemonic's first Solana account (m/44'/501'/0'/0'), as Phantom and Solflare derive it. */
const SOLANA_FIRST = 'HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk'

const owner = newStamper()
const stranger = newStamper()
const delegate = newStamper()
let dataDir: string
let custody: CustodyClient
/** One enclave for every client (a second would be a restart: limits deny until a window has passed). */
let transport: Transport
let walletId: string

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: unknown) => (isCustodyError(e) ? e.code : `foreign: ${(e as Error).message}`),
  )
const recordPath = (keyId: string) => join(dataDir, 'keys', `${keyId}.json`)
const readRecord = async (keyId: string) => JSON.parse(await readFile(recordPath(keyId), 'utf8')) as SealedKeyRecord
const writeRecord = (record: SealedKeyRecord) => writeFile(recordPath(record.keyId), JSON.stringify(record))
const tx = (value: bigint, nonce = 0n) => ({ chainId: 1n, nonce, to: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8' as const, value, gas: 21_000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n })

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'custody-wallets-'))
  transport = localEnclave({ dataDir })
  custody = createCustodyClient({ transport, stamper: owner })
  ;({ keyId: walletId } = await custody.importWallet({ mnemonic: MNEMONIC, walletId: 'abandon' }))
})
afterAll(async () => {
  await custody?.close()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

describe('HD wallets', () => {
  it('an imported wallet reports its master key and fingerprint, no address, and signs nothing itself', async () => {
    const wallet = await custody.getKey(walletId)
    const master = HDNodeWallet.fromPhrase(MNEMONIC, undefined, 'm')
    expect(wallet).toMatchObject({ keyId: 'abandon', kind: 'hd-wallet', curve: 'secp256k1', address: '', fingerprint: '0x73c5da0a' })
    expect(wallet.family).toBeUndefined()
    expect(wallet.publicKey).toBe(master.signingKey.publicKey)
    expect(await codeOf(custody.signEip1559(walletId, tx(1n)))).toBe('INVALID_ARGUMENT')
  })

  it('accounts at the default paths have the standard addresses of each family', async () => {
    const evm = await custody.createAccount(walletId, { family: 'evm' })
    expect(evm).toMatchObject({ kind: 'hd-account', family: 'evm', walletId, path: "m/44'/60'/0'/0/0", address: HDNodeWallet.fromPhrase(MNEMONIC).address })
    const next = await custody.createAccount(walletId, { family: 'evm' })
    expect(next.path).toBe("m/44'/60'/0'/0/1")
    expect(next.address).toBe(HDNodeWallet.fromPhrase(MNEMONIC, undefined, "m/44'/60'/0'/0/1").address)
    const btc = await custody.createAccount(walletId, { family: 'bitcoin' })
    expect(btc).toMatchObject({ family: 'bitcoin', path: "m/84'/0'/0'/0/0", network: 'mainnet', format: 'p2wpkh', address: BIP84_FIRST })
    const sol = await custody.createAccount(walletId, { family: 'solana' })
    expect(sol).toMatchObject({ family: 'solana', curve: 'ed25519', path: "m/44'/501'/0'/0'", address: SOLANA_FIRST })
    const listed = (await custody.listKeys()).filter((k) => k.walletId === walletId).map((k) => k.path)
    expect(listed.sort()).toEqual(["m/44'/501'/0'/0'", "m/44'/60'/0'/0/0", "m/44'/60'/0'/0/1", "m/84'/0'/0'/0/0"])
  })

  it('a created wallet has 24 words of fresh entropy by default: two wallets never share an account', async () => {
    const a = await custody.createWallet()
    const b = await custody.createWallet({ words: 12 })
    const [ea, eb] = await Promise.all([custody.createAccount(a.keyId, { family: 'evm' }), custody.createAccount(b.keyId, { family: 'evm' })])
    expect(ea.address).not.toBe(eb.address)
    expect(a.fingerprint).not.toBe(b.fingerprint)
  })

  it('an EVM account signs like a key, through the SDK and the ethers adapter', async () => {
    const account = await custody.createAccount(walletId, { family: 'evm', index: 7 })
    const signed = await custody.signEip1559(account.keyId, tx(5n))
    expect(await recoverTransactionAddress({ serializedTransaction: signed.rawTransaction as `0x02${string}` })).toBe(account.address)
    const signer = await EnclaveSigner.create(custody, account.keyId)
    expect(await signer.getAddress()).toBe(HDNodeWallet.fromPhrase(MNEMONIC, undefined, "m/44'/60'/0'/0/7").address)
  })

  it('a Bitcoin account signs a PSBT exactly as bitcoinjs-lib does with the same derived key', async () => {
    const account = await custody.createAccount(walletId, { family: 'bitcoin', network: 'regtest', index: 3 })
    const node = HDNodeWallet.fromPhrase(MNEMONIC, undefined, "m/84'/1'/3'/0/0")
    const key = Buffer.from(node.privateKey.slice(2), 'hex')
    const pub = Buffer.from(node.signingKey.compressedPublicKey.slice(2), 'hex')
    const { script } = scriptOf(pub, 'p2wpkh')
    expect(bitcoin.address.fromOutputScript(script, bitcoin.networks.regtest)).toBe(account.address)
    const build = () => {
      const prev = new bitcoin.Transaction()
      prev.addInput(new Uint8Array(32).fill(9), 0)
      prev.addOutput(script, 50_000n)
      const psbt = new bitcoin.Psbt({ network: bitcoin.networks.regtest })
      psbt.addInput({ hash: prev.getHash(), index: 0, nonWitnessUtxo: prev.toBuffer(), witnessUtxo: { script, value: 50_000n } })
      psbt.addOutput({ address: 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080', value: 49_000n })
      return psbt
    }
    const signed = await custody.signBitcoinPsbt(account.keyId, { psbt: build().toBase64(), network: 'regtest', finalize: true })
    const reference = build()
    reference.signInput(0, bitcoinjsSigner(key, false))
    reference.finalizeAllInputs()
    expect(signed.transaction).toBe(reference.extractTransaction().toHex())
    expect(await codeOf(custody.signBitcoinPsbt(account.keyId, { psbt: build().toBase64(), network: 'testnet' }))).toBe('INVALID_ARGUMENT')
    expect(await codeOf(custody.signEip1559(account.keyId, tx(1n)))).toBe('INVALID_ARGUMENT')
  })

  it('a Solana account signs an off-chain message its address verifies', async () => {
    const account = await custody.createAccount(walletId, { family: 'solana', index: 2 })
    const { getOffchainMessageV0Codec } = await import('@solana/kit')
    const message = getOffchainMessageV0Codec().encode({
      version: 0,
      applicationDomain: '11111111111111111111111111111111' as never,
      content: { format: 0, text: 'hello from an HD account' } as never,
      requiredSignatories: [{ address: account.address as never }],
    } as never)
    const signed = await custody.signSolanaMessage(account.keyId, { message: new Uint8Array(message) })
    expect(ed25519.verify(base58.decode(signed.signature), new Uint8Array(message), base58.decode(account.address))).toBe(true)
  })
})

describe('owners, policies and limits belong to the wallet', () => {
  it('only owners create accounts; a stranger gets FORBIDDEN and the account index is not taken', async () => {
    const other = createCustodyClient({ transport: localEnclave({ dataDir }), stamper: stranger, trustedCreators: [owner.publicKey] })
    expect(await codeOf(other.createAccount(walletId, { family: 'evm', index: 40 }))).toBe('FORBIDDEN')
    await other.close()
  })

  it("one rolling limit spans the wallet's accounts; the policy's delegate signs but cannot add an account", async () => {
    const wallet = await custody.createWallet({ walletId: 'limited' })
    const a = await custody.createAccount(wallet.keyId, { family: 'evm' })
    const b = await custody.createAccount(wallet.keyId, { family: 'evm' })
    await custody.setSigningPolicy(wallet.keyId, {
      rules: [{ id: 'daily', effect: 'allow', when: { family: { eq: 'evm' } }, limit: { sum: 'value', max: '1000', window: '24h', afterRestart: 'reset' } }],
      signers: [delegate.publicKey],
    })
    expect((await custody.getKey(a.keyId)).signingPolicy?.version).toBe(1)
    expect(await codeOf(custody.setSigningPolicy(a.keyId, { rules: [] }))).toBe('INVALID_ARGUMENT')
    const service = createCustodyClient({ transport, stamper: delegate, trustedCreators: [owner.publicKey] })
    expect(await codeOf(service.signEip1559(a.keyId, tx(600n)))).toBe('ok')
    // A second account of the same wallet draws on the same limit: 600 + 600 > 1000.
    expect(await codeOf(service.signEip1559(b.keyId, tx(600n)))).toBe('POLICY_DENIED')
    expect(await codeOf(service.signEip1559(b.keyId, tx(400n)))).toBe('ok')
    // A fresh account brings no fresh limit, and the delegate cannot make one.
    expect(await codeOf(service.createAccount(wallet.keyId, { family: 'evm' }))).toBe('FORBIDDEN')
    const c = await custody.createAccount(wallet.keyId, { family: 'evm' })
    expect(await codeOf(service.signEip1559(c.keyId, tx(1n)))).toBe('POLICY_DENIED')
    await service.close()
  })
})

describe('a parent that edits account records', () => {
  it.each([
    ['another path of the same wallet', (r: Extract<SealedKeyRecord, { version: 2 }>) => ({ ...r, path: "m/44'/60'/0'/0/9" })],
    ['another address', (r: Extract<SealedKeyRecord, { version: 2 }>) => ({ ...r, address: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8' })],
    ['another wallet', (r: Extract<SealedKeyRecord, { version: 2 }>) => ({ ...r, walletId: 'limited' })],
    ['another family', (r: Extract<SealedKeyRecord, { version: 2 }>) => ({ ...r, family: 'bitcoin' as const, network: 'mainnet' as const, format: 'p2wpkh' as const, address: BIP84_FIRST })],
  ])('%s: nothing is signed', async (_, edit) => {
    const account = await custody.createAccount(walletId, { family: 'evm', index: 20 + Math.floor(Math.random() * 1000) })
    const original = await readRecord(account.keyId)
    if (original.version !== 2) throw new Error('expected a v2 record')
    await writeRecord(edit(original) as SealedKeyRecord)
    const fresh = createCustodyClient({ transport: localEnclave({ dataDir }), stamper: owner })
    expect(await codeOf(fresh.signEip1559(account.keyId, tx(1n)))).toMatch(/^(INTEGRITY_ERROR|INVALID_ARGUMENT)$/)
    expect(await codeOf(fresh.signBitcoinPsbt(account.keyId, { psbt: base64.encode(new Uint8Array([0x70, 0x73, 0x62, 0x74, 0xff])), network: 'mainnet' }))).not.toBe('ok')
    await writeRecord(original)
    expect(await codeOf(fresh.signEip1559(account.keyId, tx(1n)))).toBe('ok')
    await fresh.close()
  })
})

describe('policies written for EVM do not widen to the other families (red-team findings)', () => {
  const KEY = Buffer.from('ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80', 'hex')
  const psbtFor = (pub: Uint8Array) => {
    const { script } = scriptOf(pub, 'p2wpkh')
    const prev = new bitcoin.Transaction()
    prev.addInput(new Uint8Array(32).fill(5), 0)
    prev.addOutput(script, 500_000_000n)
    const psbt = new bitcoin.Psbt({ network: bitcoin.networks.bitcoin })
    psbt.addInput({ hash: prev.getHash(), index: 0, nonWitnessUtxo: prev.toBuffer(), witnessUtxo: { script, value: 500_000_000n } })
    psbt.addOutput({ address: 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4', value: 499_990_000n })
    return psbt.toBase64()
  }

  it("an EVM-era delegate rule (no family named) lets the delegate sign EVM transactions, not the key's Bitcoin", async () => {
    const { keyId, publicKey } = await custody.importKey({ privateKey: `0x${KEY.toString('hex')}`, keyId: 'evm-era' })
    await custody.setSigningPolicy(keyId, { rules: [{ id: 'service', effect: 'allow', when: { signer: { eq: delegate.publicKey } } }], signers: [delegate.publicKey] })
    const service = createCustodyClient({ transport, stamper: delegate, trustedCreators: [owner.publicKey] })
    expect(await codeOf(service.signEip1559(keyId, tx(1n)))).toBe('ok')
    const pub = Buffer.from(secp256k1Compressed(publicKey as string), 'hex')
    expect(await codeOf(service.signBitcoinPsbt(keyId, { psbt: psbtFor(pub), network: 'mainnet' }))).toBe('POLICY_DENIED')
    // Naming the family allows it.
    await custody.setSigningPolicy(keyId, { rules: [{ id: 'service', effect: 'allow', when: { family: { in: ['evm', 'bitcoin'] }, signer: { eq: delegate.publicKey } } }], signers: [delegate.publicKey] })
    expect(await codeOf(service.signBitcoinPsbt(keyId, { psbt: psbtFor(pub), network: 'mainnet' }))).toBe('ok')
    await service.close()
  })

  it("a plain key's PSBT has no network fact (it proves none): a testnet-only rule does not sign a mainnet spend declared as testnet", async () => {
    const { keyId, publicKey } = await custody.importKey({ generate: true, keyId: 'testnet-only' })
    await custody.setSigningPolicy(keyId, { rules: [{ id: 'qa', effect: 'allow', when: { family: { eq: 'bitcoin' }, network: { eq: 'testnet' } } }] })
    const pub = Buffer.from(secp256k1Compressed(publicKey as string), 'hex')
    expect(await codeOf(custody.signBitcoinPsbt(keyId, { psbt: psbtFor(pub), network: 'testnet' }))).toBe('POLICY_DENIED')
    // A Bitcoin account's network is sealed with it: there the fact holds.
    const account = await custody.createAccount(walletId, { family: 'bitcoin', network: 'testnet', index: 11 })
    await custody.setSigningPolicy(walletId, { rules: [{ id: 'qa', effect: 'allow', when: { family: { eq: 'bitcoin' }, network: { eq: 'testnet' } } }] })
    const accountPub = Buffer.from(secp256k1Compressed(HDNodeWallet.fromPhrase(MNEMONIC, undefined, "m/84'/1'/11'/0/0").signingKey.publicKey), 'hex')
    expect(await codeOf(custody.signBitcoinPsbt(account.keyId, { psbt: psbtFor(accountPub), network: 'testnet' }))).toBe('ok')
  })

  it('an output address matches its output whatever network is declared: a mainnet denylist holds for a spend declared as regtest', async () => {
    const { keyId, publicKey } = await custody.importKey({ generate: true, keyId: 'denylist' })
    await custody.setSigningPolicy(keyId, {
      rules: [
        { id: 'blocked', effect: 'deny', when: { outputAddresses: { anyIn: ['bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4'] } } },
        { id: 'btc', effect: 'allow', when: { family: { eq: 'bitcoin' } } },
      ],
    })
    const pub = Buffer.from(secp256k1Compressed(publicKey as string), 'hex')
    const refused = await custody.signBitcoinPsbt(keyId, { psbt: psbtFor(pub), network: 'regtest' }).catch((e: unknown) => e)
    expect(isCustodyError(refused, 'POLICY_DENIED') && refused.details?.rule).toBe('blocked')
  })
})

/** The compressed form of a 0x-hex secp256k1 public key (uncompressed or compressed), as hex without 0x. */
function secp256k1Compressed(publicKey: string): string {
  return Buffer.from(secp256k1.Point.fromHex(publicKey.slice(2)).toBytes(true)).toString('hex')
}

describe("a parent's own record under a victim's keyId (red-team finding P2)", () => {
  it("draws on its own limit bucket: exhausting it leaves the victim's limit whole", async () => {
    const parent = newStamper()
    const limit = { sum: 'count' as const, max: '3', window: '24h', afterRestart: 'reset' as const }
    const rules = (signer: string) => [{ id: 'daily', effect: 'allow' as const, when: { signer: { eq: signer } }, limit }]
    const { keyId } = await custody.importKey({ generate: true, keyId: 'victim-limit' })
    await custody.setSigningPolicy(keyId, { rules: rules(delegate.publicKey), signers: [delegate.publicKey] })
    const service = createCustodyClient({ transport, stamper: delegate, trustedCreators: [owner.publicKey] })
    expect(await codeOf(service.signEip1559(keyId, tx(1n)))).toBe('ok')
    // The parent hides the victim's record and policy, has the enclave make a key of its own under the same id with a
    // policy of its own (same rule id and window), and spends that rule's limit.
    const victimRecord = await readRecord(keyId)
    const policyPath = join(dataDir, 'policies', `${keyId}.json`)
    const victimPolicy = await readFile(policyPath, 'utf8')
    await rm(recordPath(keyId))
    await rm(policyPath)
    const attacker = createCustodyClient({ transport, stamper: parent })
    await attacker.importKey({ generate: true, keyId })
    await attacker.setSigningPolicy(keyId, { rules: rules(parent.publicKey) })
    for (let i = 0; i < 3; i++) expect(await codeOf(attacker.signEip1559(keyId, tx(1n)))).toBe('ok')
    expect(await codeOf(attacker.signEip1559(keyId, tx(1n)))).toBe('POLICY_DENIED')
    // Back to the victim's record and policy: its limit (3, one used) is untouched by the parent's spending.
    await writeRecord(victimRecord)
    await writeFile(policyPath, victimPolicy)
    expect(await codeOf(service.signEip1559(keyId, tx(1n)))).toBe('ok')
    expect(await codeOf(service.signEip1559(keyId, tx(1n)))).toBe('ok')
    expect(await codeOf(service.signEip1559(keyId, tx(1n)))).toBe('POLICY_DENIED')
    await Promise.all([service.close(), attacker.close()])
  })
})
