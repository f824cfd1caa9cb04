/**
 * Differential test for what is not a transaction: random EIP-712 payloads (random nested struct types,
 * dynamic and fixed arrays, every atomic type at its boundaries, random domains), random EIP-191 messages
 * and random EIP-7702 authorizations, signed through the client and the in-process enclave and checked
 * against viem and ethers: their digests, sender recovery, and byte equality with their own signing of the
 * same payload with the same key.
 *
 * Seeded: a failure names its case; `DIFFERENTIAL_SEED=<n>` replays a run, `DIFFERENTIAL_TYPED_COUNT=<n>`
 * changes the number of typed-data payloads.
 */
import { createCustodyClient } from '@enclave-custody/sdk'
import { hashAuthorization as ethersHashAuthorization, hashMessage as ethersHashMessage, TypedDataEncoder, verifyTypedData, Wallet, getAddress as ethersChecksum } from 'ethers'
import { hashMessage, hashTypedData, recoverMessageAddress, recoverTypedDataAddress } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { hashAuthorization, recoverAuthorizationAddress } from 'viem/utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { localEnclave } from '../src/localEnclave.js'
import { newStamper } from './support/stamps.js'
import { createRng, type Rng, randomPrivateKey, toHex } from './rng.js'

const SEED = Number(process.env.DIFFERENTIAL_SEED ?? 0x712_0191)
const COUNT = Number(process.env.DIFFERENTIAL_TYPED_COUNT ?? 120)
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

const rng = createRng(SEED)
const KEYS = Array.from({ length: 4 }, () => randomPrivateKey(rng))
const custody = createCustodyClient({ transport: localEnclave(), stamper: newStamper() })
const keyIds: string[] = []
const accounts = KEYS.map((k) => privateKeyToAccount(k))
const wallets = KEYS.map((k) => new Wallet(k))
beforeAll(async () => {
  for (const [i, privateKey] of KEYS.entries()) keyIds.push((await custody.importKey({ privateKey, keyId: `msg-${i}`, policy: { allowAnyChainAuthorization: true } })).keyId)
})
afterAll(() => custody.close())

// ---------------------------------------------------------------------------------------------------
// Random typed data. Values are generated twice: `expected` in the canonical form viem and ethers take
// (bigint, lower-case hex), `input` in one of the forms callers may use (numbers, strings, hex, bytes).

type Field = { name: string; type: string }
type Payload = { domain: Record<string, unknown>; types: Record<string, Field[]>; primaryType: string; message: Record<string, unknown> }
type TypedCase = { index: number; key: number; expected: Payload; input: Payload; forms: Set<string> }

const CHARS = ['a', 'Z', '0', ' ', 'é', '🚀', '"', '\\', '\n', '中', '𝄞', '0x12']
const randomString = (r: Rng) => Array.from({ length: r.int(0, 12) }, () => r.pick(CHARS)).join('')
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const identifier = (r: Rng, first: string) => first + Array.from({ length: r.int(1, 6) }, () => LETTERS[r.int(0, LETTERS.length - 1)]).join('')

function randomAtomic(r: Rng): string {
  const kind = r.pick(['uint', 'int', 'bytesN', 'bytes', 'string', 'address', 'bool'] as const)
  if (kind === 'uint' || kind === 'int') return `${kind}${8 * r.int(1, 32)}`
  if (kind === 'bytesN') return `bytes${r.int(1, 32)}`
  return kind
}

/** A random value of `type`: [canonical value for viem/ethers, the caller's form]. */
function randomValue(r: Rng, types: Record<string, Field[]>, type: string, forms: Set<string>, depth: number): [unknown, unknown] {
  const array = /^(.*)\[(\d*)\]$/.exec(type)
  if (array) {
    const n = array[2] === '' ? (depth > 3 ? 0 : r.int(0, 3)) : Number(array[2])
    const pairs = Array.from({ length: n }, () => randomValue(r, types, array[1]!, forms, depth + 1))
    return [pairs.map((p) => p[0]), pairs.map((p) => p[1])]
  }
  if (types[type]) {
    const pairs = types[type]!.map((f) => [f.name, randomValue(r, types, f.type, forms, depth + 1)] as const)
    return [Object.fromEntries(pairs.map(([n, p]) => [n, p[0]])), Object.fromEntries(pairs.map(([n, p]) => [n, p[1]]))]
  }
  const int = /^(u?)int(\d+)$/.exec(type)
  if (int) {
    const bits = BigInt(int[2]!)
    const signed = int[1] === ''
    const max = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n
    const min = signed ? -(1n << (bits - 1n)) : 0n
    const v = r.chance(0.25) ? r.pick([min, max, 0n, signed ? -1n : 1n]) : r.chance(0.5) && signed ? -r.mixed(-min) : r.mixed(max)
    const form = r.pick(v >= -MAX_SAFE && v <= MAX_SAFE ? (['bigint', 'number', 'decimal', 'hex'] as const) : (['bigint', 'decimal', 'hex'] as const))
    const f = v < 0n && form === 'hex' ? 'decimal' : form
    forms.add(`int:${f}`)
    return [v, f === 'bigint' ? v : f === 'number' ? Number(v) : f === 'decimal' ? v.toString() : `0x${v.toString(16)}`]
  }
  const fixed = /^bytes(\d+)$/.exec(type)
  if (fixed || type === 'bytes') {
    const b = r.bytes(fixed ? Number(fixed[1]) : r.int(0, 70))
    const form = r.pick(['hex', 'upper', 'bytes'] as const)
    forms.add(`bytes:${form}`)
    return [toHex(b), form === 'bytes' ? b : form === 'upper' ? `0x${toHex(b).slice(2).toUpperCase()}` : toHex(b)]
  }
  if (type === 'address') {
    const a = toHex(r.bytes(20))
    const form = r.pick(['lower', 'checksum'] as const)
    forms.add(`address:${form}`)
    return [a, form === 'checksum' ? ethersChecksum(a) : a]
  }
  if (type === 'bool') {
    const b = r.chance(0.5)
    return [b, b]
  }
  const s = randomString(r)
  return [s, s]
}

function randomTypedData(r: Rng, index: number): TypedCase {
  const forms = new Set<string>()
  // Struct types form a DAG (ethers refuses recursive types): type i may reference only types j > i, and
  // every type after the first is referenced by an earlier one, so the first is the only primary type.
  const names: string[] = []
  while (names.length < r.int(1, 5)) {
    const n = identifier(r, LETTERS[r.int(0, 25)]!)
    if (!names.includes(n) && !/^(u?int|bytes|string|address|bool)/.test(n)) names.push(n)
  }
  const types: Record<string, Field[]> = {}
  for (let i = names.length - 1; i >= 0; i--) {
    const fields: Field[] = []
    const count = r.int(1, 5)
    for (let j = 0; j < count; j++) {
      let type = i < names.length - 1 && r.chance(0.3) ? names[r.int(i + 1, names.length - 1)]! : randomAtomic(r)
      for (let d = r.chance(0.3) ? r.int(1, 2) : 0; d > 0; d--) type += r.chance(0.5) ? '[]' : `[${r.int(1, 3)}]`
      fields.push({ name: `${identifier(r, 'f')}${j}`, type })
    }
    types[names[i]!] = fields
  }
  for (let i = 1; i < names.length; i++) {
    const referenced = Object.values(types).some((fs) => fs.some((f) => f.type.replace(/\[.*$/, '') === names[i]))
    if (!referenced) types[names[r.int(0, i - 1)]!]!.push({ name: `ref${i}`, type: names[i]! })
  }
  const primaryType = names[0]!
  const domain: [Record<string, unknown>, Record<string, unknown>] = [{}, {}]
  if (r.chance(0.6)) domain[0].name = domain[1].name = randomString(r)
  if (r.chance(0.5)) domain[0].version = domain[1].version = `${r.int(0, 9)}.${r.int(0, 99)}`
  if (r.chance(0.6)) {
    const chainId = r.chance(0.3) ? 1n : r.mixed((1n << 64n) - 2n) + 1n
    domain[0].chainId = chainId
    domain[1].chainId = chainId <= MAX_SAFE && r.chance(0.5) ? Number(chainId) : chainId
  }
  if (r.chance(0.5)) {
    const a = toHex(r.bytes(20))
    domain[0].verifyingContract = a
    domain[1].verifyingContract = r.chance(0.5) ? ethersChecksum(a) : a
  }
  if (r.chance(0.3)) domain[0].salt = domain[1].salt = toHex(r.bytes(32))
  const [expectedMessage, inputMessage] = randomValue(r, types, primaryType, forms, 0) as [Record<string, unknown>, Record<string, unknown>]
  return {
    index,
    key: r.int(0, KEYS.length - 1),
    expected: { domain: domain[0], types, primaryType, message: expectedMessage },
    input: { domain: domain[1], types, primaryType, message: inputMessage },
    forms,
  }
}

const typedCases = Array.from({ length: COUNT }, (_, i) => randomTypedData(rng, i))
const typeStrings = typedCases.flatMap((c) => Object.values(c.expected.types).flatMap((fs) => fs.map((f) => f.type)))

describe(`differential: ${COUNT} random EIP-712 payloads (seed ${SEED})`, () => {
  it('the generator covers nested structs, both array kinds, every atomic family and every input form', () => {
    expect(typedCases.length).toBeGreaterThanOrEqual(100)
    expect(typedCases.some((c) => Object.keys(c.expected.types).length >= 4)).toBe(true)
    expect(typeStrings.some((t) => /^[A-Za-z]+\[\]$/.test(t) && !/^(u?int|bytes|string|address|bool)/.test(t))).toBe(true)
    expect(typeStrings.some((t) => /\[\d\]\[\]|\[\]\[\d\]|\[\]\[\]|\[\d\]\[\d\]/.test(t))).toBe(true)
    for (const family of [/^uint\d+$/, /^int\d+$/, /^bytes\d+$/, /^bytes$/, /^string$/, /^address$/, /^bool$/]) expect(typeStrings.some((t) => family.test(t))).toBe(true)
    const forms = new Set(typedCases.flatMap((c) => [...c.forms]))
    for (const f of ['int:bigint', 'int:number', 'int:decimal', 'int:hex', 'bytes:hex', 'bytes:upper', 'bytes:bytes', 'address:lower', 'address:checksum']) expect(forms).toContain(f)
    expect(typedCases.some((c) => Object.keys(c.expected.domain).length === 0) && typedCases.some((c) => Object.keys(c.expected.domain).length === 5)).toBe(true)
  })

  it.each(typedCases.map((c) => [`#${String(c.index).padStart(3, '0')} ${c.expected.primaryType} (${Object.keys(c.expected.types).length} types)`, c] as const))(
    '%s',
    async (_, c) => {
      const { domain, types, primaryType, message } = c.expected
      const signed = await custody.signTypedData(keyIds[c.key]!, c.input as never)
      const account = accounts[c.key]!

      // viem: the digest, its own signature of the same payload, and recovery.
      const viemPayload = { domain, types, primaryType, message } as Parameters<typeof hashTypedData>[0]
      expect(signed.hash).toBe(hashTypedData(viemPayload))
      expect(signed.signature).toBe(await account.signTypedData(viemPayload as never))
      expect(await recoverTypedDataAddress({ ...viemPayload, signature: signed.signature } as never)).toBe(account.address)

      // ethers: the digest, Wallet.signTypedData, verifyTypedData.
      expect(signed.hash).toBe(TypedDataEncoder.hash(domain, types, message))
      expect(signed.signature).toBe(await wallets[c.key]!.signTypedData(domain, types, message))
      expect(verifyTypedData(domain, types, message, signed.signature)).toBe(account.address)
    },
  )

  it('a recursive struct type (allowed by EIP-712, refused by ethers) hashes and signs as viem does', async () => {
    const payload = {
      domain: { name: 'tree', chainId: 1 },
      types: { Node: [{ name: 'label', type: 'string' }, { name: 'children', type: 'Node[]' }] },
      primaryType: 'Node',
      message: { label: 'root', children: [{ label: 'a', children: [] }, { label: 'b', children: [{ label: 'c', children: [] }] }] },
    } as const
    const signed = await custody.signTypedData(keyIds[0]!, payload)
    expect(signed.hash).toBe(hashTypedData(payload as never))
    expect(signed.signature).toBe(await accounts[0]!.signTypedData(payload as never))
  })
})

// ---------------------------------------------------------------------------------------------------

const messageCases = Array.from({ length: 40 }, (_, index) => {
  const kind = rng.pick(['text', 'hexText', 'raw', 'bytes'] as const)
  const bytes = rng.bytes(rng.int(0, 300))
  const text = kind === 'hexText' ? toHex(rng.bytes(rng.int(1, 8))) : randomString(rng)
  return { index, key: rng.int(0, KEYS.length - 1), kind, text, bytes }
})

describe('differential: random EIP-191 messages (text, hex-looking text, raw hex, bytes)', () => {
  it.each(messageCases.map((m) => [`#${m.index} ${m.kind}`, m] as const))('%s', async (_, m) => {
    const message = m.kind === 'raw' ? { raw: toHex(m.bytes) } : m.kind === 'bytes' ? m.bytes : m.text
    const viemMessage = m.kind === 'raw' || m.kind === 'bytes' ? { raw: toHex(m.bytes) } : m.text
    const signed = await custody.signMessage(keyIds[m.key]!, { message })
    expect(signed.hash).toBe(hashMessage(viemMessage))
    expect(signed.hash).toBe(ethersHashMessage(m.kind === 'raw' || m.kind === 'bytes' ? m.bytes : m.text))
    expect(signed.signature).toBe(await accounts[m.key]!.signMessage({ message: viemMessage }))
    expect(signed.signature).toBe(await wallets[m.key]!.signMessage(m.kind === 'raw' || m.kind === 'bytes' ? m.bytes : m.text))
    expect(await recoverMessageAddress({ message: viemMessage, signature: signed.signature })).toBe(accounts[m.key]!.address)
  })
})

const authorizationCases = Array.from({ length: 40 }, (_, index) => ({
  index,
  key: rng.int(0, KEYS.length - 1),
  chainId: rng.chance(0.2) ? 0n : rng.chance(0.2) ? (1n << 256n) - 1n : rng.mixed(1n << 64n),
  address: toHex(rng.bytes(20)),
  nonce: rng.chance(0.2) ? (1n << 64n) - 2n : rng.mixed((1n << 64n) - 2n),
}))

describe('differential: random EIP-7702 authorizations', () => {
  it.each(authorizationCases.map((a) => [`#${a.index} chainId=${a.chainId} nonce=${a.nonce}`, a] as const))('%s', async (_, a) => {
    const signed = await custody.signAuthorization(keyIds[a.key]!, { chainId: a.chainId, address: a.address, nonce: a.nonce, allowAnyChain: a.chainId === 0n })
    const tuple = { address: a.address, chainId: a.chainId as unknown as number, nonce: a.nonce as unknown as number }
    const viemSigned = await accounts[a.key]!.signAuthorization(tuple)
    expect({ r: signed.r, s: signed.s, yParity: signed.yParity }).toEqual({ r: viemSigned.r, s: viemSigned.s, yParity: viemSigned.yParity })
    expect(await recoverAuthorizationAddress({ authorization: { ...tuple, r: signed.r, s: signed.s, yParity: signed.yParity } })).toBe(accounts[a.key]!.address)
    expect(hashAuthorization(tuple)).toBe(ethersHashAuthorization({ address: a.address, chainId: a.chainId, nonce: a.nonce }))
    const ethersSigned = wallets[a.key]!.authorizeSync({ address: a.address, chainId: a.chainId, nonce: a.nonce })
    expect({ r: ethersSigned.signature.r, s: ethersSigned.signature.s, yParity: ethersSigned.signature.yParity }).toEqual({ r: signed.r, s: signed.s, yParity: signed.yParity })
  })
})

