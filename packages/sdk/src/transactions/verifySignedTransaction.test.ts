/**
 * The cheap check of signed transactions (`acceptAsBuilt`) against the strict parser it stands in front of: over
 * random requests of every type, signed by ethers (an independent signer), and answers altered every way a hostile
 * backend could, the cheap check never accepts what the strict one refuses and returns the same parsed result when
 * both accept; honest answers take the cheap path; and `verifySignedTransaction` decides exactly as the strict check.
 */
import { SigningKey, Wallet } from 'ethers'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isCustodyError } from '../errors/CustodyError.js'
import type { Address } from '../utils/address.js'
import { bytesToHex, type Hex } from '../utils/hex.js'
import { legacyV, serializeTransactionSigned, serializeTransactionUnsigned, type TransactionSignature } from './serialize.js'
import { normalizeTransactionRequest, type Transaction } from './transaction.js'
import { acceptAsBuilt, type SignedTransactionReport, verifySignedTransaction, verifySignedTransactionStrictly } from './verifySignedTransaction.js'

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
const AUTH = {
  chainId: 1,
  address: '0xFBA3912Ca04dd458c843e2EE08967fC04f3579c2',
  nonce: 420,
  yParity: 1,
  r: '0xf6beafe7507f0c98ae9bc8d9e15d6b53c2f0714ccfc01663f658cb9f29caced4',
  s: '0x0dc4dfc53537f8b09047eceb674c454acba020ce786d9004175f41669304dee0',
}
const KEY = new Wallet('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d')
const OTHER = new Wallet('0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a')
const hex32 = (n: bigint) => `0x${n.toString(16).padStart(64, '0')}` as Hex

const address = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => bytesToHex(b))
const quantity = (max: bigint) => fc.bigInt({ min: 0n, max })
const accessList = fc.array(fc.record({ address, storageKeys: fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => bytesToHex(b)), { maxLength: 2 }) }), { maxLength: 2 })
const common = {
  nonce: quantity(2n ** 64n - 2n),
  value: quantity(2n ** 256n - 1n),
  gas: fc.bigInt({ min: 21_000n, max: 30_000_000n }),
  data: fc.uint8Array({ maxLength: 48 }).map((b) => bytesToHex(b)),
}
/** Requests of every type, as a caller writes them (creation included where the type allows it). */
const request = fc.oneof(
  fc.record({ ...common, type: fc.constant('legacy'), to: fc.option(address, { nil: undefined }), chainId: fc.option(fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }), { nil: undefined }), gasPrice: quantity(2n ** 128n) }),
  fc.record({ ...common, type: fc.constant('eip2930'), to: fc.option(address, { nil: undefined }), chainId: fc.bigInt({ min: 1n, max: 2n ** 64n }), gasPrice: quantity(2n ** 128n), accessList }),
  fc.record({ ...common, type: fc.constant('eip1559'), to: fc.option(address, { nil: undefined }), chainId: fc.bigInt({ min: 1n, max: 2n ** 64n }), maxFeePerGas: quantity(2n ** 128n), maxPriorityFeePerGas: quantity(2n ** 64n), accessList }),
  fc.record({ ...common, type: fc.constant('eip7702'), to: address, chainId: fc.bigInt({ min: 1n, max: 2n ** 64n }), maxFeePerGas: quantity(2n ** 128n), maxPriorityFeePerGas: quantity(2n ** 64n), accessList, authorizationList: fc.constant([AUTH]) }),
)

function normalized(input: Record<string, unknown>): Transaction {
  const replayable = input.type === 'legacy' && input.chainId === undefined
  return normalizeTransactionRequest({ ...input, ...(replayable ? { allowReplayable: true } : {}) }, 'tx').transaction
}
/** A request the SDK would send (others never reach a check), or undefined. */
function sendable(input: Record<string, unknown>): Transaction | undefined {
  try {
    return normalized(input)
  } catch (e) {
    if (isCustodyError(e, 'INVALID_ARGUMENT')) return undefined
    throw e
  }
}

/** An honest answer: the request signed by `wallet` (ethers' signer), reported as the enclave reports it. */
function answer(tx: Transaction, wallet: Wallet = KEY): SignedTransactionReport {
  const sig = new SigningKey(wallet.privateKey).sign(serializeTransactionUnsigned(tx).unsignedHash)
  return report(tx, { r: sig.r as Hex, s: sig.s as Hex, yParity: sig.yParity }, wallet.address)
}
function report(tx: Transaction, signature: TransactionSignature, from: string): SignedTransactionReport {
  const { rawTransaction, hash } = serializeTransactionSigned(tx, signature)
  return { rawTransaction, hash, from, type: tx.type, signature: { ...signature, ...(tx.type === 'legacy' ? { v: legacyV(tx.chainId, signature.yParity).toString() } : {}) } }
}

/** Ways a hostile backend may alter an answer (each keeps the rest of the answer as it was). */
const ALTERATIONS: Record<string, (a: SignedTransactionReport, tx: Transaction, at: number) => SignedTransactionReport> = {
  none: (a) => a,
  'raw upper-case': (a) => ({ ...a, rawTransaction: `0x${a.rawTransaction.slice(2).toUpperCase()}` }),
  'raw byte flipped': (a, _tx, at) => {
    const i = 2 + 2 * (at % ((a.rawTransaction.length - 2) / 2))
    const byte = (Number.parseInt(a.rawTransaction.slice(i, i + 2), 16) ^ (1 + (at % 255))).toString(16).padStart(2, '0')
    return { ...a, rawTransaction: a.rawTransaction.slice(0, i) + byte + a.rawTransaction.slice(i + 2) }
  },
  'raw with a trailing byte': (a) => ({ ...a, rawTransaction: `${a.rawTransaction}00` }),
  'raw cut short': (a) => ({ ...a, rawTransaction: a.rawTransaction.slice(0, -2) }),
  'hash upper-case': (a) => ({ ...a, hash: `0x${a.hash.slice(2).toUpperCase()}` }),
  'hash of another transaction': (a, tx) => ({ ...a, hash: serializeTransactionUnsigned(tx).unsignedHash }),
  'from lower-case': (a) => ({ ...a, from: a.from.toLowerCase() }),
  'from another address': (a) => ({ ...a, from: OTHER.address }),
  'r upper-case': (a) => ({ ...a, signature: { ...a.signature, r: `0x${a.signature.r.slice(2).toUpperCase()}` } }),
  'r unpadded': (a) => ({ ...a, signature: { ...a.signature, r: `0x${BigInt(a.signature.r).toString(16)}` } }),
  'yParity flipped in the report': (a) => ({ ...a, signature: { ...a.signature, yParity: (1 - a.signature.yParity) as 0 | 1 } }),
  'yParity flipped in the bytes too': (a, tx) => {
    const flipped = { r: a.signature.r as Hex, s: a.signature.s as Hex, yParity: (1 - a.signature.yParity) as 0 | 1 }
    return report(tx, flipped, a.from)
  },
  'high-s twin': (a, tx) => report(tx, { r: a.signature.r as Hex, s: hex32(N - BigInt(a.signature.s)), yParity: (1 - a.signature.yParity) as 0 | 1 }, a.from),
  's zero': (a, tx) => report(tx, { r: a.signature.r as Hex, s: hex32(0n), yParity: a.signature.yParity }, a.from),
  'r equal to n': (a) => ({ ...a, signature: { ...a.signature, r: hex32(N) } }),
  'v missing or added': (a) => {
    const { v, ...signature } = a.signature
    return { ...a, signature: v === undefined ? { ...signature, v: '27' } : signature }
  },
  'v off by two': (a) => ({ ...a, signature: { ...a.signature, v: (BigInt(a.signature.v ?? '0') + 2n).toString() } }),
  'type of another transaction': (a, tx) => ({ ...a, type: tx.type === 'eip1559' ? 'eip2930' : 'eip1559' }),
  'type absent': (a) => {
    const { type: _, ...rest } = a
    return rest
  },
  'signed by another key': (_a, tx) => answer(tx, OTHER),
  'another nonce, consistently signed': (_a, tx) => answer({ ...tx, nonce: tx.nonce + 1n }),
  'another chain, consistently signed': (_a, tx) => answer({ ...tx, chainId: tx.chainId === null ? 1n : tx.chainId + 1n } as Transaction),
}

type Outcome = { accepted: true; value: unknown } | { accepted: false; code: string; message: string }
function outcome(check: () => unknown): Outcome {
  try {
    return { accepted: true, value: check() }
  } catch (e) {
    if (!isCustodyError(e, 'INTEGRITY_ERROR')) throw e
    return { accepted: false, code: e.code, message: e.message }
  }
}

describe('the cheap transaction check accepts exactly what the strict parser accepts', () => {
  it('over random requests of every type and every alteration', () => {
    const seen = new Map<string, { fast: number; strict: number }>()
    fc.assert(
      fc.property(request, fc.constantFrom(...Object.keys(ALTERATIONS)), fc.nat(), (input, name, at) => {
        const tx = sendable(input)
        fc.pre(tx !== undefined)
        const altered = ALTERATIONS[name]!(answer(tx), tx, at)
        const expected = KEY.address as Address
        const strict = outcome(() => verifySignedTransactionStrictly(tx, altered, expected))
        const fast = acceptAsBuilt(tx, altered, expected)
        const count = seen.get(name) ?? { fast: 0, strict: 0 }
        seen.set(name, { fast: count.fast + (fast ? 1 : 0), strict: count.strict + (strict.accepted ? 1 : 0) })
        // Never more than the strict check, and the same parsed result when both accept.
        if (fast) expect(strict).toEqual({ accepted: true, value: fast })
        // The public check decides exactly as the strict one, with the same error.
        expect(outcome(() => verifySignedTransaction(tx, altered, expected))).toEqual(strict)
      }),
      { numRuns: 1500, seed: 14_2 },
    )
    // Honest answers take the cheap path every time; alterations the strict check refuses never do.
    expect(seen.get('none')!.fast).toBe(seen.get('none')!.strict)
    expect(seen.get('none')!.fast).toBeGreaterThan(0)
    for (const name of ['raw byte flipped', 'high-s twin', 'signed by another key', 'yParity flipped in the bytes too', 'another nonce, consistently signed']) {
      expect(seen.get(name), name).toEqual({ fast: 0, strict: 0 })
    }
    // Harmless case differences the strict check tolerates are left to it, not refused.
    expect(seen.get('raw upper-case')!.strict).toBeGreaterThan(0)
    expect(seen.get('raw upper-case')!.fast).toBe(0)
  })

  it('refuses each alteration of an EIP-1559 answer with the strict check\'s reason', () => {
    const tx = normalized({ type: 'eip1559', chainId: 1n, nonce: 7n, to: OTHER.address, value: 1n, gas: 21000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n })
    const reasons = Object.fromEntries(
      Object.entries(ALTERATIONS).map(([name, alter]) => {
        const o = outcome(() => verifySignedTransaction(tx, alter(answer(tx), tx, 5), KEY.address as Address))
        return [name, o.accepted ? 'accepted' : o.message]
      }),
    )
    expect(reasons).toMatchObject({
      none: 'accepted',
      'raw upper-case': 'accepted',
      'from lower-case': 'accepted',
      'hash upper-case': 'accepted',
      'type absent': 'accepted',
      'signed by another key': expect.stringContaining('rawTransaction is not signed by the key'),
      'another nonce, consistently signed': expect.stringContaining('does not hold the requested transaction fields'),
      'high-s twin': expect.stringContaining('rawTransaction does not parse'),
      'from another address': expect.stringContaining('"from" does not match the key address'),
      'yParity flipped in the report': expect.stringContaining('"signature" does not match rawTransaction'),
      'type of another transaction': expect.stringContaining('"type" does not match rawTransaction'),
    })
  })
})
