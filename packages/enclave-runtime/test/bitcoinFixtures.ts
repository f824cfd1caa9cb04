/**
 * Builders for the Bitcoin tests: an independent ECC backend for bitcoinjs-lib (noble + node:crypto, not the
 * module under test), BIP-341 key tweaking written from the BIP, and a seeded generator of PSBTs built with
 * bitcoinjs-lib (mixed P2PKH / P2SH-P2WPKH / P2WPKH / P2TR inputs, some foreign, every network).
 */
import { createHash } from 'node:crypto'
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js'
import { HDKey } from '@scure/bip32'
import * as bitcoin from 'bitcoinjs-lib'
import type { BitcoinHdSource, BitcoinNetwork } from '../src/families/bitcoin/index.js'
import type { createRng } from './rng.js'

type Rng = ReturnType<typeof createRng>

const N = secp256k1.Point.CURVE().n
const G = secp256k1.Point.BASE
const toBig = (b: Uint8Array) => BigInt(`0x${Buffer.from(b).toString('hex') || '0'}`)
const to32 = (n: bigint) => Uint8Array.from(Buffer.from(n.toString(16).padStart(64, '0'), 'hex'))
const sha256 = (...parts: Uint8Array[]) => Uint8Array.from(createHash('sha256').update(Buffer.concat(parts)).digest())
const tagged = (tag: string, ...msg: Uint8Array[]) => {
  const t = sha256(Buffer.from(tag, 'utf8'))
  return sha256(t, t, ...msg)
}

/** BIP-341 taproot_tweak_seckey with an empty merkle root, from the BIP's reference code. */
export function tweakSecret(secret: Uint8Array, merkleRoot: Uint8Array = new Uint8Array(0)): Uint8Array {
  const d0 = toBig(secret)
  const P = G.multiply(d0)
  const d = P.y % 2n === 0n ? d0 : N - d0
  const t = toBig(tagged('TapTweak', to32(P.x), merkleRoot))
  return to32((d + t) % N)
}

/** The x-only output key of a secret's BIP-86 taproot output. */
export const tweakedXOnly = (secret: Uint8Array) => to32(G.multiply(toBig(tweakSecret(secret))).x)

/** A TinySecp256k1Interface for bitcoinjs-lib on @noble/curves. */
export const nobleEcc = {
  isXOnlyPoint(p: Uint8Array): boolean {
    if (p.length !== 32) return false
    try {
      schnorr.utils.lift_x(toBig(p))
      return true
    } catch {
      return false
    }
  },
  xOnlyPointAddTweak(p: Uint8Array, tweak: Uint8Array): { parity: 0 | 1; xOnlyPubkey: Uint8Array } | null {
    const t = toBig(tweak)
    if (t >= N) return null
    const P = schnorr.utils.lift_x(toBig(p))
    const Q = t === 0n ? P : P.add(G.multiply(t))
    if (Q.equals(secp256k1.Point.ZERO)) return null
    return { parity: Q.y % 2n === 0n ? 0 : 1, xOnlyPubkey: to32(Q.x) }
  },
}
bitcoin.initEccLib(nobleEcc)

/** bitcoinjs-lib's validator: BIP-340 for x-only keys, ECDSA (compact r‖s) otherwise. */
export function nobleValidator(pubkey: Uint8Array, msghash: Uint8Array, signature: Uint8Array): boolean {
  if (pubkey.length === 32) return schnorr.verify(signature, msghash, pubkey)
  return secp256k1.verify(signature, msghash, pubkey, { prehash: false, lowS: true })
}

export const AUX = new Uint8Array(32).fill(7)

/** bitcoinjs-lib signer of a secret for an input type (taproot: the tweaked key, as bitcoinjs-lib wants it). */
export function bitcoinjsSigner(secret: Uint8Array, taproot: boolean): bitcoin.Signer {
  if (taproot) {
    const tweaked = tweakSecret(secret)
    return {
      publicKey: Uint8Array.of(0x02, ...tweakedXOnly(secret)),
      sign: () => {
        throw new Error('ECDSA on a taproot input')
      },
      signSchnorr: (hash) => schnorr.sign(hash, tweaked, AUX),
    }
  }
  return { publicKey: secp256k1.getPublicKey(secret, true), sign: (hash) => secp256k1.sign(hash, secret, { prehash: false }) }
}

export function bitcoinjsNetwork(network: BitcoinNetwork): bitcoin.Network {
  return network === 'mainnet' ? bitcoin.networks.bitcoin : network === 'regtest' ? bitcoin.networks.regtest : bitcoin.networks.testnet
}

export const INPUT_TYPES = ['p2pkh', 'p2sh-p2wpkh', 'p2wpkh', 'p2tr'] as const
export type InputType = (typeof INPUT_TYPES)[number]

/** The output script (and redeem script) of a public key for a type. */
export function scriptOf(pub: Uint8Array, type: InputType): { script: Uint8Array; redeemScript?: Uint8Array } {
  if (type === 'p2pkh') return { script: bitcoin.payments.p2pkh({ pubkey: pub }).output! }
  if (type === 'p2wpkh') return { script: bitcoin.payments.p2wpkh({ pubkey: pub }).output! }
  if (type === 'p2sh-p2wpkh') {
    const redeem = bitcoin.payments.p2wpkh({ pubkey: pub })
    return { script: bitcoin.payments.p2sh({ redeem }).output!, redeemScript: redeem.output! }
  }
  return { script: bitcoin.payments.p2tr({ internalPubkey: pub.slice(1) }).output! }
}

export const fingerprintBytes = (root: HDKey) => Uint8Array.of(root.fingerprint >>> 24, (root.fingerprint >>> 16) & 0xff, (root.fingerprint >>> 8) & 0xff, root.fingerprint & 0xff)

/** An HD source over a scure HDKey, counting the keys it hands out so a test can check they were zeroed. */
export function hdSource(root: HDKey, handed: Uint8Array[] = []): BitcoinHdSource {
  const nodes = new Map<string, HDKey>([['m', root]])
  const node = (path: string): HDKey => {
    const hit = nodes.get(path)
    if (hit) return hit
    const cut = path.lastIndexOf('/')
    const child = node(path.slice(0, cut)).derive(`m${path.slice(cut)}`)
    nodes.set(path, child)
    return child
  }
  return {
    fingerprint: fingerprintBytes(root),
    derive: (path: string) => {
      const key = Uint8Array.from(node(path).privateKey!)
      handed.push(key)
      return key
    },
  }
}

export type GeneratedInput = { type: InputType; ours: boolean; secret: Uint8Array; sighashType?: number }
export type GeneratedCase = {
  network: BitcoinNetwork
  psbt: bitcoin.Psbt
  keys: Uint8Array | BitcoinHdSource
  inputs: GeneratedInput[]
  outputs: { script: Uint8Array; amount: bigint; change: boolean }[]
}

/** A random previous transaction paying `script` `amount` at a random index. */
function previousTx(rng: Rng, script: Uint8Array, amount: bigint) {
  const tx = new bitcoin.Transaction()
  tx.version = 2
  tx.addInput(rng.bytes(32), rng.int(0, 3))
  const outs = rng.int(1, 3)
  const index = rng.int(0, outs - 1)
  for (let k = 0; k < outs; k++) {
    if (k === index) tx.addOutput(script, amount)
    else tx.addOutput(bitcoin.payments.p2wpkh({ pubkey: secp256k1.getPublicKey(secret(rng), true) }).output!, BigInt(rng.int(1000, 100000)))
  }
  return { tx, index }
}

function secret(rng: Rng): Uint8Array {
  for (;;) {
    const s = rng.bytes(32)
    if (secp256k1.utils.isValidSecretKey(s)) return s
  }
}

let pool: { root: HDKey; source: BitcoinHdSource }[] | undefined
const accounts = () => {
  pool ??= [1, 2, 3].map((n) => {
    const root = HDKey.fromMasterSeed(new Uint8Array(32).fill(n))
    return { root, source: hdSource(root) }
  })
  return pool
}

/** One random PSBT case. */
export function generateCase(rng: Rng): GeneratedCase {
  const network = rng.pick(['mainnet', 'testnet', 'signet', 'regtest'] as const)
  const hd = rng.chance(0.5)
  // A few accounts reused across cases (their derived nodes are cached), a fresh key per case otherwise.
  const { root, source } = rng.pick(accounts())
  const fp = fingerprintBytes(root)
  const single = secret(rng)
  const foreign = secret(rng)
  const coin = network === 'mainnet' ? 0 : 1
  const psbt = new bitcoin.Psbt({ network: bitcoinjsNetwork(network) })
  psbt.setVersion(rng.pick([1, 2]))
  psbt.setLocktime(rng.chance(0.3) ? rng.int(1, 800000) : 0)
  const nIn = rng.int(1, 8)
  const inputs: GeneratedInput[] = []
  let total = 0n
  for (let i = 0; i < nIn; i++) {
    const type = rng.pick(INPUT_TYPES)
    const ours = i === 0 || rng.chance(0.7)
    const path = `m/${type === 'p2tr' ? 86 : type === 'p2wpkh' ? 84 : type === 'p2pkh' ? 44 : 49}'/${coin}'/0'/${rng.int(0, 1)}/${rng.int(0, 50)}`
    const key = ours ? (hd ? source.derive(path) : single) : foreign
    const pub = secp256k1.getPublicKey(key, true)
    const { script, redeemScript } = scriptOf(pub, type)
    const amount = BigInt(rng.int(20_000, 50_000_000))
    total += amount
    const { tx, index } = previousTx(rng, script, amount)
    const sighashType = rng.chance(0.15) ? 0x01 : undefined
    const update: Parameters<bitcoin.Psbt['addInput']>[0] = { hash: tx.getHash(), index, sequence: rng.pick([0xffffffff, 0xfffffffd, 0xfffffffe]) }
    if (type !== 'p2tr') update.nonWitnessUtxo = tx.toBuffer()
    if (type !== 'p2pkh') update.witnessUtxo = { script, value: amount }
    if (redeemScript) update.redeemScript = redeemScript
    if (sighashType !== undefined) update.sighashType = sighashType
    if (type === 'p2tr') update.tapInternalKey = pub.slice(1)
    if (ours && hd) {
      if (type === 'p2tr') update.tapBip32Derivation = [{ masterFingerprint: fp, path, pubkey: pub.slice(1), leafHashes: [] }]
      else update.bip32Derivation = [{ masterFingerprint: fp, path, pubkey: pub }]
    }
    psbt.addInput(update)
    inputs.push({ type, ours, secret: key, ...(sighashType === undefined ? {} : { sighashType }) })
  }
  const nOut = rng.int(1, 8)
  const fee = BigInt(rng.int(500, 9000))
  let left = total - fee
  const outputs: GeneratedCase['outputs'] = []
  for (let j = 0; j < nOut; j++) {
    const amount = j === nOut - 1 ? left : BigInt(rng.int(546, Number(left / BigInt(nOut))))
    left -= amount
    const type = rng.pick(INPUT_TYPES)
    const change = rng.chance(0.3)
    const path = `m/84'/${coin}'/0'/1/${rng.int(0, 50)}`
    const key = change ? (hd ? source.derive(path) : single) : secret(rng)
    const pub = secp256k1.getPublicKey(key, true)
    const { script } = rng.chance(0.05) ? { script: bitcoin.payments.embed({ data: [rng.bytes(20)] }).output! } : scriptOf(pub, type)
    const out: Parameters<bitcoin.Psbt['addOutput']>[0] = { script, value: amount }
    if (change && hd) {
      if (type === 'p2tr') Object.assign(out, { tapBip32Derivation: [{ masterFingerprint: fp, path, pubkey: pub.slice(1), leafHashes: [] }] })
      else Object.assign(out, { bip32Derivation: [{ masterFingerprint: fp, path, pubkey: pub }] })
    }
    psbt.addOutput(out)
    const isOpReturn = script[0] === 0x6a
    outputs.push({ script, amount, change: change && !isOpReturn })
  }
  return { network, psbt, keys: hd ? source : single, inputs, outputs }
}
