import { type Hex, InvalidArgumentError, type PolicyFacts } from '@enclave-custody/sdk'
import { type CompiledPolicyRule, type CompiledSigningPolicy, canonicalApiKeyFast, type FactValue } from './compileSigningPolicy.js'
import type { LimitReservation, RollingLimits } from './rollingLimits.js'

/** What a request is evaluated with besides its facts (`facts.signer` is the requester's API key, set by the caller). */
export type EvaluateSigningPolicyContext = {
  /** The key the request signs with (names its limit buckets). */
  keyId: string
  /**
   * The API keys with a valid stamp over this very request, the requester's included (canonical compressed
   * form; another SEC1 form is canonicalised). Each key counts once.
   */
  approvers: ReadonlySet<Hex>
  /** Rolling-limit state. Absent: a rule with a limit cannot allow (fail closed). */
  limits?: RollingLimits
}

/**
 * The decision. Allowed: the allowing rule (none when the policy has no allow rule) and, when that rule has a
 * limit, the reservation to `commit()` once the signature is made or `release()` when signing fails. Denied:
 * the rule (the deny rule, or the first matching allow rule that could not allow; none for "no rule allows")
 * and why, without key material.
 */
export type PolicyEvaluation = { allowed: true; rule?: string; reservation?: LimitReservation } | { allowed: false; rule?: string; reason: string }

/** The reason when no allow rule matches. */
export const NO_RULE_ALLOWS = 'no rule allows'

function limitAmount(rule: CompiledPolicyRule, facts: ReadonlyMap<string, FactValue>): bigint {
  const sum = rule.limit!.sum
  return sum === 'count' ? 1n : ((facts.get(sum) as bigint | undefined) ?? 0n)
}

/** The stamping keys, canonical, with the requester (`facts.signer`, already canonical). */
function canonicalApprovers(approvers: ReadonlySet<Hex>, signer: FactValue | undefined): Set<Hex> {
  const out = new Set<Hex>()
  let i = 0
  for (const key of approvers) {
    out.add(canonicalApiKeyFast(key, `approvers[${i}]`))
    i++
  }
  if (typeof signer === 'string') out.add(signer as Hex)
  return out
}

/** How many distinct keys of `from` are among `approvers`. */
function approvalsOf(from: ReadonlySet<Hex>, approvers: ReadonlySet<Hex>): number {
  let n = 0
  for (const key of approvers) if (from.has(key)) n++
  return n
}

/**
 * Evaluate a request's facts against a compiled signing policy.
 *
 * Semantics:
 * - A rule matches when every condition of its `when` holds (`{}` matches everything). A condition on a fact the
 *   payload does not have is false, whatever its operators (`notIn` included). Every operator of one condition
 *   must hold (`{ gte, lte }` is a range). uint facts compare as bigints, `lt`/`gt` strict, `lte`/`gte`
 *   inclusive; addresses and selectors regardless of case; API keys as compressed points. List-valued facts
 *   (Bitcoin `outputAddresses`, Solana `programIds`, `solRecipients`, …): `allIn` holds when every element is
 *   listed (an empty list holds), `noneIn` when none is, `anyIn` when one is; entries that name no address
 *   (`script:<hex>` unless listed, `lookup:…`, `unchecked:…`) are in no list.
 * - Any matching deny rule denies, naming the first in document order (deny beats allow; it needs no quorum
 *   and takes no limit).
 * - A policy without any allow rule allows what no deny rule denies (`rule` undefined).
 * - Otherwise the matching allow rules are tried in document order; the first whose quorum is met (at least
 *   `threshold` distinct keys of `approvals.from` among `ctx.approvers` and the requester `facts.signer`) and
 *   whose limit, if any, reserves the request's amount (`value`, `amount`, `worstCaseFee`, `spendAmount`,
 *   `lamports` — absent counts 0, so a limit sums only the payloads that have its fact — or 1 for `count`; bucket per key and rule, plus the signer for `per: 'signer'`) allows, with its
 *   reservation. Only that rule reserves: a rule whose quorum fails reserves nothing.
 * - No matching allow rule: denied, `rule` undefined, reason {@link NO_RULE_ALLOWS}. Matching allow rules that
 *   all fail: denied, naming the first of them and why (its quorum, or its limit's refusal).
 *
 * Reasons carry counts, amounts and times, never key material.
 *
 * @param compiled The policy from `compileSigningPolicy`.
 * @param facts The payload's facts; `facts.signer` is the requester's API key, set by the caller.
 * @param ctx The key id, the stamping API keys and the rolling-limit state.
 * @returns The decision; when allowed with a reservation, the caller must commit or release it.
 * @throws InvalidArgumentError naming `facts.<name>` for a fact of the wrong type, or an approver that is not
 * an API key (nothing is reserved then).
 * @example
 * import { normalizeSigningPolicy } from '@enclave-custody/sdk'
 * import { compileSigningPolicy } from './compileSigningPolicy.js'
 * import { evaluateSigningPolicy } from './evaluateSigningPolicy.js'
 * const compiled = compileSigningPolicy(normalizeSigningPolicy({ rules: [{ id: 'small', effect: 'allow', when: { value: { lte: '100' } } }] }))
 * const decision = evaluateSigningPolicy(compiled, { family: 'evm', kind: 'eip1559', value: 50n }, { keyId: 'k', approvers: new Set() })
 * // { allowed: true, rule: 'small' }
 */
export function evaluateSigningPolicy(compiled: CompiledSigningPolicy, facts: PolicyFacts, ctx: EvaluateSigningPolicyContext): PolicyEvaluation {
  if (typeof facts !== 'object' || facts === null) throw new InvalidArgumentError({ field: 'facts', rule: 'must be an object' })
  const values = compiled.readFacts(facts)
  for (const rule of compiled.deny) {
    if (rule.matches(values)) return { allowed: false, rule: rule.id, reason: 'a deny rule matches' }
  }
  if (compiled.allow.length === 0) {
    // Without allow rules, what no deny rule matches is allowed — for EVM payloads, what such policies were written
    // for; another family's payload needs an allow rule that names its family.
    if (facts.family === 'evm') return { allowed: true }
    return { allowed: false, reason: `${NO_RULE_ALLOWS} ${facts.family} payloads (an allow rule must name the family)` }
  }

  let failed: { rule: string; reason: string } | undefined
  let approvers: Set<Hex> | undefined
  for (const rule of compiled.allow) {
    if (!rule.matches(values)) continue
    if (rule.approvals) {
      approvers ??= canonicalApprovers(ctx.approvers, values.get('signer'))
      const has = approvalsOf(rule.approvals.from, approvers)
      if (has < rule.approvals.threshold) {
        failed ??= { rule: rule.id, reason: `needs ${rule.approvals.threshold} approvals from its approvers, has ${has}` }
        continue
      }
    }
    if (!rule.limit) return { allowed: true, rule: rule.id }
    if (!ctx.limits) {
      failed ??= { rule: rule.id, reason: 'has a rolling limit and no limit state is available' }
      continue
    }
    let bucket: string
    if (rule.limit.per === 'signer') {
      const signer = values.get('signer')
      if (signer === undefined) {
        failed ??= { rule: rule.id, reason: 'has a per-signer limit and the request names no signer' }
        continue
      }
      // JSON of a list: no key id, rule id or key can run into the next.
      bucket = JSON.stringify([ctx.keyId, rule.id, signer])
    } else {
      bucket = JSON.stringify([ctx.keyId, rule.id])
    }
    const reservation = ctx.limits.reserve(bucket, rule.limit, limitAmount(rule, values))
    if ('refused' in reservation) {
      failed ??= { rule: rule.id, reason: reservation.refused }
      continue
    }
    return { allowed: true, rule: rule.id, reservation }
  }
  return failed ? { allowed: false, rule: failed.rule, reason: failed.reason } : { allowed: false, reason: NO_RULE_ALLOWS }
}
