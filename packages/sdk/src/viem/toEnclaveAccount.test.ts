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
import { createNonceManager, jsonRpc } from 'viem/nonce'
import { hashAuthorization } from 'viem/utils'
import { describe, expect, it } from 'vitest'
import type { KeyInfo } from '../client/createCustodyClient.js'
import { isCustodyError, PolicyDeniedError } from '../errors/CustodyError.js'
import { DEFAULT_KEY_POLICY } from '../keys/keyPolicy.js'
import { enclaveAccount, toEnclaveAccount } from './toEnclaveAccount.js'
import type { CustodyViemTransactionFields } from './toCustodyViemTransaction.js'
import type { EnclaveAccountClient } from './types.js'

const PRIVATE_KEY = '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a'
const local = privateKeyToAccount(PRIVATE_KEY)
const KEY_ID = 'viem-unit'
const TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'

type Tamper = { raw?: (raw: Hex) => Hex; hash?: boolean; tuple?: boolean; key?: Partial<KeyInfo>; digest?: () => never }

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
      return { keyId, kind: 'secp256k1', family: 'evm', address: local.address, publicKey: local.publicKey, curve: 'secp256k1', createdAt: new Date(0), policy: DEFAULT_KEY_POLICY, ...tamper.key }
    },
    async signDigest(_keyId, digest) {
      calls.push({ op: 'signDigest', params: digest })
      if (tamper.digest) tamper.digest()
      return signDigest(digest as Hex)
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
    expect(account).toMatchObject({ address: local.address, publicKey: local.publicKey, keyId: KEY_ID, type: 'local', source: 'custom' })
    expect(account.publicKey).toMatch(/^0x04[0-9a-f]{128}$/)
    expect(account.nonceManager).toBeUndefined()
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
    expect(signed).toEqual(await authorization()) // v included, as privateKeyToAccount returns it
    expect(calls.at(-1)).toEqual({ op: 'signAuthorization', params: { chainId: 11155111, address: TO, nonce: 3 } })
    const liar = await toEnclaveAccount(fakeCustody({ tuple: true }).client, KEY_ID)
    await expect(liar.signAuthorization!({ address: TO, chainId: 1, nonce: 0 })).rejects.toThrow(/another authorization tuple/)
  })
})

describe('toEnclaveAccount: publicKey', () => {
  it("is the key's public key as the enclave reports it, equal to privateKeyToAccount's (any case in, lower case out)", async () => {
    const account = await toEnclaveAccount(fakeCustody({ key: { publicKey: local.publicKey.toUpperCase().replace('0X', '0x') as Hex } }).client, KEY_ID)
    expect(account.publicKey).toBe(local.publicKey)
  })

  it('a report without a public key, with a malformed one or with the key of another address is an IntegrityError', async () => {
    const other = privateKeyToAccount(`0x${'22'.repeat(32)}`)
    const reports: Record<string, Partial<KeyInfo>> = {
      missing: { publicKey: undefined },
      compressed: { publicKey: `0x02${local.publicKey.slice(4, 68)}` as Hex },
      "another key's": { publicKey: other.publicKey },
    }
    const reasons = []
    for (const key of Object.values(reports)) {
      const e = await toEnclaveAccount(fakeCustody({ key }).client, KEY_ID).catch((e: unknown) => e)
      expect(isCustodyError(e, 'INTEGRITY_ERROR')).toBe(true)
      reasons.push((e as Error).message)
    }
    expect(reasons).toMatchInlineSnapshot(`
      [
        "integrity check failed: the enclave did not report the public key of the key",
        "integrity check failed: the reported public key is not an uncompressed secp256k1 key (0x04 and 64 bytes)",
        "integrity check failed: the reported public key is not the key of the reported address",
      ]
    `)
  })
})

describe('toEnclaveAccount: sign({ hash }) (raw digests)', () => {
  const hash = keccak256(toHex('a user operation hash, say'))
  const rawDigestKey = { policy: { ...DEFAULT_KEY_POLICY, allowRawDigest: true } }

  it("equals privateKeyToAccount's sign for a key whose policy allows raw digests", async () => {
    const { client, calls } = fakeCustody({ key: rawDigestKey })
    const account = await toEnclaveAccount(client, KEY_ID)
    expect(await account.sign({ hash })).toBe(await local.sign({ hash }))
    expect(await account.sign({ hash: hash.toUpperCase().replace('0X', '0x') as Hex })).toBe(await local.sign({ hash }))
    expect(calls.filter((c) => c.op === 'signDigest').map((c) => c.params)).toEqual([hash, hash.toUpperCase().replace('0X', '0x')])
  })

  it("refuses a key whose policy does not allow them with the enclave's PolicyDeniedError, before any request", async () => {
    const { client, calls } = fakeCustody()
    const account = await toEnclaveAccount(client, KEY_ID)
    const e = await account.sign({ hash }).catch((e: unknown) => e)
    expect(e).toBeInstanceOf(PolicyDeniedError)
    expect(e).toMatchInlineSnapshot(`[PolicyDeniedError: denied: the key's policy does not allow raw-digest signing; import or generate it with policy.allowRawDigest]`)
    expect(calls.map((c) => c.op)).toEqual(['getKey'])
  })

  it("passes the enclave's refusal through when it refuses a key the report said it would sign with", async () => {
    const refusal = new PolicyDeniedError({ reason: 'a signing-policy rule denies raw digests', rule: 'no-digests' })
    const account = await toEnclaveAccount(
      fakeCustody({
        key: rawDigestKey,
        digest: () => {
          throw refusal
        },
      }).client,
      KEY_ID,
    )
    await expect(account.sign({ hash })).rejects.toBe(refusal)
  })

  it('refuses a hash that is not 32 bytes of hex, and a digest other than the one given', async () => {
    const { client, calls } = fakeCustody({ key: rawDigestKey })
    const account = await toEnclaveAccount(client, KEY_ID)
    expect(await invalid(account.sign({ hash: '0x1234' }))).toMatchInlineSnapshot(`""hash" must be a 32-byte digest: 0x and 64 hex digits (got 4 characters)"`)
    expect(await invalid(account.sign({ hash: 42 as never }))).toMatchInlineSnapshot(`""hash" must be a 32-byte digest: 0x and 64 hex digits (got number)"`)
    expect(calls.map((c) => c.op)).toEqual(['getKey'])
    const liar = await toEnclaveAccount(fakeCustody({ key: rawDigestKey, hash: true }).client, KEY_ID)
    await expect(liar.sign({ hash })).rejects.toThrow(/another digest than the one given/)
  })
})

describe('toEnclaveAccount: nonceManager', () => {
  it('is set on the account as privateKeyToAccount sets it', async () => {
    const nonceManager = createNonceManager({ source: jsonRpc() })
    const account = await toEnclaveAccount(fakeCustody().client, KEY_ID, { nonceManager })
    expect(account.nonceManager).toBe(nonceManager)
    expect(account.nonceManager).toBe(privateKeyToAccount(PRIVATE_KEY, { nonceManager }).nonceManager)
    expect(enclaveAccount(fakeCustody().client, { keyId: KEY_ID, address: local.address, publicKey: local.publicKey }, { nonceManager }).nonceManager).toBe(nonceManager)
  })

  it('refuses what is not a nonce manager, and unknown options', async () => {
    const { client, calls } = fakeCustody()
    expect(await invalid(toEnclaveAccount(client, KEY_ID, { nonceManager: {} as never }))).toMatchInlineSnapshot(`""options.nonceManager" must be a viem NonceManager with consume, increment, get and reset (createNonceManager) (got object)"`)
    expect(await invalid(toEnclaveAccount(client, KEY_ID, { nonceManger: 1 } as never))).toMatchInlineSnapshot(`""options" has unknown field "nonceManger""`)
    expect(calls).toEqual([])
  })
})

describe('enclaveAccount (synchronous)', () => {
  const key = { keyId: KEY_ID, address: local.address, publicKey: local.publicKey }
  const typedData = { domain: { name: 'x' }, types: { Note: [{ name: 'text', type: 'string' }] }, primaryType: 'Note', message: { text: 'hi' } } as const
  const tx = { chainId: 1, nonce: 0, to: TO, gas: 21_000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n } as const
  const uses: Record<string, (a: ReturnType<typeof enclaveAccount>) => Promise<unknown>> = {
    signMessage: (a) => a.signMessage({ message: 'hi' }),
    signTypedData: (a) => a.signTypedData(typedData),
    signTransaction: (a) => a.signTransaction(tx),
    signAuthorization: (a) => a.signAuthorization({ address: TO, chainId: 1, nonce: 0 }),
    sign: (a) => a.sign({ hash: keccak256('0x01') }),
  }

  it('is the same account as toEnclaveAccount, built without a round trip', async () => {
    const { client, calls } = fakeCustody()
    const account = enclaveAccount(client, { ...key, address: local.address.toLowerCase(), publicKey: local.publicKey.toUpperCase().replace('0X', '0x') as Hex })
    expect(calls).toEqual([])
    const { sign: _a, signMessage: _b, signTransaction: _c, signTypedData: _d, signAuthorization: _e, ...identity } = account
    const { sign: _f, signMessage: _g, signTransaction: _h, signTypedData: _i, signAuthorization: _j, ...expected } = await toEnclaveAccount(client, KEY_ID)
    expect(identity).toEqual(expected)
    expect(identity).toMatchObject({ address: local.address, publicKey: local.publicKey, type: 'local' })
  })

  for (const [name, use] of Object.entries(uses)) {
    it(`${name}: checks the identity against getKey once, on first use; a mismatch is an IntegrityError and signs nothing`, async () => {
      const good = fakeCustody({ key: { policy: { ...DEFAULT_KEY_POLICY, allowRawDigest: true } } })
      const account = enclaveAccount(good.client, key)
      await use(account)
      await use(account)
      expect(good.calls.map((c) => c.op).filter((op) => op === 'getKey')).toEqual(['getKey'])
      expect(good.calls[0]?.op).toBe('getKey')

      const other = privateKeyToAccount(`0x${'33'.repeat(32)}`)
      const bad = fakeCustody({ key: { policy: { ...DEFAULT_KEY_POLICY, allowRawDigest: true } } })
      const wrong = enclaveAccount(bad.client, { keyId: KEY_ID, address: other.address, publicKey: other.publicKey })
      await expect(use(wrong)).rejects.toThrow(`integrity check failed: the key's address is ${local.address}, not ${other.address} as the account was built with`)
      await expect(use(wrong)).rejects.toSatisfy((e: unknown) => isCustodyError(e, 'INTEGRITY_ERROR'))
      expect(bad.calls.map((c) => c.op)).toEqual(['getKey', 'getKey']) // checked again each time; nothing signed
    })
  }

  it('refuses a malformed identity at once', () => {
    const { client } = fakeCustody()
    const other = privateKeyToAccount(`0x${'44'.repeat(32)}`)
    const messages = [
      () => enclaveAccount(undefined as never, key),
      () => enclaveAccount(client, null as never),
      () => enclaveAccount(client, { ...key, keyId: '' }),
      () => enclaveAccount(client, { ...key, address: '0x12' }),
      () => enclaveAccount(client, { ...key, address: local.address.replace(/[a-f]/, (c) => c.toUpperCase()) }),
      () => enclaveAccount(client, { ...key, publicKey: `0x03${local.publicKey.slice(4, 68)}` as Hex }),
      () => enclaveAccount(client, { ...key, publicKey: other.publicKey }),
      () => enclaveAccount(client, { ...key, extra: 1 } as never),
    ].map((build) => {
      try {
        build()
        return 'built'
      } catch (e) {
        return isCustodyError(e, 'INVALID_ARGUMENT') ? e.message : String(e)
      }
    })
    expect(messages).toMatchInlineSnapshot(`
      [
        ""custody" must be a custody client from createCustodyClient (got undefined)",
        ""key" must be an object (got null)",
        ""keyId" must be a non-empty string (got string)",
        ""address" must be an address: 0x and 40 hex digits, with a valid EIP-55 checksum when mixed case",
        ""address" must be an address: 0x and 40 hex digits, with a valid EIP-55 checksum when mixed case",
        ""publicKey" must be an uncompressed secp256k1 public key: 0x04 and 128 hex digits (KeyInfo.publicKey)",
        ""publicKey" is not the public key of 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
        ""key" has unknown field "extra"",
      ]
    `)
  })
})
