import {
  FACT_NAMES,
  type FactName,
  isCustodyError,
  normalizeSigningPolicy,
  OPERATORS,
  OPERATORS_BY_TYPE,
  type Operator,
  POLICY_FACTS,
  type PolicyFacts,
  type RollingLimit,
  type SigningPolicyInput,
} from '@enclave-custody/sdk'
import * as bitcoin from 'bitcoinjs-lib'
import { getAddress } from 'ethers'
import { describe, expect, it } from 'vitest'
import { compileSigningPolicy } from '../src/policy/compileSigningPolicy.js'
import { evaluateSigningPolicy, NO_RULE_ALLOWS, type PolicyEvaluation } from '../src/policy/evaluateSigningPolicy.js'
import { createRollingLimits, type RollingLimits } from '../src/policy/rollingLimits.js'
import { nobleEcc } from './bitcoinFixtures.js'
import { MATRIX_ADDRESSES, MATRIX_BITCOIN, MATRIX_SAMPLES, MATRIX_SIGNER, policyMatrixCases, testApiKey } from './support/policyMatrix.js'

bitcoin.initEccLib(nobleEcc)

const evaluate = (policy: SigningPolicyInput, facts: PolicyFacts, ctx: Partial<Parameters<typeof evaluateSigningPolicy>[2]> = {}): PolicyEvaluation =>
  evaluateSigningPolicy(compileSigningPolicy(normalizeSigningPolicy(policy)), facts, { keyId: 'treasury', approvers: new Set(), ...ctx })
const decision = (e: PolicyEvaluation) => ({ allowed: e.allowed, rule: e.rule })

/** The InvalidArgumentError `fn` throws: its field and rule. */
function refusal(fn: () => unknown): { field: unknown; rule: unknown } {
  try {
    fn()
  } catch (e) {
    if (!isCustodyError(e, 'INVALID_ARGUMENT')) throw e
    const d = e.details as { field: unknown; rule: unknown }
    return { field: d.field, rule: d.rule }
  }
  throw new Error('did not throw')
}

describe('the matrix: every fact × operator × allow/deny, with boundaries', () => {
  const cases = policyMatrixCases()

  it('covers every fact, every operator of its type and both effects, matching and not', () => {
    for (const fact of FACT_NAMES) {
      for (const operator of OPERATORS_BY_TYPE[POLICY_FACTS[fact].type]) {
        for (const effect of ['allow', 'deny'] as const) {
          const mine = cases.filter((c) => c.fact === fact && c.operator === operator && c.effect === effect)
          const label = `${fact} ${operator} ${effect}`
          expect(mine.some((c) => c.probe.value === undefined), `${label}: absent`).toBe(true)
          // `family` has one value: notIn over it never holds, eq/in always hold when it is present.
          expect(mine.some((c) => c.holds), `${label}: a probe that holds`).toBe(!(fact === 'family' && operator === 'notIn'))
          expect(mine.some((c) => !c.holds && c.probe.value !== undefined), `${label}: a present probe that does not hold`).toBe(!(fact === 'family' && operator !== 'notIn'))
        }
      }
    }
    expect(new Set(cases.map((c) => c.fact))).toEqual(new Set(FACT_NAMES))
  })

  // By index: the cases hold bigints, which the test runner cannot serialise.
  it.each(cases.map((c, i) => [c.name, i] as const))('%s', (_, i) => {
    const c = cases[i]!
    const policy = normalizeSigningPolicy(c.policy)
    const result = evaluateSigningPolicy(compileSigningPolicy(policy), c.facts, { keyId: 'k', approvers: new Set([MATRIX_SIGNER.compressed]) })
    expect(decision(result)).toEqual(c.expected)
    if (!result.allowed && result.rule === undefined) expect(result.reason).toBe(NO_RULE_ALLOWS)
  })

  it('value caps: exactly at the cap allowed by lte, one wei above refused; lt, gt, gte alike', () => {
    const at = MATRIX_SAMPLES.transaction.value!
    const run = (op: Operator, value: bigint) => evaluate({ rules: [{ id: 'cap', effect: 'allow', when: { value: { [op]: at.toString() } } }] }, { ...MATRIX_SAMPLES.transaction, value }).allowed
    expect([run('lte', at - 1n), run('lte', at), run('lte', at + 1n)]).toEqual([true, true, false])
    expect([run('lt', at - 1n), run('lt', at), run('lt', at + 1n)]).toEqual([true, false, false])
    expect([run('gte', at - 1n), run('gte', at), run('gte', at + 1n)]).toEqual([false, true, true])
    expect([run('gt', at - 1n), run('gt', at), run('gt', at + 1n)]).toEqual([false, false, true])
  })

  it('every operator of one condition must hold: a range', () => {
    const policy = { rules: [{ id: 'range', effect: 'allow' as const, when: { chainId: { gte: '10', lte: '20' } } }] }
    const at = (chainId: bigint) => evaluate(policy, { family: 'evm', kind: 'eip1559', chainId }).allowed
    expect([9n, 10n, 15n, 20n, 21n].map(at)).toEqual([false, true, true, true, false])
  })

  it('uint compares as bigint above 2^53 and up to 2^256 - 1', () => {
    const max = (1n << 256n) - 1n
    const policy = { rules: [{ id: 'huge', effect: 'allow' as const, when: { value: { gt: (2n ** 53n).toString(), lte: max.toString() } } }] }
    expect(evaluate(policy, { family: 'evm', kind: 'legacy', value: 2n ** 53n }).allowed).toBe(false)
    expect(evaluate(policy, { family: 'evm', kind: 'legacy', value: 2n ** 53n + 1n }).allowed).toBe(true)
    expect(evaluate(policy, { family: 'evm', kind: 'legacy', value: max }).allowed).toBe(true)
  })

  it('addresses compare as EIP-55 does not matter (cross-checked with ethers getAddress)', () => {
    const lower = '0x52908400098527886e0f7030069857d2e4169ee7'
    expect(getAddress(lower)).toBe('0x52908400098527886E0F7030069857D2E4169EE7')
    const policy = { rules: [{ id: 'to', effect: 'allow' as const, when: { to: { in: [lower] } } }] }
    expect(normalizeSigningPolicy(policy).rules[0]!.when.to).toEqual({ in: [getAddress(lower)] })
    for (const to of [lower, getAddress(lower), lower.toUpperCase().replace('0X', '0x')]) {
      expect(evaluate(policy, { family: 'evm', kind: 'eip1559', to: to as `0x${string}` }).allowed).toBe(true)
    }
  })

  it('a condition on an absent fact is false, notIn included: a deny on `to notIn` does not match a message', () => {
    const policy = { rules: [{ id: 'only-known', effect: 'deny' as const, when: { to: { notIn: [MATRIX_ADDRESSES.recipient] } } }] }
    expect(decision(evaluate(policy, { family: 'evm', kind: 'message' }))).toEqual({ allowed: true, rule: undefined })
    expect(decision(evaluate(policy, { family: 'evm', kind: 'eip1559', to: MATRIX_ADDRESSES.other }))).toEqual({ allowed: false, rule: 'only-known' })
    // A fact written as `undefined` is absent too.
    expect(decision(evaluate(policy, { family: 'evm', kind: 'eip1559', to: undefined }))).toEqual({ allowed: true, rule: undefined })
  })

  it('reads only own properties of the facts', () => {
    const facts = Object.create({ to: MATRIX_ADDRESSES.other }) as PolicyFacts
    Object.assign(facts, { family: 'evm', kind: 'eip1559' })
    const policy = { rules: [{ id: 'deny-other', effect: 'deny' as const, when: { to: { eq: MATRIX_ADDRESSES.other } } }] }
    expect(evaluate(policy, facts).allowed).toBe(true)
  })
})

describe('rule order and effects', () => {
  const tx = MATRIX_SAMPLES.transaction
  it('deny beats allow, whatever the order; the first matching deny in document order is named', () => {
    const policy: SigningPolicyInput = {
      rules: [
        { id: 'allow-all', effect: 'allow' },
        { id: 'deny-mainnet', effect: 'deny', when: { chainId: { eq: '1' } } },
        { id: 'deny-big', effect: 'deny', when: { value: { gt: '0' } } },
      ],
    }
    const r = evaluate(policy, tx)
    expect(r).toEqual({ allowed: false, rule: 'deny-mainnet', reason: 'a deny rule matches' })
    expect(decision(evaluate(policy, { ...tx, chainId: 5n }))).toEqual({ allowed: false, rule: 'deny-big' })
    expect(decision(evaluate(policy, { ...tx, chainId: 5n, value: 0n }))).toEqual({ allowed: true, rule: 'allow-all' })
  })

  it('no allow rule at all: what no deny rule denies is allowed (an EVM payload), naming no rule; the empty policy allows', () => {
    expect(evaluate({ rules: [{ id: 'no-7702', effect: 'deny', when: { kind: { eq: 'authorization' } } }] }, tx)).toEqual({ allowed: true })
    expect(evaluate({}, tx)).toEqual({ allowed: true })
  })

  it('once there is an allow rule, what none allows is denied: "no rule allows", no rule named', () => {
    expect(evaluate({ rules: [{ id: 'testnet', effect: 'allow', when: { chainId: { eq: '11155111' } } }] }, tx)).toEqual({ allowed: false, reason: NO_RULE_ALLOWS })
  })

  it('the first matching allow rule in document order is named', () => {
    const policy: SigningPolicyInput = {
      rules: [
        { id: 'sepolia', effect: 'allow', when: { chainId: { eq: '11155111' } } },
        { id: 'small', effect: 'allow', when: { value: { lte: '100000000000000000' } } },
        { id: 'mainnet', effect: 'allow', when: { chainId: { eq: '1' } } },
      ],
    }
    expect(decision(evaluate(policy, tx))).toEqual({ allowed: true, rule: 'small' })
    expect(decision(evaluate(policy, { ...tx, value: 10n ** 18n }))).toEqual({ allowed: true, rule: 'mainnet' })
  })

  it('compiles once and evaluates many times with the same answers', () => {
    const compiled = compileSigningPolicy(normalizeSigningPolicy({ rules: [{ id: 'small', effect: 'allow', when: { value: { lte: '10' } } }] }))
    for (let v = 0n; v < 20n; v++) {
      expect(evaluateSigningPolicy(compiled, { ...tx, value: v }, { keyId: 'k', approvers: new Set() }).allowed).toBe(v <= 10n)
    }
  })
})

describe('families: an allow rule that names no family is an EVM rule', () => {
  const { transaction: tx, psbt, solanaTransaction: sol } = MATRIX_SAMPLES
  const familyReason = (family: string) => `${NO_RULE_ALLOWS} ${family} payloads (an allow rule must name the family)`

  it('an EVM-era policy { allow, when: { signer } } allows the EVM transaction, not a PSBT or a Solana transaction of the same signer', () => {
    const policy: SigningPolicyInput = { rules: [{ id: 'treasurer', effect: 'allow', when: { signer: { eq: MATRIX_SIGNER.uncompressed } } }] }
    expect(psbt.signer).toBe(tx.signer)
    expect(sol.signer).toBe(tx.signer)
    expect(evaluate(policy, tx)).toEqual({ allowed: true, rule: 'treasurer' })
    expect(evaluate(policy, psbt)).toEqual({ allowed: false, reason: NO_RULE_ALLOWS })
    expect(evaluate(policy, sol)).toEqual({ allowed: false, reason: NO_RULE_ALLOWS })
    // An allow rule without conditions is an EVM allow-everything too.
    const all: SigningPolicyInput = { rules: [{ id: 'all', effect: 'allow' }] }
    expect(decision(evaluate(all, tx))).toEqual({ allowed: true, rule: 'all' })
    expect(decision(evaluate(all, psbt))).toEqual({ allowed: false, rule: undefined })
    expect(decision(evaluate(all, sol))).toEqual({ allowed: false, rule: undefined })
    // Facts without a family (no extractor makes them) are no EVM payload's.
    const { family: _, ...noFamily } = tx
    expect(decision(evaluate(policy, noFamily as unknown as PolicyFacts))).toEqual({ allowed: false, rule: undefined })
  })

  it('naming the family allows that family only; naming several allows each', () => {
    const bitcoinOnly: SigningPolicyInput = { rules: [{ id: 'btc', effect: 'allow', when: { family: { eq: 'bitcoin' }, signer: { eq: MATRIX_SIGNER.uncompressed } } }] }
    expect(evaluate(bitcoinOnly, psbt)).toEqual({ allowed: true, rule: 'btc' })
    expect(decision(evaluate(bitcoinOnly, sol))).toEqual({ allowed: false, rule: undefined })
    expect(decision(evaluate(bitcoinOnly, tx))).toEqual({ allowed: false, rule: undefined })
    const every: SigningPolicyInput = { rules: [{ id: 'every', effect: 'allow', when: { family: { in: ['evm', 'bitcoin', 'solana'] } } }] }
    for (const facts of [tx, psbt, sol]) expect(decision(evaluate(every, facts))).toEqual({ allowed: true, rule: 'every' })
    // notIn names the family too: it is not an EVM-only rule.
    const notEvm: SigningPolicyInput = { rules: [{ id: 'not-evm', effect: 'allow', when: { family: { notIn: ['evm'] } } }] }
    expect(decision(evaluate(notEvm, psbt))).toEqual({ allowed: true, rule: 'not-evm' })
    expect(decision(evaluate(notEvm, tx))).toEqual({ allowed: false, rule: undefined })
  })

  it('deny rules apply to every family, named or not', () => {
    const policy: SigningPolicyInput = {
      rules: [
        { id: 'not-this-signer', effect: 'deny', when: { signer: { eq: MATRIX_SIGNER.uncompressed } } },
        { id: 'every', effect: 'allow', when: { family: { in: ['evm', 'bitcoin', 'solana'] } } },
      ],
    }
    for (const facts of [tx, psbt, sol]) expect(evaluate(policy, facts)).toEqual({ allowed: false, rule: 'not-this-signer', reason: 'a deny rule matches' })
    for (const facts of [tx, psbt, sol]) expect(decision(evaluate(policy, { ...facts, signer: testApiKey(9).compressed }))).toEqual({ allowed: true, rule: 'every' })
  })

  it('a deny-only policy refuses a PSBT and a Solana transaction: "no rule allows <family> payloads", no rule; naming family bitcoin allows the PSBT', () => {
    const denyOnly: SigningPolicyInput = { rules: [{ id: 'no-7702', effect: 'deny', when: { kind: { eq: 'authorization' } } }] }
    expect(evaluate(denyOnly, tx)).toEqual({ allowed: true })
    expect(evaluate(denyOnly, psbt)).toEqual({ allowed: false, reason: familyReason('bitcoin') })
    expect(evaluate(denyOnly, sol)).toEqual({ allowed: false, reason: familyReason('solana') })
    // The empty policy alike: it allows EVM payloads only.
    expect(evaluate({}, psbt)).toEqual({ allowed: false, reason: 'no rule allows bitcoin payloads (an allow rule must name the family)' })
    expect(evaluate({}, sol)).toEqual({ allowed: false, reason: familyReason('solana') })
    // With an allow rule naming family bitcoin, the PSBT is allowed by it; EVM payloads now need an allow rule too.
    const withBitcoin: SigningPolicyInput = { rules: [...(denyOnly.rules ?? []), { id: 'btc', effect: 'allow', when: { family: { eq: 'bitcoin' } } }] }
    expect(evaluate(withBitcoin, psbt)).toEqual({ allowed: true, rule: 'btc' })
    expect(evaluate(withBitcoin, sol)).toEqual({ allowed: false, reason: NO_RULE_ALLOWS })
    expect(evaluate(withBitcoin, tx)).toEqual({ allowed: false, reason: NO_RULE_ALLOWS })
  })
})

describe('Bitcoin addresses compare by their output script, whatever network the request declared', () => {
  const { psbt } = MATRIX_SAMPLES
  /** `address` (mainnet) spelt for `network`, by bitcoinjs-lib: the same output script. */
  const spelt = (address: string, network: bitcoin.networks.Network) => bitcoin.address.fromOutputScript(bitcoin.address.toOutputScript(address, bitcoin.networks.bitcoin), network)
  const payeeTestnet = spelt(MATRIX_BITCOIN.payee, bitcoin.networks.testnet)
  const otherTestnet = spelt(MATRIX_BITCOIN.other, bitcoin.networks.testnet)
  const onTestnet = (outputAddresses: string[]): PolicyFacts => ({ ...psbt, network: 'testnet', outputAddresses })

  it('the testnet spellings are other strings of the same outputs (cross-checked with bitcoinjs-lib)', () => {
    expect(payeeTestnet).toMatch(/^tb1p/)
    expect(otherTestnet).toMatch(/^[mn]/)
    expect(bitcoin.address.toOutputScript(payeeTestnet, bitcoin.networks.testnet)).toEqual(bitcoin.address.toOutputScript(MATRIX_BITCOIN.payee, bitcoin.networks.bitcoin))
  })

  it('a mainnet address in an allowlist matches the same output declared on testnet (bech32m and base58)', () => {
    const policy: SigningPolicyInput = { rules: [{ id: 'payees', effect: 'allow', when: { family: { eq: 'bitcoin' }, outputAddresses: { allIn: [MATRIX_BITCOIN.payee, MATRIX_BITCOIN.other] } } }] }
    expect(evaluate(policy, psbt)).toEqual({ allowed: true, rule: 'payees' })
    expect(evaluate(policy, onTestnet([payeeTestnet]))).toEqual({ allowed: true, rule: 'payees' })
    expect(evaluate(policy, onTestnet([payeeTestnet, otherTestnet]))).toEqual({ allowed: true, rule: 'payees' })
    expect(evaluate(policy, { ...psbt, network: 'regtest', outputAddresses: [spelt(MATRIX_BITCOIN.payee, bitcoin.networks.regtest)] })).toEqual({ allowed: true, rule: 'payees' })
    // Another output is still not listed, on any network.
    expect(evaluate(policy, onTestnet([payeeTestnet, spelt(MATRIX_BITCOIN.third, bitcoin.networks.testnet)]))).toEqual({ allowed: false, reason: NO_RULE_ALLOWS })
    // And a testnet address written in the rule matches the mainnet fact.
    const written: SigningPolicyInput = { rules: [{ id: 'tb', effect: 'allow', when: { family: { eq: 'bitcoin' }, outputAddresses: { anyIn: [payeeTestnet] } } }] }
    expect(decision(evaluate(written, psbt))).toEqual({ allowed: true, rule: 'tb' })
  })

  it('a denylist of a mainnet address refuses the same output declared on testnet', () => {
    const policy: SigningPolicyInput = {
      rules: [
        { id: 'sanctioned', effect: 'deny', when: { outputAddresses: { anyIn: [MATRIX_BITCOIN.payee] } } },
        { id: 'btc', effect: 'allow', when: { family: { eq: 'bitcoin' } } },
      ],
    }
    expect(evaluate(policy, psbt)).toEqual({ allowed: false, rule: 'sanctioned', reason: 'a deny rule matches' })
    expect(evaluate(policy, onTestnet([payeeTestnet]))).toEqual({ allowed: false, rule: 'sanctioned', reason: 'a deny rule matches' })
    expect(evaluate(policy, onTestnet([otherTestnet]))).toEqual({ allowed: true, rule: 'btc' })
    // noneIn as an allow condition alike.
    const clean: SigningPolicyInput = { rules: [{ id: 'clean', effect: 'allow', when: { family: { eq: 'bitcoin' }, outputAddresses: { noneIn: [MATRIX_BITCOIN.payee] } } }] }
    expect(decision(evaluate(clean, onTestnet([payeeTestnet])))).toEqual({ allowed: false, rule: undefined })
    expect(decision(evaluate(clean, onTestnet([otherTestnet])))).toEqual({ allowed: true, rule: 'clean' })
  })
})

describe('quorum approvals', () => {
  const [a, b, c, outsider] = [testApiKey(10), testApiKey(11), testApiKey(12), testApiKey(13)]
  const tx = { ...MATRIX_SAMPLES.transaction, signer: a.compressed }
  const policy: SigningPolicyInput = {
    rules: [
      { id: 'big', effect: 'allow', when: { value: { gt: '1000' } }, approvals: { from: [a.uncompressed, b.compressed, c.compressed], threshold: 2 } },
      { id: 'small', effect: 'allow', when: { value: { lte: '1000' } } },
    ],
  }

  it('needs threshold distinct approvers of its list; the requester counts', () => {
    expect(evaluate(policy, tx, { approvers: new Set([a.compressed]) })).toEqual({ allowed: false, rule: 'big', reason: 'needs 2 approvals from its approvers, has 1' })
    expect(decision(evaluate(policy, tx, { approvers: new Set([a.compressed, b.compressed]) }))).toEqual({ allowed: true, rule: 'big' })
    // The requester counts even when the caller left it out of `approvers`.
    expect(decision(evaluate(policy, tx, { approvers: new Set([c.compressed]) }))).toEqual({ allowed: true, rule: 'big' })
  })

  it('a stamp from outside the list does not count; one key in two SEC1 forms counts once', () => {
    expect(evaluate(policy, tx, { approvers: new Set([a.compressed, outsider.compressed]) })).toMatchObject({ allowed: false, reason: 'needs 2 approvals from its approvers, has 1' })
    const twice = new Set([a.compressed, a.uncompressed]) as ReadonlySet<`0x${string}`>
    expect(evaluate(policy, tx, { approvers: twice })).toMatchObject({ allowed: false, reason: 'needs 2 approvals from its approvers, has 1' })
    // A requester outside the list does not count either.
    expect(evaluate(policy, { ...tx, signer: outsider.compressed }, { approvers: new Set([outsider.compressed, b.compressed]) })).toMatchObject({ allowed: false, reason: 'needs 2 approvals from its approvers, has 1' })
    expect(decision(evaluate(policy, { ...tx, signer: outsider.compressed }, { approvers: new Set([c.uncompressed, b.compressed]) }))).toEqual({ allowed: true, rule: 'big' })
  })

  it('a quorum rule that fails gives way to a later matching allow rule without one', () => {
    const p: SigningPolicyInput = { rules: [{ ...policy.rules![0]!, when: {} }, { id: 'fallback', effect: 'allow', when: { chainId: { eq: '1' } } }] }
    expect(decision(evaluate(p, tx, { approvers: new Set([a.compressed]) }))).toEqual({ allowed: true, rule: 'fallback' })
    expect(decision(evaluate(p, tx, { approvers: new Set([a.compressed, b.compressed]) }))).toEqual({ allowed: true, rule: 'big' })
  })

  it('reasons carry no key material', () => {
    const r = evaluate(policy, tx, { approvers: new Set([a.compressed, outsider.compressed]) })
    const text = JSON.stringify(r)
    for (const k of [a, b, c, outsider]) for (const form of [k.compressed, k.uncompressed]) expect(text).not.toContain(form.slice(4, 40))
  })

  it('an approver that is not an API key is refused, naming it', () => {
    expect(refusal(() => evaluate(policy, tx, { approvers: new Set(['0x1234' as `0x${string}`]) }))).toMatchObject({ field: 'approvers[0]' })
  })
})

describe('rolling limits through the evaluator', () => {
  type Call = { bucket: string; limit: RollingLimit; amount: bigint }
  /** A RollingLimits that records what it is asked and answers as told. */
  function recorder(answer: (call: Call) => string | undefined = () => undefined): RollingLimits & { calls: Call[] } {
    const calls: Call[] = []
    return {
      calls,
      reserve(bucket, limit, amount) {
        calls.push({ bucket, limit, amount })
        const refused = answer({ bucket, limit, amount })
        return refused ? { refused } : { commit() {}, release() {} }
      },
    }
  }
  const [s1, s2] = [testApiKey(20), testApiKey(21)]
  const limited = (sum: 'value' | 'amount' | 'worstCaseFee' | 'count', per: 'key' | 'signer' = 'key'): SigningPolicyInput => ({
    rules: [{ id: 'daily', effect: 'allow', limit: { sum, max: '1000000000000000000', window: '24h', per } }],
  })

  it('the amount is value, amount, worstCaseFee (absent: 0) or 1 for count; buckets name key, rule and (per signer) the signer', () => {
    const tx = { ...MATRIX_SAMPLES.erc20Transfer, value: 7n, signer: s1.compressed }
    const got = (policy: SigningPolicyInput, facts: PolicyFacts) => {
      const limits = recorder()
      const r = evaluate(policy, facts, { limits })
      expect(r.allowed && r.rule === 'daily' && r.reservation !== undefined).toBe(true)
      return limits.calls[0]!
    }
    expect(got(limited('value'), tx)).toMatchObject({ amount: 7n, bucket: JSON.stringify(['treasury', 'daily']) })
    expect(got(limited('amount'), tx).amount).toBe(1_000_000n)
    expect(got(limited('worstCaseFee'), tx).amount).toBe(tx.worstCaseFee)
    expect(got(limited('count'), tx).amount).toBe(1n)
    expect(got(limited('amount'), MATRIX_SAMPLES.transaction).amount).toBe(0n)
    expect(got(limited('value'), MATRIX_SAMPLES.permit).amount).toBe(0n)
    expect(got(limited('value', 'signer'), tx).bucket).toBe(JSON.stringify(['treasury', 'daily', s1.compressed]))
    expect(got(limited('value'), tx).limit).toEqual({ afterRestart: 'deny-until-window-end', max: '1000000000000000000', per: 'key', sum: 'value', window: '24h' })
  })

  it('bucket names cannot collide across key ids and rule ids', () => {
    const limits = recorder()
    evaluateSigningPolicy(compileSigningPolicy(normalizeSigningPolicy({ rules: [{ id: 'b.c', effect: 'allow', limit: { sum: 'count', max: '9', window: '1h' } }] })), MATRIX_SAMPLES.transaction, { keyId: 'a', approvers: new Set(), limits })
    evaluateSigningPolicy(compileSigningPolicy(normalizeSigningPolicy({ rules: [{ id: 'c', effect: 'allow', limit: { sum: 'count', max: '9', window: '1h' } }] })), MATRIX_SAMPLES.transaction, { keyId: 'a.b', approvers: new Set(), limits })
    expect(limits.calls[0]!.bucket).not.toBe(limits.calls[1]!.bucket)
  })

  it('a refused limit gives way to a later rule; all failing names the first and its reason', () => {
    const limits = recorder(({ limit }) => (limit.max === '1' ? 'over' : undefined))
    const policy: SigningPolicyInput = {
      rules: [
        { id: 'tight', effect: 'allow', limit: { sum: 'count', max: '1', window: '1h' } },
        { id: 'loose', effect: 'allow', limit: { sum: 'count', max: '2', window: '1h' } },
      ],
    }
    expect(decision(evaluate(policy, MATRIX_SAMPLES.transaction, { limits }))).toEqual({ allowed: true, rule: 'loose' })
    const none = recorder(() => 'the limit of 1 count per 1h would be exceeded')
    expect(evaluate(policy, MATRIX_SAMPLES.transaction, { limits: none })).toEqual({ allowed: false, rule: 'tight', reason: 'the limit of 1 count per 1h would be exceeded' })
  })

  it('a rule whose quorum fails reserves nothing; only the allowing rule reserves', () => {
    const limits = recorder()
    const policy: SigningPolicyInput = {
      rules: [
        { id: 'quorum', effect: 'allow', approvals: { from: [s1.compressed, s2.compressed], threshold: 2 }, limit: { sum: 'count', max: '5', window: '1h' } },
        { id: 'a', effect: 'allow', limit: { sum: 'count', max: '5', window: '1h' } },
        { id: 'b', effect: 'allow', limit: { sum: 'count', max: '5', window: '1h' } },
      ],
    }
    expect(decision(evaluate(policy, { ...MATRIX_SAMPLES.transaction, signer: s1.compressed }, { limits }))).toEqual({ allowed: true, rule: 'a' })
    expect(limits.calls.map((c) => c.bucket)).toEqual([JSON.stringify(['treasury', 'a'])])
  })

  it('no limit state: a limited rule cannot allow (fail closed); a per-signer limit without a signer neither', () => {
    expect(evaluate(limited('value'), MATRIX_SAMPLES.transaction)).toEqual({ allowed: false, rule: 'daily', reason: 'has a rolling limit and no limit state is available' })
    const { signer: _, ...anonymous } = MATRIX_SAMPLES.transaction
    expect(evaluate(limited('value', 'signer'), anonymous, { limits: recorder() })).toMatchObject({ allowed: false, rule: 'daily' })
  })

  it('per-signer buckets are separate, per-key buckets shared (real limits)', () => {
    const limits = createRollingLimits({ now: () => 10 ** 12, bootTime: 0 })
    const compiled = (per: 'key' | 'signer') =>
      compileSigningPolicy(normalizeSigningPolicy({ rules: [{ id: 'twice', effect: 'allow', limit: { sum: 'count', max: '2', window: '1h', per } }] }))
    for (const per of ['signer', 'key'] as const) {
      const c = compiled(per)
      const run = (signer: `0x${string}`) => {
        const r = evaluateSigningPolicy(c, { ...MATRIX_SAMPLES.transaction, signer }, { keyId: `k-${per}`, approvers: new Set([signer]), limits })
        if (r.allowed) r.reservation!.commit()
        return r.allowed
      }
      const got = [run(s1.compressed), run(s1.compressed), run(s1.compressed), run(s2.compressed)]
      expect(got, per).toEqual(per === 'signer' ? [true, true, false, true] : [true, true, false, false])
    }
  })
})

describe('facts of the wrong type are refused, naming the fact', () => {
  const policy: SigningPolicyInput = {
    rules: [
      {
        id: 'all',
        effect: 'allow',
        when: { value: { gte: '0' }, to: { notIn: [MATRIX_ADDRESSES.other] }, selector: { notIn: ['0x00000000'] }, contractCreation: { eq: false }, signer: { notIn: [MATRIX_SIGNER.compressed] }, kind: { notIn: ['digest'] } },
      },
    ],
  }
  it.each([
    ['value', 5],
    ['value', -1n],
    ['value', '5'],
    ['to', '0x1234'],
    ['to', 7],
    ['selector', '0xa9059c'],
    ['contractCreation', 'false'],
    ['signer', '0x02abcd'],
    ['kind', 3],
  ] as const)('%s = %s', (fact, value) => {
    expect(refusal(() => evaluate(policy, { ...MATRIX_SAMPLES.transaction, [fact]: value } as unknown as PolicyFacts))).toMatchObject({ field: `facts.${fact}` })
  })
  const chainPolicy: SigningPolicyInput = {
    rules: [{ id: 'chains', effect: 'allow', when: { outputAddresses: { noneIn: ['script:6a00'] }, programIds: { noneIn: ['11111111111111111111111111111111'] }, feePayer: { notIn: ['11111111111111111111111111111111'] } } }],
  }
  it.each([
    ['outputAddresses', 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4', 'facts.outputAddresses'],
    ['outputAddresses', ['bc1q w508'], 'facts.outputAddresses[0]'],
    ['outputAddresses', ['script:6a0'], 'facts.outputAddresses[0]'],
    ['programIds', [7], 'facts.programIds[0]'],
    ['programIds', ['0OIl'.repeat(8)], 'facts.programIds[0]'],
    ['programIds', ['lookup:11111111111111111111111111111111:256'], 'facts.programIds[0]'],
    ['feePayer', 'lookup:11111111111111111111111111111111:0', 'facts.feePayer'],
  ] as const)('%s = %j', (fact, value, field) => {
    expect(refusal(() => evaluate(chainPolicy, { ...MATRIX_SAMPLES.psbt, ...MATRIX_SAMPLES.solanaTransaction, [fact]: value } as unknown as PolicyFacts))).toMatchObject({ field })
  })
  it('facts that are not an object', () => {
    expect(refusal(() => evaluate(policy, null as unknown as PolicyFacts))).toMatchObject({ field: 'facts' })
  })
})

describe('the schema refuses what the evaluator could not mean (at set time, naming the field)', () => {
  const one = (when: unknown): unknown => ({ rules: [{ id: 'r', effect: 'allow', when }] })

  it('unknown fact names', () => {
    expect(refusal(() => normalizeSigningPolicy(one({ valu: { lte: '1' } })))).toMatchObject({ field: 'policy.rules[0].when', rule: expect.stringContaining('"valu"') })
    expect(refusal(() => normalizeSigningPolicy(one(JSON.parse('{"__proto__":{"eq":"1"},"value":{"eq":"1"}}'))))).toMatchObject({ field: 'policy.rules[0].when' })
    // compileSigningPolicy puts its input through the same schema.
    expect(refusal(() => compileSigningPolicy(one({ usd: { lte: '1' } }) as never))).toMatchObject({ field: 'policy.rules[0].when' })
  })

  it('operators a fact type does not have, for every fact', () => {
    for (const fact of FACT_NAMES) {
      const allowed = OPERATORS_BY_TYPE[POLICY_FACTS[fact].type]
      for (const op of [...OPERATORS.filter((o) => !allowed.includes(o)), 'neq', 'between', 'regex']) {
        expect(refusal(() => normalizeSigningPolicy(one({ [fact]: { [op]: '1' } })))).toMatchObject({ field: `policy.rules[0].when.${fact}.${op}`, rule: expect.stringContaining('is not an operator') })
      }
    }
  })

  it('values of the wrong type, for every fact type', () => {
    const wrong: Record<string, unknown[]> = {
      uint: [1.5, -1, '-1', '0x10', '01', '1e3', true, null, (1n << 256n).toString()],
      address: ['0x1234', 42, '0x52908400098527886E0F7030069857D2E4169Ee7', null],
      enum: ['nope', 1, null],
      string: [1, null, 'x'.repeat(257)],
      bytes4: ['0xa9059c', 'a9059cbb', 0xa9059cbb, null],
      bool: ['true', 1, null],
      apiKey: ['0x1234', `0x04${'11'.repeat(64)}`, `0x05${'11'.repeat(32)}`, 7, null],
      bitcoinAddress: ['bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5', 'script:0014751e76e8199196d454941c45d1b3a323f1433bd6', 'script:', 1, null],
      solanaAddress: ['1111111111111111111111111111111', '0x1234', 'lookup:11111111111111111111111111111111:0', 1, null],
    }
    wrong['bitcoinAddress[]'] = wrong.bitcoinAddress!
    wrong['solanaAddress[]'] = wrong.solanaAddress!
    for (const fact of FACT_NAMES) {
      const type = POLICY_FACTS[fact].type
      if (type.endsWith('[]')) {
        // List-valued facts: every operator takes a list of element values.
        for (const op of OPERATORS_BY_TYPE[type]) {
          for (const value of wrong[type]!) {
            expect(refusal(() => normalizeSigningPolicy(one({ [fact]: { [op]: [value] } }))), `${fact} ${op} ${String(value)}`).toMatchObject({ field: `policy.rules[0].when.${fact}.${op}[0]` })
          }
          expect(refusal(() => normalizeSigningPolicy(one({ [fact]: { [op]: [] } })))).toMatchObject({ field: `policy.rules[0].when.${fact}.${op}` })
          expect(refusal(() => normalizeSigningPolicy(one({ [fact]: { [op]: 'x' } })))).toMatchObject({ field: `policy.rules[0].when.${fact}.${op}` })
        }
        continue
      }
      for (const value of wrong[type]!) {
        expect(refusal(() => normalizeSigningPolicy(one({ [fact]: { eq: value } }))), `${fact} = ${String(value)}`).toMatchObject({ field: `policy.rules[0].when.${fact}.eq` })
      }
      if (OPERATORS_BY_TYPE[type].includes('in')) {
        expect(refusal(() => normalizeSigningPolicy(one({ [fact]: { in: [] } })))).toMatchObject({ field: `policy.rules[0].when.${fact}.in` })
        expect(refusal(() => normalizeSigningPolicy(one({ [fact]: { in: 'x' } })))).toMatchObject({ field: `policy.rules[0].when.${fact}.in` })
        expect(refusal(() => normalizeSigningPolicy(one({ [fact]: { in: [wrong[type]![0]] } })))).toMatchObject({ field: `policy.rules[0].when.${fact}.in[0]` })
      }
    }
  })

  it('empty conditions, limits and quorums that mean nothing', () => {
    expect(refusal(() => normalizeSigningPolicy(one({ value: {} })))).toMatchObject({ field: 'policy.rules[0].when.value' })
    expect(refusal(() => normalizeSigningPolicy({ rules: [{ id: 'd', effect: 'deny', limit: { sum: 'value', max: '1', window: '24h' } }] }))).toMatchObject({ field: 'policy.rules[0].limit' })
    expect(refusal(() => normalizeSigningPolicy({ rules: [{ id: 'l', effect: 'allow', limit: { sum: 'usd', max: '1', window: '24h' } }] }))).toMatchObject({ field: 'policy.rules[0].limit.sum' })
    expect(refusal(() => normalizeSigningPolicy({ rules: [{ id: 'l', effect: 'allow', limit: { sum: 'value', max: '1', window: '30s' } }] }))).toMatchObject({ field: 'policy.rules[0].limit.window' })
    expect(refusal(() => normalizeSigningPolicy({ rules: [{ id: 'q', effect: 'allow', approvals: { from: [MATRIX_SIGNER.compressed], threshold: 2 } }] }))).toMatchObject({ field: 'policy.rules[0].approvals.threshold' })
  })

  it('every fact of the contract has a type the compiler knows (a new fact type fails here)', () => {
    for (const fact of FACT_NAMES as FactName[]) {
      const type = POLICY_FACTS[fact].type
      const op = OPERATORS_BY_TYPE[type][0]!
      const c = policyMatrixCases().find((x) => x.fact === fact && x.operator === op && x.holds)!
      expect(() => compileSigningPolicy(normalizeSigningPolicy(c.policy))).not.toThrow()
    }
  })
})
