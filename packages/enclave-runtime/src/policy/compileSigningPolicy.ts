import {
  bitcoinEntryScript,
  canonicalApiKey,
  type FactName,
  type FactType,
  type Hex,
  InvalidArgumentError,
  normalizeSigningPolicy,
  type Operator,
  POLICY_FACTS,
  type PolicyFacts,
  type RollingLimit,
  type SigningPolicy,
} from '@enclave-custody/sdk'

/**
 * A fact as a compiled condition compares it: uint as bigint, EVM addresses/selectors lower-case, API keys
 * compressed, Bitcoin addresses as `script:<hex>` of their output, list-valued facts as arrays of such strings.
 */
export type FactValue = bigint | string | boolean | readonly string[]

/** One rule, ready to evaluate: its conditions as predicates over the facts read by `CompiledSigningPolicy.readFacts`. */
export type CompiledPolicyRule = {
  readonly id: string
  readonly effect: 'allow' | 'deny'
  /** Whether every condition holds (a condition on an absent fact does not). */
  readonly matches: (facts: ReadonlyMap<FactName, FactValue>) => boolean
  /** Quorum: the canonical (compressed) API keys that count, and how many of them must have stamped. */
  readonly approvals?: { readonly from: ReadonlySet<Hex>; readonly threshold: number }
  readonly limit?: RollingLimit
}

/** A signing policy compiled once per document by {@link compileSigningPolicy}. */
export type CompiledSigningPolicy = {
  /** Deny rules, in document order. */
  readonly deny: readonly CompiledPolicyRule[]
  /** Allow rules, in document order. */
  readonly allow: readonly CompiledPolicyRule[]
  /** The facts some condition, limit or quorum needs, each with its type: the only facts an evaluation reads. */
  readonly facts: ReadonlyMap<FactName, FactType>
  /**
   * Read the facts this policy needs from `facts`, each checked and in its compared form; a missing (or
   * `undefined`) fact is absent from the map. Own properties only.
   * @throws InvalidArgumentError naming `facts.<name>` for a fact of the wrong type (fail closed: a payload
   * whose facts are malformed is not evaluated).
   */
  readonly readFacts: (facts: PolicyFacts) => Map<FactName, FactValue>
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/
const BYTES4 = /^0x[0-9a-fA-F]{8}$/
const COMPRESSED_API_KEY = /^0x0[23][0-9a-f]{64}$/
/** The shapes of Bitcoin / Solana entries (extractors encode them; a policy's values were decoded strictly). */
const BITCOIN_ENTRY = /^(?:[A-Za-z0-9]{14,90}|script:(?:[0-9a-fA-F]{2})+)$/
const BECH32_PREFIX = /^(?:bc|tb|bcrt)1/i
const BASE58_32 = /^[1-9A-HJ-NP-Za-km-z]{32,44}$/
const SOLANA_ENTRY = /^(?:[1-9A-HJ-NP-Za-km-z]{32,44}|lookup:[1-9A-HJ-NP-Za-km-z]{32,44}:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])|unchecked:(?:0|[1-9][0-9]{0,3}))$/
/** Most elements a list-valued fact may have (a Solana message has at most 256 accounts; a PSBT is bounded by its size). */
const MAX_LIST_FACT = 100_000

/** A Bitcoin entry in its compared form (segwit addresses and scripts lower-case), or `undefined` for a malformed one. */
function bitcoinEntry(value: unknown): string | undefined {
  if (typeof value !== 'string' || !BITCOIN_ENTRY.test(value)) return undefined
  // Compared as output scripts: an address matches its output whatever network the request declared.
  return bitcoinEntryScript(BECH32_PREFIX.test(value) || value.startsWith('script:') ? value.toLowerCase() : value)
}

/** An API key in its canonical form (the compressed point); the usual compressed input costs no point decoding. */
export function canonicalApiKeyFast(value: unknown, field: string): Hex {
  return typeof value === 'string' && COMPRESSED_API_KEY.test(value) ? (value as Hex) : canonicalApiKey(value, field)
}

function badFact(name: string, rule: string): never {
  throw new InvalidArgumentError({ field: `facts.${name}`, rule })
}

/** A present fact in its compared form. @throws InvalidArgumentError for a fact of the wrong type. */
function factValue(name: FactName, type: FactType, value: unknown): FactValue {
  switch (type) {
    case 'uint':
      if (typeof value !== 'bigint' || value < 0n) badFact(name, 'must be a non-negative bigint')
      return value
    case 'address':
      if (typeof value !== 'string' || !ADDRESS.test(value)) badFact(name, 'must be a 0x-prefixed 20-byte address')
      return value.toLowerCase()
    case 'bytes4':
      if (typeof value !== 'string' || !BYTES4.test(value)) badFact(name, 'must be a 4-byte selector, 0x-hex')
      return value.toLowerCase()
    case 'bool':
      if (typeof value !== 'boolean') badFact(name, 'must be a boolean')
      return value
    case 'apiKey':
      return canonicalApiKeyFast(value, `facts.${name}`)
    case 'enum':
    case 'string':
      if (typeof value !== 'string') badFact(name, 'must be a string')
      return value
    case 'bitcoinAddress': {
      const v = bitcoinEntry(value)
      if (v === undefined) badFact(name, 'must be a Bitcoin address or script:<hex>')
      return v
    }
    case 'solanaAddress':
      if (typeof value !== 'string' || !BASE58_32.test(value)) badFact(name, 'must be a base58 Solana address')
      return value
    case 'bitcoinAddress[]':
    case 'solanaAddress[]': {
      if (!Array.isArray(value) || value.length > MAX_LIST_FACT) badFact(name, `must be an array of at most ${MAX_LIST_FACT} entries`)
      const out: string[] = []
      for (const [i, entry] of (value as unknown[]).entries()) {
        const v = type === 'bitcoinAddress[]' ? bitcoinEntry(entry) : typeof entry === 'string' && SOLANA_ENTRY.test(entry) ? entry : undefined
        if (v === undefined) badFact(`${name}[${i}]`, type === 'bitcoinAddress[]' ? 'must be a Bitcoin address or script:<hex>' : 'must be a base58 Solana address, lookup:<table>:<index> or unchecked:<instruction>')
        out.push(v)
      }
      return out
    }
  }
}

/** A rule's written value in its compared form (the rule is canonical: types were checked by the schema). */
function ruleValue(type: FactType, value: unknown): FactValue {
  switch (type) {
    case 'uint':
      return BigInt(value as string)
    case 'address':
    case 'bytes4':
      return (value as string).toLowerCase()
    case 'bitcoinAddress':
      return bitcoinEntryScript(value as string) as string
    default:
      return value as string | boolean
  }
}

type Test = (v: FactValue) => boolean

function operatorTest(type: FactType, op: Operator, written: unknown): Test {
  if (op === 'allIn' || op === 'noneIn' || op === 'anyIn') {
    // List-valued facts: the written values are canonical strings, compared exactly (the fact's were put in the
    // same form by `factValue`). `lookup:` / `unchecked:` entries are never written in a rule, so they are never in.
    const set = new Set(type === 'bitcoinAddress[]' ? (written as string[]).map((x) => bitcoinEntryScript(x)) : (written as string[]))
    if (op === 'allIn') return (v) => (v as readonly string[]).every((x) => set.has(x))
    if (op === 'noneIn') return (v) => !(v as readonly string[]).some((x) => set.has(x))
    return (v) => (v as readonly string[]).some((x) => set.has(x))
  }
  if (op === 'in' || op === 'notIn') {
    const set = new Set((written as unknown[]).map((x) => ruleValue(type, x)))
    return op === 'in' ? (v) => set.has(v) : (v) => !set.has(v)
  }
  const w = ruleValue(type, written)
  switch (op) {
    case 'eq':
      return (v) => v === w
    case 'lt':
      return (v) => (v as bigint) < (w as bigint)
    case 'lte':
      return (v) => (v as bigint) <= (w as bigint)
    case 'gt':
      return (v) => (v as bigint) > (w as bigint)
    case 'gte':
      return (v) => (v as bigint) >= (w as bigint)
  }
}

/**
 * Compile a signing policy into predicates, once per document (never per request): the policy is put through
 * `normalizeSigningPolicy` (so an unknown fact, operator or value type is refused here, not at signing time),
 * then integers are parsed to bigints, `in` / `notIn` / `allIn` / `noneIn` / `anyIn` lists become Sets, EVM
 * addresses and selectors are compared lower-case (EIP-55 case never matters), API keys as compressed points,
 * Bitcoin addresses in their canonical form (segwit lower-case, Base58Check as is), Solana addresses exactly.
 *
 * @param policy The key's signing policy (rules and signers), canonical or not.
 * @returns The compiled policy for {@link evaluateSigningPolicy}.
 * @throws InvalidArgumentError naming the field and the rule, for a policy the schema refuses.
 * @example
 * import { normalizeSigningPolicy } from '@enclave-custody/sdk'
 * import { compileSigningPolicy } from './compileSigningPolicy.js'
 * const compiled = compileSigningPolicy(normalizeSigningPolicy({ rules: [{ id: 'small', effect: 'allow', when: { value: { lte: '100' } } }] }))
 */
export function compileSigningPolicy(policy: SigningPolicy): CompiledSigningPolicy {
  const canonical = normalizeSigningPolicy(policy)
  const facts = new Map<FactName, FactType>()
  const deny: CompiledPolicyRule[] = []
  const allow: CompiledPolicyRule[] = []
  for (const rule of canonical.rules) {
    const conditions: { name: FactName; tests: Test[] }[] = []
    for (const [name, condition] of Object.entries(rule.when) as [FactName, Record<Operator, unknown>][]) {
      const type = POLICY_FACTS[name].type
      facts.set(name, type)
      conditions.push({ name, tests: (Object.entries(condition) as [Operator, unknown][]).map(([op, written]) => operatorTest(type, op, written)) })
    }
    // An allow rule that names no family allows EVM payloads only: every rule written before the other families
    // existed meant EVM, and an allowance must not widen to Bitcoin or Solana because a key can now sign them.
    const evmOnly = rule.effect === 'allow' && !Object.hasOwn(rule.when, 'family')
    const matches = (values: ReadonlyMap<FactName, FactValue>): boolean => {
      if (evmOnly && values.get('family') !== 'evm') return false
      for (const c of conditions) {
        const v = values.get(c.name)
        if (v === undefined) return false
        for (const test of c.tests) if (!test(v)) return false
      }
      return true
    }
    const compiled: CompiledPolicyRule = {
      id: rule.id,
      effect: rule.effect,
      matches,
      ...(rule.approvals ? { approvals: { from: new Set(rule.approvals.from), threshold: rule.approvals.threshold } } : {}),
      ...(rule.limit ? { limit: { ...rule.limit } } : {}),
    }
    ;(rule.effect === 'deny' ? deny : allow).push(compiled)
  }
  // Limits add up value / amount / worstCaseFee / spendAmount / lamports, and per-signer limits read the signer:
  // read them too, and so does the quorum (the requester counts as an approver).
  for (const rule of allow) {
    if (rule.limit && rule.limit.sum !== 'count') facts.set(rule.limit.sum, 'uint')
    if (rule.limit?.per === 'signer' || rule.approvals) facts.set('signer', 'apiKey')
  }
  facts.set('family', 'enum')
  const readFacts = (input: PolicyFacts): Map<FactName, FactValue> => {
    const out = new Map<FactName, FactValue>()
    for (const [name, type] of facts) {
      const v = Object.hasOwn(input, name) ? input[name] : undefined
      if (v !== undefined) out.set(name, factValue(name, type, v))
    }
    return out
  }
  return { deny, allow, facts, readFacts }
}
