/**
 * The Bitcoin family's signing operation (`sign.bitcoinPsbt`) as the enclave's registry holds it: facts from the
 * key's public side (a plain key's public key; an HD account's extended public key, derived publicly) equal to
 * what the core computes with the private keys; signing with a plain key or an HD account's derivation; the
 * account's network; the sealed flags. And the wire: the registry lines of both sides, the HTTP routes, the
 * params schema.
 */
import { DEFAULT_KEY_POLICY, type KeyPolicy } from '@enclave-custody/sdk'
import { operationToRoute, parseRequest, routeToOperation } from '@enclave-custody/sdk/protocol'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { HDKey } from '@scure/bip32'
import * as bitcoin from 'bitcoinjs-lib'
import { describe, expect, it } from 'vitest'
import { BITCOIN_OPERATIONS } from '../src/families/bitcoin/operations.js'
import { bitcoinPolicyFacts } from '../src/families/bitcoin/policyFacts.js'
import { inspectBitcoinPsbt } from '../src/families/bitcoin/psbt.js'
import { SIGNING_OPERATIONS } from '../src/families/index.js'
import type { SigningKey, SigningSecret } from '../src/families/types.js'
import { fingerprintBytes, hdSource, nobleValidator, scriptOf } from './bitcoinFixtures.js'

const spec = BITCOIN_OPERATIONS['sign.bitcoinPsbt']
const KEY = new Uint8Array(32).fill(0x42)
const PUB = secp256k1.getPublicKey(KEY, true)
const FOREIGN = secp256k1.getPublicKey(new Uint8Array(32).fill(0x43), true)
const plainKey: SigningKey = { keyId: 'btc-1', curve: 'secp256k1', families: ['evm', 'bitcoin'], address: '0x0000000000000000000000000000000000000001', publicKey: () => PUB }

const root = HDKey.fromMasterSeed(new Uint8Array(32).fill(5))
const ACCOUNT_PATH = "m/84'/1'/0'"
const account = root.derive(ACCOUNT_PATH)
const fp = fingerprintBytes(root)
const hdKey: SigningKey = {
  keyId: 'btc-acct',
  curve: 'secp256k1',
  families: ['bitcoin'],
  address: 'bcrt1q…',
  publicKey: () => account.publicKey!,
  bitcoinAccount: { fingerprint: fp, path: ACCOUNT_PATH, network: 'regtest', publicKey: account.publicKey!, chainCode: account.chainCode! },
}
/** The account's secret as the handler lends it: the account node's key, and a derivation refusing paths outside it. */
const hdSecret = (): SigningSecret => ({
  privateKey: account.privateKey!,
  derive: (path) => {
    if (!path.startsWith(`${ACCOUNT_PATH}/`)) throw new Error('outside the account')
    return Uint8Array.from(root.derive(path).privateKey!)
  },
})

type Input = { pub: Uint8Array; type: 'p2wpkh' | 'p2tr'; path?: string; proven?: boolean; sighashType?: number }

/** A regtest PSBT: inputs as given (derivation records under `fp` when a path is given), a payment, and change to `change`. */
function psbtOf(inputs: Input[], change: { pub: Uint8Array; path?: string }): string {
  const psbt = new bitcoin.Psbt({ network: bitcoin.networks.regtest })
  let total = 0n
  inputs.forEach(({ pub, type, path, proven = true, sighashType }, i) => {
    const { script } = scriptOf(pub, type)
    const amount = 50_000n + BigInt(i)
    total += amount
    const prev = new bitcoin.Transaction()
    prev.addInput(new Uint8Array(32).fill(i + 7), 0)
    prev.addOutput(script, amount)
    const input: Parameters<bitcoin.Psbt['addInput']>[0] = { hash: prev.getHash(), index: 0, witnessUtxo: { script, value: amount } }
    if (type === 'p2wpkh' && proven) input.nonWitnessUtxo = prev.toBuffer()
    if (type === 'p2tr') input.tapInternalKey = pub.slice(1)
    if (sighashType !== undefined) input.sighashType = sighashType
    if (path !== undefined) {
      if (type === 'p2tr') input.tapBip32Derivation = [{ masterFingerprint: fp, path, pubkey: pub.slice(1), leafHashes: [] }]
      else input.bip32Derivation = [{ masterFingerprint: fp, path, pubkey: pub }]
    }
    psbt.addInput(input)
  })
  psbt.addOutput({ script: scriptOf(FOREIGN, 'p2wpkh').script, value: 30_000n })
  const out: Parameters<bitcoin.Psbt['addOutput']>[0] = { script: scriptOf(change.pub, 'p2wpkh').script, value: total - 30_000n - 1_000n }
  if (change.path !== undefined) Object.assign(out, { bip32Derivation: [{ masterFingerprint: fp, path: change.path, pubkey: change.pub }] })
  psbt.addOutput(out)
  return psbt.toBase64()
}

const params = (psbt: string, extra: Record<string, unknown> = {}) => ({ keyId: 'k', psbt, network: 'regtest' as const, ...extra }) as never
const policyOf = (p: Partial<KeyPolicy> = {}) => ({ ...DEFAULT_KEY_POLICY, ...p })
const at = (path: string) => root.derive(path).publicKey!

describe('sign.bitcoinPsbt with a plain key', () => {
  const psbt = psbtOf([{ pub: PUB, type: 'p2wpkh' }, { pub: PUB, type: 'p2tr' }, { pub: FOREIGN, type: 'p2wpkh' }], { pub: PUB })

  it('facts from the public key equal the core\'s facts with the private key (change included)', () => {
    const facts = spec.facts(params(psbt), plainKey)
    // A plain key's PSBT proves no network: the facts leave the declared one out (an account's is sealed with it).
    const { network: _, ...core } = bitcoinPolicyFacts(inspectBitcoinPsbt({ psbt, network: 'regtest', keys: KEY }).facts)
    expect(facts).toEqual(core)
    expect(facts).toMatchObject({ family: 'bitcoin', kind: 'psbt' })
    expect(facts.network).toBeUndefined()
  })

  it('signs the key\'s inputs: { psbt, signedInputs }; with finalize … and { transaction, txid } (here refused: a foreign input is not final)', () => {
    const out = spec.sign({ privateKey: KEY }, params(psbt), { policy: policyOf(), key: plainKey }) as Record<string, unknown>
    expect(Object.keys(out).sort()).toEqual(['psbt', 'signedInputs'])
    expect(out.signedInputs).toEqual([0, 1])
    expect(bitcoin.Psbt.fromBase64(out.psbt as string).validateSignaturesOfInput(0, nobleValidator)).toBe(true)
    expect(() => spec.sign({ privateKey: KEY }, params(psbt, { finalize: true }), { policy: policyOf(), key: plainKey })).toThrow(/finalize/)
    const mine = psbtOf([{ pub: PUB, type: 'p2wpkh' }], { pub: PUB })
    const final = spec.sign({ privateKey: KEY }, params(mine, { finalize: true }), { policy: policyOf(), key: plainKey }) as Record<string, string>
    expect(Object.keys(final).sort()).toEqual(['psbt', 'signedInputs', 'transaction', 'txid'])
    expect(bitcoin.Transaction.fromHex(final.transaction!).getId()).toBe(final.txid)
  })

  it('the sealed flags: an allow the key does not grant is POLICY_DENIED naming the flag, only when the PSBT needs it', () => {
    const unproven = psbtOf([{ pub: PUB, type: 'p2wpkh', proven: false }], { pub: PUB })
    const allow = { allow: { unprovenSegwitAmounts: true } }
    expect(() => spec.sign({ privateKey: KEY }, params(unproven, allow), { policy: policyOf(), key: plainKey })).toThrow(/allowUnprovenBitcoinAmounts/)
    expect(() => spec.sign({ privateKey: KEY }, params(unproven), { policy: policyOf({ allowUnprovenBitcoinAmounts: true }), key: plainKey })).toThrow(/nonWitnessUtxo/)
    expect(spec.sign({ privateKey: KEY }, params(unproven, allow), { policy: policyOf({ allowUnprovenBitcoinAmounts: true }), key: plainKey })).toMatchObject({ signedInputs: [0] })
    const single = psbtOf([{ pub: PUB, type: 'p2wpkh', sighashType: 0x83 }], { pub: PUB })
    const sighash = { allow: { sighashTypes: [0x83] } }
    expect(() => spec.sign({ privateKey: KEY }, params(single, sighash), { policy: policyOf(), key: plainKey })).toThrow(/allowBitcoinSighashTypes/)
    expect(spec.sign({ privateKey: KEY }, params(single, sighash), { policy: policyOf({ allowBitcoinSighashTypes: true }), key: plainKey })).toMatchObject({ signedInputs: [0] })
    // Not needed by this PSBT: signed under the default policy.
    expect(spec.sign({ privateKey: KEY }, params(psbt, { allow: { unprovenSegwitAmounts: true, sighashTypes: [0x01, 0x81] } }), { policy: policyOf(), key: plainKey })).toMatchObject({ signedInputs: [0, 1] })
  })
})

describe('sign.bitcoinPsbt with an HD account', () => {
  const p1 = `${ACCOUNT_PATH}/0/1`
  const p2 = `${ACCOUNT_PATH}/0/2`
  const change = `${ACCOUNT_PATH}/1/0`
  const psbt = psbtOf([{ pub: at(p1), type: 'p2wpkh', path: p1 }, { pub: at(p2), type: 'p2tr', path: p2 }, { pub: FOREIGN, type: 'p2wpkh' }], { pub: at(change), path: change })

  it('facts from the account\'s extended public key equal the core\'s facts with the private derivation (the change output is change)', () => {
    const facts = spec.facts(params(psbt), hdKey)
    const core = inspectBitcoinPsbt({ psbt, network: 'regtest', keys: hdSource(root) }).facts
    expect(core.outputs.map((o) => o.isChange)).toEqual([false, true])
    expect(facts).toEqual(bitcoinPolicyFacts(core))
  })

  it('signs the inputs its derivation records name, with the derived keys', () => {
    const out = spec.sign(hdSecret(), params(psbt), { policy: policyOf(), key: hdKey }) as { psbt: string; signedInputs: number[] }
    expect(out.signedInputs).toEqual([0, 1])
    const theirs = bitcoin.Psbt.fromBase64(out.psbt)
    expect(theirs.validateSignaturesOfInput(0, nobleValidator)).toBe(true)
    expect(theirs.validateSignaturesOfInput(1, nobleValidator)).toBe(true)
  })

  it('refused: another network than the account\'s; a record naming the fingerprint at a path outside the account', () => {
    for (const network of ['mainnet', 'testnet', 'signet'] as const) {
      expect(() => spec.facts({ ...(params(psbt) as object), network } as never, hdKey)).toThrow(expect.objectContaining({ details: expect.objectContaining({ field: 'network' }) }))
      expect(() => spec.sign(hdSecret(), { ...(params(psbt) as object), network } as never, { policy: policyOf(), key: hdKey })).toThrow(/regtest/)
    }
    const outside = "m/84'/1'/1'/0/0"
    const foreign = psbtOf([{ pub: at(outside), type: 'p2wpkh', path: outside }], { pub: FOREIGN })
    expect(() => spec.facts(params(foreign), hdKey)).toThrow(/cannot derive/)
    const hardened = `${ACCOUNT_PATH}/0'/0`
    expect(() => spec.facts(params(psbtOf([{ pub: at(hardened), type: 'p2wpkh', path: hardened }], { pub: FOREIGN })), hdKey)).toThrow(/cannot derive/)
  })
})

describe('the wire: registry lines, routes, params', () => {
  it('each operation is registered under its family on the enclave side', () => {
    expect(SIGNING_OPERATIONS['sign.bitcoinPsbt'].family).toBe('bitcoin')
    expect(SIGNING_OPERATIONS['sign.solanaTransaction'].family).toBe('solana')
    expect(SIGNING_OPERATIONS['sign.solanaMessage'].family).toBe('solana')
  })

  it.each([
    ['sign.bitcoinPsbt', 'sign-bitcoin-psbt'],
    ['sign.solanaTransaction', 'sign-solana-transaction'],
    ['sign.solanaMessage', 'sign-solana-message'],
  ] as const)('%s is POST /v1/keys/:keyId/%s, both ways', (op, action) => {
    const route = operationToRoute(op, { keyId: 'k-1', message: 'AA==' })
    expect(route).toEqual({ method: 'POST', path: `/v1/keys/k-1/${action}`, body: { message: 'AA==' } })
    expect(routeToOperation('POST', route.path, route.body)).toEqual({ op, params: { message: 'AA==', keyId: 'k-1' } })
  })

  it('params: canonical base64, a known network, known sighash types, no unknown field', () => {
    const psbt = psbtOf([{ pub: PUB, type: 'p2wpkh' }], { pub: PUB })
    const parse = (p: Record<string, unknown>) => () => parseRequest({ v: 1, id: 'r-1', op: 'sign.bitcoinPsbt', params: { keyId: 'k-1', psbt, network: 'regtest', ...p } })
    expect(parse({ finalize: true, allow: { unprovenSegwitAmounts: true, sighashTypes: [0x81] } })).not.toThrow()
    expect(parse({ network: 'bitcoin' })).toThrow(/network/)
    expect(parse({ psbt: `${psbt.slice(0, -2)}=` })).toThrow(/psbt/)
    expect(parse({ psbt: 'A'.repeat(400_000) })).toThrow(/psbt/)
    expect(parse({ allow: { sighashTypes: [4] } })).toThrow(/sighashTypes/)
    expect(parse({ allow: { other: true } })).toThrow(/allow/)
    expect(parse({ extra: 1 })).toThrow()
  })
})
