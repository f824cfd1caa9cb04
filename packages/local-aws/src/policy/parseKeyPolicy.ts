import { isPrincipalArn } from '../auth/principals.js'
import { PolicyDocumentError } from './PolicyDocumentError.js'
import type { IdentityPolicyDocument, KeyPolicyDocument } from './types.js'

/** Condition operators local-aws evaluates (each also with `IfExists`, and `ForAnyValue:` / `ForAllValues:`). */
export const CONDITION_OPERATORS = [
  'StringEquals',
  'StringNotEquals',
  'StringEqualsIgnoreCase',
  'StringNotEqualsIgnoreCase',
  'StringLike',
  'StringNotLike',
  'ArnEquals',
  'ArnNotEquals',
  'ArnLike',
  'ArnNotLike',
  'NumericEquals',
  'NumericNotEquals',
  'NumericLessThan',
  'NumericLessThanEquals',
  'NumericGreaterThan',
  'NumericGreaterThanEquals',
  'Bool',
  'Null',
] as const
export type ConditionOperator = (typeof CONDITION_OPERATORS)[number]

/** The positive operator a condition tests; negated operators (`StringNotEquals`, …) invert it per value. */
export type BaseOperator =
  | 'StringEquals'
  | 'StringEqualsIgnoreCase'
  | 'StringLike'
  | 'ArnLike'
  | 'NumericEquals'
  | 'NumericLessThan'
  | 'NumericLessThanEquals'
  | 'NumericGreaterThan'
  | 'NumericGreaterThanEquals'
  | 'Bool'
  | 'Null'

/** @internal A condition clause ready to evaluate. */
export type CompiledCondition = {
  operator: string
  base: BaseOperator
  negated: boolean
  ifExists: boolean
  set: 'ForAnyValue' | 'ForAllValues' | undefined
  key: string
  values: string[]
}

/** @internal A statement ready to evaluate. */
export type CompiledStatement = {
  index: number
  sid: string | undefined
  effect: 'Allow' | 'Deny'
  /** `undefined` = any principal (`"*"`). */
  principals: string[] | undefined
  principalNegated: boolean
  actions: string[]
  actionNegated: boolean
  resources: string[]
  resourceNegated: boolean
  conditions: CompiledCondition[]
}

/** @internal */
export type CompiledPolicy = { document: KeyPolicyDocument; statements: CompiledStatement[] }

/** @internal A key (resource-based) policy, or an identity-based policy (no Principal element). */
export type PolicyKind = 'resource' | 'identity'

const STATEMENT_KEYS = new Set(['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition'])
const PRINCIPAL_TYPES = new Set(['AWS', 'Service', 'Federated', 'CanonicalUser'])
const ACTION = /^(\*|[a-zA-Z0-9-]+:[a-zA-Z0-9*?]+)$/
const NEGATED: Partial<Record<ConditionOperator, BaseOperator>> = {
  StringNotEquals: 'StringEquals',
  StringNotEqualsIgnoreCase: 'StringEqualsIgnoreCase',
  StringNotLike: 'StringLike',
  ArnNotEquals: 'ArnLike',
  ArnNotLike: 'ArnLike',
  NumericNotEquals: 'NumericEquals',
}

/**
 * Parse and validate a key policy (JSON text), as PutKeyPolicy / CreateKey do.
 *
 * @param text - the policy JSON
 * @returns the policy document
 * @throws PolicyDocumentError when the text is not JSON or breaks the grammar (unknown elements, missing
 *   Effect/Principal/Action/Resource, invalid principals, unsupported condition operators)
 * @example
 * import { parseKeyPolicy } from '@enclave-custody/local-aws'
 * const doc = parseKeyPolicy(policyJson)
 */
export function parseKeyPolicy(text: string): KeyPolicyDocument {
  return compileKeyPolicy(text).document
}

/**
 * Parse and validate an IAM identity-based policy (what local-aws's `principals[…].policies` hold): the key
 * policy grammar without `Principal` / `NotPrincipal`, which identity policies never have.
 *
 * @param text - the policy as JSON text
 * @returns the parsed document
 * @throws PolicyDocumentError (INVALID_ARGUMENT) naming the offending element
 * @example
 * import { parseIdentityPolicy } from '@enclave-custody/local-aws'
 * parseIdentityPolicy('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:CreateKey","Resource":"*"}]}')
 */
export function parseIdentityPolicy(text: string): IdentityPolicyDocument {
  return compileKeyPolicy(text, 'identity').document as IdentityPolicyDocument
}

/** @internal Validate and compile a policy given as JSON text or as a document object. */
export function compileKeyPolicy(policy: string | KeyPolicyDocument | IdentityPolicyDocument, kind: PolicyKind = 'resource'): CompiledPolicy {
  let value: unknown = policy
  if (typeof policy === 'string') {
    try {
      value = JSON.parse(policy)
    } catch (e) {
      throw new PolicyDocumentError({ reason: `not valid JSON (${e instanceof Error ? e.message : 'parse error'})` })
    }
  }
  const doc = asObject(value, undefined)
  for (const key of Object.keys(doc)) {
    if (key !== 'Version' && key !== 'Id' && key !== 'Statement') fail(`unknown element "${key.slice(0, 40)}"`, undefined)
  }
  if (doc.Version !== undefined && doc.Version !== '2012-10-17' && doc.Version !== '2008-10-17') fail('Version must be "2012-10-17"', 'Version')
  if (doc.Id !== undefined && typeof doc.Id !== 'string') fail('must be a string', 'Id')
  const rawStatements = Array.isArray(doc.Statement) ? doc.Statement : doc.Statement === undefined ? [] : [doc.Statement]
  if (rawStatements.length === 0) fail('a policy needs at least one statement', 'Statement')
  const statements = rawStatements.map((s, i) => compileStatement(s, i, kind))
  return { document: structuredClone(doc) as KeyPolicyDocument, statements }
}

function compileStatement(value: unknown, index: number, kind: PolicyKind): CompiledStatement {
  const at = `Statement[${index}]`
  const s = asObject(value, at)
  for (const key of Object.keys(s)) if (!STATEMENT_KEYS.has(key)) fail(`unknown element "${key.slice(0, 40)}"`, at)
  if (s.Sid !== undefined && typeof s.Sid !== 'string') fail('must be a string', `${at}.Sid`)
  if (s.Effect !== 'Allow' && s.Effect !== 'Deny') fail('Effect must be "Allow" or "Deny"', `${at}.Effect`)
  if (kind === 'identity' && (s.Principal !== undefined || s.NotPrincipal !== undefined)) {
    fail('an identity-based policy has no Principal or NotPrincipal (it applies to the principal it is attached to)', at)
  }
  const principal = kind === 'identity' ? { name: 'Principal', value: '*' } : exactlyOne(s, 'Principal', 'NotPrincipal', at)
  const action = exactlyOne(s, 'Action', 'NotAction', at)
  const resource = exactlyOne(s, 'Resource', 'NotResource', at)
  const actions = stringList(action.value, `${at}.${action.name}`)
  for (const a of actions) if (!ACTION.test(a)) fail(`invalid action "${a.slice(0, 64)}"`, `${at}.${action.name}`)
  const resources = stringList(resource.value, `${at}.${resource.name}`)
  return {
    index,
    sid: s.Sid as string | undefined,
    effect: s.Effect,
    principals: compilePrincipal(principal.value, `${at}.${principal.name}`),
    principalNegated: principal.name === 'NotPrincipal',
    actions: actions.map((a) => a.toLowerCase()),
    actionNegated: action.name === 'NotAction',
    resources,
    resourceNegated: resource.name === 'NotResource',
    conditions: s.Condition === undefined ? [] : compileConditions(s.Condition, `${at}.Condition`),
  }
}

function compilePrincipal(value: unknown, at: string): string[] | undefined {
  if (value === '*') return undefined
  const p = asObject(value, at)
  const aws: string[] = []
  for (const [type, v] of Object.entries(p)) {
    if (!PRINCIPAL_TYPES.has(type)) fail(`unknown principal type "${type.slice(0, 40)}"`, at)
    const list = stringList(v, `${at}.${type}`)
    if (type !== 'AWS') continue
    for (const entry of list) {
      if (entry !== '*' && !/^\d{12}$/.test(entry) && !isPrincipalArn(entry)) {
        fail(`Policy contains a statement with one or more invalid principals ("${entry.slice(0, 128)}").`, at)
      }
      if (entry === '*') return undefined
      aws.push(entry)
    }
  }
  return aws
}

function compileConditions(value: unknown, at: string): CompiledCondition[] {
  const block = asObject(value, at)
  const out: CompiledCondition[] = []
  for (const [operator, keys] of Object.entries(block)) {
    const parsed = parseOperator(operator, at)
    for (const [key, raw] of Object.entries(asObject(keys, `${at}.${operator}`))) {
      const list = Array.isArray(raw) ? raw : [raw]
      if (list.length === 0) fail('a condition needs at least one value', `${at}.${operator}.${key}`)
      const values = list.map((v) => {
        if (typeof v === 'string') return v
        if (typeof v === 'number' || typeof v === 'boolean') return String(v)
        return fail('condition values must be strings, numbers or booleans', `${at}.${operator}.${key}`)
      })
      if (parsed.base === 'Null' && !values.every((v) => v === 'true' || v === 'false')) {
        fail('Null takes "true" or "false"', `${at}.${operator}.${key}`)
      }
      if (parsed.base.startsWith('Numeric') && !values.every((v) => Number.isFinite(Number(v)) && v.trim() !== '')) {
        fail('numeric conditions take numbers', `${at}.${operator}.${key}`)
      }
      out.push({ operator, ...parsed, key: key.toLowerCase(), values })
    }
  }
  return out
}

function parseOperator(operator: string, at: string): Omit<CompiledCondition, 'operator' | 'key' | 'values'> {
  let name = operator
  let set: CompiledCondition['set']
  for (const prefix of ['ForAnyValue', 'ForAllValues'] as const) {
    if (name.startsWith(`${prefix}:`)) {
      set = prefix
      name = name.slice(prefix.length + 1)
    }
  }
  const ifExists = name.endsWith('IfExists') && name !== 'Null'
  if (ifExists) name = name.slice(0, -'IfExists'.length)
  if (!(CONDITION_OPERATORS as readonly string[]).includes(name) || (name === 'Null' && (ifExists || set !== undefined))) {
    fail(`condition operator "${operator.slice(0, 64)}" is not supported by local-aws`, at)
  }
  const op = name as ConditionOperator
  const negatedBase = NEGATED[op]
  const base: BaseOperator = negatedBase ?? (op === 'ArnEquals' ? 'ArnLike' : (op as BaseOperator))
  return { base, negated: negatedBase !== undefined, ifExists, set }
}

function exactlyOne(s: Record<string, unknown>, a: string, b: string, at: string): { name: string; value: unknown } {
  const hasA = s[a] !== undefined
  const hasB = s[b] !== undefined
  if (hasA === hasB) fail(`a statement needs exactly one of ${a} or ${b}`, at)
  return hasA ? { name: a, value: s[a] } : { name: b, value: s[b] }
}

function stringList(value: unknown, at: string): string[] {
  const list = Array.isArray(value) ? value : [value]
  if (list.length === 0 || !list.every((v) => typeof v === 'string' && v.length > 0)) {
    fail('must be a non-empty string or a non-empty list of non-empty strings', at)
  }
  return list as string[]
}

function asObject(value: unknown, at: string | undefined): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('must be a JSON object', at)
  return value as Record<string, unknown>
}

function fail(reason: string, path: string | undefined): never {
  throw new PolicyDocumentError({ reason, path })
}
