/**
 * Known-answer vectors for EIP-191 personal_sign and EIP-712 typed data, byte for byte: hashes with the
 * SDK's own code, signatures through the client and the in-process enclave (which receives the message or
 * the whole typed-data payload, validates it and hashes it itself).
 */
import {
  createCustodyClient,
  encodeType,
  encodeTypedData,
  hashPersonalMessage,
  hashTypedData,
  hashTypedDataDomain,
  hexToBytes,
  keccak256Hex,
  normalizeTypedData,
  type TypedDataDefinition,
} from '@enclave-custody/sdk'
import { afterAll, describe, expect, it } from 'vitest'
import { readVector } from '../../../test/vectors.js'
import { localEnclave } from '../src/localEnclave.js'
import { newStamper } from './support/stamps.js'
import { signMessage } from '../src/families/evm/message.js'
import { signTypedData } from '../src/families/evm/typedData.js'

type Hex = `0x${string}`
type Eip191 = {
  hashOnly: { message?: string; messageHex?: Hex; hash: Hex }[]
  signed: { privateKey: Hex; address: string; message?: string; messageHex?: Hex; signature: Hex; hash?: Hex }[]
}
type TypedCase = { name: string; domain: Record<string, unknown>; types: Record<string, { name: string; type: string }[]>; primaryType: string; message: Record<string, unknown>; digest?: Hex; signature?: Hex }
type Eip712 = {
  spec: {
    typedData: TypedDataDefinition
    encodeType_Mail: string
    typeHash_Mail: Hex
    encodeData_Mail: Hex
    hashStruct_Mail: Hex
    domainSeparator: Hex
    digest: Hex
    privateKey: Hex
    address: string
    v: number
    r: Hex
    s: Hex
    signature: Hex
  }
  viem: { privateKey: Hex; address: string; cases: TypedCase[] }
}
type EthersTyped = { name: string; domain: Record<string, unknown>; types: Record<string, { name: string; type: string }[]>; primaryType: string; data: Record<string, unknown>; encoded: Hex; digest: Hex; privateKey?: Hex; signature?: Hex }

const eip191 = readVector<Eip191>('eth/eip191-personal-sign.json')
const eip712 = readVector<Eip712>('eth/eip712-typed-data.json')
const ethersTyped = readVector<EthersTyped[]>('eth/ethers-typed-data-testcases.json')

const custody = createCustodyClient({ transport: localEnclave(), stamper: newStamper() })
afterAll(() => custody.close())
const keyIds = new Map<string, Promise<string>>()
const keyFor = (privateKey: Hex) => {
  let id = keyIds.get(privateKey)
  if (!id) {
    id = custody.importKey({ privateKey }).then((k) => k.keyId)
    keyIds.set(privateKey, id)
  }
  return id
}

describe('EIP-191 personal_sign vectors', () => {
  it.each(eip191.hashOnly.map((v) => [v.message !== undefined ? `text ${JSON.stringify(v.message)}` : `bytes ${v.messageHex}`, v] as const))('hash of %s', (_, v) => {
    expect(hashPersonalMessage(v.message ?? { raw: v.messageHex! })).toBe(v.hash)
  })

  it.each(eip191.signed.map((v) => [`${v.address} ${v.message !== undefined ? JSON.stringify(v.message) : v.messageHex}`, v] as const))(
    'signs %s through the client, and with the primitive',
    async (_, v) => {
      const keyId = await keyFor(v.privateKey)
      const forms = v.message !== undefined ? [v.message] : [{ raw: v.messageHex! }, hexToBytes(v.messageHex!), { raw: hexToBytes(v.messageHex!) }]
      for (const message of forms) {
        const signed = await custody.signMessage(keyId, { message })
        expect(signed.signature).toBe(v.signature)
        if (v.hash) expect(signed.hash).toBe(v.hash)
      }
      expect(signMessage(hexToBytes(v.privateKey), v.message ?? { raw: v.messageHex! }).signature).toBe(v.signature)
    },
  )

  it('signs hex-looking text as text, not as the bytes it spells', async () => {
    const keyId = await keyFor(eip191.signed[0]!.privateKey)
    const text = await custody.signMessage(keyId, { message: '0x4243' })
    const bytes = await custody.signMessage(keyId, { message: { raw: '0x4243' } })
    expect(text.hash).toBe(eip191.hashOnly.find((h) => h.message === '0x4243')!.hash)
    expect(bytes.hash).toBe(eip191.hashOnly.find((h) => h.messageHex === '0x4243')!.hash)
  })
})

describe('EIP-712 specification example (Mail)', () => {
  const spec = eip712.spec
  const td = normalizeTypedData(spec.typedData)

  it('encodeType, typeHash, encodeData, hashStruct, domain separator and digest', () => {
    expect(encodeType(td)).toBe(spec.encodeType_Mail)
    expect(keccak256Hex(new TextEncoder().encode(encodeType(td)))).toBe(spec.typeHash_Mail)
    expect(encodeTypedData(td)).toBe(spec.encodeData_Mail)
    expect(keccak256Hex(encodeTypedData(td))).toBe(spec.hashStruct_Mail)
    expect(hashTypedDataDomain(td)).toBe(spec.domainSeparator)
    expect(hashTypedData(td)).toBe(spec.digest)
  })

  it('signs to v, r, s of the specification through the client', async () => {
    const signed = await custody.signTypedData(await keyFor(spec.privateKey), spec.typedData)
    expect(signed).toEqual({ signature: spec.signature, r: spec.r, s: spec.s, yParity: spec.v - 27, hash: spec.digest })
  })
})

describe('viem typed-data vectors', () => {
  it.each(eip712.viem.cases.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const payload = { domain: c.domain, types: c.types, primaryType: c.primaryType, message: c.message }
    if (c.digest) expect(hashTypedData(normalizeTypedData(payload))).toBe(c.digest)
    if (c.signature) {
      const signed = await custody.signTypedData(await keyFor(eip712.viem.privateKey), payload)
      expect(signed.signature).toBe(c.signature)
      expect(signTypedData(hexToBytes(eip712.viem.privateKey), normalizeTypedData(payload)).signature).toBe(c.signature)
    }
  })
})

describe('ethers typed-data test cases', () => {
  it('has all 130 cases, one with a signature', () => {
    expect(ethersTyped).toHaveLength(130)
    expect(ethersTyped.filter((c) => c.signature)).toHaveLength(1)
  })

  it.each(ethersTyped.map((c) => [c.name, c] as const))('%s: encodeData and digest', (_, c) => {
    const td = normalizeTypedData({ domain: c.domain, types: c.types, primaryType: c.primaryType, message: c.data })
    expect(encodeTypedData(td)).toBe(c.encoded)
    expect(hashTypedData(td)).toBe(c.digest)
  })

  it('"EIP712 example": the signature through the client', async () => {
    const c = ethersTyped.find((x) => x.signature)!
    const signed = await custody.signTypedData(await keyFor(c.privateKey!), { domain: c.domain, types: c.types, primaryType: c.primaryType, message: c.data })
    expect(signed.signature).toBe(c.signature)
    expect(signed.hash).toBe(c.digest)
  })
})
