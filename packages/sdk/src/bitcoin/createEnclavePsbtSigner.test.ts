/**
 * The Bitcoin adapter against a fake custody client: the public key and address it derives (cross-checked with
 * @scure/btc-signer's payments), what it sends the client for each accepted PSBT shape, and the wrong inputs and
 * wrong key infos it refuses. (bitcoinjs-lib and @scure/btc-signer flows through the real stack:
 * packages/enclave-runtime/test/bitcoinPsbtSigner.test.ts.)
 */
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { base64, hex } from '@scure/base'
import { NETWORK, p2tr, p2wpkh, TEST_NETWORK, Transaction } from '@scure/btc-signer'
import { describe, expect, it } from 'vitest'
import type { KeyInfo, SignBitcoinPsbtParameters } from '../client/createCustodyClient.js'
import { isCustodyError } from '../errors/CustodyError.js'
import { DEFAULT_KEY_POLICY } from '../keys/keyPolicy.js'
import { createEnclavePsbtSigner } from './createEnclavePsbtSigner.js'
import { toBitcoinjsPsbt } from './toBitcoinjsPsbt.js'
import { toScureTransaction } from './toScureTransaction.js'
import type { EnclavePsbtSignerClient } from './types.js'

const KEY = hex.decode('ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80')
const PUB = secp256k1.getPublicKey(KEY, true)
const UNCOMPRESSED = `0x${hex.encode(secp256k1.getPublicKey(KEY, false))}`
const KEY_ID = 'btc-unit'
const PSBT = 'cHNidP8BAAoCAAAAAAAAAAAAAAA=' // an empty v0 PSBT (no inputs): the fake client does not parse it

function fakeCustody(info: Partial<KeyInfo> = {}) {
  const calls: SignBitcoinPsbtParameters[] = []
  const client: EnclavePsbtSignerClient = {
    async getKey(keyId) {
      return { keyId, kind: 'secp256k1', family: 'evm', curve: 'secp256k1', address: '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266' as never, publicKey: UNCOMPRESSED as never, createdAt: new Date(0), policy: DEFAULT_KEY_POLICY, ...info }
    },
    async signBitcoinPsbt(_keyId, params) {
      calls.push(params)
      return { psbt: typeof params.psbt === 'string' ? params.psbt : base64.encode(params.psbt), signedInputs: [0] }
    },
  }
  return { client, calls }
}

async function refusal(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p)
    return 'ok'
  } catch (e) {
    return isCustodyError(e) ? `${e.code} ${String(e.details?.field ?? '')}`.trim() : `foreign: ${(e as Error).message}`
  }
}

describe('createEnclavePsbtSigner (fake custody client)', () => {
  it("a plain key: the compressed public key, and its address in the format asked on the signer's network", async () => {
    const { client } = fakeCustody()
    const signer = await createEnclavePsbtSigner(client, KEY_ID, { network: 'mainnet' })
    expect(signer.publicKey).toEqual(PUB)
    expect(signer.address).toBe(p2wpkh(PUB, NETWORK).address)
    expect((await createEnclavePsbtSigner(client, KEY_ID, { network: 'signet', format: 'p2tr' })).address).toBe(p2tr(PUB.slice(1), undefined, TEST_NETWORK).address)
    expect((await createEnclavePsbtSigner(client, KEY_ID, { network: 'regtest' })).address).toMatch(/^bcrt1q/)
  })

  it('sends each accepted PSBT shape as base64 or bytes, with the network and the options given', async () => {
    const { client, calls } = fakeCustody()
    const signer = await createEnclavePsbtSigner(client, KEY_ID, { network: 'testnet' })
    expect(await signer.signPsbt(PSBT)).toBe(PSBT)
    expect(await signer.signPsbt(base64.decode(PSBT), { finalize: true })).toBe(PSBT)
    expect(await signer.signPsbt({ toBase64: () => PSBT })).toBe(PSBT)
    let version: number | undefined
    const scure = {
      toPSBT: (v?: number) => {
        version = v
        return base64.decode(PSBT)
      },
    }
    expect(await signer.signPsbt(scure)).toBe(PSBT)
    expect(version).toBe(0)
    expect(await signer.signPsbtWithResult(PSBT, { allow: { sighashTypes: [0x83] } })).toEqual({ psbt: PSBT, signedInputs: [0] })
    expect(calls).toEqual([
      { psbt: PSBT, network: 'testnet' },
      { psbt: base64.decode(PSBT), network: 'testnet', finalize: true },
      { psbt: PSBT, network: 'testnet' },
      { psbt: base64.decode(PSBT), network: 'testnet' },
      { psbt: PSBT, network: 'testnet', allow: { sighashTypes: [0x83] } },
    ])
  })

  it('refuses wrong-typed arguments and PSBT objects it cannot read, naming the field', async () => {
    const { client, calls } = fakeCustody()
    for (const custody of [null, 'client', {}, { getKey: () => {} }]) expect(await refusal(createEnclavePsbtSigner(custody as never, KEY_ID, { network: 'mainnet' }))).toBe('INVALID_ARGUMENT custody')
    for (const keyId of [undefined, '', 1]) expect(await refusal(createEnclavePsbtSigner(client, keyId as never, { network: 'mainnet' }))).toBe('INVALID_ARGUMENT keyId')
    expect(await refusal(createEnclavePsbtSigner(client, KEY_ID))).toBe('INVALID_ARGUMENT options.network')
    expect(await refusal(createEnclavePsbtSigner(client, KEY_ID, { network: 'bitcoin' as never }))).toBe('INVALID_ARGUMENT options.network')
    expect(await refusal(createEnclavePsbtSigner(client, KEY_ID, { network: 'mainnet', format: 'p2wsh' as never }))).toBe('INVALID_ARGUMENT options.format')
    expect(await refusal(createEnclavePsbtSigner(client, KEY_ID, { network: 'mainnet', nework: 'x' } as never))).toBe('INVALID_ARGUMENT options')
    const signer = await createEnclavePsbtSigner(client, KEY_ID, { network: 'mainnet' })
    for (const psbt of [undefined, null, 3, {}, { toBase64: 'x' }]) expect(await refusal(signer.signPsbt(psbt as never)), String(psbt)).toBe('INVALID_ARGUMENT psbt')
    expect(await refusal(signer.signPsbt({ toPSBT: () => { throw new Error('v2 only') } } as never))).toBe('INVALID_ARGUMENT psbt')
    expect(await refusal(signer.signPsbt({ toBase64: () => 42 } as never))).toBe('INVALID_ARGUMENT psbt')
    expect(await refusal(signer.signPsbt(PSBT, { finalise: true } as never))).toBe('INVALID_ARGUMENT options')
    expect(calls).toEqual([])
  })

  it('refuses keys that cannot sign PSBTs and key infos that do not hold together', async () => {
    const refused: Partial<KeyInfo>[] = [
      { kind: 'ed25519', family: 'solana', curve: 'ed25519' },
      { kind: 'hd-wallet', family: undefined },
      { kind: 'hd-account', family: 'evm' },
      { kind: 'hd-account', family: 'solana', curve: 'ed25519' },
    ]
    for (const info of refused) expect(await refusal(createEnclavePsbtSigner(fakeCustody(info).client, KEY_ID, { network: 'mainnet' })), JSON.stringify(info)).toBe('INVALID_ARGUMENT keyId')
    const account = { kind: 'hd-account', family: 'bitcoin', network: 'testnet', format: 'p2wpkh', address: p2wpkh(PUB, TEST_NETWORK).address } as Partial<KeyInfo>
    const signer = await createEnclavePsbtSigner(fakeCustody(account).client, KEY_ID)
    expect([signer.network, signer.format, signer.address]).toEqual(['testnet', 'p2wpkh', account.address])
    expect(await refusal(createEnclavePsbtSigner(fakeCustody(account).client, KEY_ID, { network: 'mainnet' }))).toBe('INVALID_ARGUMENT options.network')
    expect(await refusal(createEnclavePsbtSigner(fakeCustody(account).client, KEY_ID, { format: 'p2tr' }))).toBe('INVALID_ARGUMENT options.format')
    // An account whose address is not its public key's, or that lacks its network: the key info is refused.
    expect(await refusal(createEnclavePsbtSigner(fakeCustody({ ...account, address: p2wpkh(PUB, NETWORK).address as never }).client, KEY_ID))).toBe('INTEGRITY_ERROR')
    expect(await refusal(createEnclavePsbtSigner(fakeCustody({ ...account, network: undefined }).client, KEY_ID))).toBe('INTEGRITY_ERROR')
    expect(await refusal(createEnclavePsbtSigner(fakeCustody({ publicKey: undefined }).client, KEY_ID, { network: 'mainnet' }))).toBe('INTEGRITY_ERROR')
    expect(await refusal(createEnclavePsbtSigner(fakeCustody({ publicKey: `0x04${'00'.repeat(64)}` as never }).client, KEY_ID, { network: 'mainnet' }))).toBe('INTEGRITY_ERROR')
    expect(await refusal(createEnclavePsbtSigner(fakeCustody({ keyId: 'other' }).client, KEY_ID, { network: 'mainnet' }))).toBe('INTEGRITY_ERROR')
  })

  it('toBitcoinjsPsbt and toScureTransaction hand the PSBT to the class given, with its options', () => {
    const seen: unknown[] = []
    const Psbt = {
      fromBase64: (data: string, opts?: { network: string }) => {
        seen.push([data, opts])
        return 'psbt'
      },
    }
    expect(toBitcoinjsPsbt(PSBT, Psbt, { network: 'x' })).toBe('psbt')
    expect(toBitcoinjsPsbt(PSBT, Psbt)).toBe('psbt')
    expect(seen).toEqual([[PSBT, { network: 'x' }], [PSBT, undefined]])
    const tx = toScureTransaction(PSBT, Transaction)
    expect(tx).toBeInstanceOf(Transaction)
    expect(tx.inputsLength).toBe(0)
    expect(() => toBitcoinjsPsbt(PSBT, Transaction as never)).toThrow(/"Psbt" must be bitcoinjs-lib's Psbt class/)
    expect(() => toScureTransaction(PSBT, Psbt as never)).toThrow(/"Transaction" must be @scure\/btc-signer's Transaction class/)
    expect(() => toScureTransaction(7 as never, Transaction)).toThrow(/"psbt" must be base64/)
  })
})
