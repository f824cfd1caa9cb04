/**
 * The viem adapter against a fake custody client that signs with an in-memory key: every result must be
 * byte-equal to what viem's own `privateKeyToAccount` produces, and the fake records exactly what the
 * adapter sends the enclave. (The same adapter against the real stack and anvil:
 * toEnclaveAccount.anvil.test.ts.)
 */
import {
  concatHex,
  type Hex,
  hashMessage,
  hashTypedData,
  keccak256,
  parseTransaction,
  type SerializeTransactionFn,
  serializeSignature,
  serializeTransaction,
  type TransactionSerializable,
  toHex,
  toRlp,
  verifyMessage,
  verifyTypedData,
} from 'viem'
import { privateKeyToAccount, sign } from 'viem/accounts'
import { optimism } from 'viem/chains'
import { hashAuthorization } from 'viem/utils'
import { describe, expect, it } from 'vitest'
import { isCustodyError } from '../errors/CustodyError.js'
import { DEFAULT_KEY_POLICY } from '../keys/keyPolicy.js'
import { toEnclaveAccount } from './toEnclaveAccount.js'
import type { CustodyViemTransactionFields } from './toCustodyViemTransaction.js'
import type { EnclaveAccountClient } from './types.js'

const PRIVATE_KEY = '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a'
const local = privateKeyToAccount(PRIVATE_KEY)
const KEY_ID = 'viem-unit'
const TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'

type Tamper = { raw?: (raw: Hex) => Hex; hash?: boolean; tuple?: boolean }

/** A custody client that signs with `PRIVATE_KEY` and records each request the adapter makes. */
function fakeCustody(tamper: Tamper = {}) {
  const calls: { op: string; params: unknown }[] = []
  const signDigest = async (hash: Hex) => {
    const { r, s, yParity } = await sign({ hash, privateKey: PRIVATE_KEY })
    const y = yParity as 0 | 1
    return { signature: serializeSignature({ r, s, yParity: y }), r, s, yParity: y, hash: tamper.hash ? (`0x${'00'.repeat(32)}` as Hex) : hash }
  }
  const client: EnclaveAccountClient = {
    async getKey(keyId) {
      calls.push({ op: 'getKey', params: keyId })
      return { keyId, kind: 'secp256k1', family: 'evm', address: local.address, curve: 'secp256k1', createdAt: new Date(0), policy: DEFAULT_KEY_POLICY }
    },
    async signTransaction(_keyId, request) {
      calls.push({ op: 'signTransaction', params: request })
      const fields = request as unknown as CustodyViemTransactionFields
      const raw = await local.signTransaction(fields as TransactionSerializable)
      const { r, s, yParity } = parseTransaction(raw)
      const rawTransaction = tamper.raw ? tamper.raw(raw) : raw
      return { rawTransaction, hash: keccak256(raw), from: local.address, type: fields.type, signature: { r: r!, s: s!, yParity: yParity as 0 | 1 } }
    },
    async signMessage(_keyId, params) {
      calls.push({ op: 'signMessage', params })
      const m = params.message
      return signDigest(hashMessage(typeof m === 'string' ? m : m instanceof Uint8Array ? { raw: m } : m))
    },
    async signTypedData(_keyId, params) {
      calls.push({ op: 'signTypedData', params })
      return signDigest(hashTypedData(params as Parameters<typeof hashTypedData>[0]))
    },
    async signAuthorization(_keyId, params) {
      calls.push({ op: 'signAuthorization', params })
      const request = { address: params.address as Hex, chainId: Number(params.chainId), nonce: Number(params.nonce) }
      const { r, s, yParity } = await signDigest(hashAuthorization(request))
      return { address: request.address, chainId: BigInt(request.chainId), nonce: BigInt(request.nonce) + (tamper.tuple ? 1n : 0n), r, s, yParity }
    },
  }
  return { client, calls }
}

async function invalid(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => {
      throw new Error('did not reject')
    },
    (e: unknown) => e,
  )
  if (!isCustodyError(e, 'INVALID_ARGUMENT')) throw e
  return e.message
}

const authorization = () => local.signAuthorization({ address: TO, chainId: 11155111, nonce: 3 })

describe('toEnclaveAccount', () => {
  it('is a viem local account with the key address and id, loaded once', async () => {
    const { client, calls } = fakeCustody()
    const account = await toEnclaveAccount(client, KEY_ID)
    expect(account).toMatchObject({ address: local.address, keyId: KEY_ID, type: 'local', source: 'custom' })
    expect(account.sign).toBeUndefined() // raw-digest signing is a per-key permission: not offered
    expect(calls).toEqual([{ op: 'getKey', params: KEY_ID }])
  })

  it('refuses a missing client or key id, and a getKey answer for another key', async () => {
    const { client } = fakeCustody()
    expect(await invalid(toEnclaveAccount(undefined as never, KEY_ID))).toMatchInlineSnapshot(`""custody" must be a custody client from createCustodyClient (got undefined)"`)
    expect(await invalid(toEnclaveAccount(client, 7 as never))).toMatchInlineSnapshot(`""keyId" must be a non-empty string (got number)"`)
    await expect(toEnclaveAccount({ ...client, getKey: async () => ({ keyId: 'x', kind: 'secp256k1', family: 'evm', address: local.address, curve: 'secp256k1', createdAt: new Date(0), policy: DEFAULT_KEY_POLICY }) }, KEY_ID)).rejects.toThrow(/getKey answered for another key/)
  })
})

describe('toEnclaveAccount: signTransaction', () => {
  const common = { chainId: 11155111, nonce: 7, to: TO, value: 10n ** 15n, gas: 50_000n, data: '0xc0ffee' } as const
  const cases: Record<string, TransactionSerializable> = {
    legacy: { ...common, gasPrice: 3_000_000_000n },
    eip2930: { ...common, gasPrice: 3_000_000_000n, accessList: [{ address: TO, storageKeys: [`0x${'00'.repeat(31)}01`] }] },
    eip1559: { ...common, maxFeePerGas: 30_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n },
    'explicit type': { ...common, type: 'eip1559', maxFeePerGas: 2n, maxPriorityFeePerGas: 1n },
    'contract creation': { chainId: 1, nonce: 0, gas: 100_000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n, data: '0x600a600c600039600a6000f3602a60005260206000f3' },
  }
  for (const [name, tx] of Object.entries(cases)) {
    it(`is byte-equal to privateKeyToAccount: ${name}`, async () => {
      const account = await toEnclaveAccount(fakeCustody().client, KEY_ID)
      expect(await account.signTransaction(tx)).toBe(await local.signTransaction(tx))
    })
  }

  it('is byte-equal to privateKeyToAccount: eip7702 with a signed authorization', async () => {
    const account = await toEnclaveAccount(fakeCustody().client, KEY_ID)
    const tx = { ...common, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n, authorizationList: [await authorization()] }
    expect(await account.signTransaction(tx)).toBe(await local.signTransaction(tx))
  })

  it('sends the enclave the named type (inferred as viem infers it) and only the fields that were set', async () => {
    const { client, calls } = fakeCustody()
    const account = await toEnclaveAccount(client, KEY_ID)
    await account.signTransaction({ chainId: 1, nonce: 0, to: TO, gas: 21_000n, gasPrice: 5n, from: local.address } as TransactionSerializable)
    expect(calls.at(-1)).toEqual({ op: 'signTransaction', params: { type: 'legacy', chainId: 1, nonce: 0, to: TO, gas: 21_000n, gasPrice: 5n } })
  })

  it('refuses a from that is not the key, blob transactions, unknown types and a missing chain id', async () => {
    const { client, calls } = fakeCustody()
    const account = await toEnclaveAccount(client, KEY_ID)
    const other = privateKeyToAccount(`0x${'11'.repeat(32)}`).address
    const tx = { chainId: 1, nonce: 0, to: TO, gas: 21_000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n } as const
    expect(await invalid(account.signTransaction({ ...tx, from: other } as TransactionSerializable))).toBe(
      `"tx.from" must be the account's address ${local.address} (got ${other})`,
    )
    expect(await invalid(account.signTransaction({ ...tx, maxFeePerBlobGas: 1n, blobVersionedHashes: [`0x01${'00'.repeat(31)}`] }))).toMatchInlineSnapshot(
      `""tx.type" is eip4844 (blob transaction), which the enclave does not sign"`,
    )
    expect(await invalid(account.signTransaction({ ...tx, type: 'deposit' } as never))).toMatchInlineSnapshot(
      `""tx.type" must be legacy, eip2930, eip1559 or eip7702 (got "deposit")"`,
    )
    expect(await invalid(account.signTransaction({ ...tx, chainId: undefined } as never))).toMatchInlineSnapshot(
      `""tx.chainId" is required: the account does not sign replayable transactions"`,
    )
    expect(calls.some((c) => c.op === 'signTransaction')).toBe(false)
  })

  it('throws IntegrityError when the enclave returns another transaction than viem serialises', async () => {
    const other = await local.signTransaction({ chainId: 1, nonce: 99, to: TO, gas: 21_000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n })
    const account = await toEnclaveAccount(fakeCustody({ raw: () => other }).client, KEY_ID)
    await expect(account.signTransaction({ chainId: 1, nonce: 1, to: TO, gas: 21_000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n })).rejects.toThrowErrorMatchingInlineSnapshot(
      `[IntegrityError: integrity check failed: the signed transaction differs from the one viem serialises for the request]`,
    )
  })
})

describe('toEnclaveAccount: custom serializers', () => {
  const tx = { chainId: 10, nonce: 2, to: TO, gas: 21_000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n } as const

  it("honours a serializer that keeps the standard payload (the OP Stack's, used by base and optimism)", async () => {
    const account = await toEnclaveAccount(fakeCustody().client, KEY_ID)
    const serializer = optimism.serializers.transaction as SerializeTransactionFn<TransactionSerializable>
    expect(await account.signTransaction(tx, { serializer })).toBe(await local.signTransaction(tx, { serializer }))
    // and a wrapper around viem's own serializer
    const seen: unknown[] = []
    const wrapper: SerializeTransactionFn<TransactionSerializable> = (t, s) => {
      seen.push(s)
      return serializeTransaction(t, s)
    }
    expect(await account.signTransaction(tx, { serializer: wrapper })).toBe(await local.signTransaction(tx))
    expect(seen).toEqual([undefined, expect.objectContaining({ r: expect.any(String), s: expect.any(String) })])
  })

  it('refuses a serializer that changes the payload, before calling the enclave', async () => {
    const { client, calls } = fakeCustody()
    const account = await toEnclaveAccount(client, KEY_ID)
    // A chain-specific type the enclave cannot parse: 0x69 || rlp([chainId, nonce]).
    const custom = ((t: TransactionSerializable) => concatHex(['0x69', toRlp([toHex(t.chainId ?? 0), toHex(t.nonce ?? 0)])])) as SerializeTransactionFn<TransactionSerializable>
    expect(await invalid(account.signTransaction(tx, { serializer: custom }))).toMatchInlineSnapshot(
      `""serializer" produces a payload other than the standard eip1559 serialization; the enclave signs only legacy, eip2930, eip1559 and eip7702 transactions that it serialises itself"`,
    )
    const throwing = (() => {
      throw new Error('boom')
    }) as SerializeTransactionFn<TransactionSerializable>
    expect(await invalid(account.signTransaction(tx, { serializer: throwing }))).toMatchInlineSnapshot(`""serializer" threw on this transaction"`)
    expect(calls.some((c) => c.op === 'signTransaction')).toBe(false)
  })

  it('refuses a serializer whose signed output is not the enclave transaction', async () => {
    const account = await toEnclaveAccount(fakeCustody().client, KEY_ID)
    // Same unsigned payload, but it drops the signature: what it returns would not be the signed transaction.
    const unsignedOnly = ((t: TransactionSerializable) => serializeTransaction(t)) as SerializeTransactionFn<TransactionSerializable>
    await expect(account.signTransaction(tx, { serializer: unsignedOnly })).rejects.toThrow(/differs from the one viem serialises/)
  })
})

describe('toEnclaveAccount: messages, typed data, authorizations', () => {
  it('signMessage equals privateKeyToAccount for text, raw hex and raw bytes, and verifies', async () => {
    const { client, calls } = fakeCustody()
    const account = await toEnclaveAccount(client, KEY_ID)
    const messages = ['hello enclave', { raw: '0xdeadbeef' as Hex }, { raw: new Uint8Array([1, 2, 3]) }]
    for (const message of messages) {
      const signature = await account.signMessage({ message })
      expect(signature).toBe(await local.signMessage({ message }))
      expect(await verifyMessage({ address: local.address, message, signature })).toBe(true)
    }
    expect(calls.filter((c) => c.op === 'signMessage').map((c) => c.params)).toEqual([
      { message: 'hello enclave' },
      { message: { raw: '0xdeadbeef' } },
      { message: new Uint8Array([1, 2, 3]) },
    ])
    const liar = await toEnclaveAccount(fakeCustody({ hash: true }).client, KEY_ID)
    await expect(liar.signMessage({ message: 'x' })).rejects.toThrow(/another digest than hashMessage/)
  })

  const typedData = {
    domain: { name: 'Ether Mail', version: '1', chainId: 11155111, verifyingContract: '0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC' },
    types: {
      Person: [
        { name: 'name', type: 'string' },
        { name: 'wallet', type: 'address' },
      ],
      Mail: [
        { name: 'from', type: 'Person' },
        { name: 'to', type: 'Person[]' },
        { name: 'amount', type: 'uint256' },
      ],
    },
    primaryType: 'Mail',
    message: {
      from: { name: 'Cow', wallet: '0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826' },
      to: [{ name: 'Bob', wallet: '0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB' }],
      amount: 10n ** 18n,
    },
  } as const

  it('signTypedData equals privateKeyToAccount, verifies, and hands the enclave the whole object', async () => {
    const { client, calls } = fakeCustody()
    const account = await toEnclaveAccount(client, KEY_ID)
    const signature = await account.signTypedData(typedData)
    expect(signature).toBe(await local.signTypedData(typedData))
    expect(await verifyTypedData({ ...typedData, address: local.address, signature })).toBe(true)
    expect(calls.at(-1)).toEqual({ op: 'signTypedData', params: typedData })
    const liar = await toEnclaveAccount(fakeCustody({ hash: true }).client, KEY_ID)
    await expect(liar.signTypedData(typedData)).rejects.toThrow(/another digest than hashTypedData/)
  })

  it("signAuthorization equals privateKeyToAccount's, in viem's signed-authorization shape", async () => {
    const { client, calls } = fakeCustody()
    const account = await toEnclaveAccount(client, KEY_ID)
    const signed = await account.signAuthorization!({ contractAddress: TO, chainId: 11155111, nonce: 3 })
    const { v: _v, ...expected } = await authorization()
    expect(signed).toEqual(expected)
    expect(calls.at(-1)).toEqual({ op: 'signAuthorization', params: { chainId: 11155111, address: TO, nonce: 3 } })
    const liar = await toEnclaveAccount(fakeCustody({ tuple: true }).client, KEY_ID)
    await expect(liar.signAuthorization!({ address: TO, chainId: 1, nonce: 0 })).rejects.toThrow(/another authorization tuple/)
  })
})
