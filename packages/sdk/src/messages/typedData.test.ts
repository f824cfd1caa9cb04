import { describe, expect, it } from 'vitest'
import { isCustodyError } from '../errors/CustodyError.js'
import { encodeType, hashTypedData, hashTypedDataDomain, normalizeTypedData } from './typedData.js'

const WALLET = '0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826'
const mail = {
  domain: { name: 'Ether Mail', version: '1', chainId: 1, verifyingContract: '0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC' },
  types: {
    Person: [
      { name: 'name', type: 'string' },
      { name: 'wallet', type: 'address' },
    ],
    Mail: [
      { name: 'from', type: 'Person' },
      { name: 'to', type: 'Person' },
      { name: 'contents', type: 'string' },
    ],
  },
  primaryType: 'Mail',
  message: { from: { name: 'Cow', wallet: WALLET }, to: { name: 'Bob', wallet: WALLET }, contents: 'Hello, Bob!' },
}
/** One member of type `type` holding `value`. */
const one = (type: string, value: unknown, extra: Record<string, { name: string; type: string }[]> = {}) => ({
  domain: {},
  types: { T: [{ name: 'v', type }], ...extra },
  primaryType: 'T',
  message: { v: value },
})
const withTypes = (types: Record<string, unknown>, message: Record<string, unknown> = {}, primaryType = 'T') => ({ domain: {}, types, primaryType, message })

function failure(input: unknown): string {
  try {
    normalizeTypedData(input)
  } catch (e) {
    if (!isCustodyError(e, 'INVALID_ARGUMENT')) throw e
    return e.message
  }
  throw new Error('expected INVALID_ARGUMENT')
}

describe('normalizeTypedData', () => {
  it('derives EIP712Domain from the domain fields present, in canonical order', () => {
    const td = normalizeTypedData({ ...mail, domain: { salt: `0x${'11'.repeat(32)}`, chainId: '5', name: 'x' } })
    expect(td.types.EIP712Domain).toEqual([
      { name: 'name', type: 'string' },
      { name: 'chainId', type: 'uint256' },
      { name: 'salt', type: 'bytes32' },
    ])
    expect(td.domain).toEqual({ name: 'x', chainId: '5', salt: `0x${'11'.repeat(32)}` })
    expect(encodeType(td)).toBe('Mail(Person from,Person to,string contents)Person(string name,address wallet)')
  })

  it('accepts a given EIP712Domain with the domain fields in another order, and hashes that order', () => {
    const reordered = [
      { name: 'chainId', type: 'uint256' },
      { name: 'name', type: 'string' },
      { name: 'verifyingContract', type: 'address' },
      { name: 'version', type: 'string' },
    ]
    const canonical = normalizeTypedData(mail)
    const given = normalizeTypedData({ ...mail, types: { ...mail.types, EIP712Domain: reordered } })
    expect(given.types.EIP712Domain).toEqual(reordered)
    expect(hashTypedDataDomain(given)).not.toBe(hashTypedDataDomain(canonical))
  })

  it('normalises values to their JSON form, and is idempotent', () => {
    const td = normalizeTypedData({
      domain: { chainId: 10n },
      types: { T: [{ name: 'a', type: 'uint256' }, { name: 'b', type: 'int8' }, { name: 'c', type: 'bytes2' }, { name: 'd', type: 'bytes' }, { name: 'e', type: 'address' }, { name: 'f', type: 'uint8[2]' }] },
      primaryType: 'T',
      message: { a: '0xff', b: -128, c: new Uint8Array([1, 2]), d: '0xABCD', e: WALLET.toLowerCase(), f: [1n, '2'] },
    })
    expect(td.message).toEqual({ a: '255', b: '-128', c: '0x0102', d: '0xabcd', e: WALLET, f: ['1', '2'] })
    expect(td.domain).toEqual({ chainId: '10' })
    expect(normalizeTypedData(JSON.parse(JSON.stringify(td)))).toEqual(td)
  })

  it('signs the domain alone when primaryType is EIP712Domain', () => {
    const td = normalizeTypedData({ domain: { name: 'x' }, types: {}, primaryType: 'EIP712Domain' })
    expect(td.message).toEqual({})
    expect(hashTypedData(td)).not.toBe(hashTypedData(normalizeTypedData({ domain: { name: 'y' }, types: {}, primaryType: 'EIP712Domain', message: {} })))
  })

  it('resolves recursive struct types (a cycle in the types, finite in the data)', () => {
    const td = normalizeTypedData({
      domain: {},
      types: { Node: [{ name: 'next', type: 'Node[]' }, { name: 'leaf', type: 'Leaf' }], Leaf: [{ name: 'up', type: 'Node[]' }] },
      primaryType: 'Node',
      message: { next: [{ next: [], leaf: { up: [] } }], leaf: { up: [] } },
    })
    expect(encodeType(td)).toBe('Node(Node[] next,Leaf leaf)Leaf(Node[] up)')
    expect(encodeType(td, 'Leaf')).toBe('Leaf(Node[] up)Node(Node[] next,Leaf leaf)')
  })

  it('accepts the boundaries of every integer width and of bytes1..bytes32', () => {
    for (let bits = 8; bits <= 256; bits += 8) {
      const b = BigInt(bits)
      for (const v of [0n, (1n << b) - 1n]) expect(() => normalizeTypedData(one(`uint${bits}`, v))).not.toThrow()
      for (const v of [-(1n << (b - 1n)), (1n << (b - 1n)) - 1n]) expect(() => normalizeTypedData(one(`int${bits}`, v))).not.toThrow()
    }
    for (let n = 1; n <= 32; n++) expect(() => normalizeTypedData(one(`bytes${n}`, `0x${'ab'.repeat(n)}`))).not.toThrow()
  })

  const deep = (depth: number): unknown => (depth === 0 ? [] : [deep(depth - 1)])
  const atDepth = (n: number) => `0x${'00'.repeat(n)}`
  it.each([
    // the payload
    ['not an object', 'typed data', '"typedData" must be an object (got string)'],
    ['an unknown top-level field', { ...mail, extra: 1 }, '"typedData" has unknown field "extra"'],
    ['no primaryType', { ...mail, primaryType: undefined }, '"typedData.primaryType" is required'],
    ['a primaryType that is not a string', { ...mail, primaryType: 1 }, '"typedData.primaryType" must be a string (got number)'],
    ['an undefined primaryType', { ...mail, primaryType: 'Letter' }, '"typedData.primaryType" names a type that "types" does not define ("Letter")'],
    ['no message', { ...mail, message: undefined }, '"typedData.message" is required'],
    ['a message for primaryType EIP712Domain', { domain: {}, types: {}, primaryType: 'EIP712Domain', message: { a: 1 } }, '"typedData.message" has unknown field "a"'],
    // the domain
    ['an unknown domain field', { ...mail, domain: { name: 'x', chain: 1 } }, '"typedData.domain" has unknown field "chain"'],
    ['a domain that is not an object', { ...mail, domain: 'x' }, '"typedData.domain" must be an object (got string)'],
    ['chainId 0', { ...mail, domain: { chainId: 0 } }, '"typedData.domain.chainId" must be a positive integer below 2^256'],
    ['a negative chainId', { ...mail, domain: { chainId: '-1' } }, '"typedData.domain.chainId" must be a positive integer below 2^256'],
    ['a fractional chainId', { ...mail, domain: { chainId: 1.5 } }, '"typedData.domain.chainId" must be a safe integer number; pass a bigint or a string for larger values'],
    ['a chainId above 2^256-1', { ...mail, domain: { chainId: 1n << 256n } }, '"typedData.domain.chainId" must be a positive integer below 2^256'],
    ['a chainId as a boolean', { ...mail, domain: { chainId: true } }, '"typedData.domain.chainId" must be an integer: bigint, safe integer number or string (got boolean)'],
    ['a verifyingContract that is not an address', { ...mail, domain: { verifyingContract: '0x1234' } }, '"typedData.domain.verifyingContract" must be a 0x-prefixed 20-byte address (40 hex digits)'],
    ['a verifyingContract with a bad checksum', { ...mail, domain: { verifyingContract: '0xcCCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC' } }, '"typedData.domain.verifyingContract" has an invalid EIP-55 checksum'],
    ['a salt of 31 bytes', { ...mail, domain: { salt: `0x${'11'.repeat(31)}` } }, '"typedData.domain.salt" must be exactly 32 bytes'],
    ['a name that is not a string', { ...mail, domain: { name: 1 } }, '"typedData.domain.name" must be a string (got number)'],
    ['a version with a lone surrogate', { ...mail, domain: { version: '\ud800' } }, '"typedData.domain.version" must be well-formed Unicode (it has a lone surrogate)'],
    ['a name of null', { ...mail, domain: { name: null } }, '"typedData.domain.name" must be a string (got null)'],
    // EIP712Domain
    [
      'an EIP712Domain missing a present field',
      { ...mail, types: { ...mail.types, EIP712Domain: [{ name: 'name', type: 'string' }] } },
      '"typedData.types.EIP712Domain" must list exactly the domain fields present, with their EIP-712 types (string name, string version, uint256 chainId, address verifyingContract)',
    ],
    [
      'an EIP712Domain with a field the domain lacks',
      { ...mail, domain: {}, types: { ...mail.types, EIP712Domain: [{ name: 'salt', type: 'bytes32' }] } },
      '"typedData.types.EIP712Domain" must list exactly the domain fields present, with their EIP-712 types (none)',
    ],
    [
      'an EIP712Domain with a non-canonical type',
      { ...mail, domain: { chainId: 1 }, types: { ...mail.types, EIP712Domain: [{ name: 'chainId', type: 'uint64' }] } },
      '"typedData.types.EIP712Domain" must list exactly the domain fields present, with their EIP-712 types (uint256 chainId)',
    ],
    ['a struct member of type EIP712Domain', one('EIP712Domain', {}), '"typedData.types.T[0].type" must not reference EIP712Domain'],
    // types
    ['types that are not an object', { ...mail, types: [] }, '"typedData.types" must be an object of struct definitions (got array)'],
    ['a type name that is not an identifier', withTypes({ 'My Type': [] }), '"typedData.types["My Type"]" must be an identifier ([A-Za-z_$][A-Za-z0-9_$]*)'],
    ['a type named like an atomic type', withTypes({ uint256: [] }), '"typedData.types.uint256" must not be named like an atomic type'],
    ['a type named like an invalid atomic type', withTypes({ bytes33: [] }), '"typedData.types.bytes33" must not be named like an atomic type'],
    ['members that are not an array', withTypes({ T: {} }), '"typedData.types.T" must be an array of { name, type } (got object)'],
    ['a member that is not an object', withTypes({ T: ['uint256 a'] }), '"typedData.types.T[0]" must be an object (got string)'],
    ['a member with an extra field', withTypes({ T: [{ name: 'a', type: 'bool', indexed: true }] }), '"typedData.types.T[0]" has unknown field "indexed"'],
    ['a member name that is not an identifier', withTypes({ T: [{ name: 'a b', type: 'bool' }] }), '"typedData.types.T[0].name" must be an identifier ([A-Za-z_$][A-Za-z0-9_$]*)'],
    ['a repeated member name', withTypes({ T: [{ name: 'a', type: 'bool' }, { name: 'a', type: 'uint8' }] }), '"typedData.types.T[1].name" repeats the member name "a"'],
    ['a member type that is not a string', withTypes({ T: [{ name: 'a', type: 8 }] }), '"typedData.types.T[0].type" must be a string (got number)'],
    ['a member type with spaces', one('uint256 ', 1), '"typedData.types.T[0].type" must be a type name with optional array suffixes ([] or [k], k ≥ 1)'],
    ['an array of length 0', one('uint8[0]', []), '"typedData.types.T[0].type" must be a type name with optional array suffixes ([] or [k], k ≥ 1)'],
    ['an array length with a leading zero', one('uint8[01]', [1]), '"typedData.types.T[0].type" must be a type name with optional array suffixes ([] or [k], k ≥ 1)'],
    ['an undefined struct type', one('Person', {}), '"typedData.types.T[0].type" references undefined type "Person"'],
    ['an undefined array element type', one('Person[]', []), '"typedData.types.T[0].type" references undefined type "Person"'],
    ['uint without a width', one('uint', 1), '"typedData.types.T[0].type" is not a valid EIP-712 type ("uint")'],
    ['uint7', one('uint7', 1), '"typedData.types.T[0].type" is not a valid EIP-712 type ("uint7")'],
    ['int264', one('int264', 1), '"typedData.types.T[0].type" is not a valid EIP-712 type ("int264")'],
    ['bytes0', one('bytes0', '0x'), '"typedData.types.T[0].type" is not a valid EIP-712 type ("bytes0")'],
    ['bytes33', one('bytes33', '0x'), '"typedData.types.T[0].type" is not a valid EIP-712 type ("bytes33")'],
    ['an unused type', { ...mail, types: { ...mail.types, Extra: [] } }, '"typedData.types.Extra" is not used by primaryType "Mail"'],
    ['types beside primaryType EIP712Domain', { domain: {}, types: { T: [] }, primaryType: 'EIP712Domain' }, '"typedData.types.T" is not used by primaryType "EIP712Domain"'],
    ['more than 128 types', withTypes(Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`T${i}`, []]))), '"typedData.types" must define at most 128 types'],
    ['more than 128 members', withTypes({ T: Array.from({ length: 129 }, (_, i) => ({ name: `a${i}`, type: 'bool' })) }), '"typedData.types.T" must have at most 128 members'],
    // the message
    ['a missing member', { ...mail, message: { ...mail.message, contents: undefined } }, '"typedData.message.contents" is required'],
    ['an unknown member', { ...mail, message: { ...mail.message, cc: 'x' } }, '"typedData.message" has unknown field "cc"'],
    ['a nested unknown member', { ...mail, message: { ...mail.message, from: { ...mail.message.from, age: 1 } } }, '"typedData.message.from" has unknown field "age"'],
    ['a struct value that is not an object', { ...mail, message: { ...mail.message, to: WALLET } }, '"typedData.message.to" must be an object (got string)'],
    ['a uint8 of 256', one('uint8', 256), '"typedData.message.v" must be in 0..2^8-1 (uint8)'],
    ['a negative uint', one('uint256', '-1'), '"typedData.message.v" must be in 0..2^256-1 (uint256)'],
    ['an int8 of 128', one('int8', 128), '"typedData.message.v" must be in -2^7..2^7-1 (int8)'],
    ['an int8 of -129', one('int8', -129n), '"typedData.message.v" must be in -2^7..2^7-1 (int8)'],
    ['a uint256 of 2^256', one('uint256', 1n << 256n), '"typedData.message.v" must be in 0..2^256-1 (uint256)'],
    ['a float', one('uint256', 1.5), '"typedData.message.v" must be a safe integer number; pass a bigint or a string for larger values'],
    ['an unsafe number', one('uint256', 2 ** 60), '"typedData.message.v" must be a safe integer number; pass a bigint or a string for larger values'],
    ['an integer with a leading zero', one('uint256', '007'), '"typedData.message.v" must be an integer: a decimal string without leading zeros, or 0x-hex of at most 32 bytes'],
    ['an integer with an exponent', one('uint256', '1e18'), '"typedData.message.v" must be an integer: a decimal string without leading zeros, or 0x-hex of at most 32 bytes'],
    ['a negative hex integer', one('int256', '-0x1'), '"typedData.message.v" must be an integer: a decimal string without leading zeros, or 0x-hex of at most 32 bytes'],
    ['an integer as a boolean', one('uint8', true), '"typedData.message.v" must be an integer: bigint, safe integer number or string (got boolean)'],
    ['a bool as a string', one('bool', 'true'), '"typedData.message.v" must be a boolean (got string)'],
    ['a bool as a number', one('bool', 1), '"typedData.message.v" must be a boolean (got number)'],
    ['a short bytes4', one('bytes4', '0x010203'), '"typedData.message.v" must be exactly 4 bytes'],
    ['a long bytes4', one('bytes4', new Uint8Array(5)), '"typedData.message.v" must be exactly 4 bytes'],
    ['bytes with an odd number of digits', one('bytes', '0x123'), '"typedData.message.v" must be hex with an even number of digits'],
    ['bytes as a number', one('bytes', 1), '"typedData.message.v" must be a 0x-prefixed hex string (got number)'],
    ['a string that is not a string', one('string', 1), '"typedData.message.v" must be a string (got number)'],
    ['a string with a lone surrogate', one('string', '\udfff'), '"typedData.message.v" must be well-formed Unicode (it has a lone surrogate)'],
    ['an address with a bad checksum', one('address', '0xcD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826'), '"typedData.message.v" has an invalid EIP-55 checksum'],
    ['an address of 19 bytes', one('address', atDepth(19)), '"typedData.message.v" must be a 0x-prefixed 20-byte address (40 hex digits)'],
    ['an array that is not an array', one('uint8[]', '0x01'), '"typedData.message.v" must be an array (uint8[]; got string)'],
    ['a fixed array of the wrong length', one('uint8[3]', [1, 2]), '"typedData.message.v" must have exactly 3 elements (uint8[3])'],
    ['an inner fixed array of the wrong length', one('uint8[2][]', [[1, 2], [1]]), '"typedData.message.v[1]" must have exactly 2 elements (uint8[2])'],
    ['an element out of range', one('int8[]', [1, 200]), '"typedData.message.v[1]" must be in -2^7..2^7-1 (int8)'],
    ['more than 1024 elements', one('bool[]', Array(1025).fill(true)), '"typedData.message.v" must have at most 1024 elements'],
    ['nesting deeper than 32 levels', one(`bool${'[]'.repeat(40)}`, deep(40)), `"typedData.message.v${'[0]'.repeat(32)}" nests deeper than 32 levels`],
  ])('refuses %s', (_, input, message) => {
    expect(failure(input)).toBe(message)
  })
})

describe('members and types named like Object.prototype properties', () => {
  // JSON.parse makes `__proto__` an own property; an object literal would set the prototype instead.
  const parse = (json: string) => JSON.parse(json) as unknown

  it('a missing member named __proto__ is "required", never read from Object.prototype', () => {
    // An empty struct accepts any plain object: reading `message.__proto__` would find Object.prototype
    // and sign a member the caller never sent.
    const td = parse('{"domain":{},"primaryType":"T","types":{"T":[{"name":"__proto__","type":"E"}],"E":[]},"message":{}}')
    expect(() => normalizeTypedData(td)).toThrowError('"typedData.message.__proto__" is required')
  })

  it('a missing member named constructor is "required"', () => {
    const td = parse('{"domain":{},"primaryType":"T","types":{"T":[{"name":"constructor","type":"E"}],"E":[]},"message":{}}')
    expect(() => normalizeTypedData(td)).toThrowError('"typedData.message.constructor" is required')
  })

  it('a present member named __proto__ hashes as viem and ethers hash it', async () => {
    const { hashTypedData: viemHash } = await import('viem')
    const { TypedDataEncoder } = await import('ethers')
    const json =
      '{"domain":{"name":"P"},"primaryType":"T","types":{"T":[{"name":"__proto__","type":"S"},{"name":"constructor","type":"uint256"}],"S":[{"name":"prototype","type":"string"}]},"message":{"__proto__":{"prototype":"x"},"constructor":"7"}}'
    const td = normalizeTypedData(parse(json))
    expect(Object.hasOwn(td.message, '__proto__')).toBe(true)
    expect(JSON.parse(JSON.stringify(td)).message.__proto__).toEqual({ prototype: 'x' })
    const viaViem = viemHash(parse(json) as Parameters<typeof viemHash>[0])
    const raw = parse(json) as { domain: Record<string, unknown>; types: Record<string, { name: string; type: string }[]>; message: Record<string, unknown> }
    const viaEthers = TypedDataEncoder.hash(raw.domain, raw.types, raw.message)
    expect(hashTypedData(td)).toBe(viaViem)
    expect(hashTypedData(td)).toBe(viaEthers)
  })

  it('a type named __proto__ is defined by the payload, not by Object.prototype', () => {
    const td = normalizeTypedData(parse('{"domain":{},"primaryType":"T","types":{"T":[{"name":"a","type":"__proto__"}],"__proto__":[{"name":"b","type":"bool"}]},"message":{"a":{"b":true}}}'))
    expect(encodeType(td)).toBe('T(__proto__ a)__proto__(bool b)')
  })

  it('hashing validated data never reads an inherited member', () => {
    const td = normalizeTypedData(parse('{"domain":{},"primaryType":"T","types":{"T":[{"name":"__proto__","type":"E"}],"E":[]},"message":{"__proto__":{}}}'))
    const hash = hashTypedData(td)
    // The same payload with the member removed afterwards must not hash (it would read Object.prototype).
    const stripped = { ...td, message: {} }
    expect(() => hashTypedData(stripped)).toThrow()
    expect(hash).toMatch(/^0x[0-9a-f]{64}$/)
  })
})

describe('hashing cost stays linear in the payload', () => {
  /** One big struct referenced (as empty arrays) by 126 others: each type hash re-encodes it. */
  function amplified(nameLength: number) {
    const big = Array.from({ length: 128 }, (_, i) => ({ name: `f${i}_${'a'.repeat(nameLength)}`.slice(0, nameLength), type: 'bool' }))
    const types: Record<string, { name: string; type: string }[]> = { Tbig: big }
    const message: Record<string, unknown> = { z: [] }
    const primary: { name: string; type: string }[] = []
    for (let i = 1; i < 127; i++) {
      types[`T${i}`] = [
        { name: 'z', type: 'Tbig[]' },
        { name: 'i', type: 'uint8' },
      ]
      primary.push({ name: `x${i}`, type: `T${i}` })
      message[`x${i}`] = { z: [], i: 1 }
    }
    primary.push({ name: 'z', type: 'Tbig[]' })
    types.T0 = primary
    return { domain: { name: 'x', chainId: 1 }, primaryType: 'T0', types, message }
  }

  it('refuses names longer than 256 characters', () => {
    expect(() => normalizeTypedData(amplified(7_500))).toThrowError(/must be at most 256 characters/)
  })

  it('refuses a payload whose type strings would be hashed over and over (~1 MiB frame → 128 MiB of hashing before)', () => {
    expect(() => normalizeTypedData(amplified(256))).toThrowError(/"typedData.types" must encode to at most 1048576 bytes of type strings in all/)
  })

  it('accepts the same shape at a size that hashes quickly, and hashes as viem does', async () => {
    const { hashTypedData: viemHash } = await import('viem')
    const td = amplified(20)
    expect(hashTypedData(normalizeTypedData(td))).toBe(viemHash(td as never))
  })
})
