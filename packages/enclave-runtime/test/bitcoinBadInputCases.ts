/**
 * Hostile and malformed PSBTs, written record by record (not by a library that would refuse to write them),
 * for any signing key: `bitcoinBadInputCases(fixture)` builds them around the fixture's keys so that each is a
 * near miss of a PSBT the key signs. Shared by the module test (bitcoinBadInput.test.ts: `signBitcoinPsbt` with
 * an HD source) and the served test (hostilePayloadsServed.test.ts: `sign.bitcoinPsbt` of a live runtime).
 */
import type { HDKey } from '@scure/bip32'
import * as btc from '@scure/btc-signer'
import * as bitcoin from 'bitcoinjs-lib'
import type { SignBitcoinPsbtParameters } from '../src/families/bitcoin/index.js'
import { fingerprintBytes, scriptOf } from './bitcoinFixtures.js'

export type Rec = [Uint8Array, Uint8Array]
export const cat = (...parts: (Uint8Array | number[])[]) => Uint8Array.from(parts.flatMap((p) => [...p]))
const cs = (n: number) => (n < 0xfd ? [n] : [0xfd, n & 0xff, n >> 8])
const u32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24]
const u64 = (n: bigint) => Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn))
const map = (recs: Rec[]) => cat(...recs.map(([k, v]) => cat(cs(k.length), k, cs(v.length), v)), [0])
export const MAGIC = [0x70, 0x73, 0x62, 0x74, 0xff]
export const rec = (key: number[] | Uint8Array, value: number[] | Uint8Array): Rec => [Uint8Array.from(key), Uint8Array.from(value)]
export const nwu = (tx: bitcoin.Transaction) => rec([0x00], tx.toBuffer())
export const wu = (amount: bigint, script: Uint8Array) => rec([0x01], cat(u64(amount), cs(script.length), script))
export const sighash = (n: number) => rec([0x03], u32(n))
const path = (p: string) => p.slice(2).split('/').map((s) => (s.endsWith("'") ? (Number(s.slice(0, -1)) + 0x80000000) >>> 0 : Number(s)))
export const bip32 = (pub: Uint8Array, fp: Uint8Array, p: string, type = 0x06) => rec([type, ...pub], cat(fp, ...path(p).map(u32)))
export const tapBip32 = (x: Uint8Array, fp: Uint8Array, p: string) => rec([0x16, ...x], cat([0], fp, ...path(p).map(u32)))
export const tapInternal = (x: Uint8Array) => rec([0x17], x)

/** The keys a case table is built around: A and T (the signer's), F (foreign), and the derivation records' fingerprint and paths. */
export type BitcoinBadInputFixture = {
  /** The signer's key of the P2WPKH (and P2PKH) outputs, compressed. */
  A: Uint8Array
  /** The signer's key of the P2TR output, compressed (A itself for a single key). */
  T: Uint8Array
  /** A foreign key, compressed. */
  F: Uint8Array
  fp: Uint8Array
  pathA: string
  pathT: string
}

/** The fixture of an HD root: A at `m/84'/1'/0'/0/0`, T at `m/86'/1'/0'/0/0`, both under the root's fingerprint. */
export function hdFixture(root: HDKey, F: Uint8Array): BitcoinBadInputFixture {
  const pathA = "m/84'/1'/0'/0/0"
  const pathT = "m/86'/1'/0'/0/0"
  return { A: root.derive(pathA).publicKey!, T: root.derive(pathT).publicKey!, F, fp: fingerprintBytes(root), pathA, pathT }
}

export type Spec = { ins: { index: number; hash?: Uint8Array; scriptSig?: Uint8Array }[]; outs: { script: Uint8Array; amount: bigint }[]; inputs: Rec[][]; outputs: Rec[][]; global?: Rec[]; witnessFlag?: boolean }

/** What a case sends and the refusal it expects of `signBitcoinPsbt` (field, and the rule's words). */
export type BitcoinBadInput = { psbt: unknown; field: string; rule: RegExp; extra?: Partial<SignBitcoinPsbtParameters> }

/**
 * One hostile PSBT. `scope`: where the case applies — `'any'` to every key (the served test sends it), `'hd'` to
 * an HD source only (derivation records checked against the account's fingerprint: a single key ignores them
 * and would sign), `'module'` to the module's own parameters (keys, auxRand), which no request carries.
 * `wire`: the refusal of the request schema when it comes before the module's (same field unless given).
 * `sealedFlag`: the key flag the case's `allow` asks for. The PSBT is invalid even with the widening, so a key
 * sealed with the flag and one without refuse it alike, naming the field (POLICY_DENIED is for a PSBT that the
 * widening would make valid).
 */
export type BitcoinBadInputCase = {
  name: string
  scope: 'any' | 'hd' | 'module'
  make: () => BitcoinBadInput
  wire?: { field?: string; rule: RegExp }
  sealedFlag?: 'allowUnprovenBitcoinAmounts' | 'allowBitcoinSighashTypes'
}

/**
 * The case table around `fixture`: the previous transaction (0 → A P2WPKH, 1 → T P2TR, 2 → F P2WPKH, 3 → A
 * P2PKH), the valid base PSBT (A's P2WPKH, T's P2TR, F's P2WPKH in; a payment to F and change to A out) and the
 * hostile variants of it.
 */
export function bitcoinBadInputCases({ A, T, F, fp, pathA: PATH_A, pathT: PATH_T }: BitcoinBadInputFixture) {
  const prev = new bitcoin.Transaction()
  prev.version = 2
  prev.addInput(new Uint8Array(32).fill(3), 0)
  prev.addOutput(scriptOf(A, 'p2wpkh').script, 50_000n)
  prev.addOutput(scriptOf(T, 'p2tr').script, 60_000n)
  prev.addOutput(scriptOf(F, 'p2wpkh').script, 70_000n)
  prev.addOutput(scriptOf(A, 'p2pkh').script, 80_000n)

  function unsigned(spec: Spec) {
    const tx = new bitcoin.Transaction()
    tx.version = 2
    for (const i of spec.ins) tx.addInput(i.hash ?? prev.getHash(), i.index, 0xfffffffd, i.scriptSig)
    for (const o of spec.outs) tx.addOutput(o.script, o.amount)
    if (spec.witnessFlag) tx.setWitness(0, [new Uint8Array([1])])
    return tx.toBuffer()
  }
  const psbtOf = (spec: Spec) => cat(MAGIC, map([rec([0x00], unsigned(spec)), ...(spec.global ?? [])]), ...spec.inputs.map(map), ...spec.outputs.map(map))

  function base(): Spec {
    return {
      ins: [{ index: 0 }, { index: 1 }, { index: 2 }],
      outs: [
        { script: scriptOf(F, 'p2tr').script, amount: 100_000n },
        { script: scriptOf(A, 'p2wpkh').script, amount: 70_000n },
      ],
      inputs: [
        [nwu(prev), wu(50_000n, scriptOf(A, 'p2wpkh').script), bip32(A, fp, PATH_A)],
        [wu(60_000n, scriptOf(T, 'p2tr').script), tapBip32(T.subarray(1), fp, PATH_T), tapInternal(T.subarray(1))],
        [nwu(prev), wu(70_000n, scriptOf(F, 'p2wpkh').script)],
      ],
      outputs: [[], [bip32(A, fp, PATH_A, 0x02)]],
    }
  }

  const any = (name: string, make: () => BitcoinBadInput, more: Omit<BitcoinBadInputCase, 'name' | 'make' | 'scope'> = {}): BitcoinBadInputCase => ({ name, scope: 'any', make, ...more })
  const cases: BitcoinBadInputCase[] = [
    any('garbage text', () => ({ psbt: 'not a psbt!!', field: 'psbt', rule: /base64/ })),
    any('empty string', () => ({ psbt: '', field: 'psbt', rule: /non-empty/ })),
    any('a number', () => ({ psbt: 42, field: 'psbt', rule: /bytes or a base64 string/ }), { wire: { rule: /is required/ } }),
    any('random bytes', () => ({ psbt: new Uint8Array(64).fill(7), field: 'psbt', rule: /BIP-174/ })),
    any('magic only', () => ({ psbt: Uint8Array.from(MAGIC), field: 'psbt', rule: /BIP-174/ })),
    any('truncated', () => ({ psbt: psbtOf(base()).slice(0, -9), field: 'psbt', rule: /BIP-174/ })),
    any('trailing byte', () => ({ psbt: cat(psbtOf(base()), [0]), field: 'psbt', rule: /BIP-174|canonical|one output map per output/ })),
    any('non-minimal length prefix (non-canonical)', () => {
      const good = psbtOf(base())
      // The first key length (1, the unsigned tx's key) written as 0xfd 0x01 0x00.
      return { psbt: cat(good.subarray(0, 5), [0xfd, 0x01, 0x00], good.subarray(6)), field: 'psbt', rule: /canonical|BIP-174/ }
    }),
    any('duplicate key in a map', () => ({ psbt: psbtOf({ ...base(), global: [rec([0xf0, 1], [1]), rec([0xf0, 1], [2])] }), field: 'psbt', rule: /unique keys|BIP-174/ })),
    any('PSBT version 2', () => {
      const tx = new btc.Transaction({ PSBTVersion: 2 })
      tx.addInput({ txid: prev.getId(), index: 0, witnessUtxo: { script: scriptOf(A, 'p2wpkh').script, amount: 50_000n } })
      tx.addOutput({ script: scriptOf(F, 'p2wpkh').script, amount: 40_000n })
      return { psbt: tx.toPSBT(2), field: 'psbt', rule: /version 0.*version 2/ }
    }),
    any('unsigned tx with a scriptSig', () => ({ psbt: psbtOf({ ...base(), ins: [{ index: 0, scriptSig: Uint8Array.of(0x51) }, { index: 1 }, { index: 2 }] }), field: 'psbt', rule: /BIP-174/ })),
    any('unsigned tx with witness serialization', () => ({ psbt: psbtOf({ ...base(), witnessFlag: true }), field: 'psbt', rule: /BIP-174/ })),
    any('an input without UTXO data', () => ({ psbt: psbtOf({ ...base(), inputs: [[bip32(A, fp, PATH_A)], base().inputs[1]!, base().inputs[2]!] }), field: 'inputs[0]', rule: /no UTXO data/ })),
    any('a duplicated input (same prevout twice)', () => ({
      psbt: psbtOf({ ...base(), ins: [{ index: 0 }, { index: 1 }, { index: 0 }], inputs: [base().inputs[0]!, base().inputs[1]!, base().inputs[0]!] }),
      field: 'inputs[2]',
      rule: /same outpoint as inputs\[0\]/,
    })),
    any('nonWitnessUtxo of another transaction (txid mismatch)', () => {
      const other = bitcoin.Transaction.fromBuffer(prev.toBuffer())
      other.locktime = 1
      const s = base()
      s.inputs[0]![0] = nwu(other)
      return { psbt: psbtOf(s), field: 'inputs[0].nonWitnessUtxo', rule: /txid/ }
    }),
    any('witnessUtxo amount differs from the nonWitnessUtxo output', () => {
      const s = base()
      s.inputs[0]![1] = wu(5_000n, scriptOf(A, 'p2wpkh').script)
      return { psbt: psbtOf(s), field: 'inputs[0].witnessUtxo', rule: /amount and script/ }
    }),
    any('witnessUtxo script differs from the nonWitnessUtxo output', () => {
      const s = base()
      s.inputs[2]![1] = wu(70_000n, scriptOf(F, 'p2tr').script)
      return { psbt: psbtOf(s), field: 'inputs[2].witnessUtxo', rule: /amount and script/ }
    }),
    any('nonWitnessUtxo without the prevout index', () => ({ psbt: psbtOf({ ...base(), ins: [{ index: 9 }, { index: 1 }, { index: 2 }] }), field: 'inputs[0].nonWitnessUtxo', rule: /no output at/ })),
    any('a segwit v0 input of the key without nonWitnessUtxo', () => {
      const s = base()
      s.inputs[0] = [wu(50_000n, scriptOf(A, 'p2wpkh').script), bip32(A, fp, PATH_A)]
      return { psbt: psbtOf(s), field: 'inputs[0].nonWitnessUtxo', rule: /segwit v0.*allow\.unprovenSegwitAmounts/ }
    }),
    any(
      "the key's P2PKH input with a witnessUtxo alone, even with allow.unprovenSegwitAmounts",
      () => {
        const s = base()
        s.ins[0] = { index: 3 }
        s.inputs[0] = [wu(80_000n, scriptOf(A, 'p2pkh').script), bip32(A, fp, PATH_A)]
        return { psbt: psbtOf(s), field: 'inputs[0].nonWitnessUtxo', rule: /legacy/, extra: { allow: { unprovenSegwitAmounts: true } } }
      },
      { sealedFlag: 'allowUnprovenBitcoinAmounts' },
    ),
    any('SIGHASH_NONE on an ECDSA input', () => {
      const s = base()
      s.inputs[0]!.push(sighash(2))
      return { psbt: psbtOf(s), field: 'inputs[0].sighashType', rule: /SIGHASH_ALL/ }
    }),
    any('SIGHASH_DEFAULT (0) on an ECDSA input', () => {
      const s = base()
      s.inputs[0]!.push(sighash(0))
      return { psbt: psbtOf(s), field: 'inputs[0].sighashType', rule: /SIGHASH_ALL/ }
    }),
    any(
      'SIGHASH_ALL|FORKID (0x41) on a taproot input',
      () => {
        const s = base()
        s.inputs[1]!.push(sighash(0x41))
        return { psbt: psbtOf(s), field: 'inputs[1].sighashType', rule: /SIGHASH_DEFAULT or SIGHASH_ALL/, extra: { allow: { sighashTypes: [0x83] } } }
      },
      { sealedFlag: 'allowBitcoinSighashTypes' },
    ),
    any(
      'SIGHASH_SINGLE allowed, but no output at the input index',
      () => {
        const s = { ...base(), outs: [base().outs[0]!], outputs: [[]] }
        s.outs[0] = { script: scriptOf(F, 'p2tr').script, amount: 170_000n }
        s.inputs[1]!.push(sighash(3))
        return { psbt: psbtOf(s), field: 'inputs[1].sighashType', rule: /SINGLE without an output/, extra: { allow: { sighashTypes: [3] } } }
      },
      { sealedFlag: 'allowBitcoinSighashTypes' },
    ),
    {
      name: "a foreign input named as the account's (bip32Derivation with our fingerprint, another key)",
      scope: 'hd',
      make: () => {
        const s = base()
        s.inputs[2]!.push(bip32(F, fp, "m/84'/1'/0'/0/7"))
        return { psbt: psbtOf(s), field: 'inputs[2].bip32Derivation', rule: /key differs/ }
      },
    },
    {
      name: "a taproot input named as the account's with another x-only key",
      scope: 'hd',
      make: () => {
        const s = base()
        s.inputs[1] = [wu(60_000n, scriptOf(T, 'p2tr').script), tapBip32(F.subarray(1), fp, PATH_T)]
        return { psbt: psbtOf(s), field: 'inputs[1].tapBip32Derivation', rule: /key differs/ }
      },
    },
    any("the account's key named on a foreign script", () => {
      const s = base()
      s.inputs[2]!.push(bip32(A, fp, PATH_A))
      return { psbt: psbtOf(s), field: 'inputs[2]', rule: /not the key's P2PKH, P2SH-P2WPKH, P2WPKH or P2TR/ }
    }),
    {
      name: 'no input the key owns',
      scope: 'hd',
      make: () => {
        const s = base()
        s.inputs[0] = [nwu(prev), wu(50_000n, scriptOf(A, 'p2wpkh').script)]
        s.inputs[1] = [wu(60_000n, scriptOf(T, 'p2tr').script)]
        return { psbt: psbtOf(s), field: 'psbt', rule: /no input the key owns/ }
      },
    },
    {
      name: 'a change output named with a key the account does not derive',
      scope: 'hd',
      make: () => {
        const s = base()
        s.outputs[1] = [bip32(F, fp, PATH_A, 0x02)]
        return { psbt: psbtOf(s), field: 'outputs[1].bip32Derivation', rule: /key differs/ }
      },
    },
    any('outputs above the inputs', () => {
      const s = base()
      s.outs[0] = { script: scriptOf(F, 'p2tr').script, amount: 200_000n }
      return { psbt: psbtOf(s), field: 'outputs', rule: /more than the inputs/ }
    }),
    any('finalize with an input of another key', () => ({ psbt: psbtOf(base()), field: 'finalize', rule: /inputs 2 are not/, extra: { finalize: true } })),
    { name: 'a 31-byte private key', scope: 'module', make: () => ({ psbt: psbtOf(base()), field: 'keys', rule: /32-byte/, extra: { keys: new Uint8Array(31).fill(1) } }) },
    {
      name: 'an HD source with a 3-byte fingerprint',
      scope: 'module',
      make: () => ({ psbt: psbtOf(base()), field: 'keys.fingerprint', rule: /4 bytes/, extra: { keys: { fingerprint: new Uint8Array(3), derive: () => new Uint8Array(32) } } }),
    },
    any('an unknown network', () => ({ psbt: psbtOf(base()), field: 'network', rule: /mainnet, testnet, signet, regtest/, extra: { network: 'litecoin' as 'mainnet' } }), {
      wire: { rule: /"mainnet"\|"testnet"\|"signet"\|"regtest"/ },
    }),
    any('a sighash type BIP-341 does not define in allow.sighashTypes', () => ({ psbt: psbtOf(base()), field: 'allow.sighashTypes', rule: /0x01, 0x02/, extra: { allow: { sighashTypes: [0x41] } } }), {
      wire: { field: 'allow.sighashTypes.0', rule: /expected one of 1\|2\|3\|129\|130\|131/ },
    }),
    { name: 'auxRand of 31 bytes', scope: 'module', make: () => ({ psbt: psbtOf(base()), field: 'auxRand', rule: /32 bytes/, extra: { auxRand: new Uint8Array(31) } }) },
  ]
  return { prev, base, psbtOf, cases }
}
