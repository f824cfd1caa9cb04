/**
 * Known answers from the BIPs themselves (copied under test/vectors/bitcoin/, sources noted in each file):
 * BIP-143 (native P2WPKH, P2SH-P2WPKH), BIP-341 key-path spending (all seven inputs: sighash types DEFAULT, ALL,
 * NONE, SINGLE, with and without ANYONECANPAY, merkle roots), BIP-340 signing and verification, BIP-84 and
 * BIP-86 addresses.
 */
import { readFileSync } from 'node:fs'
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js'
import { hex } from '@scure/base'
import { HDKey } from '@scure/bip32'
import { mnemonicToSeedSync } from '@scure/bip39'
import * as bitcoin from 'bitcoinjs-lib'
import { describe, expect, it } from 'vitest'
import { bitcoinAddresses, signBitcoinPsbt } from '../src/families/bitcoin/index.js'
import { fingerprintBytes, hdSource } from './bitcoinFixtures.js'

const vector = <T>(name: string): T => JSON.parse(readFileSync(new URL(`./vectors/bitcoin/${name}`, import.meta.url), 'utf8')) as T
const bytes = (h: string) => hex.decode(h.toLowerCase())

/** A PSBT of an unsigned transaction with each input's UTXO as witnessUtxo (what the vectors give). */
function psbtOf(unsignedTx: string, utxos: { scriptPubKey: string; amountSats: number }[], extra: (i: number) => Record<string, unknown> = () => ({})) {
  const tx = bitcoin.Transaction.fromHex(unsignedTx)
  const psbt = new bitcoin.Psbt()
  psbt.setVersion(tx.version)
  psbt.setLocktime(tx.locktime)
  for (const [i, input] of tx.ins.entries()) {
    const utxo = utxos[i]!
    psbt.addInput({ hash: input.hash, index: input.index, sequence: input.sequence, witnessUtxo: { script: bytes(utxo.scriptPubKey), value: BigInt(utxo.amountSats) }, ...extra(i) })
  }
  for (const out of tx.outs) psbt.addOutput({ script: out.script, value: out.value })
  return psbt
}

describe('BIP-143', () => {
  type V = {
    nativeP2wpkh: { unsignedTx: string; inputs: { scriptPubKey: string; amountSats: number }[]; signedInput: number; privateKey: string; publicKey: string; sigHash: string; signature: string }
    p2shP2wpkh: { unsignedTx: string; scriptPubKey: string; redeemScript: string; amountSats: number; privateKey: string; publicKey: string; sigHash: string; signature: string; signedTx: string }
  }
  const v = vector<V>('bip143.json')

  it('native P2WPKH: the signature of input 1 is the BIP\'s, byte for byte (the P2PK input 0 is not the key\'s)', () => {
    const n = v.nativeP2wpkh
    const psbt = psbtOf(n.unsignedTx, n.inputs)
    const result = signBitcoinPsbt({ psbt: psbt.toBase64(), network: 'mainnet', keys: bytes(n.privateKey), allow: { unprovenSegwitAmounts: true } })
    expect(result.signedInputs).toEqual([n.signedInput])
    const signed = bitcoin.Psbt.fromBase64(result.psbt)
    expect(signed.data.inputs[0]!.partialSig).toBeUndefined()
    const [sig] = signed.data.inputs[1]!.partialSig!
    expect(hex.encode(sig!.pubkey)).toBe(n.publicKey)
    expect(hex.encode(sig!.signature)).toBe(n.signature)
    // And it is a signature over the BIP's sighash.
    const der = bitcoin.script.signature.decode(sig!.signature)
    expect(secp256k1.verify(der.signature, bytes(n.sigHash), bytes(n.publicKey), { prehash: false })).toBe(true)
  })

  it('P2SH-P2WPKH: finalized, the transaction is the BIP\'s signed transaction', () => {
    const p = v.p2shP2wpkh
    const psbt = psbtOf(p.unsignedTx, [{ scriptPubKey: p.scriptPubKey, amountSats: p.amountSats }], () => ({ redeemScript: bytes(p.redeemScript) }))
    const result = signBitcoinPsbt({ psbt: psbt.toBase64(), network: 'mainnet', keys: bytes(p.privateKey), finalize: true, allow: { unprovenSegwitAmounts: true } })
    expect(result.signedInputs).toEqual([0])
    expect(result.transaction).toBe(p.signedTx)
    expect(result.facts.amountsProven).toBe(false)
    expect(result.facts.fee).toBe(BigInt(p.amountSats) - 199996600n - 800000000n)
  })
})

describe('BIP-341 key-path spending (wallet test vectors)', () => {
  type V = {
    rawUnsignedTx: string
    utxosSpent: { scriptPubKey: string; amountSats: number }[]
    inputSpending: { txinIndex: number; internalPrivkey: string; merkleRoot: string | null; hashType: number; internalPubkey: string; tweakedPrivkey: string; sigHash: string; witness: string[] }[]
  }
  const v = vector<V>('bip341-keypath-spending.json')

  for (const input of v.inputSpending) {
    it(`input ${input.txinIndex} (hash type 0x${input.hashType.toString(16).padStart(2, '0')}): the witness is the vector's`, () => {
      const psbt = psbtOf(v.rawUnsignedTx, v.utxosSpent, (i) =>
        i === input.txinIndex
          ? { tapInternalKey: bytes(input.internalPubkey), ...(input.merkleRoot ? { tapMerkleRoot: bytes(input.merkleRoot) } : {}), ...(input.hashType ? { sighashType: input.hashType } : {}) }
          : {},
      )
      const result = signBitcoinPsbt({
        psbt: psbt.toBase64(),
        network: 'mainnet',
        keys: bytes(input.internalPrivkey),
        auxRand: new Uint8Array(32),
        allow: { unprovenSegwitAmounts: true, sighashTypes: [0x02, 0x03, 0x81, 0x82, 0x83] },
      })
      expect(result.signedInputs).toEqual([input.txinIndex])
      const tapKeySig = bitcoin.Psbt.fromBase64(result.psbt).data.inputs[input.txinIndex]!.tapKeySig!
      // Over the vector's sighash, under the vector's tweaked key.
      const outputKey = schnorr.getPublicKey(bytes(input.tweakedPrivkey))
      expect(schnorr.verify(tapKeySig.subarray(0, 64), bytes(input.sigHash), outputKey)).toBe(true)
      expect(hex.encode(tapKeySig)).toBe(input.witness[0])
      // Inputs 2 (P2PKH) and 5 (P2WPKH) come with a witnessUtxo alone: their amounts are proven by nothing.
      expect(result.facts.amountsProven).toBe(false)
    })
  }

  it('refuses SIGHASH_NONE / SINGLE / ANYONECANPAY unless allowed', () => {
    const input = v.inputSpending[0]!
    const psbt = psbtOf(v.rawUnsignedTx, v.utxosSpent, (i) => (i === 0 ? { tapInternalKey: bytes(input.internalPubkey), sighashType: 3 } : {}))
    expect(() => signBitcoinPsbt({ psbt: psbt.toBase64(), network: 'mainnet', keys: bytes(input.internalPrivkey), allow: { unprovenSegwitAmounts: true } })).toThrowError(
      '"inputs[0].sighashType" must be SIGHASH_DEFAULT or SIGHASH_ALL (allow.sighashTypes accepts others)',
    )
  })
})

describe('BIP-340', () => {
  type V = { vectors: { index: number; secretKey: string; publicKey: string; auxRand: string; message: string; signature: string; valid: boolean; comment: string }[] }
  const { vectors } = vector<V>('bip340.json')
  for (const t of vectors) {
    it(`vector ${t.index}${t.comment ? ` (${t.comment})` : ''}`, () => {
      if (t.secretKey) {
        expect(hex.encode(schnorr.getPublicKey(bytes(t.secretKey)))).toBe(t.publicKey.toLowerCase())
        expect(hex.encode(schnorr.sign(bytes(t.message), bytes(t.secretKey), bytes(t.auxRand)))).toBe(t.signature.toLowerCase())
      }
      let ok: boolean
      try {
        ok = schnorr.verify(bytes(t.signature), bytes(t.message), bytes(t.publicKey))
      } catch {
        ok = false
      }
      expect(ok).toBe(t.valid)
    })
  }
})

describe('BIP-84 / BIP-86 addresses', () => {
  type V = { mnemonic: string; bip84: { path: string; publicKey: string; address: string }[]; bip86: { path: string; internalKey?: string; outputKey?: string; address: string }[] }
  const v = vector<V>('bip84-bip86-addresses.json')
  const root = HDKey.fromMasterSeed(mnemonicToSeedSync(v.mnemonic))

  for (const t of v.bip84) {
    it(`BIP-84 ${t.path}`, () => {
      const pub = root.derive(t.path).publicKey!
      expect(hex.encode(pub)).toBe(t.publicKey)
      expect(bitcoinAddresses(pub, 'mainnet').p2wpkh).toBe(t.address)
    })
  }
  for (const t of v.bip86) {
    it(`BIP-86 ${t.path}`, () => {
      const pub = root.derive(t.path).publicKey!
      if (t.internalKey) expect(hex.encode(pub.subarray(1))).toBe(t.internalKey)
      expect(bitcoinAddresses(pub, 'mainnet').p2tr).toBe(t.address)
    })
  }

  it('the other encodings agree with bitcoinjs-lib on every network', () => {
    const pub = root.derive("m/84'/0'/0'/0/0").publicKey!
    const nets = { mainnet: bitcoin.networks.bitcoin, testnet: bitcoin.networks.testnet, signet: bitcoin.networks.testnet, regtest: bitcoin.networks.regtest } as const
    for (const [name, network] of Object.entries(nets)) {
      const a = bitcoinAddresses(pub, name as keyof typeof nets)
      expect(a.p2pkh).toBe(bitcoin.payments.p2pkh({ pubkey: pub, network }).address)
      expect(a.p2wpkh).toBe(bitcoin.payments.p2wpkh({ pubkey: pub, network }).address)
      expect(a.p2shP2wpkh).toBe(bitcoin.payments.p2sh({ redeem: bitcoin.payments.p2wpkh({ pubkey: pub, network }), network }).address)
      expect(a.p2tr).toBe(bitcoin.payments.p2tr({ internalPubkey: pub.subarray(1), network }).address)
    }
    // BIP-49's first address of the same mnemonic is P2SH-P2WPKH at m/49'/0'/0'/0/0.
    expect(bitcoinAddresses(root.derive("m/49'/0'/0'/0/0").publicKey!, 'mainnet').p2shP2wpkh).toMatch(/^3/)
  })

  it('an HD account signs a P2TR input named by its tapBip32Derivation (BIP-86 path)', () => {
    const path = "m/86'/0'/0'/0/1"
    const pub = root.derive(path).publicKey!
    const handed: Uint8Array[] = []
    const script = bitcoin.payments.p2tr({ internalPubkey: pub.subarray(1) }).output!
    const psbt = new bitcoin.Psbt()
    psbt.addInput({ hash: new Uint8Array(32).fill(1), index: 0, witnessUtxo: { script, value: 10_000n }, tapInternalKey: pub.subarray(1), tapBip32Derivation: [{ masterFingerprint: fingerprintBytes(root), path, pubkey: pub.subarray(1), leafHashes: [] }] })
    psbt.addOutput({ script, value: 9_000n })
    const result = signBitcoinPsbt({ psbt: psbt.toBase64(), network: 'mainnet', keys: hdSource(root, handed), finalize: true })
    expect(result.signedInputs).toEqual([0])
    expect(result.facts.outputs[0]!.address).toBe(v.bip86[1]!.address)
    expect(result.facts.outputs[0]!.isChange).toBe(false) // no derivation on the output: not change by its own info
    // Every derived private key was zeroed after use.
    expect(handed.length).toBeGreaterThan(0)
    for (const key of handed) expect(key.every((b) => b === 0)).toBe(true)
    expect(bitcoin.Transaction.fromHex(result.transaction!).ins[0]!.witness[0]!.length).toBe(64)
  })
})
