/**
 * EIP-712 validation and hashing, hand-written rather than ethers' `TypedDataEncoder` or viem's
 * `hashTypedData`: the enclave hashes and applies policy to what the caller sent, so a payload must have
 * one meaning. Both libraries hash a message that carries members its type does not declare (they ignore
 * them), and viem also takes a struct that repeats a member name and types that `primaryType` never uses.
 * `normalizeTypedData` refuses all three, requires `EIP712Domain` to list exactly the domain fields
 * present, and bounds sizes and nesting (`TYPED_DATA_LIMITS`). The enclave image carries neither library.
 */
import { keccak_256 } from '@noble/hashes/sha3.js'
import { type Address, assertAddress } from '../utils/address.js'
import { assertObject, fail, ownValue, typeName } from '../utils/assert.js'
import { assertHex, bytesToHex, type Hex, hexToBytes } from '../utils/hex.js'
import { isWellFormedString } from './personalSign.js'

/** One member of an EIP-712 struct type. */
export type TypedDataField = { name: string; type: string }

/** The EIP-712 domain as callers write it. Every field is optional; unknown fields are refused. */
export type TypedDataDomainInput = {
  name?: string | undefined
  version?: string | undefined
  /** A positive integer: bigint, safe integer, decimal or 0x-hex string. */
  chainId?: bigint | number | string | undefined
  verifyingContract?: string | undefined
  /** 32 bytes. */
  salt?: string | Uint8Array | undefined
}

/**
 * What callers pass to `signTypedData` (the `eth_signTypedData_v4` payload). `types` may omit
 * `EIP712Domain`: it is derived from the domain fields present. Integers accept bigint, safe integers,
 * decimal strings (negative for intN) and 0x-hex strings; bytes accept hex or Uint8Array.
 */
export type TypedDataDefinition = {
  domain?: TypedDataDomainInput | undefined
  types: Readonly<Record<string, readonly TypedDataField[]>>
  primaryType: string
  /** The value of `primaryType`; omitted or `{}` when `primaryType` is `EIP712Domain`. */
  message?: Readonly<Record<string, unknown>> | undefined
}

/** A validated domain, in its JSON form: chainId as a decimal string, addresses checksummed, hex lower-case. */
export type TypedDataDomain = { name?: string; version?: string; chainId?: string; verifyingContract?: Address; salt?: Hex }

/** A validated value in its JSON form: integers as decimal strings, bytes as lower-case hex. */
export type TypedDataValue = string | boolean | TypedDataValue[] | { [name: string]: TypedDataValue }

/**
 * Validated typed data, as it travels on the wire and as the enclave hashes it. `types` always holds
 * `EIP712Domain`.
 */
export type NormalizedTypedData = {
  domain: TypedDataDomain
  types: Record<string, TypedDataField[]>
  primaryType: string
  message: Record<string, TypedDataValue>
}

/** Limits that keep a payload's validation and hashing bounded. */
export const TYPED_DATA_LIMITS = {
  maxTypes: 128,
  maxFields: 128,
  maxArrayLength: 1024,
  maxDepth: 32,
  maxTypeLength: 256,
  /** Longest struct or member name. */
  maxNameLength: 256,
  /**
   * Total bytes of the `encodeType` strings hashing must hash (one per struct type, each with all its
   * dependencies): a big type referenced by many others is hashed once per referrer, so its size counts
   * that many times. Keeps hashing linear in the payload.
   */
  maxEncodedTypeBytes: 1024 * 1024,
} as const

const DOMAIN_TYPE = 'EIP712Domain'
/** The EIP-712 domain fields, in the order EIP712Domain lists them when derived. */
const DOMAIN_FIELDS: readonly TypedDataField[] = [
  { name: 'name', type: 'string' },
  { name: 'version', type: 'string' },
  { name: 'chainId', type: 'uint256' },
  { name: 'verifyingContract', type: 'address' },
  { name: 'salt', type: 'bytes32' },
]
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/
const TYPE_RE = /^([A-Za-z_$][A-Za-z0-9_$]*)((?:\[(?:[1-9][0-9]{0,5})?\])*)$/
const ATOMIC_LOOKALIKE = /^(?:u?int[0-9]*|bytes[0-9]*|string|address|bool)$/
const MAX_UINT256 = (1n << 256n) - 1n

type Atomic =
  | { kind: 'address' | 'bool' | 'string' | 'bytes' }
  | { kind: 'fixedBytes'; size: number }
  | { kind: 'int'; signed: boolean; bits: number }
/** A parsed member type: an array of `inner` (the last bracket is outermost), an atomic type or a struct. */
type Parsed =
  | { tag: 'array'; length: number | null; inner: string }
  | { tag: 'atomic'; atomic: Atomic }
  | { tag: 'struct'; name: string }

function parseAtomic(base: string): Atomic | undefined | 'invalid' {
  if (base === 'address' || base === 'bool' || base === 'string' || base === 'bytes') return { kind: base }
  let m = /^bytes([1-9][0-9]?)$/.exec(base)
  if (m) {
    const size = Number(m[1])
    return size <= 32 ? { kind: 'fixedBytes', size } : 'invalid'
  }
  m = /^(u?)int([1-9][0-9]{0,2})$/.exec(base)
  if (m) {
    const bits = Number(m[2])
    return bits % 8 === 0 && bits <= 256 ? { kind: 'int', signed: m[1] === '', bits } : 'invalid'
  }
  return ATOMIC_LOOKALIKE.test(base) ? 'invalid' : undefined
}

/** A resolved set of struct types: validated once, then shared by normalisation and hashing. */
class TypeSet {
  readonly structs: Map<string, TypedDataField[]>
  readonly #parsed = new Map<string, Parsed>()
  readonly #typeHashes = new Map<string, Uint8Array>()
  readonly #definitions = new Map<string, string>()

  constructor(structs: Map<string, TypedDataField[]>) {
    this.structs = structs
  }

  /** Parse a member type (validated by `resolveTypes` before any lookup). */
  parse(type: string): Parsed {
    let p = this.#parsed.get(type)
    if (p) return p
    const bracket = type.lastIndexOf('[')
    if (bracket >= 0 && type.endsWith(']')) {
      const len = type.slice(bracket + 1, -1)
      p = { tag: 'array', length: len === '' ? null : Number(len), inner: type.slice(0, bracket) }
    } else {
      const atomic = parseAtomic(type)
      p = atomic && atomic !== 'invalid' ? { tag: 'atomic', atomic } : { tag: 'struct', name: type }
    }
    this.#parsed.set(type, p)
    return p
  }

  /** `Name(type1 name1,…)` of one struct, built once. */
  definition(name: string): string {
    let d = this.#definitions.get(name)
    if (d === undefined) {
      d = `${name}(${this.structs.get(name)!.map((f) => `${f.type} ${f.name}`).join(',')})`
      this.#definitions.set(name, d)
    }
    return d
  }

  /** The structs `primary` depends on (itself excluded), sorted. */
  dependencies(primary: string): string[] {
    const deps = new Set<string>()
    const visit = (name: string) => {
      if (deps.has(name)) return
      deps.add(name)
      for (const f of this.structs.get(name)!) {
        const base = baseOf(f.type)
        if (this.structs.has(base) && parseAtomic(base) === undefined) visit(base)
      }
    }
    visit(primary)
    deps.delete(primary)
    return [...deps].sort()
  }

  /** EIP-712 `encodeType`: the struct's definition, then its dependencies' sorted by name. */
  encodeType(primary: string): string {
    return [primary, ...this.dependencies(primary)].map((n) => this.definition(n)).join('')
  }

  /** Sum of the `encodeType` lengths of every struct: what hashing all their type hashes reads. */
  encodedTypeBytes(): number {
    let total = 0
    for (const name of this.structs.keys()) {
      total += this.definition(name).length
      for (const d of this.dependencies(name)) total += this.definition(d).length
    }
    return total
  }

  typeHash(name: string): Uint8Array {
    let h = this.#typeHashes.get(name)
    if (!h) {
      h = keccak_256(new TextEncoder().encode(this.encodeType(name)))
      this.#typeHashes.set(name, h)
    }
    return h
  }

  /** `typeHash || enc(member₁) || … || enc(memberₙ)`. */
  encodeData(name: string, data: Readonly<Record<string, TypedDataValue>>): Uint8Array {
    const fields = this.structs.get(name)!
    const out = new Uint8Array(32 * (fields.length + 1))
    out.set(this.typeHash(name), 0)
    for (const [i, f] of fields.entries()) {
      const value = ownValue(data, f.name)
      if (value === undefined) throw new TypeError(`typed data member "${f.name.slice(0, 64)}" of ${name.slice(0, 64)} is missing (hash only normalizeTypedData's output)`)
      out.set(this.encodeValue(f.type, value as TypedDataValue), 32 * (i + 1))
    }
    return out
  }

  hashStruct(name: string, data: Readonly<Record<string, TypedDataValue>>): Uint8Array {
    return keccak_256(this.encodeData(name, data))
  }

  encodeValue(type: string, value: TypedDataValue): Uint8Array {
    const p = this.parse(type)
    if (p.tag === 'array') {
      const items = value as TypedDataValue[]
      const concat = new Uint8Array(32 * items.length)
      for (const [i, v] of items.entries()) concat.set(this.encodeValue(p.inner, v), 32 * i)
      return keccak_256(concat)
    }
    if (p.tag === 'struct') return this.hashStruct(p.name, value as Record<string, TypedDataValue>)
    const a = p.atomic
    const word = new Uint8Array(32)
    switch (a.kind) {
      case 'string':
        return keccak_256(new TextEncoder().encode(value as string))
      case 'bytes':
        return keccak_256(hexToBytes(value as string))
      case 'fixedBytes':
        word.set(hexToBytes(value as string), 0)
        return word
      case 'address':
        word.set(hexToBytes(value as string), 12)
        return word
      case 'bool':
        word[31] = value === true ? 1 : 0
        return word
      case 'int': {
        const n = BigInt(value as string)
        word.set(hexToBytes((n < 0n ? (1n << 256n) + n : n).toString(16).padStart(64, '0')), 0)
        return word
      }
    }
  }
}

const baseOf = (type: string): string => {
  const i = type.indexOf('[')
  return i < 0 ? type : type.slice(0, i)
}

/** Whether two field lists are the same set of domain fields (names and canonical types). */
function sameDomainFields(given: TypedDataField[], derived: readonly TypedDataField[]): boolean {
  if (given.length !== derived.length) return false
  return given.every((g) => derived.some((d) => d.name === g.name && d.type === g.type))
}

/**
 * Validate EIP-712 typed data completely, the same way in the SDK and in the enclave:
 * - `types`: identifiers for type and member names, unique member names, member types that are atomic
 *   (`address`, `bool`, `string`, `bytes`, `bytes1`…`bytes32`, `uint8`…`uint256` and `int8`…`int256` in steps
 *   of 8), defined structs or arrays of either (`T[]`, `T[k]`, nested); no struct named like an atomic type,
 *   no undefined type, no type unused by `primaryType`; recursive struct types are allowed;
 * - `EIP712Domain`: derived from the domain fields present, or, if given, exactly those fields with their
 *   canonical types (in any order, which is then the order hashed);
 * - `domain`: only `name`, `version` (strings), `chainId` (a positive integer), `verifyingContract` (an
 *   address) and `salt` (32 bytes);
 * - `primaryType`: present and defined (`EIP712Domain` signs the domain separator alone);
 * - `message`: every member present, no unknown member, integers in range for their width, bytesN of
 *   exactly N bytes, fixed arrays of exactly their length, well-formed strings, EIP-55 checksums when mixed
 *   case; bounded sizes and nesting ({@link TYPED_DATA_LIMITS}).
 *
 * @param input - The typed data.
 * @param path - Field prefix for error messages. @default 'typedData'
 * @returns The JSON form the enclave receives and hashes.
 * @throws InvalidArgumentError naming the field and the rule.
 * @example
 * const typedData = normalizeTypedData({ domain: { name: 'Ether Mail', chainId: 1 }, primaryType: 'Mail',
 *   types: { Mail: [{ name: 'contents', type: 'string' }] }, message: { contents: 'Hello, Bob!' } })
 */
export function normalizeTypedData(input: unknown, path = 'typedData'): NormalizedTypedData {
  const td = assertObject(input, path, ['domain', 'types', 'primaryType', 'message'])
  const domain = normalizeDomain(td.domain === undefined ? {} : td.domain, `${path}.domain`)
  const set = resolveTypes(td.types, domain, `${path}.types`)

  if (td.primaryType === undefined) fail(`${path}.primaryType`, 'is required')
  if (typeof td.primaryType !== 'string') fail(`${path}.primaryType`, `must be a string (got ${typeName(td.primaryType)})`)
  const primaryType = td.primaryType
  if (!set.structs.has(primaryType)) fail(`${path}.primaryType`, `names a type that "types" does not define (${JSON.stringify(primaryType.slice(0, 64))})`)

  // Every type but EIP712Domain must be reachable from primaryType: a payload carries no unused definitions.
  const reached = new Set<string>()
  const walk = (name: string) => {
    if (reached.has(name)) return
    reached.add(name)
    for (const f of set.structs.get(name)!) if (set.parse(baseOf(f.type)).tag === 'struct') walk(baseOf(f.type))
  }
  if (primaryType !== DOMAIN_TYPE) walk(primaryType)
  for (const name of set.structs.keys()) {
    if (name !== DOMAIN_TYPE && !reached.has(name)) fail(`${path}.types.${name}`, `is not used by primaryType ${JSON.stringify(primaryType)}`)
  }
  const encodedTypeBytes = set.encodedTypeBytes()
  if (encodedTypeBytes > TYPED_DATA_LIMITS.maxEncodedTypeBytes) {
    fail(`${path}.types`, `must encode to at most ${TYPED_DATA_LIMITS.maxEncodedTypeBytes} bytes of type strings in all (each struct with its dependencies; these need ${encodedTypeBytes})`)
  }

  let message: Record<string, TypedDataValue>
  if (primaryType === DOMAIN_TYPE) {
    assertObject(td.message === undefined ? {} : td.message, `${path}.message`, [])
    message = {}
  } else {
    if (td.message === undefined) fail(`${path}.message`, 'is required')
    message = normalizeStruct(set, primaryType, td.message, `${path}.message`, 0)
  }
  return { domain, types: Object.fromEntries(set.structs), primaryType, message }
}

function normalizeDomain(value: unknown, path: string): TypedDataDomain {
  const d = assertObject(value, path, DOMAIN_FIELDS.map((f) => f.name))
  const out: TypedDataDomain = {}
  const text = (name: 'name' | 'version') => {
    const v = d[name]
    if (v === undefined) return
    if (typeof v !== 'string') fail(`${path}.${name}`, `must be a string (got ${typeName(v)})`)
    if (!isWellFormedString(v)) fail(`${path}.${name}`, 'must be well-formed Unicode (it has a lone surrogate)')
    out[name] = v
  }
  text('name')
  text('version')
  if (d.chainId !== undefined) {
    const chainId = parseInteger(d.chainId, `${path}.chainId`)
    if (chainId < 1n || chainId > MAX_UINT256) fail(`${path}.chainId`, 'must be a positive integer below 2^256')
    out.chainId = chainId.toString()
  }
  if (d.verifyingContract !== undefined) out.verifyingContract = assertAddress(d.verifyingContract, `${path}.verifyingContract`)
  if (d.salt !== undefined) out.salt = d.salt instanceof Uint8Array ? sizedBytes(d.salt, 32, `${path}.salt`) : assertHex(d.salt, `${path}.salt`, 32)
  return out
}

function resolveTypes(value: unknown, domain: TypedDataDomain, path: string): TypeSet {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(path, `must be an object of struct definitions (got ${typeName(value)})`)
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) fail(path, 'must be a plain object')
  const names = Object.keys(value)
  if (names.length > TYPED_DATA_LIMITS.maxTypes) fail(path, `must define at most ${TYPED_DATA_LIMITS.maxTypes} types`)
  const structs = new Map<string, TypedDataField[]>()
  const derivedDomain = DOMAIN_FIELDS.filter((f) => domain[f.name as keyof TypedDataDomain] !== undefined)
  if (!names.includes(DOMAIN_TYPE)) structs.set(DOMAIN_TYPE, derivedDomain.map((f) => ({ ...f })))

  for (const name of names) {
    const p = `${path}.${name}`
    if (!IDENTIFIER.test(name)) fail(`${path}[${JSON.stringify(name.slice(0, 64))}]`, 'must be an identifier ([A-Za-z_$][A-Za-z0-9_$]*)')
    if (name.length > TYPED_DATA_LIMITS.maxNameLength) fail(`${path}[${JSON.stringify(name.slice(0, 64))}…]`, `must be at most ${TYPED_DATA_LIMITS.maxNameLength} characters`)
    if (ATOMIC_LOOKALIKE.test(name)) fail(p, 'must not be named like an atomic type')
    const fields = (value as Record<string, unknown>)[name]
    if (!Array.isArray(fields)) fail(p, `must be an array of { name, type } (got ${typeName(fields)})`)
    if (fields.length > TYPED_DATA_LIMITS.maxFields) fail(p, `must have at most ${TYPED_DATA_LIMITS.maxFields} members`)
    const seen = new Set<string>()
    structs.set(
      name,
      fields.map((field, i) => {
        const fp = `${p}[${i}]`
        const f = assertObject(field, fp, ['name', 'type'])
        if (typeof f.name !== 'string' || !IDENTIFIER.test(f.name)) fail(`${fp}.name`, 'must be an identifier ([A-Za-z_$][A-Za-z0-9_$]*)')
        if (f.name.length > TYPED_DATA_LIMITS.maxNameLength) fail(`${fp}.name`, `must be at most ${TYPED_DATA_LIMITS.maxNameLength} characters`)
        if (seen.has(f.name)) fail(`${fp}.name`, `repeats the member name ${JSON.stringify(f.name)}`)
        seen.add(f.name)
        if (typeof f.type !== 'string') fail(`${fp}.type`, `must be a string (got ${typeName(f.type)})`)
        if (f.type.length > TYPED_DATA_LIMITS.maxTypeLength || !TYPE_RE.test(f.type)) fail(`${fp}.type`, 'must be a type name with optional array suffixes ([] or [k], k ≥ 1)')
        return { name: f.name, type: f.type }
      }),
    )
  }

  if (names.includes(DOMAIN_TYPE) && !sameDomainFields(structs.get(DOMAIN_TYPE)!, derivedDomain)) {
    const expected = derivedDomain.map((f) => `${f.type} ${f.name}`).join(', ')
    fail(`${path}.${DOMAIN_TYPE}`, `must list exactly the domain fields present, with their EIP-712 types (${expected || 'none'})`)
  }
  for (const [name, fields] of structs) {
    fields.forEach((f, i) => {
      const base = baseOf(f.type)
      const atomic = parseAtomic(base)
      if (atomic === 'invalid') fail(`${path}.${name}[${i}].type`, `is not a valid EIP-712 type (${JSON.stringify(base)})`)
      if (atomic !== undefined) return
      if (base === DOMAIN_TYPE) fail(`${path}.${name}[${i}].type`, 'must not reference EIP712Domain')
      if (!structs.has(base)) fail(`${path}.${name}[${i}].type`, `references undefined type ${JSON.stringify(base)}`)
    })
  }
  return new TypeSet(structs)
}

function normalizeStruct(set: TypeSet, name: string, value: unknown, path: string, depth: number): Record<string, TypedDataValue> {
  const fields = set.structs.get(name)!
  const obj = assertObject(value, path, fields.map((f) => f.name))
  return Object.fromEntries(
    fields.map((f) => {
      const value = ownValue(obj, f.name)
      if (value === undefined) fail(`${path}.${f.name}`, 'is required')
      return [f.name, normalizeValue(set, f.type, value, `${path}.${f.name}`, depth + 1)]
    }),
  )
}

function normalizeValue(set: TypeSet, type: string, value: unknown, path: string, depth: number): TypedDataValue {
  if (depth > TYPED_DATA_LIMITS.maxDepth) fail(path, `nests deeper than ${TYPED_DATA_LIMITS.maxDepth} levels`)
  const p = set.parse(type)
  if (p.tag === 'array') {
    if (!Array.isArray(value)) fail(path, `must be an array (${type}; got ${typeName(value)})`)
    if (p.length !== null && value.length !== p.length) fail(path, `must have exactly ${p.length} elements (${type})`)
    if (value.length > TYPED_DATA_LIMITS.maxArrayLength) fail(path, `must have at most ${TYPED_DATA_LIMITS.maxArrayLength} elements`)
    return value.map((v, i) => normalizeValue(set, p.inner, v, `${path}[${i}]`, depth + 1))
  }
  if (p.tag === 'struct') return normalizeStruct(set, p.name, value, path, depth)
  const a = p.atomic
  switch (a.kind) {
    case 'address':
      return assertAddress(value, path)
    case 'bool':
      if (typeof value !== 'boolean') fail(path, `must be a boolean (got ${typeName(value)})`)
      return value
    case 'string':
      if (typeof value !== 'string') fail(path, `must be a string (got ${typeName(value)})`)
      if (!isWellFormedString(value)) fail(path, 'must be well-formed Unicode (it has a lone surrogate)')
      return value
    case 'bytes':
      return value instanceof Uint8Array ? bytesToHex(value) : assertHex(value, path)
    case 'fixedBytes':
      return value instanceof Uint8Array ? sizedBytes(value, a.size, path) : assertHex(value, path, a.size)
    case 'int': {
      const n = parseInteger(value, path)
      const min = a.signed ? -(1n << BigInt(a.bits - 1)) : 0n
      const max = a.signed ? (1n << BigInt(a.bits - 1)) - 1n : (1n << BigInt(a.bits)) - 1n
      if (n < min || n > max) {
        fail(path, a.signed ? `must be in -2^${a.bits - 1}..2^${a.bits - 1}-1 (int${a.bits})` : `must be in 0..2^${a.bits}-1 (uint${a.bits})`)
      }
      return n.toString()
    }
  }
}

function sizedBytes(value: Uint8Array, size: number, path: string): Hex {
  if (value.length !== size) fail(path, `must be exactly ${size} bytes`)
  return bytesToHex(value)
}

/** An integer from a bigint, a safe integer, a decimal string (optionally negative) or a 0x-hex string. */
function parseInteger(value: unknown, path: string): bigint {
  if (typeof value === 'bigint') return value
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) fail(path, 'must be a safe integer number; pass a bigint or a string for larger values')
    return BigInt(value)
  }
  if (typeof value === 'string') {
    if (/^-?(?:0|[1-9][0-9]{0,79})$/.test(value)) return BigInt(value)
    if (/^0x[0-9a-fA-F]{1,64}$/.test(value)) return BigInt(value)
    fail(path, 'must be an integer: a decimal string without leading zeros, or 0x-hex of at most 32 bytes')
  }
  return fail(path, `must be an integer: bigint, safe integer number or string (got ${typeName(value)})`)
}

function withTypes(td: NormalizedTypedData): TypeSet {
  return new TypeSet(new Map(Object.entries(td.types)))
}

/**
 * EIP-712 `encodeType` of a struct of validated typed data: the struct, then its dependencies sorted by
 * name, e.g. `Mail(Person from,Person to,string contents)Person(string name,address wallet)`.
 */
export function encodeType(td: NormalizedTypedData, primaryType: string = td.primaryType): string {
  return withTypes(td).encodeType(primaryType)
}

/** EIP-712 `encodeData` of the message: `typeHash || enc(member₁) || …`, as hex. */
export function encodeTypedData(td: NormalizedTypedData): Hex {
  return bytesToHex(withTypes(td).encodeData(td.primaryType, td.message))
}

/** The EIP-712 domain separator: `hashStruct(EIP712Domain, domain)`. */
export function hashTypedDataDomain(td: NormalizedTypedData): Hex {
  return bytesToHex(withTypes(td).hashStruct(DOMAIN_TYPE, td.domain as Record<string, TypedDataValue>))
}

/**
 * The EIP-712 digest of validated typed data: `keccak256(0x1901 || domainSeparator || hashStruct(message))`,
 * or `keccak256(0x1901 || domainSeparator)` when `primaryType` is `EIP712Domain`.
 *
 * @example
 * hashTypedData(normalizeTypedData(payload)) // '0x…' (32 bytes)
 */
export function hashTypedData(td: NormalizedTypedData): Hex {
  const set = withTypes(td)
  const parts = [Uint8Array.of(0x19, 0x01), set.hashStruct(DOMAIN_TYPE, td.domain as Record<string, TypedDataValue>)]
  if (td.primaryType !== DOMAIN_TYPE) parts.push(set.hashStruct(td.primaryType, td.message))
  const payload = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const p of parts) {
    payload.set(p, offset)
    offset += p.length
  }
  return bytesToHex(keccak_256(payload))
}
