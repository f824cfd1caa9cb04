/**
 * `@enclave-custody/sdk/bitcoin` end to end through the in-process enclave: `createEnclavePsbtSigner` in a
 * bitcoinjs-lib flow (build a `Psbt`, sign through the adapter, finalize and extract with bitcoinjs-lib) and a
 * @scure/btc-signer flow (`Transaction` → `toPSBT` → sign → `fromPSBT` → finalize → extract), each equal to
 * signing locally with the same key (ECDSA inputs: RFC 6979 is deterministic). Also: the enclave finalizing, a
 * Bitcoin account of an HD wallet, the public key and address the signer exposes, and the keys and inputs it
 * refuses.
 */
import { createCustodyClient, type CustodyClient, isCustodyError } from '@enclave-custody/sdk'
import { createEnclavePsbtSigner, toBitcoinjsPsbt, toScureTransaction } from '@enclave-custody/sdk/bitcoin'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { base64, hex } from '@scure/base'
import { OutScript, p2pkh, p2wpkh, TEST_NETWORK, Transaction } from '@scure/btc-signer'
import * as bitcoin from 'bitcoinjs-lib'
import { beforeAll, describe, expect, it } from 'vitest'
import { localEnclave } from '../src/localEnclave.js'
import { bitcoinjsSigner, type InputType, nobleValidator, scriptOf } from './bitcoinFixtures.js'
import { sharedSoftwareNsm } from './support/session.js'
import { newStamper } from './support/stamps.js'

const KEY = hex.decode('ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80')
const OTHER = hex.decode('59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d')
const PUB = secp256k1.getPublicKey(KEY, true)
const OTHER_PUB = secp256k1.getPublicKey(OTHER, true)
const REGTEST = { ...TEST_NETWORK, bech32: 'bcrt' }

let custody: CustodyClient
let keyId: string

beforeAll(async () => {
  custody = createCustodyClient({ transport: localEnclave({ attestation: await sharedSoftwareNsm() }), stamper: newStamper() })
  ;({ keyId } = await custody.importKey({ privateKey: `0x${hex.encode(KEY)}` }))
})

/** A previous transaction paying `amount` to `script` (its hash identifies the input; distinct per `seed`). */
function previous(script: Uint8Array, amount: bigint, seed: number): bitcoin.Transaction {
  const prev = new bitcoin.Transaction()
  prev.version = 2
  prev.addInput(new Uint8Array(32).fill(seed), 0)
  prev.addOutput(script, amount)
  return prev
}

/** A regtest bitcoinjs-lib PSBT spending one output of `pub` per type (each with its previous transaction), paying OTHER and change. */
function bitcoinjsPsbt(types: readonly InputType[], pub = PUB): bitcoin.Psbt {
  const psbt = new bitcoin.Psbt({ network: bitcoin.networks.regtest })
  let total = 0n
  types.forEach((type, i) => {
    const { script, redeemScript } = scriptOf(pub, type)
    const amount = 100_000n + BigInt(i)
    total += amount
    const prev = previous(script, amount, i + 1)
    psbt.addInput({
      hash: prev.getHash(),
      index: 0,
      sequence: 0xfffffffd,
      nonWitnessUtxo: prev.toBuffer(),
      ...(type === 'p2pkh' ? {} : { witnessUtxo: { script, value: amount } }),
      ...(redeemScript ? { redeemScript } : {}),
    })
  })
  psbt.addOutput({ script: scriptOf(OTHER_PUB, 'p2wpkh').script, value: 60_000n })
  psbt.addOutput({ script: scriptOf(pub, 'p2wpkh').script, value: total - 60_000n - 2_000n })
  return psbt
}

/** The same spend built with @scure/btc-signer: P2WPKH and P2PKH inputs of KEY. */
function scureTransaction(): Transaction {
  const tx = new Transaction({ version: 2 })
  const wpkh = p2wpkh(PUB, REGTEST)
  const pkh = p2pkh(PUB, REGTEST)
  const prevW = previous(wpkh.script, 120_000n, 21)
  const prevP = previous(pkh.script, 80_000n, 22)
  tx.addInput({ txid: prevW.getHash().slice().reverse(), index: 0, nonWitnessUtxo: prevW.toBuffer(), witnessUtxo: { script: wpkh.script, amount: 120_000n } })
  tx.addInput({ txid: prevP.getHash().slice().reverse(), index: 0, nonWitnessUtxo: prevP.toBuffer() })
  tx.addOutputAddress(p2wpkh(OTHER_PUB, REGTEST).address!, 150_000n, REGTEST)
  tx.addOutput({ script: OutScript.encode({ type: 'wpkh', hash: wpkh.hash }), amount: 48_000n })
  return tx
}

async function codeAndField(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p)
    return 'ok'
  } catch (e) {
    return isCustodyError(e) ? `${e.code} ${String(e.details?.field ?? '')}`.trim() : `foreign: ${(e as Error).message}`
  }
}

describe('createEnclavePsbtSigner (in-process enclave)', () => {
  it('exposes the compressed public key and the address of the key on its network (P2WPKH by default, or the format asked)', async () => {
    const signer = await createEnclavePsbtSigner(custody, keyId, { network: 'regtest' })
    expect(signer.publicKey).toEqual(PUB)
    expect(signer.network).toBe('regtest')
    expect(signer.format).toBe('p2wpkh')
    expect(signer.address).toBe(bitcoin.payments.p2wpkh({ pubkey: PUB, network: bitcoin.networks.regtest }).address)
    const legacy = await createEnclavePsbtSigner(custody, keyId, { network: 'mainnet', format: 'p2pkh' })
    expect(legacy.address).toBe(bitcoin.payments.p2pkh({ pubkey: PUB }).address)
    const nested = await createEnclavePsbtSigner(custody, keyId, { network: 'testnet', format: 'p2sh-p2wpkh' })
    expect(nested.address).toBe(bitcoin.payments.p2sh({ redeem: bitcoin.payments.p2wpkh({ pubkey: PUB, network: bitcoin.networks.testnet }), network: bitcoin.networks.testnet }).address)
    const taproot = await createEnclavePsbtSigner(custody, keyId, { network: 'mainnet', format: 'p2tr' })
    expect(taproot.address).toBe(bitcoin.payments.p2tr({ internalPubkey: PUB.slice(1) }).address)
    // A copy: editing it does not change the signer's.
    signer.publicKey.fill(0)
    expect(signer.publicKey).toEqual(PUB)
  })

  it('bitcoinjs-lib flow: Psbt → signPsbt → toBitcoinjsPsbt → finalizeAllInputs → extractTransaction equals signing locally', async () => {
    const types = ['p2wpkh', 'p2sh-p2wpkh', 'p2pkh'] as const
    const signer = await createEnclavePsbtSigner(custody, keyId, { network: 'regtest' })
    const signedBase64 = await signer.signPsbt(bitcoinjsPsbt(types))
    const signed = toBitcoinjsPsbt(signedBase64, bitcoin.Psbt, { network: bitcoin.networks.regtest })
    expect(signed).toBeInstanceOf(bitcoin.Psbt)
    expect(signed.validateSignaturesOfAllInputs(nobleValidator)).toBe(true)
    signed.finalizeAllInputs()
    const local = bitcoinjsPsbt(types)
    for (const i of types.keys()) local.signInput(i, bitcoinjsSigner(KEY, false))
    local.finalizeAllInputs()
    expect(signed.extractTransaction().toHex()).toBe(local.extractTransaction().toHex())

    // The same PSBT as base64 and as bytes signs the same.
    expect(await signer.signPsbt(bitcoinjsPsbt(types).toBase64())).toBe(signedBase64)
    expect(await signer.signPsbt(base64.decode(bitcoinjsPsbt(types).toBase64()))).toBe(signedBase64)
  })

  it('@scure/btc-signer flow: Transaction → toPSBT → signPsbt → fromPSBT → finalize → extract equals signing locally', async () => {
    const signer = await createEnclavePsbtSigner(custody, keyId, { network: 'regtest' })
    const signed = toScureTransaction(await signer.signPsbt(scureTransaction()), Transaction)
    expect(signed).toBeInstanceOf(Transaction)
    signed.finalize()
    const local = scureTransaction()
    expect(local.sign(KEY)).toBe(2)
    local.finalize()
    expect(hex.encode(signed.extract())).toBe(hex.encode(local.extract()))
    expect(signed.id).toBe(local.id)
  })

  it('finalize: true — the enclave finalizes; the transaction and txid are what bitcoinjs-lib produces locally', async () => {
    const signer = await createEnclavePsbtSigner(custody, keyId, { network: 'regtest' })
    const result = await signer.signPsbtWithResult(bitcoinjsPsbt(['p2wpkh', 'p2pkh']), { finalize: true })
    const local = bitcoinjsPsbt(['p2wpkh', 'p2pkh'])
    local.signAllInputs(bitcoinjsSigner(KEY, false))
    local.finalizeAllInputs()
    expect(result.signedInputs).toEqual([0, 1])
    expect(result.transaction).toBe(local.extractTransaction().toHex())
    expect(result.txid).toBe(local.extractTransaction().getId())
    // The finalized PSBT extracts the same with bitcoinjs-lib.
    expect(toBitcoinjsPsbt(result.psbt, bitcoin.Psbt).extractTransaction().toHex()).toBe(result.transaction)
  })

  it("a Bitcoin account of an HD wallet: its network and address; a PSBT paying from its address signs as bitcoinjs-lib's", async () => {
    const { keyId: walletId } = await custody.createWallet()
    const account = await custody.createAccount(walletId, { family: 'bitcoin', network: 'regtest' })
    const signer = await createEnclavePsbtSigner(custody, account.keyId)
    expect(signer.network).toBe('regtest')
    expect(signer.address).toBe(account.address)
    expect(bitcoin.payments.p2wpkh({ pubkey: signer.publicKey, network: bitcoin.networks.regtest }).address).toBe(account.address)
    const result = await signer.signPsbtWithResult(bitcoinjsPsbt(['p2wpkh'], Uint8Array.from(signer.publicKey)), { finalize: true })
    expect(result.signedInputs).toEqual([0])
    const tx = bitcoin.Transaction.fromHex(result.transaction!)
    expect(tx.ins[0]!.witness[1]).toEqual(signer.publicKey)
    expect(await codeAndField(createEnclavePsbtSigner(custody, account.keyId, { network: 'mainnet' }))).toBe('INVALID_ARGUMENT options.network')
    expect(await codeAndField(createEnclavePsbtSigner(custody, walletId, { network: 'regtest' }))).toBe('INVALID_ARGUMENT keyId')
    // Every account format: the signer checks that the reported address is its public key's (an IntegrityError otherwise).
    for (const format of ['p2pkh', 'p2sh-p2wpkh', 'p2tr'] as const) {
      const other = await custody.createAccount(walletId, { family: 'bitcoin', network: 'testnet', format })
      const s = await createEnclavePsbtSigner(custody, other.keyId)
      expect([s.format, s.network, s.address]).toEqual([format, 'testnet', other.address])
    }
    const evm = await custody.createAccount(walletId, { family: 'evm' })
    expect(await codeAndField(createEnclavePsbtSigner(custody, evm.keyId, { network: 'regtest' }))).toBe('INVALID_ARGUMENT keyId')
    const sol = await custody.createAccount(walletId, { family: 'solana' })
    expect(await codeAndField(createEnclavePsbtSigner(custody, sol.keyId, { network: 'regtest' }))).toBe('INVALID_ARGUMENT keyId')
  })

  it('refuses keys that cannot sign PSBTs, a missing network, inputs it cannot take, and a PSBT with none of its inputs', async () => {
    const ed = await custody.importKey({ generate: true, kind: 'ed25519' })
    expect(await codeAndField(createEnclavePsbtSigner(custody, ed.keyId, { network: 'regtest' }))).toBe('INVALID_ARGUMENT keyId')
    expect(await codeAndField(createEnclavePsbtSigner(custody, keyId))).toBe('INVALID_ARGUMENT options.network')
    expect(await codeAndField(createEnclavePsbtSigner(custody, keyId, { network: 'bitcoin' as never }))).toBe('INVALID_ARGUMENT options.network')
    expect(await codeAndField(createEnclavePsbtSigner(custody, keyId, { network: 'regtest', format: 'p2wsh' as never }))).toBe('INVALID_ARGUMENT options.format')
    expect(await codeAndField(createEnclavePsbtSigner(custody, 'no-such-key', { network: 'regtest' }))).toBe('KEY_NOT_FOUND')

    const signer = await createEnclavePsbtSigner(custody, keyId, { network: 'regtest' })
    expect(await codeAndField(signer.signPsbt({ hex: 'nope' } as never))).toBe('INVALID_ARGUMENT psbt')
    expect(await codeAndField(signer.signPsbt(42 as never))).toBe('INVALID_ARGUMENT psbt')
    expect(await codeAndField(signer.signPsbt(bitcoinjsPsbt(['p2wpkh']), { finalize: true, extra: 1 } as never))).toBe('INVALID_ARGUMENT options')
    const notOurs = await codeAndField(signer.signPsbt(bitcoinjsPsbt(['p2wpkh'], OTHER_PUB)))
    expect(notOurs).toMatch(/^INVALID_ARGUMENT/)
    expect(await codeAndField(() => toBitcoinjsPsbt('AAAA', {} as never))).toBe('INVALID_ARGUMENT Psbt')
    expect(await codeAndField(() => toScureTransaction('not base64!', Transaction))).toBe('INVALID_ARGUMENT psbt')
  })
})
