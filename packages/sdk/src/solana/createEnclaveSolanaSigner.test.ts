/**
 * The Solana adapter against a fake custody client that signs with an in-memory ed25519 key: what it sends the
 * client, the signatures it returns (equal to noble's over the same message), and every wrong input and wrong
 * answer it refuses. (The adapter with @solana/kit, the real stack and litesvm:
 * packages/enclave-runtime/test/solanaSigners.test.ts.)
 */
import { ed25519 } from '@noble/curves/ed25519.js'
import { base58 } from '@scure/base'
import { describe, expect, it } from 'vitest'
import type { KeyInfo } from '../client/createCustodyClient.js'
import { isCustodyError } from '../errors/CustodyError.js'
import { DEFAULT_KEY_POLICY } from '../keys/keyPolicy.js'
import { createEnclaveSolanaSigner } from './createEnclaveSolanaSigner.js'
import type { EnclaveSolanaSignerClient } from './types.js'

const SEED = Uint8Array.from({ length: 32 }, (_, i) => i + 1)
const PUBLIC_KEY = ed25519.getPublicKey(SEED)
const ADDRESS = base58.encode(PUBLIC_KEY)
const OTHER = base58.encode(ed25519.getPublicKey(new Uint8Array(32).fill(9)))
const KEY_ID = 'sol-unit'

type Tamper = { info?: Partial<KeyInfo>; signer?: string }

function fakeCustody(tamper: Tamper = {}) {
  const calls: { op: string; params: unknown }[] = []
  const client: EnclaveSolanaSignerClient = {
    async getKey(keyId) {
      calls.push({ op: 'getKey', params: keyId })
      return { keyId, kind: 'ed25519', family: 'solana', curve: 'ed25519', address: ADDRESS as never, createdAt: new Date(0), policy: DEFAULT_KEY_POLICY, ...tamper.info }
    },
    async signSolanaTransaction(_keyId, params) {
      calls.push({ op: 'signSolanaTransaction', params })
      const signature = base58.encode(ed25519.sign(params.transaction as Uint8Array, SEED))
      return { signature, signerIndex: 0, signer: tamper.signer ?? ADDRESS, transaction: '' }
    },
    async signSolanaMessage(_keyId, params) {
      calls.push({ op: 'signSolanaMessage', params })
      return { signature: base58.encode(ed25519.sign(params.message as Uint8Array, SEED)), signerIndex: 0, signer: tamper.signer ?? ADDRESS }
    },
  }
  return { client, calls }
}

/** An off-chain message (v0, format 0) naming `signer`, laid out by hand. */
function offchain(signer: Uint8Array, text = 'hello'): Uint8Array {
  const body = new TextEncoder().encode(text)
  return Uint8Array.of(0xff, ...new TextEncoder().encode('solana offchain'), 0, ...new Uint8Array(32), 0, 1, ...signer, body.length, 0, ...body)
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'ok'
  } catch (e) {
    return isCustodyError(e) ? `${e.code} ${String(e.details?.field ?? '')}`.trim() : `foreign: ${(e as Error).message}`
  }
}

describe('createEnclaveSolanaSigner (fake custody client)', () => {
  it('signs each transaction message once and returns one signature dictionary per transaction, in order', async () => {
    const { client, calls } = fakeCustody()
    const signer = await createEnclaveSolanaSigner(client, KEY_ID)
    expect(signer.address).toBe(ADDRESS)
    expect(signer.keyId).toBe(KEY_ID)
    const messages = [Uint8Array.of(1, 2, 3), Uint8Array.of(4, 5)]
    const out = await signer.signTransactions(messages.map((messageBytes) => ({ messageBytes, signatures: { [OTHER]: null, [ADDRESS]: null } })) as never)
    expect(out).toHaveLength(2)
    for (const [i, dictionary] of out.entries()) {
      expect(Object.keys(dictionary)).toEqual([ADDRESS])
      expect(dictionary[ADDRESS as never]).toEqual(ed25519.sign(messages[i]!, SEED))
    }
    expect(calls.map((c) => c.op)).toEqual(['getKey', 'signSolanaTransaction', 'signSolanaTransaction'])
    expect(calls[1]!.params).toEqual({ transaction: messages[0] })
  })

  it('signs off-chain messages and refuses any other content before calling the client', async () => {
    const { client, calls } = fakeCustody()
    const signer = await createEnclaveSolanaSigner(client, KEY_ID)
    const content = offchain(PUBLIC_KEY)
    const [dictionary] = await signer.signMessages([{ content, signatures: {} }])
    expect(dictionary![ADDRESS as never]).toEqual(ed25519.sign(content, SEED))
    expect(await refusal(signer.signMessages([{ content: new TextEncoder().encode('hello'), signatures: {} }]))).toBe('INVALID_ARGUMENT messages[0].content')
    expect(await refusal(signer.signMessages([{ content, signatures: {} }, { content: 'text' as never, signatures: {} }]))).toBe('INVALID_ARGUMENT messages[1].content')
    expect(await refusal(signer.signMessages('nope' as never))).toBe('INVALID_ARGUMENT messages')
    expect(calls.filter((c) => c.op === 'signSolanaMessage')).toHaveLength(2)
  })

  it('refuses wrong-typed arguments, naming the field', async () => {
    const { client } = fakeCustody()
    for (const custody of [null, undefined, 'client', {}, { getKey: () => {} }]) expect(await refusal(createEnclaveSolanaSigner(custody as never, KEY_ID))).toBe('INVALID_ARGUMENT custody')
    for (const keyId of [undefined, '', 7, null, {}]) expect(await refusal(createEnclaveSolanaSigner(client, keyId as never))).toBe('INVALID_ARGUMENT keyId')
    const signer = await createEnclaveSolanaSigner(client, KEY_ID)
    expect(await refusal(signer.signTransactions({} as never))).toBe('INVALID_ARGUMENT transactions')
    expect(await refusal(signer.signTransactions([null] as never))).toBe('INVALID_ARGUMENT transactions[0]')
    expect(await refusal(signer.signTransactions([{ messageBytes: [1], signatures: {} }] as never))).toBe('INVALID_ARGUMENT transactions[0].messageBytes')
    expect(await refusal(signer.signTransactions([{ messageBytes: Uint8Array.of(1) }] as never))).toBe('INVALID_ARGUMENT transactions[0].signatures')
    expect(await refusal(signer.signTransactions([{ messageBytes: Uint8Array.of(1), signatures: { [OTHER]: null } }] as never))).toBe('INVALID_ARGUMENT transactions[0]')
  })

  it('refuses keys of other kinds and families', async () => {
    const cases: Partial<KeyInfo>[] = [
      { kind: 'secp256k1', family: 'evm', curve: 'secp256k1' },
      { kind: 'hd-wallet', family: undefined, curve: 'secp256k1', address: '' as never },
      { kind: 'hd-account', family: 'bitcoin', curve: 'secp256k1' },
      { kind: 'hd-account', family: 'evm', curve: 'secp256k1' },
    ]
    for (const info of cases) expect(await refusal(createEnclaveSolanaSigner(fakeCustody({ info }).client, KEY_ID)), JSON.stringify(info)).toBe('INVALID_ARGUMENT keyId')
    expect(await refusal(createEnclaveSolanaSigner(fakeCustody({ info: { kind: 'hd-account' } }).client, KEY_ID))).toBe('ok')
  })

  it('refuses answers that are not for the key: another key id, an address that is no ed25519 key, another signer', async () => {
    expect(await refusal(createEnclaveSolanaSigner(fakeCustody({ info: { keyId: 'other' } }).client, KEY_ID))).toBe('INTEGRITY_ERROR')
    expect(await refusal(createEnclaveSolanaSigner(fakeCustody({ info: { address: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8' as never } }).client, KEY_ID))).toBe('INTEGRITY_ERROR')
    const signer = await createEnclaveSolanaSigner(fakeCustody({ signer: OTHER }).client, KEY_ID)
    expect(await refusal(signer.signTransactions([{ messageBytes: Uint8Array.of(1), signatures: { [ADDRESS]: null } }] as never))).toBe('INTEGRITY_ERROR')
    expect(await refusal(signer.signMessages([{ content: offchain(PUBLIC_KEY), signatures: {} }]))).toBe('INTEGRITY_ERROR')
  })
})
