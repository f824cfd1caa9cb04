import { hmac } from '@noble/hashes/hmac.js'
import { sha512 } from '@noble/hashes/sha2.js'
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js'
import { base64, hex } from '@scure/base'
import { _DebugPSBT, OutScript, p2pkh, p2sh, p2wpkh, Transaction } from '@scure/btc-signer'
import { RawPSBTV0 } from '@scure/btc-signer/psbt.js'
import { RawOldTx } from '@scure/btc-signer/script.js'
import { equalBytes, sha256x2, taprootTweakPubkey } from '@scure/btc-signer/utils.js'
import { IntegrityError, InvalidArgumentError } from '../../errors/CustodyError.js'
import type { SignedBitcoinPsbtWire } from './protocol.js'

/**
 * The keys whose signatures a PSBT may gain: one compressed public key, or an HD account (its master
 * fingerprint; with its extended public key and path when the enclave reports them, so that every key the PSBT
 * names under the fingerprint is derived and compared).
 */
export type BitcoinVerificationKeys =
  | { kind: 'single'; publicKey: Uint8Array }
  | { kind: 'hd'; fingerprint: number; account?: { publicKey: Uint8Array; chainCode: Uint8Array; path?: readonly number[] } }

/** What a verified signature of a PSBT is: the PSBT (base64), the inputs signed, and when finalized the transaction and its id. */
export type VerifiedBitcoinPsbt = { psbt: string; signedInputs: number[]; transaction?: string; txid?: string }

type Decoded = ReturnType<typeof RawPSBTV0.decode>
type DecodedInput = Decoded['inputs'][number]
type InputType = 'p2pkh' | 'p2sh-p2wpkh' | 'p2wpkh' | 'p2tr'

/** Transaction options that read any PSBT the enclave accepts (scripts are checked here, input by input). */
export const LENIENT_PSBT = {
  unknown: 'ignore',
  proprietary: 'ignore',
  allowUnknownOutputs: true,
  allowUnknownInputs: true,
  allowUnknownVersion: true,
  disableScriptCheck: true,
} as const

/** A request's PSBT, read once before anything is sent: the raw maps, the decoded fields, a transaction for sighashes. */
export type ParsedRequestPsbt = { bytes: Uint8Array; maps: Record<string, Uint8Array>[]; decoded: Decoded; tx: Transaction }

const HARDENED = 0x80000000
const N = secp256k1.Point.CURVE().n

/**
 * Parse the PSBT of a request (bytes the SDK will send) far enough to verify the answer: the framing maps, the
 * decoded fields (version 0, an unsigned transaction), and a transaction for sighashes.
 *
 * @param bytes - The PSBT.
 * @returns The parsed request.
 * @throws InvalidArgumentError naming `psbt` when it is not a PSBT v0.
 */
export function parseRequestPsbt(bytes: Uint8Array): ParsedRequestPsbt {
  try {
    const maps = _DebugPSBT.decode(bytes).items as Record<string, Uint8Array>[]
    const decoded = RawPSBTV0.decode(bytes)
    if (decoded.global.unsignedTx === undefined) throw new Error('no unsigned transaction')
    const tx = Transaction.fromPSBT(bytes, LENIENT_PSBT)
    return { bytes, maps, decoded, tx }
  } catch (cause) {
    throw new InvalidArgumentError({ field: 'psbt', rule: 'must be a BIP-174 PSBT (version 0) with an unsigned transaction', cause })
  }
}

const integrity = (reason: string): never => {
  throw new IntegrityError({ reason })
}

const sameMap = (a: Record<string, Uint8Array>, b: Record<string, Uint8Array>) => {
  const keys = Object.keys(a)
  return keys.length === Object.keys(b).length && keys.every((k) => b[k] !== undefined && equalBytes(a[k]!, b[k]!))
}

/** BIP-32 CKDpub: the compressed public key and chain code of an unhardened child. */
function childOf(node: { publicKey: Uint8Array; chainCode: Uint8Array }, index: number) {
  const data = new Uint8Array(37)
  data.set(node.publicKey)
  new DataView(data.buffer).setUint32(33, index, false)
  const I = hmac(sha512, node.chainCode, data)
  const il = BigInt(`0x${hex.encode(I.subarray(0, 32))}`)
  if (il >= N) throw new Error('invalid child')
  const point = secp256k1.Point.BASE.multiply(il).add(secp256k1.Point.fromBytes(node.publicKey))
  return { publicKey: point.toBytes(true), chainCode: I.slice(32) }
}

/** The prevout (script, amount) an input spends, from the request: its `nonWitnessUtxo` (checked) or `witnessUtxo`. */
function prevoutOf(decoded: Decoded, i: number): { script: Uint8Array; amount: bigint } | undefined {
  const txIn = decoded.global.unsignedTx!.inputs[i]!
  const input = decoded.inputs[i]!
  if (input.nonWitnessUtxo !== undefined) {
    const txid = sha256x2(RawOldTx.encode(input.nonWitnessUtxo)).reverse()
    if (!equalBytes(txid, txIn.txid)) return undefined
    return input.nonWitnessUtxo.outputs[txIn.index]
  }
  return input.witnessUtxo
}

/** The key's (public key, type) that owns an input, by its script, or undefined. */
function ownerOf(keys: BitcoinVerificationKeys, input: DecodedInput, script: Uint8Array, i: number): { type: InputType; publicKey?: Uint8Array } | undefined {
  const ecdsa = (pub: Uint8Array): InputType | undefined => {
    if (equalBytes(script, p2pkh(pub).script)) return 'p2pkh'
    const wpkh = p2wpkh(pub).script
    if (equalBytes(script, wpkh)) return 'p2wpkh'
    if (input.redeemScript !== undefined && equalBytes(input.redeemScript, wpkh) && equalBytes(script, p2sh(p2wpkh(pub)).script)) return 'p2sh-p2wpkh'
    return undefined
  }
  const taproot = (xonly: Uint8Array) => {
    if (script.length !== 34 || script[0] !== 0x51 || script[1] !== 0x20) return false
    const [outputKey] = taprootTweakPubkey(xonly, input.tapMerkleRoot ?? new Uint8Array(0))
    return equalBytes(script.subarray(2), outputKey)
  }
  if (keys.kind === 'single') {
    const t = ecdsa(keys.publicKey)
    if (t !== undefined) return { type: t, publicKey: keys.publicKey }
    return taproot(keys.publicKey.subarray(1)) ? { type: 'p2tr' } : undefined
  }
  const derived = (path: readonly number[], named: Uint8Array, record: string) => {
    const { account } = keys
    if (account === undefined) return
    const prefix = account.path
    const below = prefix === undefined ? undefined : path.slice(prefix.length)
    if (prefix === undefined || path.length <= prefix.length || prefix.some((p, k) => path[k] !== p) || below!.some((x) => x >= HARDENED)) {
      integrity(`input ${i}'s ${record} names the account's fingerprint at a path its extended public key does not derive`)
    }
    let node = { publicKey: account.publicKey, chainCode: account.chainCode }
    for (const index of below!) node = childOf(node, index)
    const matches = named.length === 32 ? equalBytes(node.publicKey.subarray(1), named) : equalBytes(node.publicKey, named)
    if (!matches) integrity(`input ${i}'s ${record} names a key the account does not derive at its path`)
  }
  for (const [pub, der] of input.bip32Derivation ?? []) {
    if (der.fingerprint !== keys.fingerprint || pub.length !== 33) continue
    derived(der.path, pub, 'bip32Derivation')
    const t = ecdsa(pub)
    if (t !== undefined) return { type: t, publicKey: pub }
  }
  for (const [xonly, { der }] of input.tapBip32Derivation ?? []) {
    if (der.fingerprint !== keys.fingerprint) continue
    derived(der.path, xonly, 'tapBip32Derivation')
    if (taproot(xonly)) return { type: 'p2tr' }
  }
  return undefined
}

/** A strict DER ECDSA signature with a sighash byte, low-s, by `publicKey` over `digest`. */
function checkEcdsa(sig: Uint8Array, publicKey: Uint8Array, digest: Uint8Array, sighash: number, i: number): void {
  if (sig.length < 9 || sig[sig.length - 1] !== sighash) integrity(`input ${i}'s signature does not carry the sighash type ${sighash}`)
  const der = sig.subarray(0, -1)
  let ok = false
  try {
    const parsed = secp256k1.Signature.fromBytes(der, 'der')
    ok = equalBytes(parsed.toBytes('der'), der) && secp256k1.verify(der, digest, publicKey, { prehash: false, lowS: true, format: 'der' })
  } catch {
    ok = false
  }
  if (!ok) integrity(`input ${i}'s signature is not a valid low-s ECDSA signature of the key over the input's sighash`)
}

/** A BIP-340 signature (with the sighash byte unless DEFAULT) by the taproot output key over `digest`. */
function checkSchnorr(sig: Uint8Array, outputKey: Uint8Array, digest: Uint8Array, sighash: number, i: number): void {
  const expectedLength = sighash === 0 ? 64 : 65
  if (sig.length !== expectedLength || (sighash !== 0 && sig[64] !== sighash)) integrity(`input ${i}'s taproot signature does not carry the sighash type ${sighash}`)
  let ok = false
  try {
    ok = schnorr.verify(sig.subarray(0, 64), digest, outputKey)
  } catch {
    ok = false
  }
  if (!ok) integrity(`input ${i}'s taproot signature is not a valid BIP-340 signature of the tweaked key over the input's sighash`)
}

/** The signature and public key of a finalized ECDSA input, read strictly from its final scriptSig / witness. */
function finalEcdsa(type: InputType, scriptSig: Uint8Array | undefined, witness: Uint8Array[] | undefined, redeemScript: Uint8Array | undefined, i: number): { sig: Uint8Array; pub: Uint8Array } {
  const bad = () => integrity(`input ${i}'s final scriptSig / witness is not the ${type} satisfaction of one signature`)
  if (type === 'p2pkh') {
    if (witness !== undefined && witness.length > 0) bad()
    const s = scriptSig ?? new Uint8Array(0)
    const l = s[0] ?? 0
    if (l < 9 || l > 73 || s.length !== 1 + l + 1 + 33 || s[1 + l] !== 33) bad()
    return { sig: s.slice(1, 1 + l), pub: s.slice(2 + l) }
  }
  if (type === 'p2wpkh' && scriptSig !== undefined && scriptSig.length > 0) bad()
  if (type === 'p2sh-p2wpkh') {
    if (scriptSig === undefined || redeemScript === undefined || scriptSig.length !== 1 + redeemScript.length || scriptSig[0] !== redeemScript.length || !equalBytes(scriptSig.subarray(1), redeemScript)) bad()
  }
  if (witness === undefined || witness.length !== 2 || witness[1]!.length !== 33) bad()
  return { sig: witness![0]!, pub: witness![1]! }
}

/**
 * Verify the enclave's signature of a PSBT against the request, independently of the enclave: the returned PSBT
 * must hold the request's global map and outputs unchanged, and each input unchanged except, on the inputs
 * signed, the signature of the key's own public key (a partial signature for P2PKH / P2SH-P2WPKH / P2WPKH, a
 * taproot key-path signature for P2TR) — or, with `finalize`, the final scriptSig / witness that carries it
 * (other fields of a finalized input may be cleared, its UTXOs never). Every signature is verified over the
 * sighash computed here from the request's own transaction and prevouts: ECDSA strict DER and low-s (legacy and
 * BIP-143 sighashes), BIP-340 by the input's tweaked output key (BIP-341 sighash). With `finalize`, every input
 * must be final, and the transaction and txid must be those extracted here.
 *
 * @param request - The request's parsed PSBT (see {@link parseRequestPsbt}).
 * @param result - The enclave's answer.
 * @param options - Whether finalization was asked, and the key's public side.
 * @returns The verified PSBT and the transaction and txid computed here.
 * @throws IntegrityError naming what does not hold.
 */
export function verifySignedPsbt(request: ParsedRequestPsbt, result: SignedBitcoinPsbtWire, { finalize, keys }: { finalize: boolean; keys: BitcoinVerificationKeys }): VerifiedBitcoinPsbt {
  let bytes: Uint8Array
  let maps: Record<string, Uint8Array>[]
  let decoded: Decoded
  try {
    bytes = base64.decode(result.psbt)
    maps = _DebugPSBT.decode(bytes).items as Record<string, Uint8Array>[]
    decoded = RawPSBTV0.decode(bytes)
  } catch {
    return integrity('the signed PSBT does not parse')
  }
  const req = request.decoded
  const unsigned = req.global.unsignedTx!
  const nIn = unsigned.inputs.length
  if (maps.length !== request.maps.length || decoded.inputs.length !== nIn) integrity('the signed PSBT has another number of inputs or outputs')
  if (!sameMap(request.maps[0]!, maps[0]!)) integrity('the signed PSBT changes the global map (the unsigned transaction, its version or extended keys)')
  for (let j = 1 + nIn; j < maps.length; j++) if (!sameMap(request.maps[j]!, maps[j]!)) integrity(`the signed PSBT changes output ${j - 1 - nIn}`)

  const prevouts: ({ script: Uint8Array; amount: bigint } | undefined)[] = Array.from({ length: nIn }, (_, i) => prevoutOf(req, i))
  const signed: number[] = []
  for (let i = 0; i < nIn; i++) {
    const before = request.maps[1 + i]!
    const after = maps[1 + i]!
    if (sameMap(before, after)) continue
    signed.push(i)
    const changed = Object.keys(before).filter((k) => after[k] !== undefined && !equalBytes(before[k]!, after[k]!))
    const added = Object.keys(after).filter((k) => before[k] === undefined)
    const removed = Object.keys(before).filter((k) => after[k] === undefined)
    if (changed.length > 0) integrity(`the signed PSBT changes fields of input ${i}`)
    const input = req.inputs[i]!
    const prev = prevouts[i]
    if (prev === undefined) return integrity(`the signed PSBT signs input ${i}, whose prevout the request does not prove`)
    const owner = ownerOf(keys, input, prev.script, i)
    if (owner === undefined) return integrity(`the signed PSBT adds data to input ${i}, which is not the key's`)
    const taproot = owner.type === 'p2tr'
    const sighash = input.sighashType ?? (taproot ? 0 : 1)
    const out = decoded.inputs[i]!
    let sig: Uint8Array
    let pub: Uint8Array | undefined
    if (finalize) {
      if (removed.includes('00') || removed.includes('01')) integrity(`the signed PSBT drops the UTXO of input ${i}`)
      if (added.some((k) => k !== '07' && k !== '08')) integrity(`the signed PSBT adds other fields than the final scriptSig / witness to input ${i}`)
      if (taproot) {
        if ((out.finalScriptSig?.length ?? 0) > 0 || out.finalScriptWitness?.length !== 1) integrity(`input ${i}'s final witness is not one taproot key-path signature`)
        sig = out.finalScriptWitness![0]!
      } else {
        ;({ sig, pub } = finalEcdsa(owner.type, out.finalScriptSig, out.finalScriptWitness, input.redeemScript, i))
      }
    } else {
      if (removed.length > 0) integrity(`the signed PSBT removes fields of input ${i}`)
      if (taproot) {
        if (added.length !== 1 || added[0] !== '13') integrity(`the signed PSBT adds other fields than the key's taproot signature to input ${i}`)
        sig = out.tapKeySig!
      } else {
        if (added.length !== 1 || !added[0]!.startsWith('02')) integrity(`the signed PSBT adds other fields than the key's partial signature to input ${i}`)
        pub = hex.decode(added[0]!.slice(2))
        sig = after[added[0]!]!
      }
    }
    if (taproot) {
      if (prevouts.some((p) => p === undefined)) integrity(`the signed PSBT signs taproot input ${i}, but the request does not prove every prevout its sighash commits to`)
      const digest = request.tx.preimageWitnessV1(
        i,
        prevouts.map((p) => p!.script),
        sighash,
        prevouts.map((p) => p!.amount),
      )
      checkSchnorr(sig, prev.script.subarray(2), digest, sighash, i)
    } else {
      if (pub === undefined || !equalBytes(pub, owner.publicKey!)) integrity(`the signed PSBT adds a signature of another key than the key's to input ${i}`)
      const digest =
        owner.type === 'p2pkh'
          ? (request.tx as unknown as { preimageLegacy(i: number, script: Uint8Array, sighash: number): Uint8Array }).preimageLegacy(i, prev.script, sighash)
          : request.tx.preimageWitnessV0(i, OutScript.encode({ type: 'pkh', hash: p2wpkh(pub!).hash! }), sighash, prev.amount)
      checkEcdsa(sig, pub!, digest, sighash, i)
    }
  }
  if (signed.length === 0) integrity('the signed PSBT has no new signature')
  if (result.signedInputs.length !== signed.length || result.signedInputs.some((s, k) => s !== signed[k])) integrity('"signedInputs" does not list the inputs the PSBT signs')

  if (!finalize) {
    if (result.transaction !== undefined || result.txid !== undefined) integrity('the answer carries a transaction that was not asked for')
    return { psbt: result.psbt, signedInputs: signed }
  }
  for (let i = 0; i < nIn; i++) {
    const out = decoded.inputs[i]!
    if ((out.finalScriptSig?.length ?? 0) === 0 && (out.finalScriptWitness?.length ?? 0) === 0) integrity(`input ${i} is not final in the finalized PSBT`)
  }
  let transaction: string
  let txid: string
  try {
    const tx = Transaction.fromPSBT(bytes, LENIENT_PSBT)
    transaction = hex.encode(tx.extract())
    txid = tx.id
  } catch {
    return integrity('no transaction can be extracted from the finalized PSBT')
  }
  if (result.transaction !== transaction || result.txid !== txid) integrity('"transaction" or "txid" is not the transaction the finalized PSBT holds')
  return { psbt: result.psbt, signedInputs: signed, transaction, txid }
}
