/**
 * The SDK distrusts the backend for every signing operation. A parent that edits a result is caught by the
 * enclave's response signature (last block). Below that, the SDK checks every result itself, in case the
 * enclave's own signing went wrong: an in-process enclave runs the real handler, then replaces or edits the
 * result and signs the edited answer with its response key. Every tampering must end in INTEGRITY_ERROR (or
 * INVALID_FRAME for a result of the wrong shape) and never reach the caller as a signature.
 */
import {
  bytesToHex,
  createCustodyClient,
  decodeRlp,
  encodeRlp,
  hashPersonalMessage,
  hashTypedData,
  hexToBytes,
  isCustodyError,
  normalizeTransactionRequest,
  normalizeTypedData,
  type RlpItem,
  SECP256K1_N,
  serializeSignature,
  type Transport,
} from '@enclave-custody/sdk'
import { describe, expect, it } from 'vitest'
import { localEnclave } from '../src/localEnclave.js'
import { signAuthorization } from '../src/families/evm/authorization.js'
import { signHash } from '../src/families/evm/hash.js'
import { signMessage } from '../src/families/evm/message.js'
import { signTransaction } from '../src/families/evm/transaction.js'
import { signingEnclave } from './support/runtime.js'
import { sharedSoftwareNsm } from './support/session.js'
import { newStamper } from './support/stamps.js'

const KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80'
const OTHER = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d'
const TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const DELEGATE = '0xFBA3912Ca04dd458c843e2EE08967fC04f3579c2'
const AUTH = {
  chainId: 1,
  address: DELEGATE,
  nonce: 420,
  yParity: 0,
  r: '0x8d7765afec6e09d93be91a1324f0dbbd6bcb96f4b37e8645a4c65d08a979ab69',
  s: '0x70b81c53368b35a58af8630903c57d2b106842f9a081e3dc607c0c0cd990c77d',
}
const TX = {
  legacy: { chainId: 1n, nonce: 3n, to: TO, value: 5n, gas: 21000n, gasPrice: 7n },
  eip2930: { type: 1, chainId: 1n, nonce: 3n, to: TO, value: 5n, gas: 21000n, gasPrice: 7n, accessList: [{ address: TO, storageKeys: [`0x${'01'.repeat(32)}`] }] },
  eip7702: { chainId: 1n, nonce: 3n, to: TO, value: 5n, gas: 60000n, maxFeePerGas: 100n, maxPriorityFeePerGas: 2n, authorizationList: [AUTH] },
} as const
const AUTHORIZATION = { chainId: 1, address: DELEGATE, nonce: 7 }
const TYPED = {
  domain: { name: 'Ether Mail', chainId: 1 },
  types: { Mail: [{ name: 'contents', type: 'string' }, { name: 'amount', type: 'uint256' }] },
  primaryType: 'Mail',
  message: { contents: 'pay Bob', amount: 10n },
}
const DIGEST = `0x${'ab'.repeat(32)}` as const

type Result = Record<string, unknown> & { signature: unknown }
type Tamper = (result: Result) => unknown

/** The one caller of this file. */
const stamper = newStamper()

/** An enclave that signs the results of one operation after `tamper` (its signing code gone wrong). */
function hostile(op: string, tamper: Tamper): Transport {
  return signingEnclave({ edit: (message, response) => (message.op === op && response.ok ? { ...response, result: tamper(response.result as Result) } : response) })
}

/** A parent that tampers with the results of one operation of the real enclave: it holds no response key. */
async function tamperingParent(op: string, tamper: Tamper): Promise<Transport> {
  const inner = localEnclave({ attestation: await sharedSoftwareNsm() })
  return {
    name: 'tampering-parent',
    attestation: inner.attestation!,
    async request(message) {
      const response = (await inner.request(message)) as { ok: boolean; result: unknown }
      if (message.op === op && response.ok) response.result = tamper(response.result as Result)
      return response
    },
  }
}

async function attempt(op: string, tamper: Tamper, call: (c: ReturnType<typeof createCustodyClient>, keyId: string) => Promise<unknown>, transport = hostile(op, tamper)): Promise<unknown> {
  const custody = createCustodyClient({ transport, stamper })
  const { keyId } = await custody.importKey({ privateKey: KEY, policy: { allowRawDigest: true } })
  return call(custody, keyId).catch((e: unknown) => e)
}

const key = hexToBytes(KEY)
const other = hexToBytes(OTHER)
const txOf = (request: object) => normalizeTransactionRequest(request).transaction

/** Flip a signature to its high-s twin (same signer, malleated), keeping the other fields consistent. */
const highS = (s: string) => `0x${(SECP256K1_N - BigInt(s)).toString(16).padStart(64, '0')}`

/** Edit the RLP fields of a raw transaction and re-encode it (canonically). */
function editRaw(raw: string, change: (items: RlpItem[]) => void): string {
  const typed = !/^0x[c-f]/.test(raw)
  const items = decodeRlp(hexToBytes(typed ? raw.slice(4) : raw.slice(2))) as RlpItem[]
  change(items)
  const body = bytesToHex(encodeRlp(items)).slice(2)
  return typed ? `${raw.slice(0, 4)}${body}` : `0x${body}`
}

describe('signTransaction results are verified', () => {
  const call = (tx: object) => (c: ReturnType<typeof createCustodyClient>, keyId: string) => c.signTransaction(keyId, tx as never)
  it.each([
    ['honest (legacy)', TX.legacy, (r: Result) => r, null],
    ['honest (eip2930)', TX.eip2930, (r: Result) => r, null],
    ['honest (eip7702)', TX.eip7702, (r: Result) => r, null],
    ['signed by another key', TX.legacy, () => signTransaction(other, txOf(TX.legacy)), /not signed by the key/],
    ['another recipient', TX.eip2930, () => signTransaction(key, txOf({ ...TX.eip2930, to: DELEGATE })), /does not hold the requested transaction fields/],
    ['another chain (EIP-155)', TX.legacy, () => signTransaction(key, txOf({ ...TX.legacy, chainId: 5n })), /does not hold the requested transaction fields/],
    ['a replayable signature for an EIP-155 request', TX.legacy, () => signTransaction(key, txOf({ ...TX.legacy, chainId: undefined, allowReplayable: true })), /does not hold the requested transaction fields/],
    ['another type with the same fields', TX.eip2930, () => signTransaction(key, txOf({ ...TX.eip2930, type: 2, gasPrice: undefined, maxFeePerGas: 7n, maxPriorityFeePerGas: 7n })), /is a eip1559 transaction, not eip2930/],
    ['another authorization list', TX.eip7702, () => signTransaction(key, txOf({ ...TX.eip7702, authorizationList: [{ ...AUTH, nonce: 421 }] })), /does not hold the requested transaction fields/],
    [
      'a high-s (malleable) signature',
      TX.eip7702,
      (r: Result) => ({
        ...r,
        rawTransaction: editRaw(r.rawTransaction as string, (i) => {
          const n = i.length
          i[n - 3] = (i[n - 3] as Uint8Array).length === 0 ? hexToBytes('01') : new Uint8Array(0)
          i[n - 1] = hexToBytes(highS(bytesToHex(i[n - 1] as Uint8Array)).slice(2))
        }),
      }),
      /not low-s/,
    ],
    ['a lying type', TX.legacy, (r: Result) => ({ ...r, type: 'eip2930' }), /"type" does not match rawTransaction/],
    ['a lying hash', TX.eip2930, (r: Result) => ({ ...r, hash: `0x${'00'.repeat(32)}` }), /"hash" does not match/],
    ['a lying from', TX.eip7702, (r: Result) => ({ ...r, from: TO }), /"from" does not match/],
    ['a lying yParity', TX.eip2930, (r: Result) => ({ ...r, signature: { ...(r.signature as object), yParity: 1 - (r.signature as { yParity: number }).yParity } }), /"signature" does not match/],
    ['a lying v', TX.legacy, (r: Result) => ({ ...r, signature: { ...(r.signature as object), v: '27' } }), /"signature" does not match/],
    ['a missing v on a legacy result', TX.legacy, (r: Result) => ({ ...r, signature: { ...(r.signature as object), v: undefined } }), /"signature" does not match/],
    ['a non-canonical encoding of the same fields', TX.legacy, (r: Result) => ({ ...r, rawTransaction: `0xf9${(((r.rawTransaction as string).length - 6) / 2).toString(16).padStart(4, '0')}${(r.rawTransaction as string).slice(6)}` }), /does not parse/],
    ['garbage bytes', TX.eip7702, (r: Result) => ({ ...r, rawTransaction: '0x04deadbeef' }), /does not parse/],
  ])('%s', async (_, tx, tamper, reason) => {
    const result = await attempt('sign.transaction', tamper as Tamper, call(tx))
    if (reason === null) {
      expect(result).toMatchObject({ from: '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266' })
      return
    }
    expect(isCustodyError(result, 'INTEGRITY_ERROR')).toBe(true)
    expect((result as Error).message).toMatch(reason)
  })

  it('refuses a malformed result shape', async () => {
    const result = await attempt('sign.transaction', (r) => ({ ...r, type: undefined }), call(TX.legacy))
    expect(isCustodyError(result, 'INVALID_FRAME')).toBe(true)
  })
})

describe('signAuthorization results are verified', () => {
  const call = (c: ReturnType<typeof createCustodyClient>, keyId: string) => c.signAuthorization(keyId, AUTHORIZATION)
  const tuple = { chainId: 1n, address: DELEGATE, nonce: 7n } as const
  it.each([
    ['signed by another key', () => signAuthorization(other, tuple), /not signed by the key/],
    ['another nonce', () => signAuthorization(key, { ...tuple, nonce: 8n }), /does not hold the requested chainId, address and nonce/],
    ['another nonce, reported as the requested one', () => ({ ...signAuthorization(key, { ...tuple, nonce: 8n }), nonce: '7' }), /not signed by the key/],
    ['another chain', () => signAuthorization(key, { ...tuple, chainId: 0n }), /does not hold the requested/],
    ['a high-s signature', (r: Result) => ({ ...r, s: highS(r.s as string), yParity: 1 - (r.yParity as number) }), /not low-s/],
    ['a lying yParity', (r: Result) => ({ ...r, yParity: 1 - (r.yParity as number) }), /not signed by the key|invalid/],
  ])('%s', async (_, tamper, reason) => {
    const result = await attempt('sign.authorization', tamper as Tamper, call)
    expect(isCustodyError(result, 'INTEGRITY_ERROR')).toBe(true)
    expect((result as Error).message).toMatch(reason)
  })

  it('refuses a malformed result shape', async () => {
    expect(isCustodyError(await attempt('sign.authorization', (r) => ({ ...r, r: '0x01' }), call), 'INVALID_FRAME')).toBe(true)
  })
})

const signatureTampers = (honestFor: (privateKey: Uint8Array) => Result, otherHash: () => Result) =>
  [
    ['signed by another key', () => honestFor(other), /not by the key/],
    ['a signature over something else', () => otherHash(), /"hash" is not the digest of the request/],
    ['a signature over something else, reported with the requested hash', (r: Result) => ({ ...otherHash(), hash: r.hash }), /not by the key/],
    ['a signature that disagrees with r, s and yParity', (r: Result) => ({ ...r, yParity: 1 - (r.yParity as number) }), /"signature" does not match r, s and yParity/],
    [
      'a high-s signature',
      (r: Result) => {
        const sig = { r: r.r as `0x${string}`, s: highS(r.s as string) as `0x${string}`, yParity: (1 - (r.yParity as number)) as 0 | 1 }
        return { ...r, ...sig, signature: serializeSignature(sig) }
      },
      /not low-s/,
    ],
  ] as const

describe.each([
  [
    'signMessage',
    'sign.message',
    (c: ReturnType<typeof createCustodyClient>, keyId: string) => c.signMessage(keyId, { message: 'pay Bob 10' }),
    (k: Uint8Array) => signMessage(k, 'pay Bob 10') as Result,
    () => signMessage(key, 'pay Bob 1000') as Result,
  ],
  [
    'signTypedData',
    'sign.typedData',
    (c: ReturnType<typeof createCustodyClient>, keyId: string) => c.signTypedData(keyId, TYPED),
    (k: Uint8Array) => signHash(k, hashTypedData(normalizeTypedData(TYPED))) as Result,
    () => signHash(key, hashTypedData(normalizeTypedData({ ...TYPED, message: { ...TYPED.message, amount: 1000n } }))) as Result,
  ],
  [
    'signDigest',
    'sign.digest',
    (c: ReturnType<typeof createCustodyClient>, keyId: string) => c.signDigest(keyId, DIGEST),
    (k: Uint8Array) => signHash(k, DIGEST) as Result,
    () => signHash(key, hashPersonalMessage('anything')) as Result,
  ],
] as const)('%s results are verified', (_, op, call, honestFor, otherHash) => {
  it('passes an honest result through', async () => {
    const result = (await attempt(op, (r) => r, call)) as Result
    expect(result.signature).toBe((honestFor(key) as { signature: string }).signature)
  })

  it.each(signatureTampers(honestFor, otherHash))('refuses %s', async (_, tamper, reason) => {
    const result = await attempt(op, tamper as Tamper, call)
    expect(isCustodyError(result, 'INTEGRITY_ERROR')).toBe(true)
    expect((result as Error).message).toMatch(reason)
  })

  it('refuses a malformed result shape', async () => {
    expect(isCustodyError(await attempt(op, (r) => ({ ...r, signature: (r.signature as string).slice(0, 130) }), call), 'INVALID_FRAME')).toBe(true)
  })
})

describe('a parent that edits a result is caught by the response signature', () => {
  const sign = (r: Result) => ({ ...r, signature: signMessage(other, 'anything').signature })
  it.each([
    ['sign.transaction', (c: ReturnType<typeof createCustodyClient>, keyId: string) => c.signTransaction(keyId, TX.legacy as never), () => signTransaction(other, txOf(TX.legacy)) as unknown as Result],
    ['sign.authorization', (c: ReturnType<typeof createCustodyClient>, keyId: string) => c.signAuthorization(keyId, AUTHORIZATION), () => signAuthorization(other, { chainId: 1n, address: DELEGATE, nonce: 7n }) as unknown as Result],
    ['sign.message', (c: ReturnType<typeof createCustodyClient>, keyId: string) => c.signMessage(keyId, { message: 'pay Bob 10' }), () => signMessage(other, 'pay Bob 10') as Result],
    ['sign.typedData', (c: ReturnType<typeof createCustodyClient>, keyId: string) => c.signTypedData(keyId, TYPED), sign],
    ['sign.digest', (c: ReturnType<typeof createCustodyClient>, keyId: string) => c.signDigest(keyId, DIGEST), () => signHash(other, DIGEST) as Result],
  ] as const)('%s: INTEGRITY_ERROR, whatever the edit', async (op, call, tamper) => {
    const result = await attempt(op, tamper as Tamper, call, await tamperingParent(op, tamper as Tamper))
    expect(isCustodyError(result, 'INTEGRITY_ERROR')).toBe(true)
    expect((result as Error).message).toMatch(/not signed by an attested enclave for this request/)
    // The same call through the untouched enclave signs.
    const honest = await attempt(op, (r) => r, call, await tamperingParent(op, (r) => r))
    expect(isCustodyError(honest)).toBe(false)
  })
})
