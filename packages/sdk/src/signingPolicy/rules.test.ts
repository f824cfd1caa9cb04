/**
 * The signing-policy schema for the Bitcoin and Solana families: what it refuses (naming the field and the rule)
 * and the canonical form it writes. Address decoding (@scure/btc-signer, @scure/base) is checked further, against
 * addresses those libraries encode and their mutations, in packages/enclave-runtime/test/policyFamilies.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { isCustodyError } from '../errors/CustodyError.js'
import { CHAIN_FAMILIES, FACT_NAMES, OPERATORS_BY_TYPE, PAYLOAD_KINDS, POLICY_FACTS } from './facts.js'
import { LIMIT_SUMS, normalizeSigningPolicy, type PolicyRuleInput } from './rules.js'

const TAPROOT = 'bc1p5e6v9v2j5wp3y6c79gaqdqltq7jdv45fswnnm7exmmp2020mqepsmcx06p'
const P2WSH = 'bc1qqh6eca3mn0mzppf69l3xz8wmpzut6xdm004asdeyfx9cg9jus0ws5qcc5r'
const P2PKH = '1DT2gvYPiSGvzmZqCJj9mMs5q3K3GGm6rR'
const SYSTEM = '11111111111111111111111111111111'
const WALLET = 'DwiiKAQ7MXWDnCQiZcH81bF1pMyf6mYBLSKNKAxSEWzd'

const one = (when: unknown, extra: Partial<PolicyRuleInput> = {}) => normalizeSigningPolicy({ rules: [{ id: 'r', effect: 'allow', when, ...extra } as PolicyRuleInput] })

/** The InvalidArgumentError's message (field and rule), or "not refused". */
function refusal(f: () => unknown): string {
  try {
    f()
  } catch (e) {
    if (isCustodyError(e, 'INVALID_ARGUMENT')) return e.shortMessage
    throw e
  }
  return 'not refused'
}

describe('signing-policy schema: Bitcoin and Solana', () => {
  it('knows the families, kinds, facts, list operators and limit sums', () => {
    expect(CHAIN_FAMILIES).toEqual(['evm', 'bitcoin', 'solana'])
    expect(PAYLOAD_KINDS.slice(-3)).toEqual(['psbt', 'solanaTransaction', 'solanaMessage'])
    expect(FACT_NAMES).toEqual(expect.arrayContaining(['network', 'fee', 'feeRate', 'spendAmount', 'outputAddresses', 'amountsProven', 'programIds', 'lamports', 'solRecipients', 'tokenMints', 'tokenDestinations', 'tokenDelegates', 'tokenAmount', 'feePayer', 'usesLookupAccounts', 'undecodedInstructions']))
    expect(POLICY_FACTS.outputAddresses.type).toBe('bitcoinAddress[]')
    expect(POLICY_FACTS.programIds.type).toBe('solanaAddress[]')
    expect(OPERATORS_BY_TYPE['bitcoinAddress[]']).toEqual(['allIn', 'noneIn', 'anyIn'])
    expect(OPERATORS_BY_TYPE.solanaAddress).toEqual(['eq', 'in', 'notIn'])
    expect(LIMIT_SUMS).toEqual(['value', 'amount', 'worstCaseFee', 'count', 'spendAmount', 'lamports'])
  })

  it('writes the canonical form: bech32 lower-case, Base58Check and base58 as written, lists sorted and deduplicated', () => {
    const policy = one({
      outputAddresses: { allIn: [TAPROOT.toUpperCase(), P2PKH, TAPROOT, 'script:6A03C0FFEE'] },
      programIds: { noneIn: [WALLET, SYSTEM, WALLET] },
      feePayer: { in: [WALLET] },
      network: { eq: 'mainnet' },
      feeRate: { lte: 50 },
    })
    expect(policy.rules[0]!.when).toEqual({
      feePayer: { in: [WALLET] },
      feeRate: { lte: '50' },
      network: { eq: 'mainnet' },
      outputAddresses: { allIn: [P2PKH, TAPROOT, 'script:6a03c0ffee'] },
      programIds: { noneIn: [SYSTEM, WALLET] },
    })
    // Canonical input comes out unchanged (one meaning, one digest).
    expect(normalizeSigningPolicy(policy)).toEqual(policy)
  })

  it('refuses a malformed address, naming the field', () => {
    expect(refusal(() => one({ outputAddresses: { allIn: [P2WSH, `${TAPROOT.slice(0, -1)}q`] } }))).toMatchInlineSnapshot(
      `""policy.rules[0].when.outputAddresses.allIn[1]" must be a Bitcoin address: P2PKH or P2SH (Base58Check), P2WPKH or P2WSH (bech32), P2TR (bech32m) of mainnet, testnet, signet or regtest, checksum checked, one case"`,
    )
    expect(refusal(() => one({ outputAddresses: { anyIn: ['1DT2gvYPiSGvzmZqCJj9mMs5q3K3GGm6rr'] } }))).toMatchInlineSnapshot(
      `""policy.rules[0].when.outputAddresses.anyIn[0]" must be a Bitcoin address: P2PKH or P2SH (Base58Check), P2WPKH or P2WSH (bech32), P2TR (bech32m) of mainnet, testnet, signet or regtest, checksum checked, one case"`,
    )
    expect(refusal(() => one({ outputAddresses: { allIn: ['0x3F411E3Dc605E51f602151f03E71E142A2434546'] } }))).toContain('"policy.rules[0].when.outputAddresses.allIn[0]"')
    expect(refusal(() => one({ outputAddresses: { allIn: [42] } }))).toMatchInlineSnapshot(`""policy.rules[0].when.outputAddresses.allIn[0]" must be a Bitcoin address or "script:<hex>" (got number)"`)
    expect(refusal(() => one({ programIds: { allIn: [WALLET.slice(0, 31)] } }))).toMatchInlineSnapshot(`""policy.rules[0].when.programIds.allIn[0]" must be a base58 Solana address of exactly 32 bytes"`)
    expect(refusal(() => one({ feePayer: { eq: `${WALLET}l` } }))).toMatchInlineSnapshot(`""policy.rules[0].when.feePayer.eq" must be a base58 Solana address of exactly 32 bytes"`)
    expect(refusal(() => one({ solRecipients: { allIn: [`lookup:${SYSTEM}:1`] } }))).toContain('"policy.rules[0].when.solRecipients.allIn[0]"')
    expect(refusal(() => one({ tokenMints: { allIn: ['unchecked:0'] } }))).toContain('"policy.rules[0].when.tokenMints.allIn[0]"')
  })

  it('script:<hex>: only for an output without an address, whole bytes of hex', () => {
    expect(refusal(() => one({ outputAddresses: { allIn: ['script:0014751e76e8199196d454941c45d1b3a323f1433bd6'] } }))).toMatchInlineSnapshot(
      `""policy.rules[0].when.outputAddresses.allIn[0]" is the script of an output that has an address: write its address (outputs with an address are listed by address)"`,
    )
    for (const bad of ['script:', 'script:6a0', 'script:xyz0', `script:${'00'.repeat(10_001)}`]) {
      expect(refusal(() => one({ outputAddresses: { allIn: [bad] } }))).toContain('must be "script:" and an output script of 1 to 10000 bytes, hex')
    }
  })

  it('refuses a wrong operator for a list type, and a list operator on a scalar fact', () => {
    expect(refusal(() => one({ outputAddresses: { in: [TAPROOT] } }))).toMatchInlineSnapshot(
      `""policy.rules[0].when.outputAddresses.in" is not an operator of bitcoinAddress[] fact "outputAddresses" (use allIn, noneIn, anyIn)"`,
    )
    expect(refusal(() => one({ programIds: { eq: SYSTEM } }))).toMatchInlineSnapshot(`""policy.rules[0].when.programIds.eq" is not an operator of solanaAddress[] fact "programIds" (use allIn, noneIn, anyIn)"`)
    expect(refusal(() => one({ feePayer: { allIn: [WALLET] } }))).toMatchInlineSnapshot(`""policy.rules[0].when.feePayer.allIn" is not an operator of solanaAddress fact "feePayer" (use eq, in, notIn)"`)
    expect(refusal(() => one({ to: { anyIn: ['0x3F411E3Dc605E51f602151f03E71E142A2434546'] } }))).toContain('"policy.rules[0].when.to.anyIn" is not an operator of address fact "to"')
    expect(refusal(() => one({ programIds: { allIn: [] } }))).toMatchInlineSnapshot(`""policy.rules[0].when.programIds.allIn" must be a list of 1 to 256 values"`)
    expect(refusal(() => one({ programIds: { allIn: SYSTEM } }))).toContain('"policy.rules[0].when.programIds.allIn" must be a list')
  })

  it('refuses an unknown fact, a bad network and a bad limit sum, naming the field', () => {
    expect(refusal(() => one({ outputs: { allIn: [TAPROOT] } }))).toMatchInlineSnapshot(`""policy.rules[0].when" has unknown field "outputs""`)
    expect(refusal(() => one({ solanaRecipients: { allIn: [WALLET] } }))).toMatchInlineSnapshot(`""policy.rules[0].when" has unknown field "solanaRecipients""`)
    expect(refusal(() => one({ network: { eq: 'testnet3' } }))).toMatchInlineSnapshot(`""policy.rules[0].when.network.eq" must be one of mainnet, testnet, signet, regtest"`)
    expect(refusal(() => one({}, { limit: { sum: 'sats' as never, max: '1', window: '24h' } }))).toMatchInlineSnapshot(
      `""policy.rules[0].limit.sum" must be one of value, amount, worstCaseFee, count, spendAmount, lamports"`,
    )
    expect(one({}, { limit: { sum: 'lamports', max: 10_000, window: '24h' } }).rules[0]!.limit).toEqual({ afterRestart: 'deny-until-window-end', max: '10000', per: 'key', sum: 'lamports', window: '24h' })
  })

  it('accepts addresses of every network (testnet, signet and regtest share Base58Check versions: combine with network)', () => {
    for (const a of [
      'tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx',
      'BCRT1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KYGT080',
      'mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn',
      '2MzQwSSnBHWHqSAqtTVQ6v47XtaisrJa1Vc',
      '3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy',
    ]) {
      expect(refusal(() => one({ outputAddresses: { anyIn: [a] } })), a).toBe('not refused')
    }
  })
})
