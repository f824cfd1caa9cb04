/**
 * Differential: 200 random PSBTs (seeded; mixed P2PKH / P2SH-P2WPKH / P2WPKH / P2TR inputs, all four networks,
 * 1–8 inputs and outputs, some inputs another key's), built with bitcoinjs-lib, signed by the enclave's module,
 * then checked by two independent libraries: bitcoinjs-lib validates every signature (noble validator) and
 * @scure/btc-signer finalizes; the final transaction equals what bitcoinjs-lib and @scure/btc-signer produce
 * when they sign the same PSBT with the same keys. The suites live in bitcoinDifferential.test.ts and
 * bitcoinDifferential2.test.ts (100 cases each, so that vitest runs the halves in parallel).
 */
import { hex } from '@scure/base'
import * as btc from '@scure/btc-signer'
import * as bitcoin from 'bitcoinjs-lib'
import { describe, expect, it } from 'vitest'
import { signBitcoinPsbt } from '../src/families/bitcoin/index.js'
import { AUX, bitcoinjsNetwork, bitcoinjsSigner, type GeneratedCase, generateCase, nobleValidator } from './bitcoinFixtures.js'
import { createRng } from './rng.js'

/** The default seed; `DIFFERENTIAL_SEED=<n>` replays a run (the second half uses n + 1). */
export const SEED = Number(process.env.DIFFERENTIAL_SEED ?? 0x5eed_b7c)

/** bitcoinjs-lib signs the inputs `which` of a PSBT (base64) with the case's keys. */
function bitcoinjsSign(c: GeneratedCase, psbtBase64: string, which: (i: number) => boolean): bitcoin.Psbt {
  const psbt = bitcoin.Psbt.fromBase64(psbtBase64, { network: bitcoinjsNetwork(c.network) })
  for (const [i, input] of c.inputs.entries()) {
    if (!which(i)) continue
    const taproot = input.type === 'p2tr'
    psbt.signInput(i, bitcoinjsSigner(input.secret, taproot), input.sighashType === undefined ? undefined : [input.sighashType])
  }
  return psbt
}

/** @scure/btc-signer signs every input of a PSBT (bytes) with the case's keys. */
function scureSign(c: GeneratedCase, psbt: Uint8Array): btc.Transaction {
  const tx = btc.Transaction.fromPSBT(psbt, { allowUnknownOutputs: true })
  for (const [i, input] of c.inputs.entries()) {
    tx.signIdx(input.secret, i, input.sighashType === undefined ? undefined : [input.sighashType], AUX)
  }
  return tx
}

/** Registers one differential suite of `cases` random PSBTs from `seed`. */
export function differential(seed: number, cases: number) {
describe(`signBitcoinPsbt: ${cases} random PSBTs against bitcoinjs-lib and @scure/btc-signer (seed ${seed})`, () => {
  it('every signature verifies and every final transaction is the one both libraries produce', () => {
    const rng = createRng(seed)
    const seen = { types: new Set<string>(), networks: new Set<string>(), foreign: 0, hd: 0, finalized: 0, change: 0 }
    for (let n = 0; n < cases; n++) {
      const c = generateCase(rng)
      const original = c.psbt.toBase64()
      const theirs = (i: number) => !c.inputs[i]!.ours
      const all = () => true
      const label = `case ${n}`
      const allOurs = c.inputs.every((input) => input.ours)
      const result = signBitcoinPsbt({ psbt: original, network: c.network, keys: c.keys, auxRand: AUX, finalize: allOurs })
      expect(result.signedInputs, label).toEqual(c.inputs.flatMap((input, i) => (input.ours ? [i] : [])))

      // The two reference transactions: each library signs every input of the original PSBT itself.
      const byBitcoinjs = bitcoinjsSign(c, original, all)
      byBitcoinjs.finalizeAllInputs()
      const expected = byBitcoinjs.extractTransaction().toHex()
      const byScure = scureSign(c, bitcoin.Psbt.fromBase64(original).toBuffer())
      byScure.finalize()
      expect(byScure.hex, label).toBe(expected)

      if (allOurs) {
        seen.finalized++
        expect(result.transaction, label).toBe(expected)
        // The finalized PSBT extracts to the same transaction in both libraries.
        expect(bitcoin.Psbt.fromBase64(result.psbt).extractTransaction().toHex(), label).toBe(expected)
        expect(btc.Transaction.fromPSBT(Uint8Array.from(Buffer.from(result.psbt, 'base64')), { allowUnknownOutputs: true }).hex, label).toBe(expected)
      } else {
        seen.foreign++
        expect(result.transaction).toBeUndefined()
        // bitcoinjs-lib: our signatures verify; the other key's signatures added, finalize, extract.
        const signed = bitcoin.Psbt.fromBase64(result.psbt, { network: bitcoinjsNetwork(c.network) })
        for (const i of result.signedInputs) expect(signed.validateSignaturesOfInput(i, nobleValidator), `${label} input ${i}`).toBe(true)
        const completedJs = bitcoinjsSign(c, result.psbt, theirs)
        // @scure/btc-signer parses the PSBT with both parties' signatures, finalizes it: the same transaction.
        const completedScure = btc.Transaction.fromPSBT(completedJs.toBuffer(), { allowUnknownOutputs: true })
        completedScure.finalize()
        expect(completedScure.hex, label).toBe(expected)
        completedJs.finalizeAllInputs()
        expect(completedJs.extractTransaction().toHex(), label).toBe(expected)
      }

      // Facts: outputs in order with the network's addresses, amounts, change by the key's own derivation.
      const tx = bitcoin.Transaction.fromHex(expected)
      expect(result.facts.outputs.map((o) => [o.script, o.amount, o.isChange]), label).toEqual(c.outputs.map((o) => [hex.encode(o.script), o.amount, o.change]))
      for (const [j, o] of result.facts.outputs.entries()) {
        if (o.script.startsWith('6a')) expect(o.address).toBeUndefined()
        else expect(o.address, label).toBe(bitcoin.address.fromOutputScript(c.outputs[j]!.script, bitcoinjsNetwork(c.network)))
        if (o.isChange) seen.change++
      }
      const inputAmount = byScure.fee + c.outputs.reduce((a, o) => a + o.amount, 0n)
      expect(result.facts.fee, label).toBe(byScure.fee)
      expect(result.facts.inputAmount, label).toBe(inputAmount)
      // The vsize estimate is within one vbyte per ECDSA input of the real one (72-byte signatures counted).
      const real = BigInt(tx.virtualSize())
      const ecdsaInputs = BigInt(c.inputs.filter((input) => input.type !== 'p2tr').length)
      expect(result.facts.vsize >= real && result.facts.vsize <= real + ecdsaInputs, `${label}: vsize ${result.facts.vsize} vs ${real}`).toBe(true)
      expect(result.facts.inputsSigned).toBe(result.signedInputs.length)
      for (const input of c.inputs) seen.types.add(input.type)
      seen.networks.add(c.network)
      if (!(c.keys instanceof Uint8Array)) seen.hd++
    }
    // The run covered what it claims to.
    expect([...seen.types].sort()).toEqual(['p2pkh', 'p2sh-p2wpkh', 'p2tr', 'p2wpkh'])
    expect([...seen.networks].sort()).toEqual(['mainnet', 'regtest', 'signet', 'testnet'])
    expect(seen.foreign).toBeGreaterThan(10)
    expect(seen.finalized).toBeGreaterThan(10)
    expect(seen.hd).toBeGreaterThan(10)
    expect(seen.change).toBeGreaterThan(10)
  })
})
}

