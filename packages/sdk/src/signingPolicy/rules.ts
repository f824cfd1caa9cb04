import { canonicalApiKey, MAX_OWNERS } from '../keys/owners.js'
import { assertAddress } from '../utils/address.js'
import { assertObject, fail, typeName } from '../utils/assert.js'
import type { Hex } from '../utils/hex.js'
import { canonicalBitcoinAddress, canonicalSolanaAddress } from './chainAddresses.js'
import { type FactName, type FactSpec, LIST_VALUE_OPERATORS, OPERATORS_BY_TYPE, type Operator, POLICY_FACTS } from './facts.js'

/** A value a condition compares a fact with, as written in a policy (canonical form). */
export type ConditionValue = string | boolean
/** A condition on one fact: every operator given must hold (`{ gte: '1', lte: '10' }` is a range). */
export type Condition = Partial<Record<Operator, ConditionValue | ConditionValue[]>>

/**
 * What a rolling limit adds up over its window: an EVM fact (`value`, `amount`, `worstCaseFee`, in wei or token
 * base units), Bitcoin's `spendAmount` (satoshis), Solana's `lamports`, or `count` (signatures). A payload without
 * the fact adds 0, so units never mix: a `spendAmount` limit sums only PSBTs.
 */
export const LIMIT_SUMS = ['value', 'amount', 'worstCaseFee', 'count', 'spendAmount', 'lamports'] as const
export type LimitSum = (typeof LIMIT_SUMS)[number]
export const AFTER_RESTART = ['deny-until-window-end', 'reset'] as const
export type AfterRestart = (typeof AFTER_RESTART)[number]

/**
 * A rolling limit on an allow rule: what the rule allowed inside the last `window` (e.g. `'24h'`), plus this
 * request, must stay at most `max`. Counted per key (`per: 'key'`, the default) or per stamping API key.
 * `afterRestart`: an enclave that restarted does not know what it signed before; `deny-until-window-end` (the
 * default) refuses under this rule until a whole window has passed since its boot, `reset` starts from zero.
 */
export type RollingLimit = { sum: LimitSum; max: string; window: string; per: 'key' | 'signer'; afterRestart: AfterRestart }

/** Quorum: the request needs stamps from `threshold` distinct API keys of `from` (the requester's counts). */
export type RuleApprovals = { from: Hex[]; threshold: number }

/** One rule of a signing policy, in canonical form (see {@link normalizeSigningPolicy}). */
export type PolicyRule = {
  id: string
  effect: 'allow' | 'deny'
  /** Conditions over facts, all of which must hold; `{}` matches every payload. */
  when: Partial<Record<FactName, Condition>>
  approvals?: RuleApprovals
  limit?: RollingLimit
  description?: string
}

/** What a key's signing policy says: its rules, and the API keys besides its owners that may request signatures. */
export type SigningPolicy = { rules: PolicyRule[]; signers: Hex[] }

/** What callers pass: canonicalised by {@link normalizeSigningPolicy}. */
export type SigningPolicyInput = { rules?: readonly PolicyRuleInput[]; signers?: readonly string[] }
export type PolicyRuleInput = {
  id: string
  effect: 'allow' | 'deny'
  when?: Partial<Record<FactName, Partial<Record<Operator, unknown>>>>
  approvals?: { from: readonly string[]; threshold?: number }
  limit?: { sum: LimitSum; max: string | number | bigint; window: string; per?: 'key' | 'signer'; afterRestart?: AfterRestart }
  description?: string
}

export const MAX_POLICY_RULES = 64
export const MAX_POLICY_SIGNERS = 64
export const MAX_CONDITION_VALUES = 256
export const RULE_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/
/** Longest rolling-limit window: 31 days. */
export const MAX_WINDOW_MS = 31 * 24 * 3600 * 1000
const WINDOW_PATTERN = /^([1-9][0-9]{0,5})(s|m|h|d)$/
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const
const UINT256_MAX = (1n << 256n) - 1n

/** The milliseconds of a window string (`'90s'`, `'15m'`, `'24h'`, `'7d'`). @throws InvalidArgumentError */
export function windowMs(window: unknown, field = 'window'): number {
  const m = typeof window === 'string' ? WINDOW_PATTERN.exec(window) : null
  if (!m) fail(field, 'must be a duration like "90s", "15m", "24h" or "7d"')
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]
  if (ms < 60_000 || ms > MAX_WINDOW_MS) fail(field, 'must be from 1 minute to 31 days')
  return ms
}

/** A non-negative integer below 2^256 as its canonical decimal string. */
function uint(value: unknown, field: string): string {
  let n: bigint
  if (typeof value === 'bigint') n = value
  else if (typeof value === 'number' && Number.isSafeInteger(value)) n = BigInt(value)
  else if (typeof value === 'string' && /^(?:0|[1-9][0-9]{0,77})$/.test(value)) n = BigInt(value)
  else return fail(field, `must be a non-negative integer as a decimal string (got ${typeName(value)})`)
  if (n < 0n || n > UINT256_MAX) fail(field, 'must be a non-negative integer below 2^256')
  return n.toString()
}

function scalar(spec: FactSpec, value: unknown, field: string): ConditionValue {
  switch (spec.type) {
    case 'uint':
      return uint(value, field)
    case 'address':
      return assertAddress(value, field)
    case 'apiKey':
      return canonicalApiKey(value, field)
    case 'bool':
      if (typeof value !== 'boolean') fail(field, `must be a boolean (got ${typeName(value)})`)
      return value
    case 'bytes4':
      if (typeof value !== 'string' || !/^0x[0-9a-fA-F]{8}$/.test(value)) fail(field, 'must be a 4-byte selector, 0x-hex')
      return value.toLowerCase()
    case 'enum':
      if (typeof value !== 'string' || !spec.values!.includes(value)) fail(field, `must be one of ${spec.values!.join(', ')}`)
      return value
    case 'string':
      if (typeof value !== 'string' || value.length > 256) fail(field, 'must be a string of at most 256 characters')
      return value
    case 'bitcoinAddress':
    case 'bitcoinAddress[]':
      return canonicalBitcoinAddress(value, field)
    case 'solanaAddress':
    case 'solanaAddress[]':
      return canonicalSolanaAddress(value, field)
  }
}

function condition(fact: FactName, value: unknown, field: string): Condition {
  const spec = POLICY_FACTS[fact]
  const allowed = OPERATORS_BY_TYPE[spec.type]
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(field, `must be an object of operators (${allowed.join(', ')})`)
  const ops = Object.keys(value)
  if (ops.length === 0) fail(field, 'must have at least one operator')
  const out: Condition = {}
  for (const op of ops) {
    if (!(allowed as readonly string[]).includes(op)) fail(`${field}.${op}`, `is not an operator of ${spec.type} fact "${fact}" (use ${allowed.join(', ')})`)
    const v = (value as Record<string, unknown>)[op]
    // Lists: `in` / `notIn` of a scalar fact, and every operator of a list-valued fact (values of its element type).
    if (LIST_VALUE_OPERATORS.includes(op as Operator)) {
      if (!Array.isArray(v) || v.length === 0 || v.length > MAX_CONDITION_VALUES) fail(`${field}.${op}`, `must be a list of 1 to ${MAX_CONDITION_VALUES} values`)
      const list = v.map((x, i) => scalar(spec, x, `${field}.${op}[${i}]`))
      // Canonical: sorted, no duplicates (so that one meaning has one digest).
      out[op as Operator] = [...new Set(list.map((x) => JSON.stringify(x)))].sort().map((x) => JSON.parse(x) as ConditionValue)
    } else {
      out[op as Operator] = scalar(spec, v, `${field}.${op}`)
    }
  }
  return sortKeys(out)
}

function sortKeys<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) as T
}

function apiKeys(value: unknown, field: string, max: number, min: number): Hex[] {
  if (!Array.isArray(value) || value.length < min || value.length > max) fail(field, `must list ${min} to ${max} API public keys`)
  return [...new Set(value.map((k, i) => canonicalApiKey(k, `${field}[${i}]`)))].sort()
}

function rule(value: unknown, field: string): PolicyRule {
  const r = assertObject(value, field, ['id', 'effect', 'when', 'approvals', 'limit', 'description'])
  if (typeof r.id !== 'string' || !RULE_ID_PATTERN.test(r.id)) fail(`${field}.id`, 'must be 1-64 characters of [A-Za-z0-9._-]')
  if (r.effect !== 'allow' && r.effect !== 'deny') fail(`${field}.effect`, 'must be "allow" or "deny"')
  const out: PolicyRule = { id: r.id, effect: r.effect, when: {} }
  if (r.when !== undefined) {
    const w = assertObject(r.when, `${field}.when`, Object.keys(POLICY_FACTS))
    const when: Partial<Record<FactName, Condition>> = {}
    for (const fact of Object.keys(w) as FactName[]) when[fact] = condition(fact, w[fact], `${field}.when.${fact}`)
    out.when = sortKeys(when)
  }
  if (r.approvals !== undefined) {
    if (r.effect !== 'allow') fail(`${field}.approvals`, 'is only for allow rules (a deny needs no quorum)')
    const a = assertObject(r.approvals, `${field}.approvals`, ['from', 'threshold'])
    const from = apiKeys(a.from, `${field}.approvals.from`, MAX_OWNERS, 1)
    const threshold = a.threshold ?? 1
    if (typeof threshold !== 'number' || !Number.isInteger(threshold) || threshold < 1 || threshold > from.length) {
      fail(`${field}.approvals.threshold`, `must be an integer from 1 to the number of distinct approvers (${from.length})`)
    }
    out.approvals = { from, threshold }
  }
  if (r.limit !== undefined) {
    if (r.effect !== 'allow') fail(`${field}.limit`, 'is only for allow rules')
    const l = assertObject(r.limit, `${field}.limit`, ['sum', 'max', 'window', 'per', 'afterRestart'])
    if (!LIMIT_SUMS.includes(l.sum as LimitSum)) fail(`${field}.limit.sum`, `must be one of ${LIMIT_SUMS.join(', ')}`)
    windowMs(l.window, `${field}.limit.window`)
    const per = l.per ?? 'key'
    if (per !== 'key' && per !== 'signer') fail(`${field}.limit.per`, 'must be "key" or "signer"')
    const afterRestart = l.afterRestart ?? 'deny-until-window-end'
    if (!AFTER_RESTART.includes(afterRestart as AfterRestart)) fail(`${field}.limit.afterRestart`, `must be one of ${AFTER_RESTART.join(', ')}`)
    out.limit = { afterRestart: afterRestart as AfterRestart, max: uint(l.max, `${field}.limit.max`), per, sum: l.sum as LimitSum, window: l.window as string }
  }
  if (r.description !== undefined) {
    if (typeof r.description !== 'string' || r.description.length > 200) fail(`${field}.description`, 'must be a string of at most 200 characters')
    out.description = r.description
  }
  return out
}

/**
 * Check a signing policy and return its canonical form: every fact name, operator and value validated
 * (unknown facts or operators are refused here, never at signing time), addresses EIP-55 checksummed, Bitcoin
 * addresses decoded (checksum, network, type) with segwit ones lower-cased, Solana addresses decoded to 32 bytes, API
 * keys compressed, integers as decimal strings, lists sorted and deduplicated, defaults written out. The
 * enclave accepts only documents already in this form, so one meaning has one digest.
 *
 * @throws InvalidArgumentError naming the field and the rule.
 * @example
 * normalizeSigningPolicy({ rules: [{ id: 'small', effect: 'allow', when: { value: { lte: '100000000000000000' } } }] })
 */
export function normalizeSigningPolicy(value: unknown, field = 'policy'): SigningPolicy {
  const p = assertObject(value, field, ['rules', 'signers'])
  const rulesIn = p.rules ?? []
  if (!Array.isArray(rulesIn) || rulesIn.length > MAX_POLICY_RULES) fail(`${field}.rules`, `must be a list of at most ${MAX_POLICY_RULES} rules`)
  const rules = rulesIn.map((r, i) => rule(r, `${field}.rules[${i}]`))
  const ids = new Set<string>()
  for (const [i, r] of rules.entries()) {
    if (ids.has(r.id)) fail(`${field}.rules[${i}].id`, `repeats rule id "${r.id}"`)
    ids.add(r.id)
  }
  const signers = p.signers === undefined ? [] : apiKeys(p.signers, `${field}.signers`, MAX_POLICY_SIGNERS, 0)
  return { rules, signers }
}
