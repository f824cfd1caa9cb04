/**
 * Differential test over every transaction type: random legacy (with and without EIP-155), EIP-2930,
 * EIP-1559 and EIP-7702 transactions signed through `signTransaction` and the in-process enclave, then
 * checked against two independent implementations: viem (RLP decoding, parsing, sender recovery, and its
 * own signing of the same fields with the same key) and ethers (parsing, sender, hash, and `Wallet`
 * signing). RFC 6979 makes signatures deterministic, so all three must produce the same bytes.
 *
 * Seeded: a failure names its case number; `DIFFERENTIAL_SEED=<n>` replays a run and
 * `DIFFERENTIAL_TX_COUNT=<n>` changes its size.
 */
import { createCustodyClient, type SignTransactionReturnType, type TransactionType } from '@enclave-custody/sdk'
import { Transaction as EthersTransaction, Wallet, getAddress as ethersChecksum } from 'ethers'
import {
  fromRlp,
  type Hex,
  hexToBigInt,
  keccak256,
  parseTransaction,
  recoverTransactionAddress,
  type SignedAuthorization,
  type TransactionSerializable,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { localEnclave } from '../src/localEnclave.js'
import { newStamper } from './support/stamps.js'
import { createRng, type Rng, randomPrivateKey, toHex } from './rng.js'

const SEED = Number(process.env.DIFFERENTIAL_SEED ?? 0x7702_0001)
const COUNT = Number(process.env.DIFFERENTIAL_TX_COUNT ?? 240)

const MAX_UINT256 = (1n << 256n) - 1n
const MAX_NONCE = (1n << 64n) - 2n
const MAX_CHAIN_ID = (1n << 64n) - 1n
/** viem computes a legacy `v` as `BigInt(chainId * 2)` with a JS number: exact up to 2^52. */
const MAX_VIEM_LEGACY_CHAIN_ID = 1n << 52n
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
const TYPES: readonly TransactionType[] = ['legacy', 'eip2930', 'eip1559', 'eip7702']
const TYPE_NUMBER = { legacy: 0, eip2930: 1, eip1559: 2, eip7702: 4 } as const

type Authorization = { chainId: bigint; address: Hex; nonce: bigint; signer: number; signed?: SignedAuthorization }
type Expected = {
  type: TransactionType
  chainId: bigint | null
  nonce: bigint
  to: Hex | null
  value: bigint
  gas: bigint
  gasPrice: bigint
  maxFeePerGas: bigint
  maxPriorityFeePerGas: bigint
  data: Hex
  accessList: { address: Hex; storageKeys: Hex[] }[]
  authorizationList: Authorization[]
}
type Case = { index: number; key: number; expected: Expected; request: Record<string, unknown>; forms: string[] }

const rng = createRng(SEED)
const KEYS = Array.from({ length: 6 }, () => randomPrivateKey(rng))
const SIGNERS = Array.from({ length: 3 }, () => randomPrivateKey(rng))

function quantity(r: Rng, v: bigint, forms: string[]): bigint | number | string {
  const form = r.pick(v <= MAX_SAFE ? (['bigint', 'number', 'string'] as const) : (['bigint', 'string'] as const))
  forms.push(form)
  return form === 'number' ? Number(v) : form === 'string' ? v.toString() : v
}

function addressForm(r: Rng, lower: Hex, forms: string[]): string {
  const form = r.pick(['lower', 'checksum', 'upper'] as const)
  forms.push(`address:${form}`)
  return form === 'checksum' ? ethersChecksum(lower) : form === 'upper' ? `0x${lower.slice(2).toUpperCase()}` : lower
}

const special = <T>(r: Rng, specials: readonly T[], p: number, otherwise: () => T): T => (r.chance(p) ? r.pick(specials) : otherwise())

function generateCase(r: Rng, index: number): Case {
  const forms: string[] = []
  const type = TYPES[index % TYPES.length]!
  let chainId: bigint | null
  if (type === 'legacy') {
    if (r.chance(0.12)) chainId = null
    else if (r.chance(0.08)) chainId = MAX_VIEM_LEGACY_CHAIN_ID + r.mixed(MAX_CHAIN_ID - MAX_VIEM_LEGACY_CHAIN_ID)
    else chainId = special(r, [1n, 11155111n, MAX_VIEM_LEGACY_CHAIN_ID], 0.15, () => r.mixed(MAX_VIEM_LEGACY_CHAIN_ID - 1n) + 1n)
  } else chainId = special(r, [1n, 11155111n, MAX_SAFE, MAX_SAFE + 1n, MAX_CHAIN_ID], 0.15, () => r.mixed(MAX_CHAIN_ID - 1n) + 1n)
  const nonce = special(r, [0n, 1n, MAX_SAFE, MAX_SAFE + 1n, MAX_NONCE], 0.15, () => r.mixed(MAX_NONCE))
  const value = special(r, [0n, MAX_UINT256], 0.1, () => r.mixed(MAX_UINT256))
  const fee = special(r, [0n, MAX_UINT256], 0.1, () => r.mixed(MAX_UINT256))
  const tip = special(r, [0n, fee], 0.2, () => r.mixed(fee))
  const gas = BigInt(special(r, [21_000, 30_000_000], 0.1, () => r.int(21_000, 30_000_000)))
  const creation = type !== 'eip7702' && r.chance(0.2)
  const to = creation ? null : toHex(r.bytes(20))
  const data = toHex(r.bytes(special(r, [0, 600], 0.1, () => r.int(0, 300))))
  const accessList =
    type === 'legacy'
      ? []
      : Array.from({ length: r.int(0, 3) }, () => ({ address: toHex(r.bytes(20)), storageKeys: Array.from({ length: r.int(0, 3) }, () => toHex(r.bytes(32))) }))
  const authorizationList: Authorization[] =
    type === 'eip7702'
      ? Array.from({ length: r.int(1, 3) }, () => ({
          chainId: special(r, [0n, 1n, MAX_UINT256], 0.3, () => r.mixed(MAX_CHAIN_ID)),
          address: toHex(r.bytes(20)),
          nonce: special(r, [0n, MAX_NONCE], 0.2, () => r.mixed(MAX_NONCE)),
          signer: r.int(0, SIGNERS.length - 1),
        }))
      : []
  const expected: Expected = {
    type,
    chainId,
    nonce,
    to,
    value,
    gas,
    gasPrice: type === 'legacy' || type === 'eip2930' ? fee : 0n,
    maxFeePerGas: type === 'eip1559' || type === 'eip7702' ? fee : 0n,
    maxPriorityFeePerGas: type === 'eip1559' || type === 'eip7702' ? tip : 0n,
    data,
    accessList,
    authorizationList,
  }

  // The request as a caller writes it: type by name, by number or inferred; quantities in every form.
  const request: Record<string, unknown> = {}
  const typeForm = r.pick(['name', 'number', 'inferred'] as const)
  forms.push(`type:${typeForm}`)
  if (typeForm === 'name') request.type = type
  if (typeForm === 'number') request.type = TYPE_NUMBER[type]
  if (chainId === null) {
    request.allowReplayable = true
    forms.push('replayable')
  } else request.chainId = quantity(r, chainId, forms)
  request.nonce = quantity(r, nonce, forms)
  if (to !== null) request.to = addressForm(r, to, forms)
  else if (r.chance(0.5)) request.to = null
  if (value !== 0n || r.chance(0.5)) request.value = quantity(r, value, forms)
  request[r.chance(0.3) ? 'gasLimit' : 'gas'] = quantity(r, gas, forms)
  if (type === 'legacy' || type === 'eip2930') request.gasPrice = quantity(r, fee, forms)
  else {
    request.maxFeePerGas = quantity(r, fee, forms)
    request.maxPriorityFeePerGas = quantity(r, tip, forms)
  }
  if (data !== '0x' || r.chance(0.5)) {
    const form = r.pick(['bytes', 'lower', 'upper'] as const)
    forms.push(`data:${form}`)
    request.data = form === 'bytes' ? Buffer.from(data.slice(2), 'hex') : form === 'upper' ? `0x${data.slice(2).toUpperCase()}` : data
  }
  // Without `type`, an EIP-2930 transaction is told from a legacy one by its access list.
  if (type !== 'legacy' && (accessList.length > 0 || r.chance(0.5) || (type === 'eip2930' && typeForm === 'inferred'))) {
    request.accessList = accessList.map((e) => ({ address: addressForm(r, e.address, forms), storageKeys: e.storageKeys }))
  }
  return { index, key: r.int(0, KEYS.length - 1), expected, request, forms }
}

const cases = Array.from({ length: COUNT }, (_, i) => generateCase(rng, i))

const custody = createCustodyClient({ transport: localEnclave(), stamper: newStamper() })
const keyIds: string[] = []
const accounts = KEYS.map((k) => privateKeyToAccount(k))
const wallets = KEYS.map((k) => new Wallet(k))

beforeAll(async () => {
  // Every key may sign replayable legacy transactions: the generator makes some.
  for (const [i, privateKey] of KEYS.entries()) keyIds.push((await custody.importKey({ privateKey, keyId: `diff-${i}`, policy: { allowReplayableLegacy: true } })).keyId)
  // EIP-7702 authorizations, signed by viem with the signer keys (an independent implementation).
  const signers = SIGNERS.map((k) => privateKeyToAccount(k))
  for (const c of cases) {
    for (const a of c.expected.authorizationList) {
      a.signed = await signers[a.signer]!.signAuthorization({ address: a.address, chainId: a.chainId as unknown as number, nonce: a.nonce as unknown as number })
    }
    if (c.expected.type === 'eip7702') {
      c.request.authorizationList = c.expected.authorizationList.map((a, i) => {
        const { v: _, ...signed } = a.signed!
        // viem's own shape, with or without `v`, quantities as they come.
        return i % 2 === 0 ? a.signed : { ...signed, chainId: a.chainId, nonce: a.nonce.toString() }
      })
    }
  }
})
afterAll(() => custody.close())

/** viem's types want numbers for chainId and nonce; its serializer also takes bigints beyond 2^53. */
const asNumber = (v: bigint) => (v <= MAX_SAFE ? Number(v) : (v as unknown as number))

function viemTransaction(e: Expected): TransactionSerializable {
  const common = { nonce: asNumber(e.nonce), ...(e.to === null ? {} : { to: e.to }), value: e.value, gas: e.gas, data: e.data }
  switch (e.type) {
    case 'legacy':
      return { type: 'legacy', ...(e.chainId === null ? {} : { chainId: asNumber(e.chainId) }), ...common, gasPrice: e.gasPrice }
    case 'eip2930':
      return { type: 'eip2930', chainId: asNumber(e.chainId!), ...common, gasPrice: e.gasPrice, accessList: e.accessList }
    case 'eip1559':
      return { type: 'eip1559', chainId: asNumber(e.chainId!), ...common, maxFeePerGas: e.maxFeePerGas, maxPriorityFeePerGas: e.maxPriorityFeePerGas, accessList: e.accessList }
    case 'eip7702':
      return {
        type: 'eip7702',
        chainId: asNumber(e.chainId!),
        ...common,
        maxFeePerGas: e.maxFeePerGas,
        maxPriorityFeePerGas: e.maxPriorityFeePerGas,
        accessList: e.accessList,
        authorizationList: e.authorizationList.map((a) => a.signed!),
      }
  }
}

function ethersRequest(e: Expected) {
  return {
    type: TYPE_NUMBER[e.type],
    ...(e.chainId === null ? {} : { chainId: e.chainId }),
    nonce: Number(e.nonce),
    to: e.to,
    value: e.value,
    gasLimit: e.gas,
    data: e.data,
    ...(e.type === 'legacy' || e.type === 'eip2930' ? { gasPrice: e.gasPrice } : { maxFeePerGas: e.maxFeePerGas, maxPriorityFeePerGas: e.maxPriorityFeePerGas }),
    ...(e.type === 'legacy' ? {} : { accessList: e.accessList }),
    ...(e.type === 'eip7702'
      ? {
          authorizationList: e.authorizationList.map((a) => ({
            address: a.address,
            chainId: a.chainId,
            nonce: a.nonce,
            signature: { r: a.signed!.r, s: a.signed!.s, yParity: a.signed!.yParity as 0 | 1 },
          })),
        }
      : {}),
  }
}

const canonicalInt = (item: Hex): bigint => {
  expect(item === '0x' || !item.startsWith('0x00'), `non-canonical RLP integer ${item}`).toBe(true)
  return item === '0x' ? 0n : hexToBigInt(item)
}
/** All quantities a viem parser turns into JS numbers fit in 2^53 - 1. */
const fitsViemParser = (e: Expected) =>
  (e.chainId ?? 0n) <= MAX_SAFE && e.nonce <= MAX_SAFE && e.authorizationList.every((a) => a.chainId <= MAX_SAFE && a.nonce <= MAX_SAFE)
const fitsViemSigner = (e: Expected) => e.type !== 'legacy' || e.chainId === null || e.chainId <= MAX_VIEM_LEGACY_CHAIN_ID
/** ethers keeps `nonce` as a JS number. */
const fitsEthers = (e: Expected) => e.nonce <= MAX_SAFE

const describeCase = (c: Case) =>
  `#${String(c.index).padStart(3, '0')} ${c.expected.type} chainId=${c.expected.chainId ?? 'none'} nonce=${c.expected.nonce} ${c.expected.to === null ? 'create' : 'call'} data=${(c.expected.data.length - 2) / 2}B al=${c.expected.accessList.length} auth=${c.expected.authorizationList.length}`

const checked = { attempted: 0, rlp: 0, viemParse: 0, viemSign: 0, ethers: 0 }

describe(`differential: ${COUNT} random transactions of types 0, 1, 2 and 4 (seed ${SEED})`, () => {
  it('the generator covers every type, the extremes and every input form', () => {
    const e = cases.map((c) => c.expected)
    const forms = new Set(cases.flatMap((c) => c.forms))
    expect(cases.length).toBeGreaterThanOrEqual(200)
    for (const t of TYPES) expect(e.filter((x) => x.type === t).length, t).toBeGreaterThanOrEqual(50)
    expect(e.some((x) => x.type === 'legacy' && x.chainId === null)).toBe(true)
    expect(e.some((x) => x.type === 'legacy' && (x.chainId ?? 0n) > MAX_VIEM_LEGACY_CHAIN_ID)).toBe(true)
    expect(e.some((x) => x.value === MAX_UINT256) && e.some((x) => x.nonce === MAX_NONCE) && e.some((x) => x.chainId === MAX_CHAIN_ID)).toBe(true)
    expect(e.some((x) => x.gasPrice === MAX_UINT256) && e.some((x) => x.maxFeePerGas === MAX_UINT256)).toBe(true)
    expect(TYPES.filter((t) => t !== 'eip7702').every((t) => e.some((x) => x.type === t && x.to === null))).toBe(true)
    const auths = e.flatMap((x) => x.authorizationList)
    expect(auths.some((a) => a.chainId === 0n) && auths.some((a) => a.chainId === MAX_UINT256) && auths.some((a) => a.nonce === MAX_NONCE)).toBe(true)
    for (const f of ['type:name', 'type:number', 'type:inferred', 'replayable', 'bigint', 'number', 'string', 'address:checksum', 'address:upper', 'data:bytes', 'data:upper']) {
      expect(forms, f).toContain(f)
    }
  })

  it.each(cases.map((c) => [describeCase(c), c] as const))('%s', async (_, c) => {
    checked.attempted++
    const e = c.expected
    const account = accounts[c.key]!
    const signed: SignTransactionReturnType = await custody.signTransaction(keyIds[c.key]!, c.request as never)
    const raw = signed.rawTransaction
    expect(signed.from).toBe(account.address)
    expect(signed.type).toBe(e.type)
    expect(signed.hash).toBe(keccak256(raw))
    expect(BigInt(signed.signature.s)).toBeLessThanOrEqual(SECP256K1_N / 2n)

    // 1. viem's RLP decoder: every field, canonically encoded, equals the input.
    const items = (e.type === 'legacy' ? fromRlp(raw, 'hex') : fromRlp(`0x${raw.slice(4)}`, 'hex')) as unknown as (Hex | Hex[])[]
    if (e.type !== 'legacy') expect(raw.slice(0, 4)).toBe(`0x0${TYPE_NUMBER[e.type]}`)
    const ints = (idx: number[]) => idx.map((i) => canonicalInt(items[i] as Hex))
    switch (e.type) {
      case 'legacy': {
        expect(items).toHaveLength(9)
        expect(ints([0, 1, 2, 4])).toEqual([e.nonce, e.gasPrice, e.gas, e.value])
        const v = canonicalInt(items[6] as Hex)
        expect(v).toBe(e.chainId === null ? 27n + BigInt(signed.signature.yParity) : e.chainId * 2n + 35n + BigInt(signed.signature.yParity))
        expect(signed.signature.v).toBe(v)
        expect([items[3], items[5]]).toEqual([e.to ?? '0x', e.data])
        break
      }
      case 'eip2930':
        expect(items).toHaveLength(11)
        expect(ints([0, 1, 2, 3, 5])).toEqual([e.chainId, e.nonce, e.gasPrice, e.gas, e.value])
        expect([items[4], items[6]]).toEqual([e.to ?? '0x', e.data])
        break
      default: {
        expect(items).toHaveLength(e.type === 'eip1559' ? 12 : 13)
        expect(ints([0, 1, 2, 3, 4, 6])).toEqual([e.chainId, e.nonce, e.maxPriorityFeePerGas, e.maxFeePerGas, e.gas, e.value])
        expect([items[5], items[7]]).toEqual([e.to ?? '0x', e.data])
        if (e.type === 'eip7702') {
          const list = items[9] as unknown as Hex[][]
          expect(list.map((a) => [canonicalInt(a[0]!), a[1], canonicalInt(a[2]!), canonicalInt(a[3]!), canonicalInt(a[4]!), canonicalInt(a[5]!)])).toEqual(
            e.authorizationList.map((a) => [a.chainId, a.address, a.nonce, BigInt(a.signed!.yParity!), BigInt(a.signed!.r), BigInt(a.signed!.s)]),
          )
        }
      }
    }
    if (e.type !== 'legacy') {
      const al = items[e.type === 'eip2930' ? 7 : 8] as unknown as [Hex, Hex[]][]
      expect(al.map(([address, storageKeys]) => ({ address, storageKeys }))).toEqual(e.accessList)
    }
    checked.rlp++

    // 2. viem's parser and sender recovery (it parses chainId and nonce as JS numbers).
    if (fitsViemParser(e)) {
      const parsed = parseTransaction(raw)
      expect(parsed.type).toBe(e.type)
      expect(BigInt(parsed.nonce ?? 0)).toBe(e.nonce)
      if (e.chainId !== null) expect(BigInt(parsed.chainId!)).toBe(e.chainId)
      expect(parsed.to ?? null).toBe(e.to)
      expect(parsed.value ?? 0n).toBe(e.value)
      expect(await recoverTransactionAddress({ serializedTransaction: raw as never })).toBe(account.address)
      checked.viemParse++
    }

    // 3. viem signs the same fields with the same key to the same bytes.
    if (fitsViemSigner(e)) {
      expect(await account.signTransaction(viemTransaction(e))).toBe(raw)
      checked.viemSign++
    }

    // 4. ethers parses it to the same sender and hash, and its Wallet signs the same bytes.
    if (fitsEthers(e)) {
      const tx = EthersTransaction.from(raw)
      expect(tx.type).toBe(TYPE_NUMBER[e.type])
      expect(tx.from).toBe(account.address)
      expect(tx.hash).toBe(signed.hash)
      expect(tx.chainId).toBe(e.chainId ?? 0n)
      expect(await wallets[c.key]!.signTransaction(ethersRequest(e))).toBe(raw)
      checked.ethers++
    }
  })

  it('ran the independent checks on most cases', (ctx) => {
    if (checked.attempted < cases.length) ctx.skip('some cases were filtered out')
    expect(checked.rlp).toBe(cases.length)
    expect(checked.viemParse).toBeGreaterThan(cases.length / 3)
    expect(checked.viemSign).toBeGreaterThan(cases.length * 0.9)
    expect(checked.ethers).toBeGreaterThan(cases.length / 2)
  })
})
