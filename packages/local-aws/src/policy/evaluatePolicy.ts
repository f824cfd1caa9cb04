import { principalArnOf } from '../auth/principals.js'
import { type CompiledCondition, type CompiledStatement, compileKeyPolicy } from './parseKeyPolicy.js'
import type { KeyPolicyDocument, PolicyContext } from './types.js'

export type EvaluatePolicyParameters = {
  /** The caller as authenticated: a user, role, account root, or assumed-role session ARN. */
  principalArn: string
  /** The action, e.g. `kms:Decrypt`. Matched case-insensitively. */
  action: string
  /** The key ARN. */
  resourceArn: string
  /**
   * Condition keys of the request (`kms:EncryptionContext:<k>`, `kms:RecipientAttestation:PCR0`, …).
   * `aws:PrincipalArn`, `aws:PrincipalAccount` and `kms:CallerAccount` are derived from `principalArn`
   * unless given.
   */
  context?: PolicyContext
}

export type PolicyDecision = 'Allow' | 'ExplicitDeny' | 'ImplicitDeny'

export type EvaluatePolicyReturnType = {
  decision: PolicyDecision
  allowed: boolean
  /** The statements that applied to the request: the Deny statements on an explicit deny, else the Allows. */
  statements: { index: number; sid: string | undefined; effect: 'Allow' | 'Deny' }[]
}

/**
 * Evaluate a key policy for one request, with IAM semantics: an applicable `Deny` wins, else an applicable
 * `Allow` allows, else the request is implicitly denied.
 *
 * A statement applies when its principal, action, resource and every condition match. Principals: `"*"`
 * matches anyone; an account id or `arn:aws:iam::<acct>:root` matches every principal of that account; a role
 * ARN also matches its assumed-role sessions; other ARNs match exactly. Conditions follow IAM: a key missing
 * from the request fails positive operators (`StringEquals`, `StringLike`, `Bool`, …) and satisfies negated
 * ones (`StringNotEquals`, …) and `…IfExists`; `Null` tests presence. So an `Allow` conditioned on
 * `kms:RecipientAttestation:*` never applies without a verified attestation document, and a
 * `Deny` with `StringNotEquals…` on it always does. Values of `kms:RecipientAttestation:*` keys (hex PCRs)
 * compare case-insensitively under every string operator.
 *
 * @param policy - the policy JSON text or document
 * @param parameters - who does what to which key, and the request's condition keys
 * @returns the decision and the statements that produced it
 * @throws PolicyDocumentError when the policy is malformed
 * @example
 * import { evaluatePolicy } from '@enclave-custody/local-aws'
 * const { allowed } = evaluatePolicy(policyJson, {
 *   principalArn: 'arn:aws:sts::111122223333:assumed-role/enclave/i-0abc',
 *   action: 'kms:Decrypt',
 *   resourceArn: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
 *   context: { 'kms:RecipientAttestation:ImageSha384': pcr0Hex },
 * })
 */
export function evaluatePolicy(policy: string | KeyPolicyDocument, parameters: EvaluatePolicyParameters): EvaluatePolicyReturnType {
  const { statements } = compileKeyPolicy(policy)
  const request = normalizeRequest(parameters)
  const applicable = statements.filter((s) => statementApplies(s, request))
  const denies = applicable.filter((s) => s.effect === 'Deny')
  const decided = denies.length > 0 ? denies : applicable
  const decision: PolicyDecision = denies.length > 0 ? 'ExplicitDeny' : applicable.length > 0 ? 'Allow' : 'ImplicitDeny'
  return {
    decision,
    allowed: decision === 'Allow',
    statements: decided.map((s) => ({ index: s.index, sid: s.sid, effect: s.effect })),
  }
}

type NormalizedRequest = {
  callerArn: string
  identityArn: string
  account: string | undefined
  action: string
  resourceArn: string
  context: Map<string, readonly string[]>
}

function normalizeRequest({ principalArn, action, resourceArn, context = {} }: EvaluatePolicyParameters): NormalizedRequest {
  const account = /^arn:aws:(?:iam|sts)::(\d{12}):/.exec(principalArn)?.[1]
  const identityArn = principalArnOf(principalArn)
  const map = new Map<string, readonly string[]>()
  const derived: Record<string, string | undefined> = {
    'aws:principalarn': identityArn,
    'aws:principalaccount': account,
    'kms:calleraccount': account,
  }
  for (const [k, v] of Object.entries(derived)) if (v !== undefined) map.set(k, [v])
  for (const [k, v] of Object.entries(context)) {
    if (v === undefined) continue
    map.set(k.toLowerCase(), typeof v === 'string' ? [v] : v)
  }
  return { callerArn: principalArn, identityArn, account, action: action.toLowerCase(), resourceArn, context: map }
}

function statementApplies(s: CompiledStatement, r: NormalizedRequest): boolean {
  const principal = s.principals === undefined || s.principals.some((p) => principalMatches(p, r))
  if (principal === s.principalNegated) return false
  const action = s.actions.some((a) => globMatch(a, r.action, false))
  if (action === s.actionNegated) return false
  const resource = s.resources.some((pattern) => globMatch(pattern, r.resourceArn, false))
  if (resource === s.resourceNegated) return false
  return s.conditions.every((c) => conditionHolds(c, r.context))
}

function principalMatches(entry: string, r: NormalizedRequest): boolean {
  if (/^\d{12}$/.test(entry)) return entry === r.account
  const root = /^arn:aws:iam::(\d{12}):root$/.exec(entry)
  if (root !== null) return root[1] === r.account
  return entry === r.callerArn || entry === r.identityArn
}

function conditionHolds(c: CompiledCondition, context: ReadonlyMap<string, readonly string[]>): boolean {
  const values = context.get(c.key)
  const present = values !== undefined && values.length > 0
  if (c.base === 'Null') return c.values.some((v) => (v === 'true') === !present)
  if (!present) {
    if (c.set === 'ForAllValues') return true
    if (c.set === 'ForAnyValue') return false
    return c.ifExists || c.negated
  }
  const ignoreCase = c.key.startsWith('kms:recipientattestation:')
  const test = (value: string): boolean => {
    const matched = c.values.some((p) => valueMatches(c.base, value, p, ignoreCase))
    return c.negated ? !matched : matched
  }
  return c.set === 'ForAllValues' ? values.every(test) : values.some(test)
}

function valueMatches(base: CompiledCondition['base'], value: string, pattern: string, ignoreCase: boolean): boolean {
  switch (base) {
    case 'StringEquals':
      return ignoreCase ? value.toLowerCase() === pattern.toLowerCase() : value === pattern
    case 'StringEqualsIgnoreCase':
    case 'Bool':
      return value.toLowerCase() === pattern.toLowerCase()
    case 'StringLike':
      return globMatch(pattern, value, ignoreCase)
    case 'ArnLike':
      return globMatch(pattern, value, false)
    case 'NumericEquals':
      return Number(value) === Number(pattern)
    case 'NumericLessThan':
      return Number(value) < Number(pattern)
    case 'NumericLessThanEquals':
      return Number(value) <= Number(pattern)
    case 'NumericGreaterThan':
      return Number(value) > Number(pattern)
    case 'NumericGreaterThanEquals':
      return Number(value) >= Number(pattern)
    case 'Null':
      return false
  }
}

/** IAM wildcards: `*` any run of characters, `?` one character; everything else literal. */
function globMatch(pattern: string, value: string, ignoreCase: boolean): boolean {
  if (pattern === '*') return true
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')
  return new RegExp(`^${source}$`, ignoreCase ? 'is' : 's').test(value)
}
