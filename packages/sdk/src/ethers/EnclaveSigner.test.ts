/**
 * The ethers adapter against a fake custody client that signs with an in-memory key: every result must be
 * byte-equal to what ethers' own `Wallet` produces for the same request, and the fake records exactly
 * what the adapter sends the enclave. (The same adapter against the real stack and anvil:
 * EnclaveSigner.anvil.test.ts.)
 */
import {
  getBytes,
  hashAuthorization,
  hashMessage,
  JsonRpcProvider,
  Signature,
  Transaction,
  type TypedDataDomain,
  TypedDataEncoder,
  type TypedDataField,
  VoidSigner,
  verifyMessage,
  verifyTypedData,
  Wallet,
} from 'ethers'
import { describe, expect, it } from 'vitest'
import { isCustodyError } from '../errors/CustodyError.js'
import { DEFAULT_KEY_POLICY } from '../keys/keyPolicy.js'
import type { Hex } from '../utils/hex.js'
import { toEnclaveAccount } from '../viem/toEnclaveAccount.js'
import { EnclaveSigner } from './EnclaveSigner.js'
import type { CustodyTransactionFields } from './toCustodyTransaction.js'
import type { EnclaveSignerClient } from './types.js'
import type { EnclaveAccountClient } from '../viem/types.js'
import { MAIL_TO_MANY } from '../../test/mailToMany.js'

const wallet = new Wallet('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d')
const KEY_ID = 'ethers-unit'
const TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'

type Tamper = { raw?: (raw: string) => string; hash?: boolean; tuple?: boolean }
const TYPE_NAMES = { 0: 'legacy', 1: 'eip2930', 2: 'eip1559', 4: 'eip7702' } as const

/** A custody client that signs with `wallet` and records each request the adapter makes. */
function fakeCustody(tamper: Tamper = {}) {
  const calls: { op: string; params: unknown }[] = []
  const sign = (digest: string) => {
    const sig = wallet.signingKey.sign(digest)
    return { signature: sig.serialized as Hex, r: sig.r as Hex, s: sig.s as Hex, yParity: sig.yParity, hash: (tamper.hash ? `0x${'00'.repeat(32)}` : digest) as Hex }
  }
  const client: EnclaveSignerClient = {
    async getKey(keyId) {
      calls.push({ op: 'getKey', params: keyId })
      return { keyId, kind: 'secp256k1', family: 'evm', address: wallet.address as Hex, curve: 'secp256k1', createdAt: new Date(0), policy: DEFAULT_KEY_POLICY }
    },
    async signTransaction(_keyId, request) {
      calls.push({ op: 'signTransaction', params: request })
      const { gas, authorizationList, ...rest } = request as unknown as CustodyTransactionFields
      const tx = Transaction.from({
        ...rest,
        nonce: Number(rest.nonce ?? 0n),
        gasLimit: gas ?? null,
        authorizationList: authorizationList?.map((a) => ({ ...a, signature: Signature.from({ r: a.r, s: a.s, yParity: a.yParity }) })) ?? null,
      })
      tx.signature = wallet.signingKey.sign(tx.unsignedHash)
      const { r, s, yParity } = tx.signature
      const rawTransaction = (tamper.raw ? tamper.raw(tx.serialized) : tx.serialized) as Hex
      return { rawTransaction, hash: tx.hash as Hex, from: wallet.address as Hex, type: TYPE_NAMES[rest.type], signature: { r: r as Hex, s: s as Hex, yParity } }
    },
    async signMessage(_keyId, params) {
      calls.push({ op: 'signMessage', params })
      return sign(hashMessage(params.message as string | Uint8Array))
    },
    async signTypedData(_keyId, params) {
      calls.push({ op: 'signTypedData', params })
      return sign(TypedDataEncoder.hash(params.domain as TypedDataDomain, params.types as Record<string, TypedDataField[]>, params.message as Record<string, unknown>))
    },
    async signAuthorization(_keyId, params) {
      calls.push({ op: 'signAuthorization', params })
      const request = { address: params.address, chainId: BigInt(params.chainId), nonce: BigInt(params.nonce) }
      const { r, s, yParity } = sign(hashAuthorization(request))
      return { address: params.address as Hex, chainId: request.chainId, nonce: tamper.tuple ? request.nonce + 1n : request.nonce, r, s, yParity }
    },
  }
  return { client, calls }
}

/** The ethers fake as the viem adapter's client: the same key, its public key reported as the enclave does. */
const viemClient = (client: EnclaveSignerClient): EnclaveAccountClient => ({
  ...client,
  getKey: async (keyId) => ({ ...(await client.getKey(keyId)), publicKey: wallet.signingKey.publicKey as Hex }),
  signDigest: async () => {
    throw new Error('not used')
  },
})

/** The INVALID_ARGUMENT message of a rejected promise. */
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

const signedAuthorization = () => wallet.authorizeSync({ address: TO, chainId: 11155111n, nonce: 5n })

describe('EnclaveSigner: identity', () => {
  it('create() loads the address once; the constructor loads it on first use', async () => {
    const { client, calls } = fakeCustody()
    const signer = await EnclaveSigner.create(client, KEY_ID)
    expect(signer.address).toBe(wallet.address)
    expect(await signer.getAddress()).toBe(wallet.address)
    expect(signer.keyId).toBe(KEY_ID)
    expect(calls.filter((c) => c.op === 'getKey')).toHaveLength(1)

    const lazy = new EnclaveSigner(client, KEY_ID)
    expect(() => lazy.address).toThrowErrorMatchingInlineSnapshot(
      `[CustodyError: EnclaveSigner: the address is not loaded yet; build the signer with EnclaveSigner.create() or await signer.getAddress() first]`,
    )
    expect(await lazy.getAddress()).toBe(wallet.address)
    expect(lazy.address).toBe(wallet.address)
  })

  it('a known address needs no round trip to construct; connect() keeps the key and swaps the provider', async () => {
    const { client, calls } = fakeCustody()
    const signer = new EnclaveSigner(client, { keyId: KEY_ID, address: wallet.address.toLowerCase() })
    expect(signer.address).toBe(wallet.address)
    expect(signer.provider).toBeNull()
    const provider = new JsonRpcProvider('http://127.0.0.1:1', 1n, { staticNetwork: true })
    const connected = signer.connect(provider)
    expect(connected).toBeInstanceOf(EnclaveSigner)
    expect(connected.provider).toBe(provider)
    expect(connected.address).toBe(wallet.address)
    expect(connected.keyId).toBe(KEY_ID)
    expect(calls).toEqual([])
    provider.destroy()
  })

  it('refuses a missing client or key id, and a getKey answer for another key', async () => {
    const { client } = fakeCustody()
    expect(() => new EnclaveSigner(null as never, KEY_ID)).toThrowErrorMatchingInlineSnapshot(`[InvalidArgumentError: "custody" must be a custody client from createCustodyClient (got null)]`)
    expect(() => new EnclaveSigner(client, '')).toThrowErrorMatchingInlineSnapshot(`[InvalidArgumentError: "keyId" must be a non-empty string (got string)]`)
    expect(() => new EnclaveSigner(client, { keyId: KEY_ID, address: '0x1234' })).toThrowErrorMatchingInlineSnapshot(
      `[InvalidArgumentError: "address" must be an address: 0x and 40 hex digits, with a valid EIP-55 checksum when mixed case]`,
    )
    // A mixed-case address with a wrong checksum is a typo, not an address.
    const i = [...wallet.address].findIndex((c, k) => k > 1 && /[a-f]/i.test(c))
    const c = wallet.address[i]!
    const badChecksum = `${wallet.address.slice(0, i)}${c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()}${wallet.address.slice(i + 1)}`
    expect(() => new EnclaveSigner(client, { keyId: KEY_ID, address: badChecksum })).toThrow(/"address" must be an address/)
    const liar: EnclaveSignerClient = { ...client, getKey: async () => ({ keyId: 'other', kind: 'secp256k1', family: 'evm', address: wallet.address as Hex, curve: 'secp256k1', createdAt: new Date(0), policy: DEFAULT_KEY_POLICY }) }
    await expect(EnclaveSigner.create(liar, KEY_ID)).rejects.toThrowErrorMatchingInlineSnapshot(`[IntegrityError: integrity check failed: getKey answered for another key]`)
  })
})

describe('EnclaveSigner.signTransaction', () => {
  const common = { chainId: 11155111n, nonce: 7, to: TO, value: 10n ** 15n, gasLimit: 50_000n, data: '0xc0ffee' }
  const cases = {
    'legacy (type 0)': { ...common, type: 0, gasPrice: 3_000_000_000n },
    'gasPrice without type: EIP-2930, as ethers infers': { ...common, gasPrice: 3_000_000_000n },
    'EIP-2930 (type 1)': { ...common, type: 1, gasPrice: 3_000_000_000n, accessList: [{ address: TO, storageKeys: [`0x${'00'.repeat(31)}01`] }] },
    'EIP-1559 inferred from its fee fields': { ...common, maxFeePerGas: 30_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n },
    'EIP-7702 inferred from its authorization list': { ...common, maxFeePerGas: 30n, maxPriorityFeePerGas: 1n, authorizationList: [signedAuthorization()] },
    'contract creation': { chainId: 1n, nonce: 0, gasLimit: 100_000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n, data: '0x600a600c600039600a6000f3602a60005260206000f3' },
  }
  for (const [name, tx] of Object.entries(cases)) {
    it(`is byte-equal to ethers' Wallet: ${name}`, async () => {
      const { client } = fakeCustody()
      const signer = await EnclaveSigner.create(client, KEY_ID)
      expect(await signer.signTransaction(tx)).toBe(await wallet.signTransaction(tx))
    })
  }

  it('sends the enclave bigint quantities, the resolved type and only the fields that were set', async () => {
    const { client, calls } = fakeCustody()
    const signer = await EnclaveSigner.create(client, KEY_ID)
    const to = new VoidSigner(TO) // an Addressable, resolved to its address
    await signer.signTransaction({ chainId: '0xaa36a7', nonce: 3, to, value: '0x10', gasLimit: 21000, maxFeePerGas: '1000', maxPriorityFeePerGas: 1n })
    expect(calls.at(-1)).toEqual({
      op: 'signTransaction',
      params: { type: 2, chainId: 11155111n, nonce: 3n, to: TO, value: 16n, gas: 21000n, maxFeePerGas: 1000n, maxPriorityFeePerGas: 1n },
    })
  })

  it('accepts an ethers Transaction (what sendTransaction passes) and a matching tx.from in any case', async () => {
    const { client } = fakeCustody()
    const signer = await EnclaveSigner.create(client, KEY_ID)
    const tx = Transaction.from({ type: 2, chainId: 1n, nonce: 1, to: TO, gasLimit: 21000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n })
    expect(await signer.signTransaction(tx)).toBe(await wallet.signTransaction(tx))
    const request = { from: wallet.address.toLowerCase(), chainId: 1n, nonce: 1, to: TO, gasLimit: 21000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n }
    expect(Transaction.from(await signer.signTransaction(request)).from).toBe(wallet.address)
  })

  it('refuses a tx.from that is not the key, before calling the enclave', async () => {
    const { client, calls } = fakeCustody()
    const signer = await EnclaveSigner.create(client, KEY_ID)
    const other = Wallet.createRandom().address
    const message = await invalid(signer.signTransaction({ from: other, chainId: 1n, nonce: 0, to: TO, gasLimit: 21000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n }))
    expect(message).toBe(`"tx.from" must be the signer's address ${wallet.address} (got ${other})`)
    expect(calls.some((c) => c.op === 'signTransaction')).toBe(false)
  })

  it('refuses replayable (no chain id) and blob transactions, naming the field', async () => {
    const { client } = fakeCustody()
    const signer = await EnclaveSigner.create(client, KEY_ID)
    const base = { nonce: 0, to: TO, gasLimit: 21000n, gasPrice: 1n, type: 0 }
    expect(await invalid(signer.signTransaction(base))).toMatchInlineSnapshot(
      `""tx.chainId" is required: the signer does not sign replayable transactions (populate it with signer.populateTransaction or set it)"`,
    )
    expect(await invalid(signer.signTransaction({ ...base, chainId: 0n }))).toMatch(/"tx.chainId" is required/)
    expect(await invalid(signer.signTransaction({ ...base, chainId: 1n, type: 3 }))).toMatchInlineSnapshot(
      `""tx.type" is an EIP-4844 blob transaction (type 3), which the enclave does not sign"`,
    )
    expect(await invalid(signer.signTransaction({ chainId: 1n, nonce: 0, to: TO, maxFeePerBlobGas: 1n }))).toMatch(/EIP-4844/)
    expect(await invalid(signer.signTransaction({ ...base, chainId: 1n, type: 5 }))).toMatchInlineSnapshot(`""tx.type" must be 0, 1, 2 or 4 (got 5)"`)
  })

  it('throws IntegrityError when the enclave returns another transaction than requested', async () => {
    const other = await wallet.signTransaction({ type: 2, chainId: 1n, nonce: 99, to: TO, gasLimit: 21000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n })
    const { client } = fakeCustody({ raw: () => other })
    const signer = await EnclaveSigner.create(client, KEY_ID)
    await expect(signer.signTransaction({ type: 2, chainId: 1n, nonce: 1, to: TO, gasLimit: 21000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n })).rejects.toThrowErrorMatchingInlineSnapshot(
      `[IntegrityError: integrity check failed: the signed transaction differs from the request in nonce]`,
    )
  })

  it('sendTransaction needs a provider (inherited behaviour)', async () => {
    const { client } = fakeCustody()
    const signer = await EnclaveSigner.create(client, KEY_ID)
    await expect(signer.sendTransaction({ to: TO })).rejects.toThrow(/missing provider/)
  })
})

describe('EnclaveSigner messages and typed data', () => {
  it('signMessage equals Wallet.signMessage for strings and bytes, and the enclave gets the message itself', async () => {
    const { client, calls } = fakeCustody()
    const signer = await EnclaveSigner.create(client, KEY_ID)
    for (const message of ['hello enclave', '0x1234', new Uint8Array([0, 1, 2, 255]), '']) {
      const signature = await signer.signMessage(message)
      expect(signature).toBe(await wallet.signMessage(message))
      expect(verifyMessage(message, signature)).toBe(wallet.address)
      expect(calls.at(-1)).toEqual({ op: 'signMessage', params: { message } })
    }
  })

  it('signMessage refuses non-messages and a digest other than hashMessage', async () => {
    const signer = await EnclaveSigner.create(fakeCustody().client, KEY_ID)
    expect(await invalid(signer.signMessage(42 as never))).toMatchInlineSnapshot(`""message" must be a string or a Uint8Array (got number)"`)
    const liar = await EnclaveSigner.create(fakeCustody({ hash: true }).client, KEY_ID)
    await expect(liar.signMessage('x')).rejects.toThrowErrorMatchingInlineSnapshot(`[IntegrityError: integrity check failed: the enclave signed another digest than hashMessage(message)]`)
  })

  const domain = { name: 'Ether Mail', version: '1', chainId: '0xaa36a7', verifyingContract: '0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC' }
  const types = {
    Person: [
      { name: 'name', type: 'string' },
      { name: 'wallet', type: 'address' },
    ],
    Mail: [
      { name: 'from', type: 'Person' },
      { name: 'to', type: 'Person[]' },
      { name: 'contents', type: 'string' },
      { name: 'amount', type: 'uint256' },
      { name: 'tag', type: 'bytes32' },
      { name: 'urgent', type: 'bool' },
    ],
  }
  const value = {
    from: { name: 'Cow', wallet: '0xcd2a3d9f938e13cd947ec05abc7fe734df8dd826' },
    to: [{ name: 'Bob', wallet: '0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB' }],
    contents: 'Hello, Bob!',
    amount: '0x0de0b6b3a7640000',
    tag: getBytes(`0x${'ab'.repeat(32)}`),
    urgent: true,
  }

  it('signTypedData equals Wallet.signTypedData and hands the enclave canonical values', async () => {
    const { client, calls } = fakeCustody()
    const signer = await EnclaveSigner.create(client, KEY_ID)
    const signature = await signer.signTypedData(domain, types, value)
    expect(signature).toBe(await wallet.signTypedData(domain, types, value))
    expect(verifyTypedData(domain, types, value, signature)).toBe(wallet.address)
    expect(calls.at(-1)).toEqual({
      op: 'signTypedData',
      params: {
        domain: { name: 'Ether Mail', version: '1', chainId: 11155111n, verifyingContract: '0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC' },
        types,
        primaryType: 'Mail',
        message: {
          from: { name: 'Cow', wallet: '0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826' },
          to: [{ name: 'Bob', wallet: '0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB' }],
          contents: 'Hello, Bob!',
          amount: 10n ** 18n,
          tag: `0x${'ab'.repeat(32)}`,
          urgent: true,
        },
      },
    })
  })

  it('signTypedData needs a provider for ENS names and refuses a digest other than ethers computes', async () => {
    const signer = await EnclaveSigner.create(fakeCustody().client, KEY_ID)
    const withName = { ...value, from: { name: 'Cow', wallet: 'cow.eth' } }
    expect(await invalid(signer.signTypedData(domain, types, withName))).toMatchInlineSnapshot(
      `""domain/value" contains the ENS name "cow.eth", which needs a provider to resolve"`,
    )
    const liar = await EnclaveSigner.create(fakeCustody({ hash: true }).client, KEY_ID)
    await expect(liar.signTypedData(domain, types, value)).rejects.toThrow(/another digest than TypedDataEncoder.hash/)
  })
})

describe('EnclaveSigner.authorize (EIP-7702)', () => {
  it("equals Wallet.authorize and returns ethers' Authorization shape", async () => {
    const { client, calls } = fakeCustody()
    const signer = await EnclaveSigner.create(client, KEY_ID)
    const auth = await signer.authorize({ address: TO.toLowerCase(), chainId: 11155111, nonce: 5 })
    const expected = signedAuthorization()
    expect(auth).toEqual({ address: TO, chainId: 11155111n, nonce: 5n, signature: expect.any(Signature) })
    expect(auth.signature.serialized).toBe(expected.signature.serialized)
    expect(calls.at(-1)).toEqual({ op: 'signAuthorization', params: { chainId: 11155111n, address: TO, nonce: 5n } })
  })

  it('refuses a tuple other than the one requested', async () => {
    const signer = await EnclaveSigner.create(fakeCustody({ tuple: true }).client, KEY_ID)
    await expect(signer.authorize({ address: TO, chainId: 1n, nonce: 0 })).rejects.toThrowErrorMatchingInlineSnapshot(
      `[IntegrityError: integrity check failed: the enclave signed another authorization tuple than requested]`,
    )
  })
})

describe('EnclaveSigner: a known address, checked on first use', () => {
  const other = Wallet.createRandom().address
  const tx = { chainId: 1n, nonce: 1, to: TO, gasLimit: 21000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n }
  const typed = {
    domain: { name: 'Custody', chainId: 1n },
    types: { Note: [{ name: 'text', type: 'string' }] },
    value: { text: 'hi' },
  }
  const uses: Record<string, (signer: EnclaveSigner) => Promise<unknown>> = {
    signTransaction: (signer) => signer.signTransaction(tx),
    signMessage: (signer) => signer.signMessage('hello'),
    signTypedData: (signer) => signer.signTypedData(typed.domain, typed.types, typed.value),
    authorize: (signer) => signer.authorize({ address: TO, chainId: 1n, nonce: 0n }),
  }

  for (const [name, use] of Object.entries(uses)) {
    it(`${name}: the address is checked once against getKey before the first signature; a mismatch signs nothing`, async () => {
      const { client, calls } = fakeCustody()
      const signer = new EnclaveSigner(client, { keyId: KEY_ID, address: wallet.address })
      expect(signer.address).toBe(wallet.address)
      await use(signer)
      await use(signer)
      expect(calls.map((c) => c.op).filter((op) => op === 'getKey')).toEqual(['getKey'])
      expect(calls[0]?.op).toBe('getKey')

      const wrong = fakeCustody()
      const liar = new EnclaveSigner(wrong.client, { keyId: KEY_ID, address: other })
      expect(liar.address).toBe(other)
      await expect(use(liar)).rejects.toThrow(`integrity check failed: the key's address is ${wallet.address}, not ${other} as the signer was built with`)
      await expect(use(liar)).rejects.toSatisfy((e: unknown) => isCustodyError(e, 'INTEGRITY_ERROR'))
      // Checked again on each use (a failure is never remembered as a pass), and nothing was signed.
      expect(wrong.calls.map((c) => c.op)).toEqual(['getKey', 'getKey'])
    })
  }

  it('connect() keeps a passed check; a failed getKey is retried on the next use', async () => {
    const { client, calls } = fakeCustody()
    let fail = true
    const flaky: EnclaveSignerClient = {
      ...client,
      getKey: async (keyId) => {
        if (fail) {
          fail = false
          throw new Error('network down')
        }
        return client.getKey(keyId)
      },
    }
    const signer = new EnclaveSigner(flaky, { keyId: KEY_ID, address: wallet.address })
    await expect(signer.signMessage('x')).rejects.toThrow('network down')
    expect(await signer.signMessage('x')).toBe(await wallet.signMessage('x'))
    const connected = signer.connect(null)
    await connected.signMessage('y')
    expect(calls.map((c) => c.op)).toEqual(['getKey', 'signMessage', 'signMessage'])
  })
})

describe('EnclaveSigner.signTypedData: as strict as the viem adapter', () => {
  const { types } = MAIL_TO_MANY
  const domain = { name: 'Ether Mail', version: '1', chainId: 11155111 }
  const person = { name: 'Bob', wallet: '0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB' }
  const message = { from: person, to: [person], contents: 'hi' }
  const cases: Record<string, Record<string, unknown>> = {
    'an unknown member of the message': { ...message, memo: 'dropped by ethers' },
    'an unknown member of a nested struct': { ...message, from: { ...person, age: 3 } },
    'an unknown member of an array element': { ...message, to: [person, { ...person, extra: true }] },
    'a missing member': { from: person, to: [person] },
    'a struct that is not an object': { ...message, from: 'Bob' },
  }

  for (const [name, value] of Object.entries(cases)) {
    it(`refuses ${name} before any request, with the viem adapter's error for the same input`, async () => {
      const ethersSide = fakeCustody()
      const signer = await EnclaveSigner.create(ethersSide.client, KEY_ID)
      const fromEthers = await invalid(signer.signTypedData(domain, types, value))
      const account = await toEnclaveAccount(viemClient(ethersSide.client), KEY_ID)
      const fromViem = await invalid(account.signTypedData({ domain, types, primaryType: 'Mail', message: value } as never))
      expect(fromEthers).toBe(fromViem)
      expect(ethersSide.calls.map((c) => c.op)).toEqual(['getKey', 'getKey']) // nothing signed by either adapter
    })
  }

  it('the errors name the field and the rule', async () => {
    const signer = await EnclaveSigner.create(fakeCustody().client, KEY_ID)
    const messages = await Promise.all(Object.values(cases).map((v) => invalid(signer.signTypedData(domain, types, v))))
    expect(messages).toMatchInlineSnapshot(`
      [
        ""typedData.message" has unknown field "memo"",
        ""typedData.message.from" has unknown field "age"",
        ""typedData.message.to[1]" has unknown field "extra"",
        ""typedData.message.contents" is required",
        ""typedData.message.from" must be an object (got string)",
      ]
    `)
    // The plaintext original signs the first three (dropping the member) and refuses the others with its own error.
    await expect(wallet.signTypedData(domain, types, cases['an unknown member of the message']!)).resolves.toBe(await wallet.signTypedData(domain, types, message))
  })
})
