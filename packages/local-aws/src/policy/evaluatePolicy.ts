import { principalArnOf } from '../auth/principals.js'
import { type CompiledCondition, type CompiledStatement, compileKeyPolicy } from './parseKeyPolicy.js'
import type { IdentityPolicyDocument, KeyPolicyDocument, PolicyContext } from './types.js'

export type EvaluatePolicyParameters = {
  /** The caller as authenticated: a user, role, account root, or assumed-role session ARN. */
  principalArn: string
  /** The action, e.g. `kms:Decrypt`. Matched case-insensitively. */
  action: string
  /** The key ARN (its account decides whether the request is cross-account). */
  resourceArn: string
  /**
   * Condition keys of the request (`kms:EncryptionContext:<k>`, `kms:RecipientAttestation:PCR0`, …).
   * `aws:PrincipalArn`, `aws:PrincipalAccount` and `kms:CallerAccount` are derived from `principalArn`
   * unless given.
   */
  context?: PolicyContext
  /**
   * The caller's IAM identity-based policies (JSON text or documents, no `Principal`). A key policy statement
   * that names an account (`<acct>` or `arn:aws:iam::<acct>:root`) delegates to them: it allows a principal of
   * that account only if one of these allows the action on the key too. An account root caller has every
   * IAM permission without policies. @default [] (no IAM permissions)
   */
  identityPolicies?: readonly (string | IdentityPolicyDocument)[]
}

export type PolicyDecision = 'Allow' | 'ExplicitDeny' | 'ImplicitDeny'

export type EvaluatePolicyReturnType = {
  decision: PolicyDecision
  allowed: boolean
  /**
   * The statements that decided: the Deny statements on an explicit deny, else the applicable Allows of the
   * key policy (identity-policy statements carry `policy: 'identity'`).
   */
  statements: { index: number; sid: string | undefined; effect: 'Allow' | 'Deny'; policy?: 'identity' }[]
  /** On a denial, which kind of policy denied (explicitly) or failed to allow. */
  deniedBy?: 'resource-based' | 'identity-based'
}

/**
 * Evaluate a KMS key policy, together with the caller's IAM identity policies, for one request, as KMS does:
 *
 * 1. an applicable `Deny` in the key policy or in an identity policy denies (`ExplicitDeny`);
 * 2. a key policy `Allow` naming the caller itself (its ARN, its role, or `"*"`) allows a caller of the key's
 *    own account; a key policy `Allow` naming the caller's account (`<acct>` / `…:root`) only *enables IAM*:
 *    the caller's identity policies must allow the request too (not "everyone in the account");
 * 3. a caller of another account needs both: a key policy `Allow` naming it or its account, and its own
 *    identity policy allowing the request on the key;
 * 4. otherwise `ImplicitDeny`.
 *
 * A statement applies when its principal, action, resource and every condition match. Principals: `"*"`
 * matches anyone; an account id or `arn:aws:iam::<acct>:root` matches every principal of that account (for a
 * Deny outright, for an Allow through IAM as above); a role ARN also matches its assumed-role sessions; other
 * ARNs match exactly. Conditions follow IAM: a key missing from the request fails positive operators
 * (`StringEquals`, `StringLike`, `Bool`, …) and satisfies negated ones (`StringNotEquals`, …) and
 * `…IfExists`; `Null` tests presence. So an `Allow` conditioned on `kms:RecipientAttestation:*` never applies
 * without a verified attestation document, and a `Deny` with `StringNotEquals…` on it always does. Values of
 * `kms:RecipientAttestation:*` keys (hex PCRs) compare case-insensitively under every string operator.
 *
 * @param policy - the key policy JSON text or document
 * @param parameters - who does what to which key, the request's condition keys, the caller's identity policies
 * @returns the decision, the statements that produced it and, on a denial, which policy kind denied
 * @throws PolicyDocumentError when a policy is malformed
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
  const identity = compileIdentity(parameters.identityPolicies)
  const request = normalizeRequest(parameters)
  const applicable = statements.flatMap((s) => {
    const match = statementMatch(s, request)
    return match === false ? [] : [{ s, match }]
  })
  const denies = applicable.filter(({ s }) => s.effect === 'Deny').map(({ s }) => s)
  if (denies.length > 0) return denial('ExplicitDeny', 'resource-based', denies)
  const fromIdentity = identityDecision(identity, request)
  if (fromIdentity.denies.length > 0) return denial('ExplicitDeny', 'identity-based', fromIdentity.denies, 'identity')

  const allows = applicable.filter(({ s }) => s.effect === 'Allow')
  const direct = allows.filter(({ match }) => match === 'direct').map(({ s }) => s)
  const viaAccount = allows.filter(({ match }) => match === 'account').map(({ s }) => s)
  const keyAccount = ACCOUNT_OF_RESOURCE.exec(request.resourceArn)?.[1]
  const sameAccount = keyAccount === undefined || keyAccount === request.account
  const granted = sameAccount
    ? [...direct, ...(fromIdentity.allowed ? viaAccount : [])]
    : fromIdentity.allowed
      ? [...direct, ...viaAccount]
      : []
  if (granted.length > 0) return { decision: 'Allow', allowed: true, statements: granted.sort((a, b) => a.index - b.index).map(summary) }
  return denial('ImplicitDeny', allows.length > 0 ? 'identity-based' : 'resource-based', [])
}

export type EvaluateIdentityPoliciesParameters = Omit<EvaluatePolicyParameters, 'identityPolicies'>

/**
 * Evaluate only the caller's IAM identity policies, for actions without a resource policy (KMS `CreateKey`,
 * `ListKeys`, `ListAliases`, `GenerateRandom`; every Secrets Manager action here): an applicable Deny denies,
 * else an applicable Allow allows, else implicit deny. An account root caller is allowed everything.
 *
 * @param policies - the caller's identity policies (JSON text or documents)
 * @param parameters - caller, action, resource (`"*"` for actions without resource-level permissions), context
 * @returns the decision and the statements that produced it
 * @throws PolicyDocumentError when a policy is malformed
 * @example
 * import { evaluateIdentityPolicies } from '@enclave-custody/local-aws'
 * evaluateIdentityPolicies([policyJson], { principalArn, action: 'secretsmanager:GetSecretValue', resourceArn: secretArn })
 */
export function evaluateIdentityPolicies(
  policies: readonly (string | IdentityPolicyDocument)[],
  parameters: EvaluateIdentityPoliciesParameters,
): EvaluatePolicyReturnType {
  const request = normalizeRequest(parameters)
  const { denies, allows, allowed } = identityDecision(compileIdentity(policies), request)
  if (denies.length > 0) return denial('ExplicitDeny', 'identity-based', denies, 'identity')
  if (allowed) return { decision: 'Allow', allowed: true, statements: allows.map((s) => ({ ...summary(s), policy: 'identity' as const })) }
  return denial('ImplicitDeny', 'identity-based', [])
}

const ACCOUNT_OF_RESOURCE = /^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12}):/
const ROOT = /^arn:aws:iam::\d{12}:root$/

function summary(s: CompiledStatement): { index: number; sid: string | undefined; effect: 'Allow' | 'Deny' } {
  return { index: s.index, sid: s.sid, effect: s.effect }
}

function denial(
  decision: 'ExplicitDeny' | 'ImplicitDeny',
  deniedBy: 'resource-based' | 'identity-based',
  statements: CompiledStatement[],
  policy?: 'identity',
): EvaluatePolicyReturnType {
  return { decision, allowed: false, statements: statements.map((s) => ({ ...summary(s), ...(policy ? { policy } : {}) })), deniedBy }
}

function compileIdentity(policies: readonly (string | IdentityPolicyDocument)[] = []): CompiledStatement[] {
  return policies.flatMap((p) => compileKeyPolicy(p, 'identity').statements)
}

/** The identity side: applicable Denies and Allows; the account root has every permission and no policies. */
function identityDecision(statements: CompiledStatement[], r: NormalizedRequest): { denies: CompiledStatement[]; allows: CompiledStatement[]; allowed: boolean } {
  if (ROOT.test(r.callerArn)) return { denies: [], allows: [], allowed: true }
  const applicable = statements.filter((s) => statementMatch(s, r) !== false)
  const denies = applicable.filter((s) => s.effect === 'Deny')
  const allows = applicable.filter((s) => s.effect === 'Allow')
  return { denies, allows, allowed: allows.length > 0 }
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

/**
 * Whether a statement applies, and how its principal matched: `direct` (`"*"`, the caller's ARN or role, or a
 * NotPrincipal that excludes the caller) or `account` (the caller's account id or root ARN).
 */
function statementMatch(s: CompiledStatement, r: NormalizedRequest): 'direct' | 'account' | false {
  let principal: 'direct' | 'account' | false = 'direct'
  if (s.principals !== undefined) {
    const matches = s.principals.map((p) => principalMatches(p, r))
    principal = matches.includes('direct') ? 'direct' : matches.includes('account') ? 'account' : false
  }
  if (s.principalNegated) principal = principal === false ? 'direct' : false
  if (principal === false) return false
  const action = s.actions.some((a) => globMatch(a, r.action, false))
  if (action === s.actionNegated) return false
  const resource = s.resources.some((pattern) => globMatch(pattern, r.resourceArn, false))
  if (resource === s.resourceNegated) return false
  return s.conditions.every((c) => conditionHolds(c, r.context)) ? principal : false
}

function principalMatches(entry: string, r: NormalizedRequest): 'direct' | 'account' | false {
  if (/^\d{12}$/.test(entry)) return entry === r.account ? 'account' : false
  const root = /^arn:aws:iam::(\d{12}):root$/.exec(entry)
  if (root !== null) return r.callerArn === entry ? 'direct' : root[1] === r.account ? 'account' : false
  return entry === r.callerArn || entry === r.identityArn ? 'direct' : false
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
