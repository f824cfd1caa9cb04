/**
 * Hostile and malformed PSBTs: each is refused with an InvalidArgumentError naming the field (and the rule),
 * before any signature: the HD source's derived keys are all zeroed and the caller's bytes are unchanged.
 * The PSBTs are written record by record (not by a library that would refuse to write them): the case table is
 * bitcoinBadInputCases.ts, shared with the served test (hostilePayloadsServed.test.ts).
 */
import { isCustodyError } from '@enclave-custody/sdk'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { base64 } from '@scure/base'
import { HDKey } from '@scure/bip32'
import { describe, expect, it } from 'vitest'
import { type SignBitcoinPsbtParameters, signBitcoinPsbt } from '../src/families/bitcoin/index.js'
import { bitcoinBadInputCases, hdFixture, tapInternal } from './bitcoinBadInputCases.js'
import { hdSource } from './bitcoinFixtures.js'

const root = HDKey.fromMasterSeed(new Uint8Array(32).fill(42))
const foreignSecret = new Uint8Array(32).fill(9)
const F = secp256k1.getPublicKey(foreignSecret, true)
const fixture = hdFixture(root, F)
const { T, pathT: PATH_T } = fixture
/** The case table (bitcoinBadInputCases.ts) around the root's A and T and the foreign F. */
const { base, psbtOf, cases } = bitcoinBadInputCases(fixture)

function refuse(psbt: Uint8Array | string | unknown, field: string, rule: RegExp, extra: Partial<SignBitcoinPsbtParameters> = {}) {
  const handed: Uint8Array[] = []
  const before = psbt instanceof Uint8Array ? Uint8Array.from(psbt) : psbt
  let error: unknown
  try {
    signBitcoinPsbt({ psbt: psbt as Uint8Array, network: 'testnet', keys: hdSource(root, handed), ...extra })
  } catch (e) {
    error = e
  }
  expect(isCustodyError(error, 'INVALID_ARGUMENT'), String(error)).toBe(true)
  const details = (error as { details: { field: string; rule: string } }).details
  expect(details.field).toBe(field)
  expect(details.rule).toMatch(rule)
  // Nothing signed: every key handed out was zeroed, the caller's PSBT is as it was.
  for (const key of handed) expect(key.every((b) => b === 0)).toBe(true)
  if (psbt instanceof Uint8Array) expect(psbt).toEqual(before)
}

describe('signBitcoinPsbt refuses hostile and malformed PSBTs (nothing signed)', () => {
  it('the base PSBT is valid: A and T are signed, F is not', () => {
    const result = signBitcoinPsbt({ psbt: psbtOf(base()), network: 'testnet', keys: hdSource(root) })
    expect(result.signedInputs).toEqual([0, 1])
    expect(result.facts.outputs.map((o) => o.isChange)).toEqual([false, true])
    expect(result.facts.fee).toBe(10_000n)
    expect(result.facts.amountsProven).toBe(true)
  })

  for (const { name, make } of cases) {
    it(name, () => {
      const { psbt, field, rule, extra } = make()
      refuse(psbt, field, rule, extra)
    })
  }

  it('has at least 25 hostile cases', () => expect(cases.length).toBeGreaterThanOrEqual(25))

  it('a single key refuses a foreign input that names it as its taproot internal key', () => {
    const secret = root.derive(PATH_T).privateKey!
    const s = base()
    s.inputs[2]!.push(tapInternal(T.subarray(1)))
    let error: unknown
    try {
      signBitcoinPsbt({ psbt: base64.encode(psbtOf(s)), network: 'testnet', keys: Uint8Array.from(secret) })
    } catch (e) {
      error = e
    }
    expect(isCustodyError(error, 'INVALID_ARGUMENT')).toBe(true)
    expect((error as { details: { field: string } }).details.field).toBe('inputs[2]')
  })
})
