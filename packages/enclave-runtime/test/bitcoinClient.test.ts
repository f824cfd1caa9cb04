/**
 * `custody.signBitcoinPsbt` end to end through the in-process enclave with a secp256k1 key: P2WPKH, P2SH-P2WPKH,
 * P2PKH and P2TR inputs, finalized transactions equal to what bitcoinjs-lib produces from the same key (ECDSA is
 * deterministic; taproot signatures, randomized, are checked with bitcoinjs-lib's sighash instead), the sealed
 * flags that gate `allow`, and an SDK that refuses every answer an enclave gone wrong could give (each edit is
 * re-signed with the enclave's response key, so only the SDK's own checks of the PSBT catch it).
 */
import { createCustodyClient, type CustodyClient, isCustodyError, type Transport } from '@enclave-custody/sdk'
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js'
import { HDKey } from '@scure/bip32'
import { base64, hex } from '@scure/base'
import { Transaction } from '@scure/btc-signer'
import { RawPSBTV0 } from '@scure/btc-signer/psbt.js'
import * as bitcoin from 'bitcoinjs-lib'
import { describe, expect, it } from 'vitest'
import { localEnclave } from '../src/localEnclave.js'
import { bitcoinjsSigner, type InputType, nobleValidator, scriptOf } from './bitcoinFixtures.js'
import { signingEnclave } from './support/runtime.js'
import { sharedSoftwareNsm } from './support/session.js'
import { newStamper } from './support/stamps.js'

const KEY = hex.decode('ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80')
const OTHER = hex.decode('59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d')
const PUB = secp256k1.getPublicKey(KEY, true)
const OTHER_PUB = secp256k1.getPublicKey(OTHER, true)
const stamper = newStamper()

type Options = { proven?: boolean; sighashType?: number; pub?: Uint8Array; foreign?: boolean }

/** A regtest PSBT spending one output of the key per type (P2PKH with its previous transaction; others with both unless `proven: false`), paying OTHER and change. */
function psbtOf(types: readonly InputType[], { proven = true, sighashType, pub = PUB, foreign = false }: Options = {}): bitcoin.Psbt {
  const psbt = new bitcoin.Psbt({ network: bitcoin.networks.regtest })
  let total = 0n
  const all = foreign ? [...types, 'p2wpkh' as const] : types
  all.forEach((type, i) => {
    const owner = foreign && i === all.length - 1 ? OTHER_PUB : pub
    const { script, redeemScript } = scriptOf(owner, type)
    const amount = 100_000n + BigInt(i)
    total += amount
    const prev = new bitcoin.Transaction()
    prev.version = 2
    prev.addInput(new Uint8Array(32).fill(i + 1), 0)
    prev.addOutput(script, amount)
    const input: Parameters<bitcoin.Psbt['addInput']>[0] = { hash: prev.getHash(), index: 0, sequence: 0xfffffffd }
    if (type === 'p2pkh' || (type !== 'p2tr' && proven)) input.nonWitnessUtxo = prev.toBuffer()
    if (type !== 'p2pkh') input.witnessUtxo = { script, value: amount }
    if (redeemScript) input.redeemScript = redeemScript
    if (type === 'p2tr') input.tapInternalKey = owner.slice(1)
    if (sighashType !== undefined) input.sighashType = sighashType
    psbt.addInput(input)
  })
  psbt.addOutput({ script: scriptOf(OTHER_PUB, 'p2wpkh').script, value: 60_000n })
  psbt.addOutput({ script: scriptOf(pub, 'p2wpkh').script, value: total - 60_000n - 2_000n })
  return psbt
}

/** bitcoinjs-lib's finalized transaction of the same PSBT signed with the same key (ECDSA inputs only: RFC 6979). */
function bitcoinjsFinal(types: readonly InputType[]): bitcoin.Transaction {
  const psbt = psbtOf(types)
  for (const [i, t] of types.entries()) psbt.signInput(i, bitcoinjsSigner(KEY, t === 'p2tr'))
  psbt.finalizeAllInputs()
  return psbt.extractTransaction()
}

async function clientWith(transport: Transport, policy: Record<string, boolean> = {}): Promise<{ custody: CustodyClient; keyId: string }> {
  const custody = createCustodyClient({ transport, stamper })
  const { keyId } = await custody.importKey({ privateKey: `0x${hex.encode(KEY)}`, policy })
  return { custody, keyId }
}

const honest = async (policy?: Record<string, boolean>) => clientWith(localEnclave({ attestation: await sharedSoftwareNsm() }), policy)

describe('signBitcoinPsbt end to end (secp256k1 key, in-process enclave)', () => {
  it.each([['p2wpkh'], ['p2sh-p2wpkh'], ['p2pkh']] as const)('%s: the finalized transaction is the one bitcoinjs-lib produces', async (type) => {
    const { custody, keyId } = await honest()
    const signed = await custody.signBitcoinPsbt(keyId, { psbt: psbtOf([type]).toBase64(), network: 'regtest', finalize: true })
    const expected = bitcoinjsFinal([type])
    expect(signed.signedInputs).toEqual([0])
    expect(signed.transaction).toBe(expected.toHex())
    expect(signed.txid).toBe(expected.getId())
  })

  it('p2wpkh + p2sh-p2wpkh + p2pkh in one PSBT (bytes in): the same transaction as bitcoinjs-lib', async () => {
    const types = ['p2wpkh', 'p2sh-p2wpkh', 'p2pkh'] as const
    const { custody, keyId } = await honest()
    const signed = await custody.signBitcoinPsbt(keyId, { psbt: psbtOf(types).toBuffer(), network: 'regtest', finalize: true })
    expect(signed.signedInputs).toEqual([0, 1, 2])
    expect(signed.transaction).toBe(bitcoinjsFinal(types).toHex())
  })

  it('p2tr (and a mixed PSBT): BIP-340 signatures bitcoinjs-lib validates over its own BIP-341 sighash; the txid is bitcoinjs-lib\'s', async () => {
    const types = ['p2tr', 'p2wpkh', 'p2tr'] as const
    const { custody, keyId } = await honest()
    const partial = await custody.signBitcoinPsbt(keyId, { psbt: psbtOf(types).toBase64(), network: 'regtest' })
    expect(partial.transaction).toBeUndefined()
    const theirs = bitcoin.Psbt.fromBase64(partial.psbt, { network: bitcoin.networks.regtest })
    expect(theirs.validateSignaturesOfAllInputs(nobleValidator)).toBe(true)
    theirs.finalizeAllInputs()
    const final = await custody.signBitcoinPsbt(keyId, { psbt: psbtOf(types).toBase64(), network: 'regtest', finalize: true })
    expect(final.txid).toBe(theirs.extractTransaction().getId())
    const tx = bitcoin.Transaction.fromHex(final.transaction!)
    const prevouts = psbtOf(types).data.inputs.map((i) => i.witnessUtxo!)
    for (const i of [0, 2]) {
      const hash = tx.hashForWitnessV1(i, prevouts.map((p) => p.script), prevouts.map((p) => p.value), bitcoin.Transaction.SIGHASH_DEFAULT)
      expect(schnorr.verify(tx.ins[i]!.witness[0]!, hash, prevouts[i]!.script.subarray(2))).toBe(true)
    }
  })

  it('a PSBT with another party\'s input: only the key\'s inputs are signed, the rest left as they were', async () => {
    const { custody, keyId } = await honest()
    const signed = await custody.signBitcoinPsbt(keyId, { psbt: psbtOf(['p2wpkh'], { foreign: true }).toBase64(), network: 'regtest' })
    expect(signed.signedInputs).toEqual([0])
    const theirs = bitcoin.Psbt.fromBase64(signed.psbt)
    expect(theirs.data.inputs[1]!.partialSig).toBeUndefined()
    expect(theirs.validateSignaturesOfInput(0, nobleValidator)).toBe(true)
  })
})

describe('the sealed flags gate the request\'s allow', () => {
  const unproven = () => psbtOf(['p2wpkh'], { proven: false }).toBase64()
  const anyoneCanPay = () => psbtOf(['p2wpkh'], { sighashType: 0x81 }).toBase64()

  it('an unproven segwit amount: refused without allow, POLICY_DENIED naming the flag without the key\'s flag, signed with both', async () => {
    const plain = await honest()
    await expect(plain.custody.signBitcoinPsbt(plain.keyId, { psbt: unproven(), network: 'regtest' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'inputs[0].nonWitnessUtxo' } })
    const denied = await plain.custody.signBitcoinPsbt(plain.keyId, { psbt: unproven(), network: 'regtest', allow: { unprovenSegwitAmounts: true } }).catch((e: unknown) => e)
    expect(isCustodyError(denied, 'POLICY_DENIED')).toBe(true)
    expect((denied as Error).message).toMatch(/allowUnprovenBitcoinAmounts/)
    const flagged = await honest({ allowUnprovenBitcoinAmounts: true })
    await expect(flagged.custody.signBitcoinPsbt(flagged.keyId, { psbt: unproven(), network: 'regtest' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    const signed = await flagged.custody.signBitcoinPsbt(flagged.keyId, { psbt: unproven(), network: 'regtest', allow: { unprovenSegwitAmounts: true }, finalize: true })
    expect(signed.transaction).toBe(
      (() => {
        const p = psbtOf(['p2wpkh'], { proven: false })
        p.signInput(0, bitcoinjsSigner(KEY, false))
        return p.finalizeAllInputs().extractTransaction().toHex()
      })(),
    )
  })

  it('SIGHASH_ALL|ANYONECANPAY: POLICY_DENIED naming the flag without the key\'s flag; signed (and verified over that sighash) with it', async () => {
    const plain = await honest()
    const denied = await plain.custody.signBitcoinPsbt(plain.keyId, { psbt: anyoneCanPay(), network: 'regtest', allow: { sighashTypes: [0x81] } }).catch((e: unknown) => e)
    expect(isCustodyError(denied, 'POLICY_DENIED')).toBe(true)
    expect((denied as Error).message).toMatch(/allowBitcoinSighashTypes/)
    const flagged = await honest({ allowBitcoinSighashTypes: true })
    const signed = await flagged.custody.signBitcoinPsbt(flagged.keyId, { psbt: anyoneCanPay(), network: 'regtest', allow: { sighashTypes: [0x81] } })
    const theirs = bitcoin.Psbt.fromBase64(signed.psbt)
    expect(theirs.data.inputs[0]!.partialSig![0]!.signature.at(-1)).toBe(0x81)
    expect(theirs.validateSignaturesOfInput(0, nobleValidator)).toBe(true)
  })

  it('an allow the PSBT does not need is no refusal', async () => {
    const plain = await honest()
    const signed = await plain.custody.signBitcoinPsbt(plain.keyId, { psbt: psbtOf(['p2wpkh']).toBase64(), network: 'regtest', allow: { unprovenSegwitAmounts: true, sighashTypes: [0x83] } })
    expect(signed.signedInputs).toEqual([0])
  })
})

describe('the SDK checks every Bitcoin answer itself (an enclave gone wrong)', () => {
  type Result = { psbt: string; signedInputs: number[]; transaction?: string; txid?: string }
  /** An enclave whose Bitcoin results pass through `tamper` (and are signed again with its response key). */
  const hostile = (tamper: (r: Result, requestPsbt: string) => unknown): Transport =>
    signingEnclave({
      edit: (message, response) =>
        message.op === 'sign.bitcoinPsbt' && response.ok ? { ...response, result: tamper(response.result as Result, (message.params as { psbt: string }).psbt) } : response,
    })
  const edit = (psbt: string, change: (d: ReturnType<typeof RawPSBTV0.decode>) => void) => {
    const d = RawPSBTV0.decode(base64.decode(psbt))
    change(d)
    return base64.encode(RawPSBTV0.encode(d))
  }
  /** A valid ECDSA signature by `key` over input 0's BIP-143 sighash (what a signer of the wrong key would give). */
  const sigOver = (requestPsbt: string, key: Uint8Array, sighash = 0x01, amount = 100_000n) => {
    const tx = Transaction.fromPSBT(base64.decode(requestPsbt))
    const digest = tx.preimageWitnessV0(0, scriptOf(PUB, 'p2pkh').script, sighash, amount)
    return Uint8Array.of(...secp256k1.sign(digest, key, { prehash: false, format: 'der' }), sighash)
  }

  it.each<[string, readonly InputType[], boolean, (r: Result, req: string) => unknown, RegExp]>([
    ['an altered output amount', ['p2wpkh'], false, (r) => ({ ...r, psbt: edit(r.psbt, (d) => { d.global.unsignedTx!.outputs[0]!.amount -= 1n }) }), /changes the global map/],
    ['an altered output script', ['p2wpkh'], false, (r) => ({ ...r, psbt: edit(r.psbt, (d) => { d.global.unsignedTx!.outputs[0]!.script = scriptOf(PUB, 'p2pkh').script }) }), /changes the global map/],
    ['a field added to an output', ['p2wpkh'], false, (r) => ({ ...r, psbt: edit(r.psbt, (d) => { d.outputs[1]!.redeemScript = new Uint8Array(22) }) }), /changes output 1/],
    ['a field added to a signed input (sighashType)', ['p2wpkh'], false, (r) => ({ ...r, psbt: edit(r.psbt, (d) => { d.inputs[0]!.sighashType = 0x01 }) }), /adds other fields/],
    ['a changed input field (the witnessUtxo amount)', ['p2wpkh'], false, (r) => ({ ...r, psbt: edit(r.psbt, (d) => { d.inputs[0]!.witnessUtxo!.amount -= 1n }) }), /changes fields of input 0/],
    ['a signature for another key', ['p2wpkh'], false, (r, req) => ({ ...r, psbt: edit(r.psbt, (d) => { d.inputs[0]!.partialSig = [[OTHER_PUB, sigOver(req, OTHER)]] }) }), /another key/],
    ['the key\'s and another key\'s signature', ['p2wpkh'], false, (r, req) => ({ ...r, psbt: edit(r.psbt, (d) => { d.inputs[0]!.partialSig!.push([OTHER_PUB, sigOver(req, OTHER)]) }) }), /adds other fields/],
    [
      'a wrong signature (one byte of r flipped)',
      ['p2wpkh'],
      false,
      (r) => ({ ...r, psbt: edit(r.psbt, (d) => { d.inputs[0]!.partialSig![0]![1][10]! ^= 1 }) }),
      /not a valid low-s ECDSA signature/,
    ],
    ['a signature over another amount', ['p2wpkh'], false, (r, req) => ({ ...r, psbt: edit(r.psbt, (d) => { d.inputs[0]!.partialSig = [[PUB, sigOver(req, KEY, 0x01, 99_999n)]] }) }), /not a valid low-s ECDSA/],
    ['a signature under another sighash type', ['p2wpkh'], false, (r, req) => ({ ...r, psbt: edit(r.psbt, (d) => { d.inputs[0]!.partialSig = [[PUB, sigOver(req, KEY, 0x81)]] }) }), /sighash type 1/],
    [
      'a high-s twin of the signature',
      ['p2wpkh'],
      false,
      (r) => ({
        ...r,
        psbt: edit(r.psbt, (d) => {
          const [pub, sig] = d.inputs[0]!.partialSig![0]!
          const s = secp256k1.Signature.fromBytes(sig.subarray(0, -1), 'der')
          const high = new secp256k1.Signature(s.r, secp256k1.Point.CURVE().n - s.s)
          d.inputs[0]!.partialSig = [[pub, Uint8Array.of(...high.toBytes('der'), 0x01)]]
        }),
      }),
      /not a valid low-s/,
    ],
    ['a wrong taproot signature', ['p2tr'], false, (r) => ({ ...r, psbt: edit(r.psbt, (d) => { d.inputs[0]!.tapKeySig![5]! ^= 1 }) }), /not a valid BIP-340/],
    ['a signature on another party\'s input', ['p2wpkh'], false, (r, req) => ({ ...r, psbt: edit(r.psbt, (d) => { d.inputs[1]!.partialSig = [[OTHER_PUB, sigOver(req, OTHER)]] }) }), /not the key's/],
    ['a lying signedInputs', ['p2wpkh', 'p2pkh'], false, (r) => ({ ...r, signedInputs: [0] }), /signedInputs/],
    ['no signature at all', ['p2wpkh'], false, (_r, req) => ({ psbt: req, signedInputs: [0] }), /no new signature/],
    ['a lying transaction', ['p2wpkh'], true, (r) => ({ ...r, transaction: `${r.transaction!.slice(0, -2)}01` }), /"transaction" or "txid"/],
    ['a lying txid', ['p2wpkh'], true, (r) => ({ ...r, txid: '00'.repeat(32) }), /"transaction" or "txid"/],
    ['a transaction that was not asked for', ['p2wpkh'], false, (r) => ({ ...r, transaction: '00', txid: '00'.repeat(32) }), /not asked for/],
    ['a finalized input with a witness of another key', ['p2wpkh'], true, (r, req) => ({ ...r, psbt: edit(r.psbt, (d) => { d.inputs[0]!.finalScriptWitness = [sigOver(req, OTHER), OTHER_PUB] }) }), /another key/],
    ['garbage instead of a PSBT', ['p2wpkh'], false, (r) => ({ ...r, psbt: 'AAAA' }), /does not parse/],
  ])('%s → INTEGRITY_ERROR', async (_, types, finalize, tamper, reason) => {
    const foreign = _.includes("another party's")
    const { custody, keyId } = await clientWith(hostile(tamper))
    const error = await custody.signBitcoinPsbt(keyId, { psbt: psbtOf(types, { foreign }).toBase64(), network: 'regtest', finalize }).catch((e: unknown) => e)
    expect(isCustodyError(error, 'INTEGRITY_ERROR'), String(error)).toBe(true)
    expect((error as Error).message).toMatch(reason)
  })

  it('the honest answer through the same hostile harness passes (the harness itself alters nothing)', async () => {
    const { custody, keyId } = await clientWith(hostile((r) => r))
    const signed = await custody.signBitcoinPsbt(keyId, { psbt: psbtOf(['p2wpkh', 'p2tr']).toBase64(), network: 'regtest', finalize: true })
    expect(signed.signedInputs).toEqual([0, 1])
  })
})

describe('an HD account\'s answer is checked against its extended public key', () => {
  const root = HDKey.fromMasterSeed(new Uint8Array(32).fill(9))
  const account = root.derive("m/84'/1'/0'")
  const child = account.deriveChild(0).deriveChild(3)
  const fingerprint = `0x${root.fingerprint.toString(16).padStart(8, '0')}`
  /** The account's child key as a plain key in the enclave; key.get reports a Bitcoin HD account (its fingerprint, xpub and path), as the enclave will. */
  const asAccount = (xpub: string): Transport =>
    signingEnclave({
      edit: (message, response) => (message.op === 'key.get' && response.ok ? { ...response, result: { ...(response.result as object), kind: 'hd-account', family: 'bitcoin', walletId: 'wallet-1', address: bitcoin.payments.p2wpkh({ pubkey: account.deriveChild(0).deriveChild(0).publicKey!, network: bitcoin.networks.regtest }).address, network: 'regtest', format: 'p2wpkh', fingerprint, xpub, path: "m/84'/1'/0'" } } : response),
    })
  const psbt = () => {
    const p = psbtOf(['p2wpkh'], { pub: child.publicKey! })
    p.updateInput(0, { bip32Derivation: [{ masterFingerprint: Uint8Array.of(...hex.decode(fingerprint.slice(2))), path: "m/84'/1'/0'/0/3", pubkey: child.publicKey! }] })
    return p.toBase64()
  }
  const connect = async (transport: Transport) => {
    // Imported as a plain key, then read as an account (key.get is edited above): a client that saw the import
    // refuses the keyId's other identity (test/hostile-key-rebinding.test.ts), so a fresh client signs.
    const { keyId } = await createCustodyClient({ transport, stamper }).importKey({ privateKey: `0x${hex.encode(child.privateKey!)}` })
    return { custody: createCustodyClient({ transport, stamper }), keyId }
  }

  it('the key the PSBT names derives from the account: signed and verified', async () => {
    const { custody, keyId } = await connect(asAccount(account.publicExtendedKey))
    expect((await custody.signBitcoinPsbt(keyId, { psbt: psbt(), network: 'regtest' })).signedInputs).toEqual([0])
  })

  it('another account\'s extended public key: INTEGRITY_ERROR', async () => {
    const { custody, keyId } = await connect(asAccount(root.derive("m/84'/1'/1'").publicExtendedKey))
    const error = await custody.signBitcoinPsbt(keyId, { psbt: psbt(), network: 'regtest' }).catch((e: unknown) => e)
    expect(isCustodyError(error, 'INTEGRITY_ERROR'), String(error)).toBe(true)
    expect((error as Error).message).toMatch(/does not derive/)
  })
})

describe('approval requests', () => {
  it('approvalRequest.signBitcoinPsbt is the request signBitcoinPsbt sends (bytes in, canonical base64 on the wire)', async () => {
    const { custody, keyId } = await honest()
    const psbt = psbtOf(['p2wpkh'])
    const request = await custody.approvalRequest.signBitcoinPsbt(keyId, { psbt: psbt.toBuffer(), network: 'regtest', finalize: true }, { idempotencyKey: 'btc-1' })
    expect(request).toMatchObject({ op: 'sign.bitcoinPsbt', params: { keyId, psbt: psbt.toBase64(), network: 'regtest', finalize: true, idempotencyKey: 'btc-1' } })
  })
})

describe('signBitcoinPsbt refuses bad input before anything is sent', () => {
  it.each<[string, unknown, string]>([
    ['not base64', { psbt: 'not base64!', network: 'regtest' }, 'psbt'],
    ['not a PSBT', { psbt: 'AAAA', network: 'regtest' }, 'psbt'],
    ['an unknown network', { psbt: psbtOf(['p2wpkh']).toBase64(), network: 'bitcoin' }, 'network'],
    ['an unknown field', { psbt: psbtOf(['p2wpkh']).toBase64(), network: 'regtest', sign: true }, 'params'],
    ['a sighash type BIP-341 does not define', { psbt: psbtOf(['p2wpkh']).toBase64(), network: 'regtest', allow: { sighashTypes: [0x04] } }, 'allow.sighashTypes'],
    ['a non-boolean finalize', { psbt: psbtOf(['p2wpkh']).toBase64(), network: 'regtest', finalize: 'yes' }, 'finalize'],
  ])('%s → INVALID_ARGUMENT naming %s', async (_, params, field) => {
    const { custody, keyId } = await honest()
    await expect(custody.signBitcoinPsbt(keyId, params as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field } })
  })
})
