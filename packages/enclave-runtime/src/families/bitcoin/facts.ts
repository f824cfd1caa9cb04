import { Address, OutScript } from '@scure/btc-signer'
import { type BitcoinNetwork, bitcoinNetworkParams } from './addresses.js'
import type { BitcoinPsbtPlan } from './psbt.js'

/** One output of a PSBT, as a policy sees it. */
export type BitcoinOutputFact = {
  /** The output's address on the PSBT's network; absent for scripts without one (OP_RETURN, bare multisig, unknown). */
  address?: string
  /** The output script, lower-case hex. */
  script: string
  /** Value in satoshis. */
  amount: bigint
  /**
   * Whether the output pays the signing key back: with one key, its script is one of the key's four outputs; with
   * an HD account, the output's own `bip32Derivation` / `tapBip32Derivation` names the account's fingerprint,
   * the key derived at that path is the one named, and the script is that key's output.
   */
  isChange: boolean
}

/**
 * The policy facts of a PSBT (family `bitcoin`). Amounts in satoshis.
 *
 * `vsize` is an estimate of the final transaction's virtual size (BIP-141: ceil(weight / 4)), computed from the
 * unsigned transaction plus, per input, the satisfaction its script type needs: P2PKH a 107-byte scriptSig
 * (72-byte signature, 33-byte key, two pushes); P2SH-P2WPKH a 23-byte scriptSig and a 108-byte witness;
 * P2WPKH a 108-byte witness; P2TR key path a 66-byte witness (67 with an explicit sighash byte); an input already
 * final its actual scriptSig and witness; any other script nothing (so `vsize` may be low and `feeRate` high,
 * the safe side for a fee cap). ECDSA signatures are counted at their 72-byte maximum (71 DER + sighash), so the
 * estimate is exact or up to a byte per ECDSA input high. `feeRate` is ceil(fee / vsize) sat/vB.
 */
export type BitcoinFacts = {
  family: 'bitcoin'
  kind: 'psbt'
  network: BitcoinNetwork
  outputs: BitcoinOutputFact[]
  /** Sum of the inputs' amounts (from `nonWitnessUtxo` or `witnessUtxo`). */
  inputAmount: bigint
  /** Sum of all outputs. */
  outputAmount: bigint
  /** Sum of the outputs that are not change: what leaves the key. */
  spendAmount: bigint
  /** inputAmount − outputAmount. */
  fee: bigint
  /** Estimated virtual size of the final transaction, in vbytes (see above). */
  vsize: bigint
  /** ceil(fee / vsize), sat/vB. */
  feeRate: bigint
  inputCount: number
  /** Inputs the key signs (before signing: the inputs it will sign). */
  inputsSigned: number
  /**
   * Whether every input amount is proven: by a `nonWitnessUtxo` whose txid is the prevout's, or — for a taproot
   * input — by a taproot signature of the key that commits to all amounts (a sighash without ANYONECANPAY).
   * When false, `fee` relies on amounts that only the PSBT's author states.
   */
  amountsProven: boolean
  lockTime: number
  version: number
}

const compactSizeLength = (n: number) => (n < 0xfd ? 1 : n <= 0xffff ? 3 : 5)

/** Witness bytes of a witness stack (count, then each item with its length). */
const witnessLength = (items: readonly Uint8Array[]) => compactSizeLength(items.length) + items.reduce((a, w) => a + compactSizeLength(w.length) + w.length, 0)

/**
 * The facts of a checked PSBT plan (from `inspectBitcoinPsbt`): outputs with their address and change flag,
 * amounts, fee, estimated vsize and fee rate, inputs signed.
 *
 * @param plan - The plan's parsed transaction, inputs and outputs.
 * @param extra - Whether every input amount is proven (the plan decides it).
 * @returns The facts.
 * @example
 * const { facts } = inspectBitcoinPsbt({ psbt, network: 'testnet', keys })
 * facts.fee // 1410n
 */
export function bitcoinFacts(plan: Omit<BitcoinPsbtPlan, 'facts'>, extra: { amountsProven: boolean }): BitcoinFacts {
  const params = bitcoinNetworkParams(plan.network)
  const outputs: BitcoinOutputFact[] = plan.outputs.map((o) => {
    let address: string | undefined
    try {
      const decoded = OutScript.decode(o.script)
      if (['pkh', 'sh', 'wpkh', 'wsh', 'tr'].includes(decoded.type)) address = Address(params).encode(decoded)
    } catch {
      address = undefined
    }
    const fact: BitcoinOutputFact = { script: Buffer.from(o.script).toString('hex'), amount: o.amount, isChange: o.isChange }
    if (address !== undefined) fact.address = address
    return fact
  })
  const inputAmount = plan.inputs.reduce((a, p) => a + p.amount, 0n)
  const outputAmount = plan.outputs.reduce((a, o) => a + o.amount, 0n)
  const spendAmount = plan.outputs.reduce((a, o) => a + (o.isChange ? 0n : o.amount), 0n)
  const fee = inputAmount - outputAmount

  // Weight: the unsigned transaction (all scriptSigs empty) counts 4 per byte; each input's scriptSig adds its
  // length and the growth of its length prefix, ×4; witnesses count 1 per byte, plus marker and flag (2) and an
  // empty witness (1) for every non-witness input once any input has a witness.
  let weight = plan.unsignedTx.length * 4
  let witness = 0
  let anyWitness = false
  for (const p of plan.inputs) {
    const input = plan.tx.getInput(p.index)
    let scriptSig = 0
    let wit = 0
    if (p.final) {
      scriptSig = input.finalScriptSig?.length ?? 0
      if (input.finalScriptWitness?.length) wit = witnessLength(input.finalScriptWitness)
    } else if (p.type === 'p2pkh') scriptSig = 107
    else if (p.type === 'p2sh-p2wpkh') {
      scriptSig = 23
      wit = 108
    } else if (p.type === 'p2wpkh') wit = 108
    else if (p.type === 'p2tr') wit = (p.sign?.sighash ?? input.sighashType ?? 0) === 0 ? 66 : 67
    weight += (scriptSig + compactSizeLength(scriptSig) - 1) * 4
    if (wit > 0) anyWitness = true
    witness += wit > 0 ? wit : 1
  }
  if (anyWitness) weight += 2 + witness
  const vsize = BigInt(Math.ceil(weight / 4))
  const feeRate = (fee + vsize - 1n) / vsize
  const inputsSigned = plan.inputs.filter((p) => p.sign !== undefined).length
  return {
    family: 'bitcoin',
    kind: 'psbt',
    network: plan.network,
    outputs,
    inputAmount,
    outputAmount,
    spendAmount,
    fee,
    vsize,
    feeRate,
    inputCount: plan.inputs.length,
    inputsSigned,
    amountsProven: extra.amountsProven,
    lockTime: plan.lockTime,
    version: plan.version,
  }
}
