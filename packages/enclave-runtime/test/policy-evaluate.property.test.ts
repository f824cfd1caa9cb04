/**
 * Property: for random policies and random facts, `evaluateSigningPolicy` decides as a small reference evaluator
 * written here, independently (it reads the canonical rules as written, with no compilation, no Sets and no
 * fact normalisation of its own beyond what the contract states: EVM addresses compared without case, Bitcoin
 * addresses by their output script — computed here with bitcoinjs-lib, not the SDK — an allow rule that names no
 * `family` matching EVM payloads only, and a policy without allow rules allowing only EVM payloads).
 */
import { type FactName, normalizeSigningPolicy, OPERATORS_BY_TYPE, type Operator, POLICY_FACTS, type PolicyFacts, type PolicyRule, type SigningPolicy, windowMs } from '@enclave-custody/sdk'
import * as bitcoin from 'bitcoinjs-lib'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compileSigningPolicy } from '../src/policy/compileSigningPolicy.js'
import { evaluateSigningPolicy } from '../src/policy/evaluateSigningPolicy.js'
import { createRollingLimits } from '../src/policy/rollingLimits.js'
import { nobleEcc } from './bitcoinFixtures.js'
import { MATRIX_ADDRESSES, MATRIX_BITCOIN, MATRIX_SOLANA, testApiKey } from './support/policyMatrix.js'

bitcoin.initEccLib(nobleEcc)
const BITCOIN_NETWORKS = [bitcoin.networks.bitcoin, bitcoin.networks.testnet, bitcoin.networks.regtest]
/** The output script of a Bitcoin address of any network, or of a `script:<hex>` entry, as `script:<hex>` (bitcoinjs-lib). */
function outputScriptOf(entry: string): string {
  if (entry.startsWith('script:')) return entry.toLowerCase()
  for (const network of BITCOIN_NETWORKS) {
    try {
      return `script:${Buffer.from(bitcoin.address.toOutputScript(entry, network)).toString('hex')}`
    } catch {
      // Another network's address: try the next.
    }
  }
  throw new Error(`not a Bitcoin address: ${entry}`)
}
/** The same output as a mainnet address, spelt for testnet (so that rules and facts disagree on the network). */
const onTestnet = (address: string) => bitcoin.address.fromOutputScript(bitcoin.address.toOutputScript(address, bitcoin.networks.bitcoin), bitcoin.networks.testnet)

const KEYS = [testApiKey(40), testApiKey(41), testApiKey(42), testApiKey(43)]
const GENEROUS = ((1n << 256n) - 1n).toString()

/** Small pools, so that conditions match often. Values as a rule writes them and as facts carry them. */
const POOLS: Record<string, readonly unknown[]> = {
  uint: [0n, 1n, 2n, 100n],
  address: [MATRIX_ADDRESSES.recipient, MATRIX_ADDRESSES.token, MATRIX_ADDRESSES.other],
  string: ['USD Coin', 'usd coin', 'Permit'],
  bytes4: ['0xa9059cbb', '0x095ea7b3', '0xdeadbeef'],
  bool: [true, false],
  apiKey: KEYS.slice(0, 3).map((k) => k.compressed),
  // Chain addresses (and, for facts, entries no rule can list: a script-only output, a lookup-table account).
  // Two of them also spelt for testnet: the same outputs, which a rule of the mainnet spelling matches.
  bitcoinAddress: [MATRIX_BITCOIN.payee, MATRIX_BITCOIN.other, MATRIX_BITCOIN.third, onTestnet(MATRIX_BITCOIN.payee), onTestnet(MATRIX_BITCOIN.other)],
  solanaAddress: [MATRIX_SOLANA.payer, MATRIX_SOLANA.recipient, MATRIX_SOLANA.system],
}
/** Entries a list-valued fact may hold besides addresses (never in a rule). */
const UNLISTED: Record<string, string> = { 'bitcoinAddress[]': MATRIX_BITCOIN.script, 'solanaAddress[]': MATRIX_SOLANA.lookup }
const isList = (fact: FactName) => POLICY_FACTS[fact].type.endsWith('[]')
const LIST_OPS: readonly Operator[] = ['in', 'notIn', 'allIn', 'noneIn', 'anyIn']
const pool = (fact: FactName): readonly unknown[] => POLICY_FACTS[fact].values ?? POOLS[POLICY_FACTS[fact].type.replace('[]', '')]!
const FACTS = Object.keys(POLICY_FACTS) as FactName[]
/** A few facts per run, so that rules overlap. */
const factSubset = fc.shuffledSubarray(FACTS, { minLength: 1, maxLength: 6 })

const written = (v: unknown): unknown => (typeof v === 'bigint' ? v.toString() : v)

const conditionArb = (fact: FactName) => {
  const ops = OPERATORS_BY_TYPE[POLICY_FACTS[fact].type]
  const values = pool(fact)
  const scalar = fc.constantFrom(...values).map(written)
  const list = fc.uniqueArray(fc.constantFrom(...values), { minLength: 1, maxLength: values.length }).map((l) => l.map(written))
  return fc
    .uniqueArray(fc.constantFrom(...ops), { minLength: 1, maxLength: 2 })
    .chain((chosen) => fc.tuple(...chosen.map((op) => (LIST_OPS.includes(op) ? list : scalar).map((v) => [op, v] as const))))
    .map((pairs) => Object.fromEntries(pairs))
}

const ruleArb = (facts: FactName[], id: string) =>
  fc
    .record({
      effect: fc.constantFrom('allow', 'deny'),
      when: fc.subarray(facts, { maxLength: Math.min(3, facts.length) }).chain((names) => fc.tuple(...names.map((n) => conditionArb(n).map((c) => [n, c] as const))).map((e) => Object.fromEntries(e))),
      approvals: fc.option(
        fc.uniqueArray(fc.constantFrom(...KEYS.slice(0, 3)), { minLength: 1, maxLength: 3 }).chain((from) =>
          fc.record({ from: fc.constant(from.map((k, i) => (i % 2 ? k.uncompressed : k.compressed))), threshold: fc.integer({ min: 1, max: from.length }) }),
        ),
        { nil: undefined },
      ),
      limit: fc.option(
        fc.record({
          sum: fc.constantFrom('value', 'amount', 'worstCaseFee', 'count', 'spendAmount', 'lamports'),
          max: fc.constantFrom('0', '1', GENEROUS),
          window: fc.constantFrom('1m', '24h'),
          per: fc.constantFrom('key', 'signer'),
          afterRestart: fc.constantFrom('deny-until-window-end', 'reset'),
        }),
        { nil: undefined },
      ),
    })
    .map((r) => ({ id, effect: r.effect, when: r.when, ...(r.effect === 'allow' && r.approvals ? { approvals: r.approvals } : {}), ...(r.effect === 'allow' && r.limit ? { limit: r.limit } : {}) }))

const policyArb = factSubset.chain((facts) =>
  fc.integer({ min: 0, max: 6 }).chain((n) => fc.tuple(fc.constant(facts), fc.tuple(...Array.from({ length: n }, (_, i) => ruleArb(facts, `r${i}`))))),
)

const factsArb = (facts: FactName[]) =>
  fc.tuple(
    ...facts.map((f) =>
      fc
        // A list-valued fact: a few of its pool's values and the unlisted entry, repeats allowed (possibly none).
        .option(isList(f) ? fc.array(fc.constantFrom(...pool(f), UNLISTED[POLICY_FACTS[f].type]!), { maxLength: 4 }) : fc.constantFrom(...pool(f)), { nil: undefined, freq: 4 })
        .map((v) => [f, v] as const),
    ),
  ).map((entries) => {
    const out: Record<string, unknown> = { family: 'evm', kind: 'eip1559' }
    for (const [f, v] of entries) {
      if (v === undefined) delete out[f]
      else out[f] = v
    }
    return out as PolicyFacts
  })

// ---- The reference evaluator -------------------------------------------------------------------------

/** Whether one operator holds, comparing the fact (typed) with the canonical written value. */
function holds(fact: FactName, op: Operator, written: unknown, value: unknown): boolean {
  const type = POLICY_FACTS[fact].type
  // Bitcoin addresses, written and in the fact, are compared as the output scripts they stand for.
  const bitcoinish = type === 'bitcoinAddress' || type === 'bitcoinAddress[]'
  const script = (x: unknown): unknown => (Array.isArray(x) ? x.map(script) : outputScriptOf(x as string))
  const w = bitcoinish ? script(written) : written
  const v = bitcoinish ? script(value) : value
  const same = (x: unknown): boolean => {
    if (type === 'uint') return BigInt(x as string) === v
    if (type === 'address') return (x as string).toLowerCase() === (v as string).toLowerCase()
    return x === v
  }
  switch (op) {
    case 'eq':
      return same(w)
    case 'in':
      return (w as unknown[]).some(same)
    case 'notIn':
      return !(w as unknown[]).some(same)
    case 'lt':
      return (v as bigint) < BigInt(w as string)
    case 'lte':
      return (v as bigint) <= BigInt(w as string)
    case 'gt':
      return (v as bigint) > BigInt(w as string)
    case 'gte':
      return (v as bigint) >= BigInt(w as string)
    case 'allIn':
      return (v as string[]).every((x) => (w as string[]).includes(x))
    case 'noneIn':
      return (v as string[]).every((x) => !(w as string[]).includes(x))
    case 'anyIn':
      return (v as string[]).some((x) => (w as string[]).includes(x))
  }
}

function ruleMatches(rule: PolicyRule, facts: PolicyFacts): boolean {
  // An allow rule that does not name the family was written for EVM: it matches EVM payloads only.
  if (rule.effect === 'allow' && rule.when.family === undefined && facts.family !== 'evm') return false
  return Object.entries(rule.when).every(([fact, cond]) => {
    const v = facts[fact as FactName]
    return v !== undefined && Object.entries(cond!).every(([op, w]) => holds(fact as FactName, op as Operator, w, v))
  })
}

/** The decision the contract describes, with limits modelled for a fresh state (one request). */
function reference(policy: SigningPolicy, facts: PolicyFacts, approvers: Set<string>, now: number, bootTime: number): { allowed: boolean; rule: string | undefined } {
  const deny = policy.rules.find((r) => r.effect === 'deny' && ruleMatches(r, facts))
  if (deny) return { allowed: false, rule: deny.id }
  const allows = policy.rules.filter((r) => r.effect === 'allow')
  // No allow rule: what no deny rule matches is allowed if it is an EVM payload, and refused otherwise.
  if (allows.length === 0) return { allowed: facts.family === 'evm', rule: undefined }
  const matching = allows.filter((r) => ruleMatches(r, facts))
  for (const r of matching) {
    if (r.approvals) {
      const by = new Set([...approvers, ...(facts.signer ? [facts.signer] : [])].filter((k) => r.approvals!.from.includes(k as `0x${string}`)))
      if (by.size < r.approvals.threshold) continue
    }
    if (r.limit) {
      const l = r.limit
      if (l.per === 'signer' && facts.signer === undefined) continue
      if (l.afterRestart === 'deny-until-window-end' && now < bootTime + windowMs(l.window)) continue
      const amount = l.sum === 'count' ? 1n : ((facts[l.sum] as bigint | undefined) ?? 0n)
      if (amount > BigInt(l.max)) continue
    }
    return { allowed: true, rule: r.id }
  }
  return { allowed: false, rule: matching[0]?.id }
}

describe('property: the evaluator decides as the reference evaluator', () => {
  it('random policies × random facts × random approvers and boot times', () => {
    const now = 1_700_000_000_000
    fc.assert(
      fc.property(
        policyArb.chain(([facts, rules]) =>
          fc.record({
            rules: fc.constant(rules),
            facts: factsArb(facts),
            approvers: fc.subarray(KEYS.map((k) => k.compressed)),
            bootTime: fc.constantFrom(0, now - 60_000, now),
          }),
        ),
        ({ rules, facts, approvers, bootTime }) => {
          const policy = normalizeSigningPolicy({ rules })
          const limits = createRollingLimits({ now: () => now, bootTime })
          const got = evaluateSigningPolicy(compileSigningPolicy(policy), facts, { keyId: 'k', approvers: new Set(approvers), limits })
          const want = reference(policy, facts, new Set(approvers), now, bootTime)
          expect({ allowed: got.allowed, rule: got.rule }).toEqual(want)
          if (!got.allowed && got.rule === undefined) {
            const hasAllow = policy.rules.some((r) => r.effect === 'allow')
            expect(got.reason).toBe(hasAllow ? 'no rule allows' : `no rule allows ${facts.family} payloads (an allow rule must name the family)`)
          }
          if (got.allowed && got.rule !== undefined) expect(got.reservation !== undefined).toBe(policy.rules.find((r) => r.id === got.rule)!.limit !== undefined)
        },
      ),
      { numRuns: 2000 },
    )
  })

  it('the generators reach every decision (the property is not vacuous)', () => {
    const seen = new Set<string>()
    const now = 1_700_000_000_000
    fc.assert(
      fc.property(
        policyArb.chain(([facts, rules]) =>
          fc.record({ rules: fc.constant(rules), facts: factsArb(facts), approvers: fc.subarray(KEYS.map((k) => k.compressed)), bootTime: fc.constantFrom(0, now) }),
        ),
        ({ rules, facts, approvers, bootTime }) => {
          const policy = normalizeSigningPolicy({ rules })
          const got = evaluateSigningPolicy(compileSigningPolicy(policy), facts, { keyId: 'k', approvers: new Set(approvers), limits: createRollingLimits({ now: () => now, bootTime }) })
          const effect = got.rule === undefined ? 'none' : policy.rules.find((r) => r.id === got.rule)!.effect
          seen.add(`${got.allowed}/${effect}`)
          if (!got.allowed && effect === 'allow') seen.add(got.reason.split(' ').slice(0, 2).join(' '))
          // A payload of another family than EVM that a policy without allow rules refuses.
          if (!got.allowed && got.rule === undefined && got.reason.endsWith('(an allow rule must name the family)')) seen.add('family refused')
          // An allow rule that names no family, whose conditions hold (it would match the payload were it EVM's), does not
          // allow another family's payload.
          if (!got.allowed && facts.family !== 'evm' && policy.rules.some((r) => r.effect === 'allow' && Object.keys(r.when).length > 0 && ruleMatches(r, { ...facts, family: 'evm' }))) seen.add('evm-only rule')
        },
      ),
      { numRuns: 2000, seed: 12 },
    )
    expect([...seen].sort()).toEqual(['evm-only rule', 'false/allow', 'false/deny', 'false/none', 'family refused', 'has a', 'needs 1', 'needs 2', 'needs 3', 'the enclave', 'this request', 'true/allow', 'true/none'])
  })
})
