/**
 * Known-answer vectors for every transaction type and for EIP-7702 authorizations, byte for byte:
 * through the signing primitive always (vectors use gas below 21000, chainId 0 and other values request
 * policy refuses), and through the client and the in-process enclave whenever request policy accepts the
 * vector's fields.
 */
import {
  createCustodyClient,
  hashAuthorization,
  hexToBytes,
  isCustodyError,
  normalizeTransactionRequest,
  serializeSignature,
  serializeTransactionUnsigned,
  toChecksumAddress,
  type Transaction,
  type TransactionType,
} from '@enclave-custody/sdk'
import { afterAll, describe, expect, it } from 'vitest'
import { readVector } from '../../../test/vectors.js'
import { localEnclave } from '../src/localEnclave.js'
import { newStamper } from './support/stamps.js'
import { signAuthorization } from '../src/families/evm/authorization.js'
import { signTransaction } from '../src/families/evm/transaction.js'

type Hex = `0x${string}`
type EthersVector = {
  name: string
  privateKey: Hex
  transaction: {
    to?: string
    nonce?: number
    gasLimit?: string
    gasPrice?: string
    maxFeePerGas?: string
    maxPriorityFeePerGas?: string
    data?: Hex
    value?: string
    accessList?: { address: string; storageKeys: Hex[] }[]
    chainId?: string
  }
  signedLegacy: Hex
  signedEip155: Hex | ''
  signedBerlin: Hex
  signedLondon: Hex
  unsignedLegacy: Hex
  unsignedEip155: Hex | ''
  unsignedBerlin: Hex
  unsignedLondon: Hex
}
type ViemAuthorization = { chainId: number; address: string; nonce: number; signerPrivateKey: Hex; yParity: 0 | 1; r: Hex; s: Hex }
type ViemVector = {
  name: string
  type: 0 | 1 | 2 | 4
  privateKey: Hex
  tx: Record<string, unknown> & { authorizationList?: ViemAuthorization[] }
  signed: Hex
  signingData?: Hex
  signingHash?: Hex
  v?: number
  r?: string
  s?: string
}
type ViemFile = {
  tests: ViemVector[]
  eip7702_authorization_sign: { privateKey: Hex; authorization: { chainId: number; address: string; nonce: number }; signature65: Hex }[]
  eip7702_authorization_hash: { chainId: number; address: string; nonce: number; hash: Hex }[]
}

const ethers = readVector<{ tests: EthersVector[] }>('eth/transactions-ethers-v6.json').tests
const viem = readVector<ViemFile>('eth/transactions-viem-and-eip155.json')

const q = (v: string | number | undefined) => (v === undefined ? 0n : BigInt(v))
const TYPE_NAMES: Record<number, TransactionType> = { 0: 'legacy', 1: 'eip2930', 2: 'eip1559', 4: 'eip7702' }

const custody = createCustodyClient({ transport: localEnclave(), stamper: newStamper() })
afterAll(() => custody.close())
const keyIds = new Map<string, string>()
/** One key per private key; this one may sign replayable legacy transactions (the vectors have some). */
async function keyFor(privateKey: Hex): Promise<string> {
  let keyId = keyIds.get(privateKey)
  if (!keyId) {
    keyId = (await custody.importKey({ privateKey, policy: { allowReplayableLegacy: true, allowAnyChainAuthorization: true } })).keyId
    keyIds.set(privateKey, keyId)
  }
  return keyId
}

/** The request a caller would write for the vector's fields (absent quantities stated as 0). */
function requestOf(type: TransactionType, t: Record<string, unknown>): Record<string, unknown> {
  const { gasLimit, chainId, maxFeePerBlobGas: _b, blobVersionedHashes: _h, ...rest } = t
  const req: Record<string, unknown> = { type, nonce: 0, ...rest }
  for (const k of ['value', 'gasPrice', 'maxFeePerGas', 'maxPriorityFeePerGas'] as const) if (typeof req[k] === 'string') req[k] = BigInt(req[k] as string)
  if (gasLimit !== undefined) req.gas = BigInt(gasLimit as string)
  if (chainId !== undefined && q(chainId as string) !== 0n) req.chainId = BigInt(chainId as string)
  else if (type === 'legacy') req.allowReplayable = true
  if (type === 'legacy' || type === 'eip2930') {
    delete req.maxFeePerGas
    delete req.maxPriorityFeePerGas
    req.gasPrice ??= 0n
  } else {
    delete req.gasPrice
    req.maxFeePerGas ??= 0n
    req.maxPriorityFeePerGas ??= 0n
  }
  if (type === 'legacy') delete req.accessList
  return req
}

/** Whether request policy accepts the request (then the vector also goes through the whole client path). */
function acceptable(req: Record<string, unknown>): boolean {
  try {
    normalizeTransactionRequest(req)
    return true
  } catch (e) {
    if (isCustodyError(e, 'INVALID_ARGUMENT')) return false
    throw e
  }
}

function ethersTransaction(v: EthersVector, kind: 'legacy' | 'eip155' | 'berlin' | 'london'): Transaction {
  const t = v.transaction
  const common = {
    nonce: q(t.nonce),
    to: t.to ? toChecksumAddress(t.to) : null,
    value: q(t.value),
    gas: q(t.gasLimit),
    data: (t.data ?? '0x').toLowerCase() as Hex,
  }
  const accessList = (t.accessList ?? []).map((e) => ({ address: toChecksumAddress(e.address), storageKeys: e.storageKeys.map((k) => k.toLowerCase() as Hex) }))
  switch (kind) {
    case 'legacy':
      return { type: 'legacy', chainId: null, ...common, gasPrice: q(t.gasPrice) }
    case 'eip155':
      return { type: 'legacy', chainId: q(t.chainId), ...common, gasPrice: q(t.gasPrice) }
    case 'berlin':
      return { type: 'eip2930', chainId: q(t.chainId), ...common, gasPrice: q(t.gasPrice), accessList }
    case 'london':
      return { type: 'eip1559', chainId: q(t.chainId), ...common, maxFeePerGas: q(t.maxFeePerGas), maxPriorityFeePerGas: q(t.maxPriorityFeePerGas), accessList }
  }
}

const KINDS = [
  ['legacy', 'signedLegacy', 'unsignedLegacy'],
  ['eip155', 'signedEip155', 'unsignedEip155'],
  ['berlin', 'signedBerlin', 'unsignedBerlin'],
  ['london', 'signedLondon', 'unsignedLondon'],
] as const
const ethersCases = ethers.flatMap((v) => KINDS.filter(([, signed]) => v[signed] !== '').map(([kind, signed, unsigned]) => [`${v.name} ${signed}`, v, kind, signed, unsigned] as const))

describe('ethers v6 transaction vectors (legacy, EIP-155, Berlin, London)', () => {
  it('has all 33 vectors and 4 signatures each, except EIP-155 where the vector has no chainId', () => {
    expect(ethers).toHaveLength(33)
    expect(ethersCases.length).toBe(33 * 4 - ethers.filter((v) => v.signedEip155 === '').length)
    expect(ethersCases.length).toBeGreaterThanOrEqual(130)
  })

  it.each(ethersCases)('%s byte for byte (signing payload and signed)', (_, v, kind, signed, unsigned) => {
    const tx = ethersTransaction(v, kind)
    expect(serializeTransactionUnsigned(tx).unsignedSerialized).toBe(v[unsigned])
    const result = signTransaction(hexToBytes(v.privateKey), tx)
    expect(result.rawTransaction).toBe(v[signed])
    expect(result.type).toBe(tx.type)
  })

  const viaClient = ethersCases.filter(([, v, kind]) => {
    const t = kind === 'legacy' ? { ...v.transaction, chainId: undefined } : v.transaction
    return acceptable(requestOf(ethersTransaction(v, kind).type, t as Record<string, unknown>))
  })
  it('sends a share of them through the whole client path', () => {
    expect(viaClient.length).toBeGreaterThanOrEqual(8)
  })
  it.each(viaClient)('%s through the client and the in-process enclave', async (_, v, kind, signed) => {
    const type = ethersTransaction(v, kind).type
    const t = kind === 'legacy' ? { ...v.transaction, chainId: undefined } : v.transaction
    const result = await custody.signTransaction(await keyFor(v.privateKey), requestOf(type, t as Record<string, unknown>) as never)
    expect(result.rawTransaction).toBe(v[signed])
  })
})

function viemTransaction(v: ViemVector): Transaction {
  const t = v.tx as Record<string, string | number | undefined> & { authorizationList?: ViemAuthorization[]; accessList?: { address: string; storageKeys: Hex[] }[] }
  const type = TYPE_NAMES[v.type]!
  const common = {
    nonce: q(t.nonce),
    to: typeof t.to === 'string' ? toChecksumAddress(t.to) : null,
    value: q(t.value),
    gas: q(t.gas),
    data: ((t.data as string | undefined) ?? '0x') as Hex,
  }
  const accessList = (t.accessList ?? []).map((e) => ({ address: toChecksumAddress(e.address), storageKeys: e.storageKeys }))
  switch (type) {
    case 'legacy':
      return { type, chainId: t.chainId === undefined ? null : q(t.chainId), ...common, gasPrice: q(t.gasPrice) }
    case 'eip2930':
      return { type, chainId: q(t.chainId), ...common, gasPrice: q(t.gasPrice), accessList }
    case 'eip1559':
      return { type, chainId: q(t.chainId), ...common, maxFeePerGas: q(t.maxFeePerGas), maxPriorityFeePerGas: q(t.maxPriorityFeePerGas), accessList }
    case 'eip7702':
      return {
        type,
        chainId: q(t.chainId),
        ...common,
        to: common.to as Hex, // the first vector has no `to`: the primitive serialises it as the empty string
        maxFeePerGas: q(t.maxFeePerGas),
        maxPriorityFeePerGas: q(t.maxPriorityFeePerGas),
        accessList,
        authorizationList: (t.authorizationList ?? []).map((a) => ({
          chainId: BigInt(a.chainId),
          address: toChecksumAddress(a.address),
          nonce: BigInt(a.nonce),
          r: a.r,
          s: a.s,
          yParity: a.yParity,
        })),
      }
  }
}

const viemRequest = (v: ViemVector) => {
  const { authorizationList, ...t } = v.tx
  const req = requestOf(TYPE_NAMES[v.type]!, t)
  if (authorizationList) req.authorizationList = authorizationList.map(({ signerPrivateKey: _, ...a }) => a)
  return req
}

describe('viem and EIP-155 transaction vectors (types 0, 1, 2, 4)', () => {
  it('has vectors of every type, both EIP-7702 ones and the EIP-155 example', () => {
    const counts: Record<number, number> = {}
    for (const v of viem.tests) counts[v.type] = (counts[v.type] ?? 0) + 1
    expect(counts).toEqual({ 0: 7, 1: 6, 2: 6, 4: 2 })
  })

  it.each(viem.tests.map((v) => [v.name, v] as const))('%s: signing primitive byte for byte', (_, v) => {
    const result = signTransaction(hexToBytes(v.privateKey), viemTransaction(v))
    expect(result.rawTransaction).toBe(v.signed)
  })

  const viaClient = viem.tests.filter((v) => acceptable(viemRequest(v)))
  it('sends the vectors that request policy accepts through the client (at least one of each type)', () => {
    expect(new Set(viaClient.map((v) => v.type))).toEqual(new Set([0, 1, 2, 4]))
  })
  it.each(viaClient.map((v) => [v.name, v] as const))('%s: through the client and the in-process enclave', async (_, v) => {
    const result = await custody.signTransaction(await keyFor(v.privateKey), viemRequest(v) as never)
    expect(result.rawTransaction).toBe(v.signed)
    expect(result.type).toBe(TYPE_NAMES[v.type])
  })

  it('EIP-7702 without `to`: the API refuses it, the primitive still reproduces the bytes', async () => {
    const v = viem.tests.find((t) => t.type === 4 && t.tx.to === undefined)!
    const error = await custody.signTransaction(await keyFor(v.privateKey), viemRequest(v) as never).catch((e: unknown) => e)
    expect(isCustodyError(error, 'INVALID_ARGUMENT')).toBe(true)
    expect((error as Error).message).toBe('"tx.to" is required: an EIP-7702 transaction cannot create a contract')
    expect(signTransaction(hexToBytes(v.privateKey), viemTransaction(v)).rawTransaction).toBe(v.signed)
  })

  it.each(viem.tests.filter((v) => v.type === 4).flatMap((v) => v.tx.authorizationList!.map((a, i) => [`${v.name} #${i}`, a] as const)))(
    'authorization %s re-signs from its signer key to the r, s, yParity in the vector',
    (_, a) => {
      const signed = signAuthorization(hexToBytes(a.signerPrivateKey), { chainId: BigInt(a.chainId), address: toChecksumAddress(a.address), nonce: BigInt(a.nonce) })
      expect({ r: signed.r, s: signed.s, yParity: signed.yParity }).toEqual({ r: a.r, s: a.s, yParity: a.yParity })
    },
  )

  it('EIP-155 spec example: signing data, signing hash, v, r, s and the signed transaction', async () => {
    const v = viem.tests.find((t) => t.name === 'EIP-155 spec example')!
    const tx = viemTransaction(v)
    const { unsignedSerialized, unsignedHash } = serializeTransactionUnsigned(tx)
    expect(unsignedSerialized).toBe(v.signingData)
    expect(unsignedHash).toBe(v.signingHash)
    const result = await custody.signTransaction(await keyFor(v.privateKey), viemRequest(v) as never)
    expect(result.rawTransaction).toBe(v.signed)
    expect(result.signature.v).toBe(BigInt(v.v!))
    expect(BigInt(result.signature.r)).toBe(BigInt(v.r!))
    expect(BigInt(result.signature.s)).toBe(BigInt(v.s!))
  })
})

describe('EIP-7702 authorization vectors', () => {
  it.each(viem.eip7702_authorization_hash.map((h) => [`chainId ${h.chainId} nonce ${h.nonce}`, h] as const))('hash %s', (_, h) => {
    expect(hashAuthorization({ chainId: BigInt(h.chainId), address: toChecksumAddress(h.address), nonce: BigInt(h.nonce) })).toBe(h.hash)
  })

  it.each(viem.eip7702_authorization_sign.map((a) => [a.authorization.chainId, a] as const))('signAuthorization (chainId %s) through the client', async (_, a) => {
    const signed = await custody.signAuthorization(await keyFor(a.privateKey), a.authorization)
    expect(serializeSignature(signed)).toBe(a.signature65)
    expect(signed).toMatchObject({ chainId: BigInt(a.authorization.chainId), address: a.authorization.address, nonce: BigInt(a.authorization.nonce) })
  })

  it('an any-chain authorization (chainId 0) signs only with allowAnyChain, to the hash of the vector', async () => {
    const h = viem.eip7702_authorization_hash.find((x) => x.chainId === 0)!
    const keyId = await keyFor(viem.eip7702_authorization_sign[0]!.privateKey)
    const request = { chainId: 0, address: h.address, nonce: h.nonce }
    const refused = await custody.signAuthorization(keyId, request).catch((e: unknown) => e)
    expect((refused as Error).message).toBe(
      '"authorization.chainId" is 0, which makes the authorization valid on every chain; set allowAnyChain: true to sign it anyway',
    )
    const signed = await custody.signAuthorization(keyId, { ...request, allowAnyChain: true })
    expect(signed.chainId).toBe(0n)
    expect(hashAuthorization(signed)).toBe(h.hash)
  })
})
