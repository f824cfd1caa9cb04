/**
 * One HD wallet, created once through the production-like attested stack (`startDevStack`: SDK `nitroEnclave` →
 * parent proxy → enclave socket → attested runtime; KMS `Recipient` sealing, records stored by the importer role in
 * local Secrets Manager and forwarded by the proxy), signs for three chain families, each judged by software that is
 * not ours: an EVM transfer mined by anvil; Bitcoin PSBTs (regtest, P2WPKH and P2TR accounts) whose signatures
 * bitcoinjs-lib and @scure/btc-signer both verify against the sighash each computes; Solana SOL and SPL token
 * transfers executed by litesvm. The wallet's signing policy (per family), a plain ed25519 key's own policy, a
 * parent that substitutes records and a replayed request are refused. (The enclave parses PSBTs with
 * @scure/btc-signer too: bitcoinjs-lib is the independent judge; scure's sighash is checked with @noble/curves.)
 */
import { randomBytes, sign as edSign, generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { type DevStack, startDevStack } from '@enclave-custody/cli'
import { createSecretsManagerRecordSource, type ParentProxy, startParentProxy } from '@enclave-custody/parent-proxy'
import {
  apiKeyStamper,
  attestEnclave,
  createCustodyClient,
  type CustodyClient,
  generateApiKey,
  isCustodyError,
  type KeyInfo,
  nitroEnclave,
  parseEther,
  type SealedKeyRecord,
  stampRequest,
  type Transport,
} from '@enclave-custody/sdk'
import { type Operation, PROTOCOL_VERSION, type RequestMessage, type ResponseMessage } from '@enclave-custody/sdk/protocol'
import {
  AccountRole,
  type Address,
  getAddressDecoder,
  getAddressEncoder,
  getBase58Encoder,
  getCompiledTransactionMessageDecoder,
  getTransactionDecoder,
  getTransactionEncoder,
  type Instruction,
  lamports,
  type SignatureBytes,
  type Transaction as SolanaTransaction,
  type TransactionMessageBytes,
} from '@solana/kit'
import * as bitcoin from 'bitcoinjs-lib'
import { computeAddress, JsonRpcProvider, type JsonRpcSigner, Wallet } from 'ethers'
import { FailedTransactionMetadata, LiteSVM } from 'litesvm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nobleValidator } from '../packages/enclave-runtime/test/bitcoinFixtures.js'
import { kitMessageBytes, systemTransferData, tokenAmountData } from '../packages/enclave-runtime/test/solanaSupport.js'
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js'
import * as btc from '@scure/btc-signer'
import { type HostileRecordSource, hostileRecordSource } from './support/hostileRecordSource.js'

const CHAIN_ID = 11155111n
const PRIORITY_FEE = 1_000_000_000n
const REGTEST = bitcoin.networks.regtest
const SYSTEM_PROGRAM = '11111111111111111111111111111111' as Address
const TOKEN_PROGRAM = 'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA' as Address
const COMPUTE_BUDGET_PROGRAM = 'ComputeBudget111111111111111111111111111111' as Address
const LAMPORT_CAP = 1_000_000_000n
const BTC_FEE_CAP = 5_000n

/** Regtest payees: two on the wallet's allowlist (P2WPKH and P2TR), one not. */
const payeeKey = (n: number) => secp256k1.getPublicKey(Uint8Array.from({ length: 32 }, (_, i) => (i === 31 ? n : 0)), true)
const PAYEE_WPKH = bitcoin.payments.p2wpkh({ pubkey: payeeKey(1), network: REGTEST }).address!
const PAYEE_TR = bitcoin.payments.p2tr({ internalPubkey: payeeKey(2).slice(1), network: REGTEST }).address!
const UNLISTED = bitcoin.payments.p2wpkh({ pubkey: payeeKey(3), network: REGTEST }).address!

// One caller: the wallet's owner. Every client of this file stamps with its API key.
const stamper = apiKeyStamper({ privateKey: generateApiKey().privateKey })
let dataDir: string | undefined
let stack: DevStack
let transport: Transport
let custody: CustodyClient
/** Every request the SDK sent through the honest proxy, as it travelled. */
const sent: RequestMessage[] = []
let wallet: KeyInfo
let evm: KeyInfo
let btcWpkh: KeyInfo
let btcTr: KeyInfo
let sol: KeyInfo
let sol2: KeyInfo
let plain: KeyInfo
/** A plain ed25519 key's allowed recipient (its own policy). */
const PAYROLL = localSolanaKey()

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'ok'
  } catch (e) {
    if (isCustodyError(e)) return e.code
    throw e
  }
}
async function errorOf(p: Promise<unknown>): Promise<{ code: string; message: string; rule?: unknown }> {
  try {
    await p
  } catch (e) {
    if (!isCustodyError(e)) throw e
    return { code: e.code, message: e.message, rule: (e.details as { rule?: unknown } | undefined)?.rule }
  }
  throw new Error('expected a refusal')
}

/** A stamped request sent straight through `via` (the SDK's checks bypassed): the enclave's own answer. */
async function rawRequest(via: Transport, op: Operation, params: Record<string, unknown>): Promise<ResponseMessage> {
  const { aud } = await attestEnclave((m) => via.request(m), stack.attestation)
  const auth = await stampRequest({ stamper, v: PROTOCOL_VERSION, op, params, aud })
  return (await via.request({ v: PROTOCOL_VERSION, id: randomBytes(12).toString('base64url'), op, params, auth } as RequestMessage)) as ResponseMessage
}

/** A Solana account of `walletId` at `index`. */
async function solanaAccount(walletId: string, index: number): Promise<KeyInfo> {
  return custody.createAccount(walletId, { family: 'solana', index })
}

async function recordOf(keyId: string): Promise<SealedKeyRecord> {
  const p = stack.config.principals.instance
  const client = new SecretsManagerClient({ region: stack.region, endpoint: stack.awsEndpoint, credentials: { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey }, maxAttempts: 1 })
  try {
    const out = await client.send(new GetSecretValueCommand({ SecretId: `enclave-custody/keys/${keyId}` }))
    return JSON.parse(out.SecretString!) as SealedKeyRecord
  } finally {
    client.destroy()
  }
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'custody-multichain-'))
  stack = await startDevStack({ dataDir })
  const inner = nitroEnclave({ url: stack.proxyUrl, attestation: stack.attestation })
  transport = {
    name: inner.name,
    attestation: inner.attestation,
    request: (m) => {
      sent.push(structuredClone(m))
      return inner.request(m)
    },
  }
  custody = createCustodyClient({ transport, stamper, importer: stack.importer })
  wallet = await custody.createWallet()
  evm = await custody.createAccount(wallet.keyId, { family: 'evm' })
  btcWpkh = await custody.createAccount(wallet.keyId, { family: 'bitcoin', network: 'regtest' })
  // Index 0 named: the default index counts every Bitcoin account of the wallet, whatever its format, so this first
  // P2TR account would otherwise be m/86'/1'/1'/0/0, not BIP-86's first account.
  btcTr = await custody.createAccount(wallet.keyId, { family: 'bitcoin', network: 'regtest', format: 'p2tr', index: 0 })
  sol = await solanaAccount(wallet.keyId, 0)
  sol2 = await solanaAccount(wallet.keyId, Number(sol.path!.split('/')[3]!.slice(0, -1)) + 1)
  plain = await custody.importKey({ generate: true, kind: 'ed25519' })
  // One policy for the whole wallet, set before anything is signed: every signature below passes it.
  await custody.setSigningPolicy(wallet.keyId, {
    rules: [
      { id: 'evm-any', effect: 'allow', when: { family: { eq: 'evm' } } },
      { id: 'btc-fee-cap', effect: 'deny', when: { family: { eq: 'bitcoin' }, fee: { gt: String(BTC_FEE_CAP) } } },
      {
        id: 'btc-payees',
        effect: 'allow',
        when: { family: { eq: 'bitcoin' }, network: { eq: 'regtest' }, outputAddresses: { allIn: [PAYEE_WPKH, PAYEE_TR] }, amountsProven: { eq: true } },
      },
      { id: 'sol-lamport-cap', effect: 'deny', when: { family: { eq: 'solana' }, lamports: { gt: String(LAMPORT_CAP) } } },
      { id: 'sol-programs', effect: 'allow', when: { family: { eq: 'solana' }, kind: { eq: 'solanaTransaction' }, programIds: { allIn: [SYSTEM_PROGRAM, TOKEN_PROGRAM] } } },
    ],
  })
  await custody.setSigningPolicy(plain.keyId, {
    rules: [
      {
        id: 'payroll-only',
        effect: 'allow',
        when: { family: { eq: 'solana' }, kind: { eq: 'solanaTransaction' }, programIds: { allIn: [SYSTEM_PROGRAM] }, solRecipients: { allIn: [PAYROLL.address] }, lamports: { lte: '200000000' } },
      },
    ],
  })
}, 60_000)

afterAll(async () => {
  await custody?.close()
  await stack?.close()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

describe('one wallet through the attested stack', () => {
  it('the wallet and its accounts are KMS-sealed records (v2) the importer stored in Secrets Manager; the policy is the wallet\'s', async () => {
    expect(wallet).toMatchObject({ kind: 'hd-wallet', address: '' })
    expect(evm).toMatchObject({ kind: 'hd-account', family: 'evm', walletId: wallet.keyId, path: "m/44'/60'/0'/0/0" })
    expect(btcWpkh).toMatchObject({ family: 'bitcoin', network: 'regtest', format: 'p2wpkh', path: "m/84'/1'/0'/0/0" })
    expect(btcWpkh.address).toMatch(/^bcrt1q/)
    expect(btcTr).toMatchObject({ family: 'bitcoin', network: 'regtest', format: 'p2tr', path: "m/86'/1'/0'/0/0" })
    expect(btcTr.address).toMatch(/^bcrt1p/)
    expect(sol).toMatchObject({ family: 'solana', curve: 'ed25519' })
    expect(sol.path).toMatch(/^m\/44'\/501'\/\d+'\/0'$/)
    expect(sol2.path).toMatch(/^m\/44'\/501'\/\d+'\/0'$/)
    expect(sol2.address).not.toBe(sol.address)
    expect(plain).toMatchObject({ kind: 'ed25519', family: 'solana', curve: 'ed25519' })
    // Each address is its public key's, as other software derives it.
    expect(computeAddress(evm.publicKey!)).toBe(evm.address)
    const btcPub = (k: KeyInfo) => secp256k1.Point.fromHex(k.publicKey!.slice(2)).toBytes(true)
    expect(bitcoin.payments.p2wpkh({ pubkey: btcPub(btcWpkh), network: REGTEST }).address).toBe(btcWpkh.address)
    expect(bitcoin.payments.p2tr({ internalPubkey: btcPub(btcTr).slice(1), network: REGTEST }).address).toBe(btcTr.address)
    for (const k of [sol, sol2]) expect(getAddressDecoder().decode(Buffer.from(k.publicKey!.slice(2), 'hex'))).toBe(k.address)
    for (const key of [wallet, evm, btcWpkh, btcTr, sol, sol2, plain]) {
      const record = await recordOf(key.keyId)
      expect(record).toMatchObject({ version: 2, keyId: key.keyId, sealing: 'aws-kms', encryptionContext: { keyId: key.keyId, record: 'v2' } })
    }
    for (const account of [evm, btcWpkh, btcTr, sol, sol2]) expect((await custody.getKey(account.keyId)).signingPolicy).toEqual((await custody.getKey(wallet.keyId)).signingPolicy)
    expect((await custody.getKey(wallet.keyId)).signingPolicy?.version).toBe(1)
  })
})

describe('a Solana account whose public key starts with 0x0', () => {
  /** The BIP-39 test mnemonic: its Solana account 56 (m/44'/501'/56'/0') has the public key 0x0ef56a2d…. */
  const MNEMONIC = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about'
  const ACCOUNT_56 = '0x0ef56a2dccd386b59d14489391dd5e8b969799295f775150df3999b9221350a2'

  // Regression: the SDK once told an ed25519 key from a compressed secp256k1 one by its first nibble ("0x0"), and
  // refused the records of 1 in 16 Solana accounts.
  it('is created through the attested stack (SLIP-10 account 56 of the BIP-39 test mnemonic), like its neighbour', async () => {
    const imported = await custody.importWallet({ mnemonic: MNEMONIC })
    const account = await custody.createAccount(imported.keyId, { family: 'solana', index: 56 })
    expect(account.publicKey).toBe(ACCOUNT_56)
    expect(account.address).toBe(getAddressDecoder().decode(Buffer.from(ACCOUNT_56.slice(2), 'hex')))
    expect((await custody.createAccount(imported.keyId, { family: 'solana', index: 57 })).path).toBe("m/44'/501'/57'/0'")
  })
})

describe('EVM: an EIP-1559 transfer mined by anvil', () => {
  let provider: JsonRpcProvider
  let funder: JsonRpcSigner
  beforeAll(async () => {
    provider = new JsonRpcProvider(stack.anvil!.rpcUrl, undefined, { staticNetwork: true, pollingInterval: 50, cacheTimeout: -1 })
    funder = await provider.getSigner(0)
  })
  afterAll(() => provider?.destroy())

  it('the EVM account pays a fresh address; both balances move by exactly the value and the fee', async () => {
    expect((await (await funder.sendTransaction({ to: evm.address, value: parseEther('1') })).wait())?.status).toBe(1)
    const recipient = Wallet.createRandom().address
    const block = await provider.getBlock('latest')
    const value = parseEther('0.25')
    const signed = await custody.signEip1559(evm.keyId, {
      chainId: CHAIN_ID,
      nonce: BigInt(await provider.getTransactionCount(evm.address, 'pending')),
      to: recipient,
      value,
      gas: 21_000n,
      maxFeePerGas: block!.baseFeePerGas! * 2n + PRIORITY_FEE,
      maxPriorityFeePerGas: PRIORITY_FEE,
    })
    expect(signed.from).toBe(evm.address)
    const receipt = await (await provider.broadcastTransaction(signed.rawTransaction)).wait()
    expect(receipt?.status).toBe(1)
    expect(receipt!.from).toBe(evm.address)
    const n = receipt!.blockNumber
    expect((await provider.getBalance(recipient, n)) - (await provider.getBalance(recipient, n - 1))).toBe(value)
    expect((await provider.getBalance(evm.address, n - 1)) - (await provider.getBalance(evm.address, n))).toBe(value + receipt!.gasUsed * receipt!.gasPrice)
  })
})

/** A previous transaction paying `script` each of `values` (outputs 0, 1, …). */
function previousTx(script: Uint8Array, values: bigint[]): bitcoin.Transaction {
  const tx = new bitcoin.Transaction()
  tx.version = 2
  tx.addInput(randomBytes(32), 0)
  for (const v of values) tx.addOutput(script, v)
  return tx
}

type Prevout = { script: Uint8Array; amount: bigint }

/** The P2WPKH account's PSBT: it spends two of its outputs and pays `payee`, change back to itself. */
function wpkhPsbt(prev: bitcoin.Transaction, outputs: { address: string; value: bigint }[]): bitcoin.Psbt {
  const psbt = new bitcoin.Psbt({ network: REGTEST })
  for (const [index, out] of prev.outs.entries()) psbt.addInput({ hash: prev.getHash(), index, nonWitnessUtxo: prev.toBuffer(), witnessUtxo: { script: out.script, value: out.value } })
  for (const o of outputs) psbt.addOutput(o)
  return psbt
}

/** The P2TR account's PSBT: key path spend of one output. */
function trPsbt(prev: bitcoin.Transaction, internalKey: Uint8Array, outputs: { address: string; value: bigint }[]): bitcoin.Psbt {
  const psbt = new bitcoin.Psbt({ network: REGTEST })
  psbt.addInput({ hash: prev.getHash(), index: 0, witnessUtxo: { script: prev.outs[0]!.script, value: prev.outs[0]!.value }, tapInternalKey: internalKey })
  for (const o of outputs) psbt.addOutput(o)
  return psbt
}

/**
 * bitcoinjs-lib's view of a final transaction: for each input, the sighash bitcoinjs computes (BIP-143 for P2WPKH,
 * BIP-341 for P2TR) and the witness signature verified against it. Returns the number of inputs checked.
 */
function bitcoinjsVerifyFinal(hex: string, prevouts: Prevout[]): number {
  const tx = bitcoin.Transaction.fromHex(hex)
  tx.ins.forEach((input, i) => {
    const { script, amount } = prevouts[i]!
    if (script[0] === 0x51) {
      const sig = input.witness[0]!
      const hashType = sig.length === 65 ? sig[64]! : bitcoin.Transaction.SIGHASH_DEFAULT
      const hash = tx.hashForWitnessV1(i, prevouts.map((p) => p.script), prevouts.map((p) => p.amount), hashType)
      expect(nobleValidator(script.slice(2), hash, sig.slice(0, 64))).toBe(true)
    } else {
      const [sig, pub] = input.witness as [Uint8Array, Uint8Array]
      expect(bitcoin.payments.p2wpkh({ pubkey: pub }).output).toEqual(script)
      const { signature, hashType } = bitcoin.script.signature.decode(sig)
      const hash = tx.hashForWitnessV0(i, bitcoin.payments.p2pkh({ pubkey: pub }).output!, amount, hashType)
      expect(nobleValidator(pub, hash, signature)).toBe(true)
    }
  })
  return tx.ins.length
}

/** @scure/btc-signer's view of the same: parse the raw transaction, compute each input's sighash, verify its signature. */
function scureVerifyFinal(hex: string, prevouts: Prevout[]): number {
  const tx = btc.Transaction.fromRaw(Buffer.from(hex, 'hex'))
  for (let i = 0; i < tx.inputsLength; i++) {
    const witness = tx.getInput(i).finalScriptWitness!
    const { script, amount } = prevouts[i]!
    if (script[0] === 0x51) {
      const sig = witness[0]!
      const hashType = sig.length === 65 ? sig[64]! : btc.SigHash.DEFAULT
      const hash = tx.preimageWitnessV1(i, prevouts.map((p) => p.script), hashType, prevouts.map((p) => p.amount))
      expect(schnorr.verify(sig.slice(0, 64), hash, script.slice(2))).toBe(true)
    } else {
      const [sig, pub] = witness as [Uint8Array, Uint8Array]
      expect(btc.p2wpkh(pub).script).toEqual(script)
      const hash = tx.preimageWitnessV0(i, btc.p2pkh(pub).script, sig.at(-1)!, amount)
      expect(secp256k1.verify(sig.slice(0, -1), hash, pub, { prehash: false, format: 'der' })).toBe(true)
    }
  }
  expect(tx.id).toBe(bitcoin.Transaction.fromHex(hex).getId())
  return tx.inputsLength
}

describe('Bitcoin: regtest PSBTs checked by bitcoinjs-lib and @scure/btc-signer', () => {
  it('the P2WPKH account spends two of its outputs: bitcoinjs validates the partial signatures, its own finalization is the enclave\'s transaction, scure verifies every input', async () => {
    const script = bitcoin.address.toOutputScript(btcWpkh.address, REGTEST)
    const prev = previousTx(script, [70_000n, 40_000n])
    const outputs = [
      { address: PAYEE_WPKH, value: 80_000n },
      { address: btcWpkh.address, value: 29_000n }, // change: neither listed nor counted
    ]
    const partial = await custody.signBitcoinPsbt(btcWpkh.keyId, { psbt: wpkhPsbt(prev, outputs).toBase64(), network: 'regtest' })
    expect(partial.signedInputs).toEqual([0, 1])
    const reference = bitcoin.Psbt.fromBase64(partial.psbt, { network: REGTEST })
    expect(reference.validateSignaturesOfInput(0, nobleValidator)).toBe(true)
    expect(reference.validateSignaturesOfInput(1, nobleValidator)).toBe(true)
    reference.finalizeAllInputs()

    const final = await custody.signBitcoinPsbt(btcWpkh.keyId, { psbt: wpkhPsbt(prev, outputs).toBase64(), network: 'regtest', finalize: true })
    // RFC 6979: the same signatures, so bitcoinjs's finalization and extraction are byte for byte the enclave's.
    expect(final.transaction).toBe(reference.extractTransaction().toHex())
    expect(final.txid).toBe(reference.extractTransaction().getId())
    const prevouts = prev.outs.map((o) => ({ script: o.script, amount: o.value }))
    expect(bitcoinjsVerifyFinal(final.transaction!, prevouts)).toBe(2)
    expect(scureVerifyFinal(final.transaction!, prevouts)).toBe(2)
  })

  it('the P2TR account spends its output by key path: bitcoinjs validates tapKeySig and the final witness, scure verifies it (BIP-341 sighash)', async () => {
    const script = bitcoin.address.toOutputScript(btcTr.address, REGTEST)
    const prev = previousTx(script, [50_000n])
    const internalKey = secp256k1.Point.fromHex(btcTr.publicKey!.slice(2)).toBytes(true).slice(1)
    const outputs = [{ address: PAYEE_TR, value: 48_800n }]
    const partial = await custody.signBitcoinPsbt(btcTr.keyId, { psbt: trPsbt(prev, internalKey, outputs).toBase64(), network: 'regtest' })
    expect(partial.signedInputs).toEqual([0])
    const reference = bitcoin.Psbt.fromBase64(partial.psbt, { network: REGTEST })
    expect(reference.validateSignaturesOfInput(0, nobleValidator)).toBe(true)
    reference.finalizeAllInputs()

    const final = await custody.signBitcoinPsbt(btcTr.keyId, { psbt: trPsbt(prev, internalKey, outputs).toBase64(), network: 'regtest', finalize: true })
    // BIP-340 signatures carry fresh auxiliary randomness: the same transaction (txid), each witness valid on its own.
    expect(final.txid).toBe(reference.extractTransaction().getId())
    const prevouts = [{ script: prev.outs[0]!.script, amount: prev.outs[0]!.value }]
    expect(bitcoinjsVerifyFinal(final.transaction!, prevouts)).toBe(1)
    expect(scureVerifyFinal(final.transaction!, prevouts)).toBe(1)
    expect(bitcoinjsVerifyFinal(reference.extractTransaction().toHex(), prevouts)).toBe(1)
  })

  it('the wallet\'s policy: an unlisted payee and a fee above the cap are refused (POLICY_DENIED), on both accounts', async () => {
    const script = bitcoin.address.toOutputScript(btcWpkh.address, REGTEST)
    const prev = previousTx(script, [70_000n, 40_000n])
    const unlisted = await errorOf(custody.signBitcoinPsbt(btcWpkh.keyId, { psbt: wpkhPsbt(prev, [{ address: UNLISTED, value: 109_000n }]).toBase64(), network: 'regtest' }))
    // An allowlist is an allow rule: a PSBT it does not match is denied because no rule allows it.
    expect(unlisted).toEqual({ code: 'POLICY_DENIED', message: 'denied: no rule allows', rule: undefined })
    // Listed and unlisted together: still refused (allIn).
    const mixed = wpkhPsbt(prev, [{ address: PAYEE_WPKH, value: 50_000n }, { address: UNLISTED, value: 59_000n }])
    expect((await errorOf(custody.signBitcoinPsbt(btcWpkh.keyId, { psbt: mixed.toBase64(), network: 'regtest' }))).message).toBe('denied: no rule allows')
    // Fee 110,000 − 100,000 = 10,000 sat > the 5,000 cap: the deny rule names itself.
    const greedy = await errorOf(custody.signBitcoinPsbt(btcWpkh.keyId, { psbt: wpkhPsbt(prev, [{ address: PAYEE_WPKH, value: 100_000n }]).toBase64(), network: 'regtest' }))
    expect(greedy).toMatchObject({ code: 'POLICY_DENIED', rule: 'btc-fee-cap' })
    expect(greedy.message).toContain('btc-fee-cap')
    const tr = previousTx(bitcoin.address.toOutputScript(btcTr.address, REGTEST), [50_000n])
    const internalKey = secp256k1.Point.fromHex(btcTr.publicKey!.slice(2)).toBytes(true).slice(1)
    expect(await errorOf(custody.signBitcoinPsbt(btcTr.keyId, { psbt: trPsbt(tr, internalKey, [{ address: PAYEE_TR, value: 40_000n }]).toBase64(), network: 'regtest' }))).toMatchObject({
      code: 'POLICY_DENIED',
      rule: 'btc-fee-cap',
    })
    expect(await errorOf(custody.signBitcoinPsbt(btcTr.keyId, { psbt: trPsbt(tr, internalKey, [{ address: UNLISTED, value: 49_000n }]).toBase64(), network: 'regtest' }))).toEqual({
      code: 'POLICY_DENIED',
      message: 'denied: no rule allows',
      rule: undefined,
    })
  })
})

/** An ed25519 key held by this test (node:crypto), for the other signers of a transaction and for recipients. */
function localSolanaKey(): { address: Address; publicKey: Uint8Array; sign(message: Uint8Array): Uint8Array } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const raw = new Uint8Array(Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url'))
  return { address: getAddressDecoder().decode(raw), publicKey: raw, sign: (message) => new Uint8Array(edSign(null, message, privateKey)) }
}

/** The wire transaction of `message` (base64) with the given local signers' signatures and empty slots for the others. */
function wireWith(message: Uint8Array, local: ReturnType<typeof localSolanaKey>[] = []): string {
  const compiled = getCompiledTransactionMessageDecoder().decode(message) as unknown as { header: { numSignerAccounts: number }; staticAccounts: Address[] }
  const signers = compiled.staticAccounts.slice(0, compiled.header.numSignerAccounts)
  const signatures = Object.fromEntries(signers.map((a) => [a, (local.find((k) => k.address === a)?.sign(message) ?? null) as SignatureBytes | null]))
  const tx = { messageBytes: message as unknown as TransactionMessageBytes, signatures } as unknown as SolanaTransaction
  return Buffer.from(getTransactionEncoder().encode(tx)).toString('base64')
}

function send(svm: LiteSVM, wireBase64: string): { ok: true } | { ok: false; err: string } {
  const tx = getTransactionDecoder().decode(Buffer.from(wireBase64, 'base64')) as SolanaTransaction
  const result = svm.sendTransaction(tx)
  return result instanceof FailedTransactionMetadata ? { ok: false, err: String(result.err()) } : { ok: true }
}

const transferIx = (from: Address, to: Address, amount: bigint): Instruction => ({
  programAddress: SYSTEM_PROGRAM,
  accounts: [
    { address: from, role: AccountRole.WRITABLE_SIGNER },
    { address: to, role: AccountRole.WRITABLE },
  ],
  data: systemTransferData(amount),
})

function createAccountIx(payer: Address, account: ReturnType<typeof localSolanaKey>, rent: bigint, space: bigint, owner: Address): Instruction {
  const data = new Uint8Array(52)
  const view = new DataView(data.buffer)
  view.setUint32(0, 0, true) // CreateAccount
  view.setBigUint64(4, rent, true)
  view.setBigUint64(12, space, true)
  data.set(addressBytes(owner), 20)
  return {
    programAddress: SYSTEM_PROGRAM,
    accounts: [
      { address: payer, role: AccountRole.WRITABLE_SIGNER },
      { address: account.address, role: AccountRole.WRITABLE_SIGNER },
    ],
    data,
  }
}

const addressBytes = (a: Address): Uint8Array => new Uint8Array(getAddressEncoder().encode(a))

/** The `amount` of an SPL token account (u64 LE at offset 64 of its 165 bytes). */
function tokenBalance(svm: LiteSVM, account: Address): bigint {
  const info = svm.getAccount(account)
  if (!info.exists) throw new Error(`no account ${account}`)
  return new DataView(info.data.buffer, info.data.byteOffset).getBigUint64(64, true)
}

describe('Solana: transfers executed by litesvm', () => {
  const svm = new LiteSVM()
  const bob = localSolanaKey()
  /** The SOL transfer request as the SDK sent it (replayed below). */
  let transferRequest: RequestMessage | undefined

  beforeAll(() => {
    svm.airdrop(sol.address as Address, lamports(5_000_000_000n))
    svm.airdrop(plain.address as Address, lamports(1_000_000_000n))
  })

  it('the Solana account pays 0.5 SOL: the enclave\'s wire transaction is accepted and both balances move', async () => {
    const message = kitMessageBytes({ version: 0, feePayer: sol.address as Address, blockhash: svm.latestBlockhash(), instructions: [transferIx(sol.address as Address, bob.address, 500_000_000n)] })
    const before = sent.length
    const signed = await custody.signSolanaTransaction(sol.keyId, { transaction: message })
    transferRequest = sent.slice(before).find((m) => m.op === 'sign.solanaTransaction')
    expect(signed).toMatchObject({ signer: sol.address, signerIndex: 0 })
    expect(send(svm, signed.transaction)).toEqual({ ok: true })
    expect(svm.getBalance(bob.address)).toBe(500_000_000n)
    expect(svm.getBalance(sol.address as Address)).toBe(5_000_000_000n - 500_000_000n - 5000n)
  })

  it('the same transfer signed by another account of the wallet: refused by the SDK and by the enclave (not a signer); its signature in the payer\'s slot fails in litesvm', async () => {
    const message = kitMessageBytes({ version: 'legacy', feePayer: sol.address as Address, blockhash: svm.latestBlockhash(), instructions: [transferIx(sol.address as Address, bob.address, 100_000_000n)] })
    const sdk = await errorOf(custody.signSolanaTransaction(sol2.keyId, { transaction: message }))
    expect(sdk).toMatchObject({ code: 'INVALID_ARGUMENT' })
    expect(sdk.message).toMatch(/not .*signers/)
    const enclave = await rawRequest(transport, 'sign.solanaTransaction', { keyId: sol2.keyId, message: Buffer.from(message).toString('base64') })
    expect(enclave).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } })
    expect(JSON.stringify(enclave)).toMatch(/not a required signer/)
    // sol2 signs a transfer it does pay; a parent moves that signature into the payer's slot of the real one.
    const own = kitMessageBytes({ version: 'legacy', feePayer: sol2.address as Address, blockhash: svm.latestBlockhash(), instructions: [transferIx(sol2.address as Address, bob.address, 100_000_000n)] })
    const signature = (await custody.signSolanaTransaction(sol2.keyId, { transaction: own })).signature
    const forged = getTransactionEncoder().encode({ messageBytes: message, signatures: { [sol.address]: getBase58Encoder().encode(signature) } } as unknown as SolanaTransaction)
    const bobBefore = svm.getBalance(bob.address)
    const result = send(svm, Buffer.from(forged).toString('base64'))
    // TransactionErrorFieldless.SignatureFailure (a const enum, so spelled as its value).
    expect(result).toEqual({ ok: false, err: '11' })
    expect(svm.getBalance(bob.address)).toBe(bobBefore)
  })

  it('an SPL token: mint and token accounts created in litesvm, then a transferChecked signed by the Solana account moves the tokens', async () => {
    const mint = localSolanaKey()
    const ours = localSolanaKey()
    const bobs = localSolanaKey()
    const payer = sol.address as Address
    const mintRent = svm.minimumBalanceForRentExemption(82n)
    const accountRent = svm.minimumBalanceForRentExemption(165n)
    const initializeMint2 = new Uint8Array(35) // [20, decimals, mint authority (32), no freeze authority]
    initializeMint2[0] = 20
    initializeMint2[1] = 6
    initializeMint2.set(addressBytes(payer), 2)
    const initializeAccount3 = (owner: Address) => Uint8Array.of(18, ...addressBytes(owner))
    const setup: Instruction[] = [
      createAccountIx(payer, mint, mintRent, 82n, TOKEN_PROGRAM),
      { programAddress: TOKEN_PROGRAM, accounts: [{ address: mint.address, role: AccountRole.WRITABLE }], data: initializeMint2 },
      createAccountIx(payer, ours, accountRent, 165n, TOKEN_PROGRAM),
      { programAddress: TOKEN_PROGRAM, accounts: [{ address: ours.address, role: AccountRole.WRITABLE }, { address: mint.address, role: AccountRole.READONLY }], data: initializeAccount3(payer) },
      createAccountIx(payer, bobs, accountRent, 165n, TOKEN_PROGRAM),
      { programAddress: TOKEN_PROGRAM, accounts: [{ address: bobs.address, role: AccountRole.WRITABLE }, { address: mint.address, role: AccountRole.READONLY }], data: initializeAccount3(bob.address) },
      {
        programAddress: TOKEN_PROGRAM,
        accounts: [
          { address: mint.address, role: AccountRole.WRITABLE },
          { address: ours.address, role: AccountRole.WRITABLE },
          { address: payer, role: AccountRole.READONLY_SIGNER },
        ],
        data: tokenAmountData(7, 1_000_000n), // MintTo
      },
    ]
    const setupMessage = kitMessageBytes({ version: 0, feePayer: payer, blockhash: svm.latestBlockhash(), instructions: setup })
    // The new accounts sign here; the enclave fills the payer's (and mint authority's) slot of the same wire transaction.
    const setupSigned = await custody.signSolanaTransaction(sol.keyId, { transaction: wireWith(setupMessage, [mint, ours, bobs]) })
    expect(send(svm, setupSigned.transaction)).toEqual({ ok: true })
    expect(tokenBalance(svm, ours.address)).toBe(1_000_000n)

    const transfer: Instruction = {
      programAddress: TOKEN_PROGRAM,
      accounts: [
        { address: ours.address, role: AccountRole.WRITABLE },
        { address: mint.address, role: AccountRole.READONLY },
        { address: bobs.address, role: AccountRole.WRITABLE },
        { address: payer, role: AccountRole.READONLY_SIGNER },
      ],
      data: tokenAmountData(12, 250_000n, 6), // TransferChecked
    }
    const message = kitMessageBytes({ version: 'legacy', feePayer: payer, blockhash: svm.latestBlockhash(), instructions: [transfer] })
    const signed = await custody.signSolanaTransaction(sol.keyId, { transaction: message })
    expect(send(svm, signed.transaction)).toEqual({ ok: true })
    expect(tokenBalance(svm, ours.address)).toBe(750_000n)
    expect(tokenBalance(svm, bobs.address)).toBe(250_000n)
  })

  it('the wallet\'s policy: a transfer above the lamport cap and an unlisted program are refused (POLICY_DENIED)', async () => {
    const payer = sol.address as Address
    const above = kitMessageBytes({ version: 0, feePayer: payer, blockhash: svm.latestBlockhash(), instructions: [transferIx(payer, bob.address, LAMPORT_CAP + 1n)] })
    const capped = await errorOf(custody.signSolanaTransaction(sol.keyId, { transaction: above }))
    expect(capped).toMatchObject({ code: 'POLICY_DENIED', rule: 'sol-lamport-cap' })
    // Two transfers, each under the cap, together above it: the fact is the sum.
    const split = kitMessageBytes({ version: 0, feePayer: payer, blockhash: svm.latestBlockhash(), instructions: [transferIx(payer, bob.address, 600_000_000n), transferIx(payer, bob.address, 600_000_000n)] })
    expect(await errorOf(custody.signSolanaTransaction(sol.keyId, { transaction: split }))).toMatchObject({ code: 'POLICY_DENIED', rule: 'sol-lamport-cap' })
    // A compute-budget instruction (SetComputeUnitLimit) next to a small transfer: a program the allowlist lacks.
    const budget: Instruction = { programAddress: COMPUTE_BUDGET_PROGRAM, data: Uint8Array.of(2, 0x40, 0x0d, 0x03, 0x00) }
    const unlisted = kitMessageBytes({ version: 0, feePayer: payer, blockhash: svm.latestBlockhash(), instructions: [budget, transferIx(payer, bob.address, 1_000n)] })
    expect(await errorOf(custody.signSolanaTransaction(sol.keyId, { transaction: unlisted }))).toEqual({ code: 'POLICY_DENIED', message: 'denied: no rule allows', rule: undefined })
    // At the cap exactly: allowed, and litesvm runs it.
    const atCap = kitMessageBytes({ version: 0, feePayer: payer, blockhash: svm.latestBlockhash(), instructions: [transferIx(payer, bob.address, LAMPORT_CAP)] })
    const bobBefore = svm.getBalance(bob.address)!
    expect(send(svm, (await custody.signSolanaTransaction(sol.keyId, { transaction: atCap })).transaction)).toEqual({ ok: true })
    expect(svm.getBalance(bob.address)).toBe(bobBefore + LAMPORT_CAP)
  })

  it('a plain ed25519 key under its own policy pays its one recipient; another recipient or a larger amount is refused', async () => {
    const payer = plain.address as Address
    const pay = (to: Address, amount: bigint) => kitMessageBytes({ version: 'legacy', feePayer: payer, blockhash: svm.latestBlockhash(), instructions: [transferIx(payer, to, amount)] })
    const signed = await custody.signSolanaTransaction(plain.keyId, { transaction: pay(PAYROLL.address, 150_000_000n) })
    expect(send(svm, signed.transaction)).toEqual({ ok: true })
    expect(svm.getBalance(PAYROLL.address)).toBe(150_000_000n)
    expect(await errorOf(custody.signSolanaTransaction(plain.keyId, { transaction: pay(bob.address, 1_000n) }))).toEqual({ code: 'POLICY_DENIED', message: 'denied: no rule allows', rule: undefined })
    expect((await errorOf(custody.signSolanaTransaction(plain.keyId, { transaction: pay(PAYROLL.address, 200_000_001n) }))).code).toBe('POLICY_DENIED')
    // The wallet's policy is not the plain key's: a transfer the wallet's accounts may sign is refused here.
    expect((await errorOf(custody.signSolanaTransaction(plain.keyId, { transaction: pay(bob.address, 500_000_000n) }))).code).toBe('POLICY_DENIED')
  })

  describe('a hostile parent', () => {
    let hostile: ParentProxy
    let records: HostileRecordSource
    let secrets: SecretsManagerClient
    let hostileTransport: Transport
    let victim: CustodyClient
    /** The Solana account's record as the importer stored it. */
    let solRecord: SealedKeyRecord

    beforeAll(async () => {
      solRecord = await recordOf(sol.keyId)
      const p = stack.config.principals.instance
      const credentials = { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey }
      secrets = new SecretsManagerClient({ region: stack.region, endpoint: stack.awsEndpoint, credentials, maxAttempts: 1 })
      records = hostileRecordSource(createSecretsManagerRecordSource({ client: secrets }))
      // A second parent proxy in front of the same enclave, whose record source it controls.
      hostile = await startParentProxy({ enclave: { host: '127.0.0.1', port: stack.enclavePort }, records, credentials: async () => credentials })
      hostileTransport = nitroEnclave({ url: hostile.url, attestation: stack.attestation })
      victim = createCustodyClient({ transport: hostileTransport, stamper })
    })
    afterAll(async () => {
      await victim?.close()
      await hostile?.close()
      secrets?.destroy()
    })

    const transferMessage = () => kitMessageBytes({ version: 0, feePayer: sol.address as Address, blockhash: svm.latestBlockhash(), instructions: [transferIx(sol.address as Address, bob.address, 7_000n)] })

    it('an honest answer through the same parent signs (the control)', async () => {
      records.swaps.clear()
      expect((await victim.signSolanaTransaction(sol.keyId, { transaction: transferMessage() })).signer).toBe(sol.address)
    })

    const renamed = (r: SealedKeyRecord, asked: string) => ({ ...r, keyId: asked })
    const renamedWithContext = (r: SealedKeyRecord, asked: string) => ({ ...r, keyId: asked, encryptionContext: { ...r.encryptionContext, keyId: asked } })
    /** The Solana account's own record (every header field), carrying another record's sealed key material. */
    const solHeaderOver = (other: SealedKeyRecord) => ({ ...solRecord, ...('dataKey' in other ? { dataKey: other.dataKey } : {}), ciphertext: other.ciphertext }) as SealedKeyRecord
    const KMS_REFUSED = /^integrity check failed: KMS Decrypt rejected the sealed record: it does not match its keyId, encryption context or KMS key \(InvalidCiphertextException/
    it.each([
      // The record names another keyId: the enclave's key store does not take it for the Solana account.
      ["the EVM account's record, as stored", { swap: () => ({ from: evm.keyId }), sdk: 'KEY_NOT_FOUND', enclave: 'KEY_NOT_FOUND', message: /^key "account-[0-9a-f]+" not found$/ }],
      // Renamed: its header says EVM, so the Solana operation is refused before anything is unsealed.
      ["the EVM account's record renamed", { swap: () => ({ from: evm.keyId, edit: renamed }), sdk: 'INTEGRITY_ERROR', enclave: 'INVALID_ARGUMENT', message: /^"keyId" names a key that signs for evm, not solana/ }],
      ["the EVM account's record renamed, encryption context too", { swap: () => ({ from: evm.keyId, edit: renamedWithContext }), sdk: 'INTEGRITY_ERROR', enclave: 'INVALID_ARGUMENT', message: /^"keyId" names a key that signs for evm, not solana/ }],
      // Same family, same wallet: only KMS's binding of the data key to its keyId stands in the way.
      ['the other Solana account\'s record renamed, encryption context too', { swap: () => ({ from: sol2.keyId, edit: renamedWithContext }), sdk: 'INTEGRITY_ERROR', enclave: 'INTEGRITY_ERROR', message: KMS_REFUSED }],
      ["the Solana account's header over the other Solana account's sealed key", { swap: () => ({ from: sol2.keyId, edit: solHeaderOver }), sdk: 'INTEGRITY_ERROR', enclave: 'INTEGRITY_ERROR', message: KMS_REFUSED }],
      ["the Solana account's header over the EVM account's sealed key", { swap: () => ({ from: evm.keyId, edit: solHeaderOver }), sdk: 'INTEGRITY_ERROR', enclave: 'INTEGRITY_ERROR', message: KMS_REFUSED }],
    ])('the parent serves %s in place of the Solana account\'s: nothing is signed', async (_, { swap, sdk, enclave, message }) => {
      records.swaps.set(sol.keyId, swap())
      try {
        // Through the SDK (which reads the key first) and as a bare stamped sign request (the enclave alone decides).
        expect(await codeOf(victim.signSolanaTransaction(sol.keyId, { transaction: transferMessage() }))).toBe(sdk)
        const raw = await rawRequest(hostileTransport, 'sign.solanaTransaction', { keyId: sol.keyId, message: Buffer.from(transferMessage()).toString('base64') })
        if (raw.ok) throw new Error('the enclave signed with a substituted record')
        expect(raw.error.code).toBe(enclave)
        expect(raw.error.message).toMatch(message)
      } finally {
        records.swaps.clear()
      }
    })

    it("a wallet of the parent's own under the victim's wallet id, forwarded at account.create: refused, nothing derived", async () => {
      // The parent has the enclave create a wallet named like the victim's and owned by the victim, under its own API key;
      // it keeps the record (an attested enclave does not store records) and forwards it when the victim adds an account.
      const parent = apiKeyStamper({ privateKey: generateApiKey().privateKey })
      const { aud } = await attestEnclave((m) => hostileTransport.request(m), stack.attestation)
      const params = { walletId: wallet.keyId, owners: { publicKeys: [stamper.publicKey], threshold: 1 } }
      const auth = await stampRequest({ stamper: parent, v: PROTOCOL_VERSION, op: 'wallet.create', params, aud })
      const made = (await hostileTransport.request({ v: PROTOCOL_VERSION, id: 'evil', op: 'wallet.create', params, auth } as RequestMessage)) as ResponseMessage
      if (!made.ok) throw new Error(`the parent's wallet was not made: ${made.error.message}`)
      const evil = (made.result as { record: SealedKeyRecord }).record
      records.swaps.set(wallet.keyId, { from: wallet.keyId, edit: () => structuredClone(evil) })
      try {
        // The victim's request names its wallet by its master key (as its client does from the wallet it trusts).
        const walletPublicKey = `0x${Buffer.from(secp256k1.Point.fromHex(wallet.publicKey!.slice(2)).toBytes(true)).toString('hex')}`
        const raw = await rawRequest(hostileTransport, 'account.create', { walletId: wallet.keyId, walletPublicKey, family: 'evm', index: 91 })
        if (raw.ok) throw new Error('the enclave derived an account from the parent\'s wallet')
        expect(raw.error).toMatchObject({ code: 'INTEGRITY_ERROR' })
        expect(raw.error.message).toMatch(/is not the wallet whose master key the request names/)
      } finally {
        records.swaps.clear()
      }
    })

    it("a parent that hides the wallet's Solana accounts from its list gets their path again under a new keyId, still under the wallet's policy", async () => {
      // The enclave picks the next default index from the records the parent lists: hidden ones are not counted.
      records.hidden.add(sol.keyId)
      records.hidden.add(sol2.keyId)
      const owner = createCustodyClient({ transport: hostileTransport, stamper, importer: stack.importer })
      let twin: unknown
      try {
        twin = await owner.createAccount(wallet.keyId, { family: 'solana' }).catch((e: unknown) => e)
      } finally {
        records.hidden.clear()
        await owner.close()
      }
      if (twin instanceof Error) throw twin
      expect(twin).toMatchObject({ path: sol.path, address: sol.address, walletId: wallet.keyId })
      expect((twin as KeyInfo).keyId).not.toBe(sol.keyId)
      // The twin is the same wallet's account: its policy and its limits, not a fresh start.
      const { keyId, address } = twin as KeyInfo
      const above = kitMessageBytes({ version: 0, feePayer: address as Address, blockhash: svm.latestBlockhash(), instructions: [transferIx(address as Address, bob.address, LAMPORT_CAP + 1n)] })
      expect(await errorOf(custody.signSolanaTransaction(keyId, { transaction: above }))).toMatchObject({ code: 'POLICY_DENIED', rule: 'sol-lamport-cap' })
    })

    it('the SOL transfer\'s stamped request, replayed as it travelled: refused, nothing signed again', async () => {
      expect(transferRequest).toBeDefined()
      for (const via of [nitroEnclave({ url: stack.proxyUrl, attestation: stack.attestation }), hostileTransport]) {
        const again = (await via.request(structuredClone(transferRequest!))) as ResponseMessage
        if (again.ok) throw new Error('a replayed request was signed again')
        // The enclave served this stamp once; it signs nothing for it again (a retry needs a fresh stamp).
        expect(again.error).toMatchObject({ code: 'UNAVAILABLE', retryable: true })
        expect(again.error.message).toMatch(/this request was already answered/)
      }
    })
  })
})
