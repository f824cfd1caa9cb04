import { InvalidArgumentError } from '@enclave-custody/sdk'
import { schnorr } from '@noble/curves/secp256k1.js'
import { base64, hex } from '@scure/base'
import { _DebugPSBT, OutScript, p2pkh, p2sh, p2wpkh, Transaction } from '@scure/btc-signer'
import { RawPSBTV0 } from '@scure/btc-signer/psbt.js'
import { RawOldTx } from '@scure/btc-signer/script.js'
import { equalBytes, sha256x2, taprootTweakPrivKey } from '@scure/btc-signer/utils.js'
import { type BitcoinNetwork, bitcoinNetworkParams, keyScripts, taprootScript } from './addresses.js'
import { type BitcoinFacts, bitcoinFacts } from './facts.js'
import { type BitcoinInspectionKeys, type BitcoinSigningKeys, checkSigningKeys, deriveChecked, formatBip32Path } from './keys.js'

/** Script types the enclave signs: P2PKH, P2SH-P2WPKH, P2WPKH (BIP-143) and P2TR key path (BIP-341). */
export type BitcoinInputType = 'p2pkh' | 'p2sh-p2wpkh' | 'p2wpkh' | 'p2tr'

/** The largest PSBT accepted (a standard transaction is at most 400,000 weight units; previous transactions add to it). */
const MAX_PSBT_BYTES = 3_000_000

/** Sighash types BIP-341 defines (ECDSA inputs take the same without 0x00). */
const SIGHASH_VALUES = [0x00, 0x01, 0x02, 0x03, 0x81, 0x82, 0x83] as const

export type SignBitcoinPsbtParameters = {
  /** A BIP-174 (version 0) PSBT, as bytes or base64. */
  psbt: Uint8Array | string
  network: BitcoinNetwork
  keys: BitcoinSigningKeys
  /** Finalize the inputs signed and extract the transaction; needs every input signed (or already final). @default false */
  finalize?: boolean
  allow?: {
    /** Accept segwit inputs whose amount only a `witnessUtxo` states (no `nonWitnessUtxo` proves it). @default false */
    unprovenSegwitAmounts?: boolean
    /** Sighash types accepted besides SIGHASH_ALL (and SIGHASH_DEFAULT on taproot inputs). @default [] */
    sighashTypes?: number[]
  }
  /** BIP-340 auxiliary randomness for taproot signatures (32 bytes); fresh random bytes when absent. For reproducible tests. */
  auxRand?: Uint8Array
}

/** What {@link inspectBitcoinPsbt} takes: as {@link SignBitcoinPsbtParameters}, with the keys' public side enough. */
export type InspectBitcoinPsbtParameters = Omit<SignBitcoinPsbtParameters, 'keys' | 'auxRand'> & { keys: BitcoinInspectionKeys }

export type SignBitcoinPsbtReturnType = {
  /** The PSBT with the signatures (finalized inputs when `finalize`), base64. */
  psbt: string
  /** Indices of the inputs signed, ascending. */
  signedInputs: number[]
  /** The network serialization of the final transaction, lower-case hex (only with `finalize`). */
  transaction?: string
  /** The final transaction's id (display order: the reversed double SHA-256 of its serialization without witnesses), lower-case hex (only with `finalize`). */
  txid?: string
  facts: BitcoinFacts
}

/** One input as the plan sees it. */
export type BitcoinPlannedInput = {
  index: number
  amount: bigint
  script: Uint8Array
  /** Whether a `nonWitnessUtxo` whose txid is the prevout's proves the amount and script. */
  proven: boolean
  /** Present when the key owns the input and it is not final yet: it will be signed. */
  sign?: { type: BitcoinInputType; sighash: number; path?: string; merkleRoot?: Uint8Array }
  /** Already has a final scriptSig or witness. */
  final: boolean
  /** Script type for the size estimate (`other` for scripts the enclave does not sign). */
  type: BitcoinInputType | 'other'
}

/** The outcome of {@link inspectBitcoinPsbt}: a checked PSBT, which inputs the key signs, the facts. */
export type BitcoinPsbtPlan = {
  network: BitcoinNetwork
  tx: Transaction
  inputs: BitcoinPlannedInput[]
  outputs: { script: Uint8Array; amount: bigint; isChange: boolean }[]
  /** The unsigned transaction (no scriptSigs, no witnesses). */
  unsignedTx: Uint8Array
  lockTime: number
  version: number
  facts: BitcoinFacts
}

const fail = (field: string, rule: string, cause?: unknown): never => {
  throw new InvalidArgumentError({ field, rule, ...(cause === undefined ? {} : { cause }) })
}

function psbtBytes(psbt: unknown): Uint8Array {
  if (psbt instanceof Uint8Array) {
    if (psbt.length === 0 || psbt.length > MAX_PSBT_BYTES) fail('psbt', `must be 1 to ${MAX_PSBT_BYTES} bytes`)
    return Uint8Array.from(psbt)
  }
  if (typeof psbt !== 'string') return fail('psbt', 'must be bytes or a base64 string')
  if (psbt.length === 0 || psbt.length > (MAX_PSBT_BYTES / 3) * 4) fail('psbt', `must be a non-empty base64 string of at most ${MAX_PSBT_BYTES} bytes`)
  try {
    return base64.decode(psbt)
  } catch (cause) {
    return fail('psbt', 'must be canonical base64 (RFC 4648, padded)', cause)
  }
}

type RawMaps = Record<string, Uint8Array>[]

/** The key-value maps of a PSBT's framing (global, inputs, outputs), keyed by hex key. */
function rawMaps(bytes: Uint8Array): RawMaps {
  try {
    return _DebugPSBT.decode(bytes).items as RawMaps
  } catch (cause) {
    return fail('psbt', 'is not a BIP-174 PSBT (magic, key-value maps, unique keys)', cause)
  }
}

/**
 * Re-serialization must give the input back: the same key-value records in every map, each value in its one
 * encoding, and the same total length (so no non-minimal length prefix). The order of records within a map is
 * not compared: BIP-174 fixes none, and writers differ (bitcoinjs-lib keeps insertion order, @scure/btc-signer
 * sorts by key type).
 */
function checkCanonical(bytes: Uint8Array, decoded: ReturnType<typeof RawPSBTV0.decode>): void {
  let again: Uint8Array
  try {
    again = RawPSBTV0.encode(decoded)
  } catch (cause) {
    throw new InvalidArgumentError({ field: 'psbt', rule: 'does not re-serialize (non-canonical field values)', cause })
  }
  if (equalBytes(again, bytes)) return
  const a = rawMaps(bytes)
  const b = rawMaps(again)
  const same =
    again.length === bytes.length &&
    a.length === b.length &&
    a.every((map, i) => {
      const other = b[i]!
      const keys = Object.keys(map)
      return keys.length === Object.keys(other).length && keys.every((k) => other[k] !== undefined && equalBytes(other[k], map[k]!))
    })
  if (!same) fail('psbt', 'is not canonical: re-serializing it gives other bytes (non-minimal lengths, trailing data or non-canonical values)')
}

const txidOf = (tx: Parameters<typeof RawOldTx.encode>[0]) => hex.encode(sha256x2(RawOldTx.encode(tx)).reverse())

function classify(script: Uint8Array, redeemScript: Uint8Array | undefined): BitcoinInputType | 'other' {
  let kind: string
  try {
    kind = OutScript.decode(script).type
  } catch {
    return 'other'
  }
  if (kind === 'pkh') return 'p2pkh'
  if (kind === 'wpkh') return 'p2wpkh'
  if (kind === 'tr') return 'p2tr'
  if (kind === 'sh' && redeemScript !== undefined) {
    try {
      if (OutScript.decode(redeemScript).type === 'wpkh') return 'p2sh-p2wpkh'
    } catch {
      return 'other'
    }
  }
  return 'other'
}

/** A key's output scripts for one inspection: the ECDSA ones at once (hashes), the taproot one (a point tweak) when asked. */
type KeyOutputs = { publicKey: Uint8Array; xOnlyPublicKey: Uint8Array; p2pkh: Uint8Array; p2shP2wpkh: Uint8Array; p2wpkh: Uint8Array; readonly p2tr: Uint8Array }
type ScriptsOf = (publicKey: Uint8Array) => KeyOutputs
function scriptsMemo(): ScriptsOf {
  const memo = new Map<string, KeyOutputs>()
  return (publicKey) => {
    const id = hex.encode(publicKey)
    let s = memo.get(id)
    if (s === undefined) {
      const compressed = publicKey.length === 33 ? publicKey : keyScripts(publicKey).publicKey
      const xOnlyPublicKey = compressed.subarray(1)
      const wpkh = p2wpkh(compressed)
      let tr: Uint8Array | undefined
      s = {
        publicKey: compressed,
        xOnlyPublicKey,
        p2pkh: p2pkh(compressed).script,
        p2shP2wpkh: p2sh(wpkh).script,
        p2wpkh: wpkh.script,
        get p2tr() {
          tr ??= taprootScript(xOnlyPublicKey)
          return tr
        },
      }
      memo.set(id, s)
    }
    return s
  }
}

const isWitnessV1 = (script: Uint8Array) => script.length === 34 && script[0] === 0x51 && script[1] === 0x20

/** Whether `script` (with its redeem script) is one of the key's outputs, and which. */
function ownedType(scriptsOf: ScriptsOf, publicKey: Uint8Array, script: Uint8Array, redeemScript: Uint8Array | undefined, tap: { internalKey?: Uint8Array; merkleRoot?: Uint8Array }): BitcoinInputType | undefined {
  const s = scriptsOf(publicKey)
  if (equalBytes(script, s.p2pkh)) return 'p2pkh'
  if (equalBytes(script, s.p2wpkh)) return 'p2wpkh'
  if (equalBytes(script, s.p2shP2wpkh)) return redeemScript !== undefined && equalBytes(redeemScript, s.p2wpkh) ? 'p2sh-p2wpkh' : undefined
  if (isWitnessV1(script)) {
    if (tap.merkleRoot === undefined && equalBytes(script, s.p2tr)) return 'p2tr'
    if (tap.internalKey !== undefined && equalBytes(tap.internalKey, s.xOnlyPublicKey) && equalBytes(script, taprootScript(s.xOnlyPublicKey, tap.merkleRoot))) return 'p2tr'
  }
  return undefined
}

/**
 * Parses and checks a PSBT against a key, and plans its signature: which inputs the key owns, their sighash,
 * and the policy facts — without signing anything. {@link signBitcoinPsbt} runs it first; a handler runs it
 * alone to get the facts a policy decides on.
 *
 * Refused with `InvalidArgumentError` (field and rule): bytes that are not canonical base64 or a well-formed,
 * canonical PSBT v0; PSBT v2; an input without UTXO data; two inputs spending the same outpoint; a
 * `nonWitnessUtxo` whose txid is not the prevout's or that lacks the output; a `witnessUtxo` that differs from
 * it; a non-taproot input without `nonWitnessUtxo` unless `allow.unprovenSegwitAmounts` (and a P2PKH input of the
 * key always); a derivation record naming the account whose derived key differs; an input
 * naming the key whose script is not the key's P2PKH, P2SH-P2WPKH, P2WPKH or P2TR key-path output; a sighash
 * type other than ALL (and DEFAULT on taproot) unless allowed; outputs above inputs; `finalize` with inputs the
 * key does not sign; no input the key signs.
 *
 * @param params - As {@link signBitcoinPsbt} takes them; the keys' public side (a compressed public key, or an HD
 *   account's fingerprint and public derivation) is enough.
 * @returns The plan (the parsed transaction, inputs, outputs, facts).
 * @throws InvalidArgumentError naming the field and the rule.
 * @example
 * const { facts } = inspectBitcoinPsbt({ psbt, network: 'mainnet', keys: hdSource })
 */
export function inspectBitcoinPsbt(params: InspectBitcoinPsbtParameters): BitcoinPsbtPlan {
  if (typeof params !== 'object' || params === null) fail('params', 'must be an object')
  const { network, allow = {}, finalize = false } = params
  bitcoinNetworkParams(network)
  if (typeof finalize !== 'boolean') fail('finalize', 'must be a boolean')
  if (typeof allow !== 'object' || allow === null) fail('allow', 'must be an object')
  const unproven = allow.unprovenSegwitAmounts ?? false
  if (typeof unproven !== 'boolean') fail('allow.unprovenSegwitAmounts', 'must be a boolean')
  const extraSighash = allow.sighashTypes ?? []
  if (!Array.isArray(extraSighash) || !extraSighash.every((s) => (SIGHASH_VALUES as readonly unknown[]).includes(s) && s !== 0))
    fail('allow.sighashTypes', 'must list sighash types among 0x01, 0x02, 0x03, 0x81, 0x82, 0x83')
  const keys = checkSigningKeys(params.keys)

  const bytes = psbtBytes(params.psbt)
  const maps = rawMaps(bytes)
  const versionRecord = maps[0]?.fb
  if (versionRecord !== undefined) {
    const v = versionRecord.length === 4 ? new DataView(versionRecord.buffer, versionRecord.byteOffset).getUint32(0, true) : -1
    if (v !== 0) fail('psbt', `must be a PSBT version 0 (BIP-174): version ${v === -1 ? '(malformed)' : v} is not supported`)
  }
  let decoded: ReturnType<typeof RawPSBTV0.decode>
  try {
    decoded = RawPSBTV0.decode(bytes)
  } catch (cause) {
    return fail('psbt', 'is not a well-formed BIP-174 PSBT', cause)
  }
  checkCanonical(bytes, decoded)
  const unsigned = decoded.global.unsignedTx
  if (unsigned === undefined) return fail('psbt', 'has no unsigned transaction')
  if (unsigned.inputs.length === 0) fail('psbt', 'has no inputs')
  if (decoded.outputs.length !== unsigned.outputs.length) fail('psbt', 'must have one output map per output')

  const scriptsOf = scriptsMemo()
  const seen = new Map<string, number>()
  const inputs: BitcoinPlannedInput[] = []
  const derived = new Map<string, Uint8Array>()
  const pubAt = (path: string, field: string) => {
    if (keys.kind !== 'hd') throw new Error('unreachable')
    let pub = derived.get(path)
    if (pub === undefined) {
      pub = keys.publicAt(path, field)
      derived.set(path, pub)
    }
    return pub
  }
  let signsTaprootAll = false
  for (const [i, txIn] of unsigned.inputs.entries()) {
    const input = decoded.inputs[i]!
    const field = `inputs[${i}]`
    const outpoint = `${hex.encode(txIn.txid)}:${txIn.index}`
    const dup = seen.get(outpoint)
    if (dup !== undefined) fail(field, `spends the same outpoint as inputs[${dup}]`)
    seen.set(outpoint, i)
    const { nonWitnessUtxo, witnessUtxo } = input
    if (nonWitnessUtxo === undefined && witnessUtxo === undefined) fail(field, 'has no UTXO data (witnessUtxo or nonWitnessUtxo)')
    let prev = witnessUtxo
    if (nonWitnessUtxo !== undefined) {
      if (txidOf(nonWitnessUtxo) !== hex.encode(txIn.txid)) fail(`${field}.nonWitnessUtxo`, "must hash to the input's prevout txid")
      const out = nonWitnessUtxo.outputs[txIn.index]
      if (out === undefined) return fail(`${field}.nonWitnessUtxo`, "has no output at the input's prevout index")
      if (witnessUtxo !== undefined && (witnessUtxo.amount !== out.amount || !equalBytes(witnessUtxo.script, out.script)))
        fail(`${field}.witnessUtxo`, 'must equal the nonWitnessUtxo output it spends (amount and script)')
      prev = out
    }
    const { amount, script } = prev!
    const type = classify(script, input.redeemScript)
    const final = (input.finalScriptSig?.length ?? 0) > 0 || (input.finalScriptWitness?.length ?? 0) > 0
    if (nonWitnessUtxo === undefined && !isWitnessV1(script) && !unproven) {
      // A legacy input's amount is in no signature; a segwit v0 signature commits only to its own input's.
      const legacy = type === 'p2pkh' || (type === 'other' && script.length > 0 && script[0] !== 0x00 && !(script.length === 23 && script[0] === 0xa9))
      fail(
        `${field}.nonWitnessUtxo`,
        legacy
          ? 'is required for a legacy (non-segwit) input'
          : "is required: only the previous transaction proves a segwit v0 input's amount (allow.unprovenSegwitAmounts accepts it)",
      )
    }
    const tap = { internalKey: input.tapInternalKey, merkleRoot: input.tapMerkleRoot }
    let owner: { type: BitcoinInputType; path?: string } | undefined
    let named = false
    if (keys.kind === 'hd') {
      for (const [pub, der] of input.bip32Derivation ?? []) {
        if (der.fingerprint !== keys.fingerprint) continue
        named = true
        const path = formatBip32Path(der.path)
        const mine = pubAt(path, `${field}.bip32Derivation`)
        if (!equalBytes(scriptsOf(pub).publicKey, mine) || pub.length !== 33) fail(`${field}.bip32Derivation`, `names the signing account at ${path}, whose key differs from the one named`)
        const t = ownedType(scriptsOf, mine, script, input.redeemScript, tap)
        if (t !== undefined) owner ??= { type: t, path }
      }
      for (const [xonly, { der }] of input.tapBip32Derivation ?? []) {
        if (der.fingerprint !== keys.fingerprint) continue
        named = true
        const path = formatBip32Path(der.path)
        const mine = pubAt(path, `${field}.tapBip32Derivation`)
        if (!equalBytes(xonly, mine.subarray(1))) fail(`${field}.tapBip32Derivation`, `names the signing account at ${path}, whose key differs from the one named`)
        const t = ownedType(scriptsOf, mine, script, input.redeemScript, tap)
        if (t === 'p2tr') owner ??= { type: t, path }
      }
    } else {
      const pub = keys.publicKey
      const x = pub.subarray(1)
      named =
        (input.bip32Derivation ?? []).some(([p]) => equalBytes(scriptsOf(p).publicKey, pub)) ||
        (input.tapBip32Derivation ?? []).some(([p]) => equalBytes(p, x)) ||
        (input.tapInternalKey !== undefined && equalBytes(input.tapInternalKey, x))
      const t = ownedType(scriptsOf, pub, script, input.redeemScript, tap)
      if (t !== undefined) owner = { type: t }
    }
    if (named && owner === undefined)
      fail(field, "names the signing key but its script is not the key's P2PKH, P2SH-P2WPKH, P2WPKH or P2TR key-path output")
    const planned: BitcoinPlannedInput = { index: i, amount, script, proven: nonWitnessUtxo !== undefined, final, type }
    if (owner !== undefined && !final) {
      if (owner.type === 'p2pkh' && nonWitnessUtxo === undefined) fail(`${field}.nonWitnessUtxo`, 'is required for a legacy (non-segwit) input')
      const taproot = owner.type === 'p2tr'
      const sighash = input.sighashType ?? (taproot ? 0x00 : 0x01)
      const allowed = taproot ? [0x00, 0x01, ...extraSighash] : [0x01, ...extraSighash]
      if (!allowed.includes(sighash)) fail(`${field}.sighashType`, `must be ${taproot ? 'SIGHASH_DEFAULT or SIGHASH_ALL' : 'SIGHASH_ALL'} (allow.sighashTypes accepts others)`)
      if ((sighash & 0x1f) === 0x03 && i >= unsigned.outputs.length) fail(`${field}.sighashType`, "is SIGHASH_SINGLE without an output at the input's index")
      if (taproot && (sighash & 0x80) === 0) signsTaprootAll = true
      planned.sign = { type: owner.type, sighash, ...(owner.path === undefined ? {} : { path: owner.path }), ...(taproot && tap.merkleRoot !== undefined ? { merkleRoot: tap.merkleRoot } : {}) }
    }
    inputs.push(planned)
  }
  if (!inputs.some((p) => p.sign !== undefined)) fail('psbt', 'has no input the key owns (or all of them are already final)')
  if (finalize) {
    const others = inputs.filter((p) => p.sign === undefined && !p.final).map((p) => p.index)
    if (others.length > 0) fail('finalize', `needs every input signed or final: inputs ${others.join(', ')} are not the key's`)
  }

  const outputs = unsigned.outputs.map((out: { script: Uint8Array; amount: bigint }, j: number): BitcoinPsbtPlan['outputs'][number] => {
    const meta = decoded.outputs[j]!
    const field = `outputs[${j}]`
    let isChange = false
    if (keys.kind === 'hd') {
      for (const [pub, der] of meta.bip32Derivation ?? []) {
        if (der.fingerprint !== keys.fingerprint) continue
        const path = formatBip32Path(der.path)
        const mine = pubAt(path, `${field}.bip32Derivation`)
        if (!equalBytes(scriptsOf(pub).publicKey, mine) || pub.length !== 33) fail(`${field}.bip32Derivation`, `names the signing account at ${path}, whose key differs from the one named`)
        const s = scriptsOf(mine)
        if ([s.p2pkh, s.p2shP2wpkh, s.p2wpkh].some((k) => equalBytes(k, out.script))) isChange = true
      }
      for (const [xonly, { der }] of meta.tapBip32Derivation ?? []) {
        if (der.fingerprint !== keys.fingerprint) continue
        const path = formatBip32Path(der.path)
        const mine = pubAt(path, `${field}.tapBip32Derivation`)
        if (!equalBytes(xonly, mine.subarray(1))) fail(`${field}.tapBip32Derivation`, `names the signing account at ${path}, whose key differs from the one named`)
        if (equalBytes(out.script, scriptsOf(mine).p2tr)) isChange = true
      }
    } else {
      const s = scriptsOf(keys.publicKey)
      isChange = [s.p2pkh, s.p2shP2wpkh, s.p2wpkh].some((k) => equalBytes(k, out.script)) || (isWitnessV1(out.script) && equalBytes(s.p2tr, out.script))
    }
    return { script: out.script, amount: out.amount, isChange }
  })
  const totalIn = inputs.reduce((a, p) => a + p.amount, 0n)
  const totalOut = outputs.reduce((a: bigint, o: { amount: bigint }) => a + o.amount, 0n)
  if (totalOut > totalIn) fail('outputs', 'spend more than the inputs hold')

  let tx: Transaction
  try {
    // Script checks off: the inputs the key signs were matched script for script above; another party's inputs
    // (a P2PK output with a witnessUtxo, say) are not this signer's to judge.
    tx = Transaction.fromPSBT(bytes, { unknown: 'ignore', proprietary: 'ignore', allowUnknownOutputs: true, allowUnknownInputs: true, allowUnknownVersion: true, disableScriptCheck: true })
  } catch (cause) {
    return fail('psbt', 'is not consistent (scripts, redeem scripts or taproot commitments)', cause)
  }
  const plan: Omit<BitcoinPsbtPlan, 'facts'> = {
    network,
    tx,
    inputs,
    outputs,
    unsignedTx: tx.unsignedTx,
    lockTime: unsigned.lockTime,
    version: unsigned.version,
  }
  const amountsProven = inputs.every((p) => p.proven || (isWitnessV1(p.script) && signsTaprootAll))
  return { ...plan, facts: bitcoinFacts(plan, { amountsProven }) }
}

/**
 * Signs every input of a PSBT v0 (BIP-174) that the key owns: P2PKH (legacy sighash), P2WPKH and P2SH-P2WPKH
 * (BIP-143), P2TR key path (BIP-341 sighash, BIP-340 Schnorr with the taproot tweak of the input's merkle root,
 * empty when absent). Sighashes come from @scure/btc-signer; ECDSA signatures are its RFC 6979 low-S signatures
 * (the same bytes bitcoinjs-lib and Bitcoin Core produce); taproot signatures are @noble/curves Schnorr.
 *
 * With one private key, an input is the key's when its prevout script is the key's P2PKH, P2SH-P2WPKH (with the
 * P2WPKH redeem script), P2WPKH or BIP-86 P2TR output (or the P2TR output of the key as `tapInternalKey` and
 * `tapMerkleRoot`). With an HD source, when a `bip32Derivation` / `tapBip32Derivation` record names its
 * fingerprint, the key derived at the path equals the one named, and the script is that key's output. Every
 * derived private key is zeroed after use. All checks run before the first signature (see
 * {@link inspectBitcoinPsbt}): a refused PSBT gets no signature.
 *
 * @param params - The PSBT, its network, the keys, and options.
 * @returns The signed PSBT (base64), the indices signed, the final transaction and its txid (with `finalize`), the facts.
 * @throws InvalidArgumentError naming the field and the rule (nothing signed).
 * @example
 * import { HDKey } from '@scure/bip32'
 * const root = HDKey.fromMasterSeed(seed)
 * const keys = { fingerprint: root.identifier!.slice(0, 4), derive: (path: string) => root.derive(path).privateKey! }
 * const { psbt: signed, transaction } = signBitcoinPsbt({ psbt, network: 'mainnet', keys, finalize: true })
 */
export function signBitcoinPsbt(params: SignBitcoinPsbtParameters): SignBitcoinPsbtReturnType {
  const auxRand = params?.auxRand
  if (auxRand !== undefined && (!(auxRand instanceof Uint8Array) || auxRand.length !== 32)) fail('auxRand', 'must be 32 bytes')
  const keys = params?.keys
  if (!(keys instanceof Uint8Array) && !(typeof keys === 'object' && keys !== null && Object.hasOwn(keys, 'derive'))) {
    fail('keys', 'must be a 32-byte secp256k1 private key or an HD account source')
  }
  const plan = inspectBitcoinPsbt(params)
  const { tx } = plan
  const single = params.keys instanceof Uint8Array ? params.keys : undefined
  const signedInputs: number[] = []
  const amounts = plan.inputs.map((p) => p.amount)
  const scripts = plan.inputs.map((p) => p.script)
  for (const p of plan.inputs) {
    const { sign } = p
    if (sign === undefined) continue
    const key = single !== undefined ? Uint8Array.from(single) : deriveChecked(params.keys as Exclude<BitcoinSigningKeys, Uint8Array>, sign.path!, `inputs[${p.index}]`)
    try {
      if (sign.type === 'p2tr') {
        const tweaked = taprootTweakPrivKey(key, sign.merkleRoot ?? new Uint8Array(0))
        try {
          const digest = tx.preimageWitnessV1(p.index, scripts, sign.sighash, amounts)
          const sig = schnorr.sign(digest, tweaked, auxRand)
          const tapKeySig = sign.sighash === 0 ? sig : Uint8Array.of(...sig, sign.sighash)
          tx.updateInput(p.index, { tapKeySig }, true)
        } finally {
          tweaked.fill(0)
        }
      } else {
        tx.signIdx(key, p.index, [sign.sighash])
      }
    } finally {
      key.fill(0)
    }
    signedInputs.push(p.index)
  }
  const facts = { ...plan.facts, inputsSigned: signedInputs.length }
  if (params.finalize === true) {
    for (const i of signedInputs) tx.finalizeIdx(i)
    return { psbt: base64.encode(tx.toPSBT(0)), signedInputs, transaction: tx.hex, txid: tx.id, facts }
  }
  return { psbt: base64.encode(tx.toPSBT(0)), signedInputs, facts }
}
