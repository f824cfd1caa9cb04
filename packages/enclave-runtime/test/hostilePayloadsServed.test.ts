/**
 * Hostile PSBTs and Solana messages served: every case of the module tables (bitcoinBadInputCases.ts,
 * solanaBadInputCases.ts) that a request can carry, and a few only a request can (another network than an HD
 * account's, another key's payload, another family's key), sent as stamped requests to one live local runtime
 * (createLocalRuntime: the real handler, its key cache, its audit log) holding the very keys the cases are built
 * around — an imported secp256k1 key and an imported ed25519 key (the tables' fixture keys), and a Bitcoin and a
 * Solana account of an HD wallet — so that each case is a near miss of a payload the key signs.
 *
 * Each is refused: INVALID_ARGUMENT naming the field (POLICY_DENIED naming the flag when the case asks for a
 * widening the key was not sealed with), no result, the refusal signed by the attested response key over this
 * very request, its audit event's outcome the error code, and no signature made (ed25519, BIP-340 and ECDSA
 * signing counted). After all of them the runtime keeps serving: a valid PSBT and a valid Solana transaction of
 * each key still sign (checked with bitcoinjs-lib and node:crypto), the key cache holds one entry per key, and the
 * process's memory has not grown with the requests.
 */
import { createPublicKey, verify } from 'node:crypto'
import { type AttestedEnclave, attestEnclave, type AuditEvent } from '@enclave-custody/sdk'
import { requestDigest } from '@enclave-custody/sdk/protocol'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { base58, base64 } from '@scure/base'
import { HDKey } from '@scure/bip32'
import * as btc from '@scure/btc-signer'
import * as bitcoin from 'bitcoinjs-lib'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createLocalRuntime, type LocalRuntime } from '../src/localEnclave.js'
import { createKeyCache, type KeyCache } from '../src/unseal/keyCache.js'
import { type BitcoinBadInputCase, type BitcoinBadInputFixture, bip32, bitcoinBadInputCases, hdFixture, sighash, tapInternal, wu } from './bitcoinBadInputCases.js'
import { nobleValidator, scriptOf } from './bitcoinFixtures.js'
import { createRng } from './rng.js'
import { SYSTEM, solanaBadInputCases } from './solanaBadInputCases.js'
import { keyFromSeed } from './solanaSupport.js'
import { sharedSoftwareNsm } from './support/session.js'
import { isSignedAnswer, newStamper, type StampedEnvelope, stampEnvelope } from './support/stamps.js'

/** Signatures made in this process with a chain key: ed25519 (Solana), BIP-340 (taproot inputs), ECDSA (the PSBT's other inputs). */
const signed = vi.hoisted(() => ({ ed25519: 0, schnorr: 0, ecdsa: 0 }))
vi.mock('@noble/curves/ed25519.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('@noble/curves/ed25519.js')>()
  const sign: typeof original.ed25519.sign = (...args) => {
    signed.ed25519++
    return original.ed25519.sign(...args)
  }
  return { ...original, ed25519: { ...original.ed25519, sign } }
})
vi.mock('@noble/curves/secp256k1.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('@noble/curves/secp256k1.js')>()
  const sign: typeof original.schnorr.sign = (...args) => {
    signed.schnorr++
    return original.schnorr.sign(...args)
  }
  return { ...original, schnorr: { ...original.schnorr, sign } }
})
// @scure/btc-signer is loaded once by Node (not transformed): the runtime's ECDSA signatures go through this prototype.
const signIdx = btc.Transaction.prototype.signIdx
btc.Transaction.prototype.signIdx = function (this: btc.Transaction, ...args: Parameters<typeof signIdx>) {
  signed.ecdsa++
  return signIdx.apply(this, args)
}
const signatures = () => signed.ed25519 + signed.schnorr + signed.ecdsa

type Answer = { ok: boolean; result?: unknown; error?: { code: string; message: string; details?: { field?: string; rule?: string } }; sig?: { auditSeq: number } }

// The Bitcoin fixture of the module test: A (and its own taproot output) is the imported key, F a foreign key.
const root = HDKey.fromMasterSeed(new Uint8Array(32).fill(42))
const F = secp256k1.getPublicKey(new Uint8Array(32).fill(9), true)
const moduleFixture = hdFixture(root, F)
const plainSecret = root.derive(moduleFixture.pathA).privateKey!
/** A single key owns its P2WPKH, P2PKH and P2TR outputs: T is A. */
const plainFixture: BitcoinBadInputFixture = { ...moduleFixture, T: moduleFixture.A }
// The Solana fixture of the module test: the payer is the imported ed25519 key.
const rng = createRng(0x501a_0004)
const payer = keyFromSeed(rng.bytes(32))
const recipient = rng.bytes(32)
const blockhash = rng.bytes(32)

let runtime: LocalRuntime
let enclave: AttestedEnclave
let keyCache: KeyCache
const stamper = newStamper()
/** Every audit event of the runtime, in order. */
const events: AuditEvent[] = []
/** The HD wallet's Bitcoin account (testnet P2WPKH) and Solana account, as the runtime reported them. */
let hdBitcoin: BitcoinBadInputFixture
let hdSolana: Uint8Array
let rssBefore = 0
/** Refusals checked by expectRefused. */
let refused = 0

const send = async (envelope: StampedEnvelope): Promise<Answer> => (await runtime.handler.handle(JSON.parse(JSON.stringify(envelope)))) as Answer
async function call(op: string, params: Record<string, unknown>): Promise<{ envelope: StampedEnvelope; answer: Answer }> {
  const envelope = await stampEnvelope({ stamper, aud: enclave.aud, op, params })
  return { envelope, answer: await send(envelope) }
}
async function created(op: string, params: Record<string, unknown>): Promise<{ publicKey: string; fingerprint?: string; path?: string }> {
  const { answer } = await call(op, params)
  expect(answer, JSON.stringify(answer.error)).toMatchObject({ ok: true })
  return answer.result as { publicKey: string }
}
const hexBytes = (h: string) => Uint8Array.from(Buffer.from(h.slice(2), 'hex'))

beforeAll(async () => {
  keyCache = createKeyCache({ ttlMs: 300_000, maxEntries: 10_000 })
  runtime = await createLocalRuntime({ attestation: await sharedSoftwareNsm(), keyCache, auditSink: (e) => events.push(...e) })
  enclave = await attestEnclave((m) => runtime.handler.handle(JSON.parse(JSON.stringify(m))), runtime.attestation)
  await created('key.import', { keyId: 'btc-plain', privateKey: `0x${Buffer.from(plainSecret).toString('hex')}` })
  await created('key.import', {
    keyId: 'btc-flags',
    privateKey: `0x${Buffer.from(plainSecret).toString('hex')}`,
    policy: { allowUnprovenBitcoinAmounts: true, allowBitcoinSighashTypes: true },
  })
  await created('key.import', { keyId: 'sol-plain', kind: 'ed25519', privateKey: `0x${Buffer.from(payer.seed).toString('hex')}` })
  const wallet = await created('wallet.create', { walletId: 'wallet' })
  // The wallet's master key, compressed: what a client names its wallet by.
  const walletPublicKey = `0x${Buffer.from(secp256k1.Point.fromBytes(hexBytes(wallet.publicKey)).toBytes(true)).toString('hex')}`
  const account = await created('account.create', { walletId: 'wallet', walletPublicKey, keyId: 'btc-hd', family: 'bitcoin', network: 'testnet', format: 'p2wpkh' })
  const A = secp256k1.Point.fromBytes(hexBytes(account.publicKey)).toBytes(true)
  hdBitcoin = { A, T: A, F, fp: hexBytes(wallet.fingerprint!), pathA: account.path!, pathT: account.path! }
  hdSolana = hexBytes((await created('account.create', { walletId: 'wallet', walletPublicKey, keyId: 'sol-hd', family: 'solana' })).publicKey)
})

afterAll(() => keyCache?.clear())

/**
 * Send `op` with `params` and require the refusal: `code`, the field (or, for POLICY_DENIED, the words) it names,
 * no result, the answer signed over this request, its audit event's outcome the code, no signature made.
 */
async function expectRefused(op: string, params: Record<string, unknown>, expected: { code: 'INVALID_ARGUMENT'; field: string; rule?: RegExp } | { code: 'POLICY_DENIED'; reason: RegExp }) {
  const before = signatures()
  const { envelope, answer } = await call(op, params)
  expect(answer.ok, JSON.stringify(answer.result)).toBe(false)
  expect(answer).not.toHaveProperty('result')
  expect(answer.error?.code, answer.error?.message).toBe(expected.code)
  if (expected.code === 'INVALID_ARGUMENT') {
    expect(answer.error?.details?.field, answer.error?.message).toBe(expected.field)
    if (expected.rule) expect(answer.error?.details?.rule).toMatch(expected.rule)
  } else {
    expect(answer.error?.message).toMatch(expected.reason)
  }
  expect(isSignedAnswer(answer, envelope, enclave)).toBe(true)
  const event = events.find((e) => e.seq === answer.sig?.auditSeq)
  expect(event).toMatchObject({ op, outcome: expected.code, keyId: params.keyId, requestDigest: requestDigest({ ...envelope, aud: enclave.aud }) })
  expect(signatures()).toBe(before)
  refused++
}

/** The request of a Bitcoin case for `keyId` (network testnet unless the case sets one). */
function psbtParams(keyId: string, c: BitcoinBadInputCase): Record<string, unknown> {
  const { psbt, extra = {} } = c.make()
  return {
    keyId,
    psbt: psbt instanceof Uint8Array ? base64.encode(psbt) : psbt,
    network: extra.network ?? 'testnet',
    ...(extra.finalize === undefined ? {} : { finalize: extra.finalize }),
    ...(extra.allow === undefined ? {} : { allow: extra.allow }),
  }
}
/** The refusal of a Bitcoin case: the module's field and rule, or the request schema's when it refuses first. */
function bitcoinRefusal(c: BitcoinBadInputCase) {
  const { field, rule } = c.make()
  return { code: 'INVALID_ARGUMENT' as const, field: c.wire?.field ?? field, rule: c.wire?.rule ?? rule }
}

/** Sign `psbt` (base64) with `keyId` and check each input it reports signed with bitcoinjs-lib. */
async function expectPsbtSigned(keyId: string, psbt: Uint8Array, inputs: number[], extra: Record<string, unknown> = {}) {
  const before = signatures()
  const { envelope, answer } = await call('sign.bitcoinPsbt', { keyId, psbt: base64.encode(psbt), network: 'testnet', ...extra })
  expect(answer, JSON.stringify(answer.error)).toMatchObject({ ok: true, result: { signedInputs: inputs } })
  expect(isSignedAnswer(answer, envelope, enclave)).toBe(true)
  const theirs = bitcoin.Psbt.fromBase64((answer.result as { psbt: string }).psbt)
  for (const i of inputs) expect(theirs.validateSignaturesOfInput(i, nobleValidator)).toBe(true)
  expect(signatures()).toBe(before + inputs.length)
}
/** Sign `message` with `keyId` and check the signature with node:crypto against `publicKey`. */
async function expectMessageSigned(keyId: string, message: Uint8Array, publicKey: Uint8Array) {
  const before = signatures()
  const { envelope, answer } = await call('sign.solanaTransaction', { keyId, message: base64.encode(message) })
  expect(answer, JSON.stringify(answer.error)).toMatchObject({ ok: true, result: { signerIndex: 0, signer: base58.encode(publicKey) } })
  expect(isSignedAnswer(answer, envelope, enclave)).toBe(true)
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') }, format: 'jwk' })
  expect(verify(null, message, key, base58.decode((answer.result as { signature: string }).signature))).toBe(true)
  expect(signatures()).toBe(before + 1)
}

describe('the live runtime refuses hostile PSBTs and Solana messages, signs nothing, and keeps serving', () => {
  const plain = bitcoinBadInputCases(plainFixture)
  const served = plain.cases.filter((c) => c.scope === 'any')
  const solanaPlain = solanaBadInputCases({ payer: payer.publicKey, recipient, blockhash, rng })

  it('the payloads the cases are near misses of sign (before any hostile request)', async () => {
    await expectPsbtSigned('btc-plain', plain.psbtOf(plain.base()), [0, 1])
    const hd = bitcoinBadInputCases(hdBitcoin)
    await expectPsbtSigned('btc-hd', hd.psbtOf(hd.base()), [0, 1])
    await expectMessageSigned('sol-plain', solanaPlain.fresh({}), payer.publicKey)
    await expectMessageSigned('sol-hd', solanaBadInputCases({ payer: hdSolana, recipient, blockhash, rng }).fresh({ version: 0x80 }), hdSolana)
    rssBefore = process.memoryUsage().rss
  })

  it.each(served.map((c) => [c.name, c] as const))('sign.bitcoinPsbt, imported key: %s', async (_, c) => {
    await expectRefused('sign.bitcoinPsbt', psbtParams('btc-plain', c), bitcoinRefusal(c))
  })

  it.each(served.filter((c) => c.sealedFlag !== undefined).map((c) => [c.name, c] as const))('sign.bitcoinPsbt, key sealed with the flag the case asks for: %s', async (_, c) => {
    await expectRefused('sign.bitcoinPsbt', psbtParams('btc-flags', c), bitcoinRefusal(c))
  })

  it('sign.bitcoinPsbt, HD account (testnet P2WPKH): every case, built around its own key', async () => {
    const hd = bitcoinBadInputCases(hdBitcoin).cases.filter((c) => c.scope === 'any')
    expect(hd.length).toBe(served.length)
    for (const c of hd) await expectRefused('sign.bitcoinPsbt', psbtParams('btc-hd', c), bitcoinRefusal(c))
  })

  it('sign.bitcoinPsbt: payloads only a request carries', async () => {
    const hd = bitcoinBadInputCases(hdBitcoin)
    // The account's own valid PSBT, for another network than the account's.
    for (const network of ['mainnet', 'signet', 'regtest']) {
      await expectRefused('sign.bitcoinPsbt', { keyId: 'btc-hd', psbt: base64.encode(hd.psbtOf(hd.base())), network }, { code: 'INVALID_ARGUMENT', field: 'network', rule: /must be testnet/ })
    }
    // The account's PSBT sent to the imported key, and the other way round: neither owns an input of the other's.
    await expectRefused('sign.bitcoinPsbt', { keyId: 'btc-plain', psbt: base64.encode(hd.psbtOf(hd.base())), network: 'testnet' }, { code: 'INVALID_ARGUMENT', field: 'psbt', rule: /no input the key owns/ })
    await expectRefused('sign.bitcoinPsbt', { keyId: 'btc-hd', psbt: base64.encode(plain.psbtOf(plain.base())), network: 'testnet' }, { code: 'INVALID_ARGUMENT', field: 'psbt', rule: /no input the key owns/ })
    // Only foreign inputs.
    const foreign = { ...plain.base(), ins: [{ index: 2 }], inputs: [plain.base().inputs[2]!] }
    foreign.outs = [{ script: foreign.outs[0]!.script, amount: 60_000n }]
    foreign.outputs = [[]]
    await expectRefused('sign.bitcoinPsbt', { keyId: 'btc-plain', psbt: base64.encode(plain.psbtOf(foreign)), network: 'testnet' }, { code: 'INVALID_ARGUMENT', field: 'psbt', rule: /no input the key owns/ })
    // A foreign input that names the key as its taproot internal key.
    const named = plain.base()
    named.inputs[2]!.push(tapInternal(plainFixture.A.subarray(1)))
    await expectRefused('sign.bitcoinPsbt', { keyId: 'btc-plain', psbt: base64.encode(plain.psbtOf(named)), network: 'testnet' }, { code: 'INVALID_ARGUMENT', field: 'inputs[2]' })
    // A widening the key was not sealed with, which the PSBT needs: POLICY_DENIED naming the flag; the key sealed with it signs.
    const unproven = plain.base()
    unproven.inputs[0] = [wu(50_000n, scriptOf(plainFixture.A, 'p2wpkh').script), bip32(plainFixture.A, plainFixture.fp, plainFixture.pathA)]
    const allowUnproven = { allow: { unprovenSegwitAmounts: true } }
    await expectRefused('sign.bitcoinPsbt', { keyId: 'btc-plain', psbt: base64.encode(plain.psbtOf(unproven)), network: 'testnet', ...allowUnproven }, { code: 'POLICY_DENIED', reason: /allowUnprovenBitcoinAmounts/ })
    await expectRefused('sign.bitcoinPsbt', { keyId: 'btc-flags', psbt: base64.encode(plain.psbtOf(unproven)), network: 'testnet' }, { code: 'INVALID_ARGUMENT', field: 'inputs[0].nonWitnessUtxo' })
    await expectPsbtSigned('btc-flags', plain.psbtOf(unproven), [0, 1], allowUnproven)
    const none = plain.base()
    none.inputs[0]!.push(sighash(2))
    const allowNone = { allow: { sighashTypes: [2] } }
    await expectRefused('sign.bitcoinPsbt', { keyId: 'btc-plain', psbt: base64.encode(plain.psbtOf(none)), network: 'testnet', ...allowNone }, { code: 'POLICY_DENIED', reason: /allowBitcoinSighashTypes/ })
    await expectRefused('sign.bitcoinPsbt', { keyId: 'btc-flags', psbt: base64.encode(plain.psbtOf(none)), network: 'testnet' }, { code: 'INVALID_ARGUMENT', field: 'inputs[0].sighashType' })
    await expectPsbtSigned('btc-flags', plain.psbtOf(none), [0, 1], allowNone)
    // A PSBT asked of the ed25519 key, a Solana message of the Bitcoin key.
    await expectRefused('sign.bitcoinPsbt', { keyId: 'sol-plain', psbt: base64.encode(plain.psbtOf(plain.base())), network: 'testnet' }, { code: 'INVALID_ARGUMENT', field: 'keyId' })
    await expectRefused('sign.solanaTransaction', { keyId: 'btc-plain', message: base64.encode(solanaPlain.fresh({})) }, { code: 'INVALID_ARGUMENT', field: 'keyId' })
  })

  it.each(solanaPlain.cases.map((c) => [c.name, c] as const))('sign.solanaTransaction, imported key: %s', async (_, c) => {
    const message = typeof c.message === 'string' ? c.message : base64.encode(c.message)
    await expectRefused('sign.solanaTransaction', { keyId: 'sol-plain', message }, { code: 'INVALID_ARGUMENT', field: c.wire?.field ?? c.field })
  })

  it('sign.solanaTransaction, HD account: every case, built around its own key; a message it is not a signer of', async () => {
    const hd = solanaBadInputCases({ payer: hdSolana, recipient, blockhash, rng })
    expect(hd.cases.length).toBe(solanaPlain.cases.length)
    for (const c of hd.cases) {
      const message = typeof c.message === 'string' ? c.message : base64.encode(c.message)
      await expectRefused('sign.solanaTransaction', { keyId: 'sol-hd', message }, { code: 'INVALID_ARGUMENT', field: c.wire?.field ?? c.field })
    }
    // The account is a static key (the recipient), not a signer; then absent (the imported key's transfer).
    const recipientOnly = solanaPlain.m({ keys: [payer.publicKey, hdSolana, SYSTEM] })
    await expectRefused('sign.solanaTransaction', { keyId: 'sol-hd', message: base64.encode(recipientOnly) }, { code: 'INVALID_ARGUMENT', field: 'message.staticAccountKeys', rule: /not a required signer/ })
    await expectRefused('sign.solanaTransaction', { keyId: 'sol-hd', message: base64.encode(solanaPlain.fresh({})) }, { code: 'INVALID_ARGUMENT', field: 'message.staticAccountKeys' })
    // A transaction message is not an off-chain message.
    await expectRefused('sign.solanaMessage', { keyId: 'sol-hd', message: base64.encode(hd.fresh({})) }, { code: 'INVALID_ARGUMENT', field: 'message.signingDomain' })
  })

  it('has at least 40 hostile PSBTs and Solana messages', () => {
    expect(served.length + solanaPlain.cases.length).toBeGreaterThanOrEqual(40)
  })

  it('keeps serving: the valid PSBTs and transactions still sign; the key cache and memory stay bounded', async () => {
    await expectPsbtSigned('btc-plain', plain.psbtOf(plain.base()), [0, 1])
    await expectPsbtSigned('btc-flags', plain.psbtOf(plain.base()), [0, 1])
    const hd = bitcoinBadInputCases(hdBitcoin)
    await expectPsbtSigned('btc-hd', hd.psbtOf(hd.base()), [0, 1])
    await expectMessageSigned('sol-plain', solanaPlain.fresh({ version: 0x80 }), payer.publicKey)
    await expectMessageSigned('sol-hd', solanaBadInputCases({ payer: hdSolana, recipient, blockhash, rng }).fresh({}), hdSolana)
    // At most one cache entry per record (three imported keys, the wallet, its two accounts), however many requests.
    expect(keyCache.size).toBeLessThanOrEqual(6)
    // Loosely: a few hundred refused requests do not grow the process by more than 64 MiB.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 * 1024)
    // The audit log holds every request: each refusal with its code, the 11 signatures as ok.
    const outcomes = events.filter((e) => e.op.startsWith('sign.')).map((e) => e.outcome)
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(11)
    expect(outcomes.filter((o) => o !== 'ok')).toHaveLength(refused)
  })
})
