/**
 * Differential test: random EIP-1559 transactions signed through the client and the in-process enclave,
 * checked against two independent implementations (viem and ethers).
 *
 * The generator is seeded: a failure names its case number, and `DIFFERENTIAL_SEED=<n>` replays a run
 * (`DIFFERENTIAL_COUNT=<n>` changes its size).
 */
import { createCustodyClient, type Eip1559TransactionRequest, type SignedTransaction } from '@enclave-custody/sdk'
import { Transaction as EthersTransaction, getAddress as ethersChecksum } from 'ethers'
import {
  fromRlp,
  type Hex,
  hexToBigInt,
  keccak256,
  parseTransaction,
  recoverAddress,
  recoverTransactionAddress,
  serializeTransaction,
  type TransactionSerializableEIP1559,
  type TransactionSerializedEIP1559,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, describe, expect, it } from 'vitest'
import { localEnclave } from '../src/localEnclave.js'
import { newStamper } from './support/stamps.js'
import { createRng, type Rng, randomPrivateKey, toHex } from './rng.js'

const SEED = Number(process.env.DIFFERENTIAL_SEED ?? 0x1559_2026)
const COUNT = Number(process.env.DIFFERENTIAL_COUNT ?? 240)

const MAX_UINT256 = (1n << 256n) - 1n
/** EIP-2681: nonces are below 2^64 - 1. */
const MAX_NONCE = (1n << 64n) - 2n
const MAX_CHAIN_ID = (1n << 64n) - 1n
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)
const MIN_GAS = 21_000
const MAX_GAS = 30_000_000
const MAX_DATA = 2048

// ---------------------------------------------------------------------------------------------------
// The generator: the expected transaction (ground truth, bigint) and the request as a caller writes it.

type Expected = {
  chainId: bigint
  nonce: bigint
  /** Lower-case, or null for contract creation. */
  to: Hex | null
  value: bigint
  gas: bigint
  maxFeePerGas: bigint
  maxPriorityFeePerGas: bigint
  /** Lower-case hex. */
  data: Hex
  accessList: { address: Hex; storageKeys: Hex[] }[]
}

type Case = {
  index: number
  privateKey: Hex
  expected: Expected
  request: Eip1559TransactionRequest
  forms: string[]
}

type QuantityForm = 'bigint' | 'number' | 'string'

function quantity(rng: Rng, v: bigint, forms: string[]): bigint | number | string {
  const options: QuantityForm[] = v <= MAX_SAFE ? ['bigint', 'number', 'string'] : ['bigint', 'string']
  const form = rng.pick(options)
  forms.push(form)
  if (form === 'number') return Number(v)
  if (form === 'string') return v.toString()
  return v
}

/** An address in one of the spellings callers use: lower case, EIP-55, or all upper-case digits. */
function addressForm(rng: Rng, lower: Hex, forms: string[]): string {
  const form = rng.pick(['lower', 'checksum', 'upper'] as const)
  forms.push(`address:${form}`)
  if (form === 'checksum') return ethersChecksum(lower)
  if (form === 'upper') return `0x${lower.slice(2).toUpperCase()}`
  return lower
}

function special<T>(rng: Rng, specials: readonly T[], p: number, otherwise: () => T): T {
  return rng.chance(p) ? rng.pick(specials) : otherwise()
}

function generateCase(rng: Rng, index: number): Case {
  const forms: string[] = []
  const privateKey = randomPrivateKey(rng)

  const chainId = special(rng, [1n, 11155111n, MAX_SAFE, MAX_SAFE + 1n, MAX_CHAIN_ID], 0.15, () => {
    const v = rng.mixed(MAX_CHAIN_ID)
    return v === 0n ? 1n : v
  })
  const nonce = special(rng, [0n, 1n, MAX_SAFE, MAX_SAFE + 1n, MAX_NONCE], 0.15, () => rng.mixed(MAX_NONCE))
  // The first two cases pin the extremes of value; the rest hit them now and then.
  const value = index === 0 ? 0n : index === 1 ? MAX_UINT256 : special(rng, [0n, MAX_UINT256], 0.1, () => rng.mixed(MAX_UINT256))
  const maxFeePerGas = index === 2 ? MAX_UINT256 : special(rng, [0n, MAX_UINT256], 0.1, () => rng.mixed(MAX_UINT256))
  const maxPriorityFeePerGas = index === 2 ? MAX_UINT256 : special(rng, [0n, maxFeePerGas], 0.2, () => {
    const v = rng.mixed(maxFeePerGas)
    return v > maxFeePerGas ? maxFeePerGas : v
  })
  const gas = BigInt(special(rng, [MIN_GAS, MAX_GAS], 0.1, () => rng.int(MIN_GAS, MAX_GAS)))
  const creation = rng.chance(0.2)
  const to = creation ? null : toHex(rng.bytes(20))
  const dataBytes = rng.bytes(special(rng, [0, MAX_DATA], 0.1, () => rng.int(0, MAX_DATA)))
  const data = toHex(dataBytes)
  const accessList = Array.from({ length: rng.int(0, 4) }, () => ({
    address: toHex(rng.bytes(20)),
    storageKeys: Array.from({ length: rng.int(0, 4) }, () => toHex(rng.bytes(32))),
  }))
  const expected: Expected = { chainId, nonce, to, value, gas, maxFeePerGas, maxPriorityFeePerGas, data, accessList }

  const request: Record<string, unknown> = {
    chainId: quantity(rng, chainId, forms),
    nonce: quantity(rng, nonce, forms),
    maxFeePerGas: quantity(rng, maxFeePerGas, forms),
    maxPriorityFeePerGas: quantity(rng, maxPriorityFeePerGas, forms),
  }
  if (creation) {
    const omit = rng.chance(0.5)
    forms.push(omit ? 'to:omitted' : 'to:null')
    if (!omit) request.to = null
  } else request.to = addressForm(rng, to!, forms)
  if (value !== 0n || rng.chance(0.5)) request.value = quantity(rng, value, forms)
  else forms.push('value:omitted')
  const gasField = rng.chance(0.3) ? 'gasLimit' : 'gas'
  forms.push(`gasField:${gasField}`)
  request[gasField] = quantity(rng, gas, forms)
  if (dataBytes.length > 0 || rng.chance(0.5)) {
    const form = rng.pick(['bytes', 'lower', 'upper'] as const)
    forms.push(`data:${form}`)
    request.data = form === 'bytes' ? Uint8Array.from(dataBytes) : form === 'upper' ? `0x${data.slice(2).toUpperCase()}` : data
  } else forms.push('data:omitted')
  if (accessList.length > 0 || rng.chance(0.5)) {
    request.accessList = accessList.map((e) => ({
      address: addressForm(rng, e.address, forms),
      storageKeys: e.storageKeys.map((k) => (rng.chance(0.3) ? `0x${k.slice(2).toUpperCase()}` : k)),
    }))
  } else forms.push('accessList:omitted')

  return { index, privateKey, expected, request: request as Eip1559TransactionRequest, forms }
}

const rng = createRng(SEED)
const cases = Array.from({ length: COUNT }, (_, i) => generateCase(rng, i))

// ---------------------------------------------------------------------------------------------------
// Independent decoding with viem.

/** viem's RLP decoder on the type-2 payload: every field as the raw hex item. */
function decodeRlp(raw: Hex): Hex[] & { 8: Hex[][] } {
  expect(raw.slice(0, 4)).toBe('0x02')
  return fromRlp(`0x${raw.slice(4)}`, 'hex') as unknown as Hex[] & { 8: Hex[][] }
}

/** An RLP integer item is canonical when zero is the empty string and there is no leading zero byte. */
function canonicalInt(item: Hex): bigint {
  expect(item === '0x' || !item.startsWith('0x00'), `non-canonical RLP integer ${item}`).toBe(true)
  return item === '0x' ? 0n : hexToBigInt(item)
}

/** viem's types want numbers for chainId and nonce; its serializer also takes bigints beyond 2^53. */
const asViemNumber = (v: bigint) => (v <= MAX_SAFE ? Number(v) : (v as unknown as number))

function viemTransaction(e: Expected): TransactionSerializableEIP1559 {
  return {
    type: 'eip1559',
    chainId: asViemNumber(e.chainId),
    nonce: asViemNumber(e.nonce),
    ...(e.to === null ? {} : { to: e.to }),
    value: e.value,
    gas: e.gas,
    maxFeePerGas: e.maxFeePerGas,
    maxPriorityFeePerGas: e.maxPriorityFeePerGas,
    data: e.data,
    accessList: e.accessList,
  }
}

const fitsViemParser = (e: Expected) => e.chainId <= MAX_SAFE && e.nonce <= MAX_SAFE
/** ethers keeps `nonce` as a JS number: it cannot parse a transaction whose nonce is above 2^53 - 1. */
const fitsEthers = (e: Expected) => e.nonce <= MAX_SAFE

const custody = createCustodyClient({ transport: localEnclave(), stamper: newStamper() })
afterAll(() => custody.close())

const describeCase = (c: Case) =>
  `#${String(c.index).padStart(3, '0')} chainId=${c.expected.chainId} nonce=${c.expected.nonce} ${c.expected.to === null ? 'create' : 'call'} data=${(c.expected.data.length - 2) / 2}B al=${c.expected.accessList.length}`

const checked = { attempted: 0, viemParse: 0, rlpOnly: 0, ethers: 0 }

describe(`differential: ${COUNT} random EIP-1559 transactions (seed ${SEED})`, () => {
  it('the generator covers the ranges and input forms it promises', () => {
    const e = cases.map((c) => c.expected)
    const forms = new Set(cases.flatMap((c) => c.forms))
    expect(cases.length).toBeGreaterThanOrEqual(200)
    expect(e.some((x) => x.value === 0n) && e.some((x) => x.value === MAX_UINT256)).toBe(true)
    expect(e.some((x) => x.maxFeePerGas === MAX_UINT256 && x.maxPriorityFeePerGas === MAX_UINT256)).toBe(true)
    expect(e.some((x) => x.chainId === 1n) && e.some((x) => x.chainId === MAX_CHAIN_ID)).toBe(true)
    expect(e.some((x) => x.chainId > MAX_SAFE) && e.some((x) => x.chainId < 1000n)).toBe(true)
    expect(e.some((x) => x.nonce === 0n) && e.some((x) => x.nonce === MAX_NONCE)).toBe(true)
    expect(e.some((x) => x.gas === BigInt(MIN_GAS)) && e.some((x) => x.gas === BigInt(MAX_GAS))).toBe(true)
    expect(e.some((x) => x.data === '0x') && e.some((x) => x.data.length === 2 + 2 * MAX_DATA)).toBe(true)
    expect(e.some((x) => x.accessList.length === 4 && x.accessList.some((a) => a.storageKeys.length === 4))).toBe(true)
    expect(e.some((x) => x.accessList.some((a) => a.storageKeys.length === 0))).toBe(true)
    const creations = e.filter((x) => x.to === null).length / e.length
    expect(creations).toBeGreaterThan(0.12)
    expect(creations).toBeLessThan(0.3)
    for (const f of ['bigint', 'number', 'string', 'to:omitted', 'to:null', 'gasField:gasLimit', 'gasField:gas', 'value:omitted']) {
      expect(forms, f).toContain(f)
    }
    for (const f of ['address:lower', 'address:checksum', 'address:upper', 'data:bytes', 'data:lower', 'data:upper', 'data:omitted', 'accessList:omitted']) {
      expect(forms, f).toContain(f)
    }
  })

  it.each(cases.map((c) => [describeCase(c), c] as const))('%s', async (_, c) => {
    checked.attempted++
    const e = c.expected
    const { keyId, address } = await custody.importKey({ privateKey: c.privateKey })
    const account = privateKeyToAccount(c.privateKey)
    expect(address).toBe(account.address)

    const signed: SignedTransaction = await custody.signEip1559(keyId, c.request)
    const raw = signed.rawTransaction
    expect(signed.from).toBe(account.address)

    // 1. viem's RLP decoder: every field, canonically encoded, equals the input.
    const items = decodeRlp(raw)
    expect(items).toHaveLength(12)
    const [chainId, nonce, prio, maxFee, gas, to, value, data, accessList, yParity, r, s] = items
    expect(canonicalInt(chainId!)).toBe(e.chainId)
    expect(canonicalInt(nonce!)).toBe(e.nonce)
    expect(canonicalInt(prio!)).toBe(e.maxPriorityFeePerGas)
    expect(canonicalInt(maxFee!)).toBe(e.maxFeePerGas)
    expect(canonicalInt(gas!)).toBe(e.gas)
    expect(to).toBe(e.to ?? '0x')
    expect(canonicalInt(value!)).toBe(e.value)
    expect(data).toBe(e.data)
    expect(accessList!.map(([a, keys]) => ({ address: a, storageKeys: keys }))).toEqual(e.accessList)
    expect(canonicalInt(yParity!)).toBe(BigInt(signed.signature.yParity))
    expect(canonicalInt(r!)).toBe(BigInt(signed.signature.r))
    expect(canonicalInt(s!)).toBe(BigInt(signed.signature.s))
    expect(BigInt(signed.signature.s)).toBeLessThanOrEqual(SECP256K1_N / 2n)

    // 2. viem's transaction parser and sender recovery (its parser stops at 2^53 - 1 for chainId and nonce).
    if (fitsViemParser(e)) {
      const parsed = parseTransaction(raw)
      expect(parsed.type).toBe('eip1559')
      expect({
        chainId: BigInt(parsed.chainId!),
        nonce: BigInt(parsed.nonce ?? 0),
        to: parsed.to ?? null,
        value: parsed.value ?? 0n,
        gas: parsed.gas ?? 0n,
        maxFeePerGas: parsed.maxFeePerGas ?? 0n,
        maxPriorityFeePerGas: parsed.maxPriorityFeePerGas ?? 0n,
        data: parsed.data ?? '0x',
        accessList: parsed.accessList ?? [],
      }).toEqual(e)
      expect(await recoverTransactionAddress({ serializedTransaction: raw as TransactionSerializedEIP1559 })).toBe(account.address)
      checked.viemParse++
    } else {
      const signingHash = keccak256(serializeTransaction(viemTransaction(e)))
      const sig = { r: signed.signature.r, s: signed.signature.s, yParity: signed.signature.yParity }
      expect(await recoverAddress({ hash: signingHash, signature: sig })).toBe(account.address)
      checked.rlpOnly++
    }

    // 3. The hash is keccak256 of the raw bytes.
    expect(signed.hash).toBe(keccak256(raw))

    // 4. viem signs the same fields to the same bytes (RFC 6979 makes signatures deterministic).
    expect(await account.signTransaction(viemTransaction(e))).toBe(raw)

    // 5. ethers agrees on sender and hash.
    if (fitsEthers(e)) {
      const tx = EthersTransaction.from(raw)
      expect(tx.from).toBe(account.address)
      expect(tx.hash).toBe(signed.hash)
      expect(tx.chainId).toBe(e.chainId)
      checked.ethers++
    }
  })

  it('ran every independent check on most cases', (ctx) => {
    // A guard against the cross-checks silently turning into no-ops (runs after the cases above).
    if (checked.attempted < cases.length) ctx.skip('some cases were filtered out')
    expect(checked.viemParse).toBeGreaterThan(cases.length / 2)
    expect(checked.rlpOnly).toBeGreaterThan(0)
    expect(checked.ethers).toBeGreaterThan(cases.length / 2)
  })
})

describe('nonce boundaries (EIP-2681: nonce ≤ 2^64 - 2)', () => {
  // Fixed cases for the boundary that the random suite crosses now and then.
  const key = '0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318' as const
  const account = privateKeyToAccount(key)
  const base = { chainId: 1n, to: '0x000000000000000000000000000000000000dEaD', gas: 21_000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n, value: 1n } as const

  it.each([0n, MAX_SAFE, MAX_SAFE + 1n, 1n << 63n, MAX_NONCE])('signs nonce %s exactly as viem does', async (nonce) => {
    const { keyId } = await custody.importKey({ privateKey: key, keyId: `nonce-${nonce}` })
    const signed = await custody.signEip1559(keyId, { ...base, nonce })
    const expected = await account.signTransaction({ type: 'eip1559', ...base, chainId: 1, nonce: asViemNumber(nonce) })
    expect(signed.rawTransaction).toBe(expected)
  })
})
