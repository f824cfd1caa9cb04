/**
 * Parity with viem's `privateKeyToAccount` (a `LocalAccount`), on anvil through the local stack: the same
 * private key is imported into the enclave, and every property and method of the account is exercised on the
 * plaintext original and on both enclave constructors (`toEnclaveAccount`, `enclaveAccount`) with the same
 * inputs. Equal results, or the refusal documented here:
 *
 * | member              | enclave account                                                                  |
 * | ------------------- | -------------------------------------------------------------------------------- |
 * | address, publicKey  | equal                                                                            |
 * | type                | equal ('local')                                                                  |
 * | source              | 'custom' (viem's `toAccount`), not 'privateKey': there is no private key here     |
 * | nonceManager        | the same object, passed through; concurrent sends get consecutive nonces         |
 * | sign({ hash })      | equal for a key sealed with allowRawDigest; PolicyDeniedError otherwise          |
 * | signMessage         | equal (text, raw hex, raw bytes)                                                 |
 * | signTypedData       | equal; an unknown or missing member is refused (INVALID_ARGUMENT), as in ethers  |
 * | signTransaction     | equal (legacy, eip2930, eip1559, eip7702), mined by anvil                        |
 * | signAuthorization   | equal                                                                            |
 */
import { TypedDataEncoder } from 'ethers'
import { createPublicClient, createWalletClient, type Hex, http, keccak256, type LocalAccount, type PublicClient, parseEther, toHex } from 'viem'
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts'
import { createNonceManager, jsonRpc } from 'viem/nonce'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isCustodyError, PolicyDeniedError } from '../errors/CustodyError.js'
import { EnclaveSigner } from '../ethers/EnclaveSigner.js'
import { type LocalStack, startLocalStack } from '../../test/localStack.js'
import { type EnclaveAccount, enclaveAccount, toEnclaveAccount } from './toEnclaveAccount.js'
import { MAIL_TO_MANY } from '../../test/mailToMany.js'

const TO = privateKeyToAccount(generatePrivateKey()).address

describe('viem parity: privateKeyToAccount and the enclave accounts, on anvil', () => {
  let local: LocalStack
  let publicClient: PublicClient
  /** A key sealed with allowRawDigest, and a key with the default policy: each as plaintext and enclave accounts. */
  const pair: { privateKey: Hex; plain: PrivateKeyAccount; keyId: string; built: Record<'toEnclaveAccount' | 'enclaveAccount', EnclaveAccount> }[] = []

  beforeAll(async () => {
    local = await startLocalStack('custody-viem-parity')
    publicClient = createPublicClient({ chain: local.chain, transport: http(), pollingInterval: 50 })
    for (const policy of [{ allowRawDigest: true }, {}]) {
      const privateKey = generatePrivateKey()
      const plain = privateKeyToAccount(privateKey)
      const { keyId, address, publicKey } = await local.custody.importKey({ privateKey, policy })
      expect(address).toBe(plain.address)
      pair.push({
        privateKey,
        plain,
        keyId,
        built: { toEnclaveAccount: await toEnclaveAccount(local.custody, keyId), enclaveAccount: enclaveAccount(local.custody, { keyId, address, publicKey: publicKey! }) },
      })
      await local.fund(plain.address, parseEther('10'))
    }
  })

  afterAll(async () => {
    await local?.close()
  })

  const constructors = ['toEnclaveAccount', 'enclaveAccount'] as const
  const walletOf = (account: LocalAccount) => createWalletClient({ account, chain: local.chain, transport: http() })

  for (const made of constructors) {
    describe(`${made}`, () => {
      it('address, publicKey, type: equal; source: custom', () => {
        const { plain, built } = pair[0]!
        const account = built[made]
        expect({ address: account.address, publicKey: account.publicKey, type: account.type }).toEqual({ address: plain.address, publicKey: plain.publicKey, type: plain.type })
        expect([plain.source, account.source]).toEqual(['privateKey', 'custom'])
      })

      it('sign({ hash }): equal for a key sealed with allowRawDigest', async () => {
        const { plain, built } = pair[0]!
        for (const hash of [keccak256(toHex(`user operation ${made}`)), `0x${'00'.repeat(32)}` as Hex, `0x${'ff'.repeat(32)}` as Hex]) {
          expect(await built[made].sign({ hash })).toBe(await plain.sign({ hash }))
        }
      })

      it("sign({ hash }): a key without allowRawDigest is refused with the enclave's own PolicyDeniedError", async () => {
        const { plain, keyId, built } = pair[1]!
        const hash = keccak256(toHex('a digest'))
        await expect(plain.sign({ hash })).resolves.toMatch(/^0x[0-9a-f]{130}$/) // the plaintext key signs anything
        const seen = local.receipts.length
        const refusal = await built[made].sign({ hash }).catch((e: unknown) => e)
        expect(refusal).toBeInstanceOf(PolicyDeniedError)
        // The adapter refused before any request, with the enclave's words for the same refusal.
        expect(local.receipts.slice(seen).map((r) => r.op)).not.toContain('sign.digest')
        const enclaves = await local.custody.signDigest(keyId, hash).catch((e: unknown) => e)
        expect(isCustodyError(enclaves, 'POLICY_DENIED')).toBe(true)
        expect((refusal as Error).message).toBe((enclaves as Error).message)
      })

      it('signMessage: equal for text, raw hex and raw bytes', async () => {
        const { plain, built } = pair[0]!
        for (const message of ['hello from the enclave', { raw: '0xdeadbeef' as Hex }, { raw: new Uint8Array([0, 1, 2, 255]) }]) {
          expect(await built[made].signMessage({ message })).toBe(await plain.signMessage({ message }))
        }
      })

      it('signTypedData: equal', async () => {
        const { plain, built } = pair[0]!
        expect(await built[made].signTypedData(typedData)).toBe(await plain.signTypedData(typedData))
      })

      it('signAuthorization: equal', async () => {
        const { plain, built } = pair[0]!
        const request = { contractAddress: TO, chainId: local.chain.id, nonce: 7 }
        expect(await built[made].signAuthorization(request)).toEqual(await plain.signAuthorization(request))
      })

      it('signTransaction: equal for each type, as prepared by the node; the enclave’s is mined', async () => {
        const { plain, built } = pair[0]!
        const account = built[made]
        const delegate = privateKeyToAccount(generatePrivateKey()).address
        const types = ['legacy', 'eip2930', 'eip1559', 'eip7702'] as const
        for (const type of types) {
          const nonce = await publicClient.getTransactionCount({ address: plain.address, blockTag: 'pending' })
          const authorizationList = type === 'eip7702' ? [await plain.signAuthorization({ contractAddress: delegate, chainId: local.chain.id, nonce: nonce + 1 })] : undefined
          const request = await walletOf(plain).prepareTransactionRequest({ type, to: TO, value: 1000n, data: '0xc0ffee', ...(authorizationList ? { authorizationList } : {}) } as never)
          const { account: _, ...tx } = request as typeof request & { account?: unknown }
          const signed = await account.signTransaction(tx as never)
          expect(signed).toBe(await plain.signTransaction(tx as never))
          const hash = await publicClient.sendRawTransaction({ serializedTransaction: signed })
          expect(await publicClient.waitForTransactionReceipt({ hash })).toMatchObject({ status: 'success', type })
        }
      })

      it('nonceManager: passed through; concurrent sends through a wallet client get consecutive nonces, as with the plaintext account', async () => {
        const { privateKey, keyId, built } = pair[0]!
        const withManager = {
          plain: privateKeyToAccount(privateKey, { nonceManager: createNonceManager({ source: jsonRpc() }) }),
          enclave:
            made === 'toEnclaveAccount'
              ? await toEnclaveAccount(local.custody, keyId, { nonceManager: createNonceManager({ source: jsonRpc() }) })
              : enclaveAccount(local.custody, { keyId, address: built[made].address, publicKey: built[made].publicKey }, { nonceManager: createNonceManager({ source: jsonRpc() }) }),
        }
        for (const account of [withManager.plain, withManager.enclave]) {
          expect(account.nonceManager).toBeDefined()
          const start = await publicClient.getTransactionCount({ address: account.address, blockTag: 'pending' })
          const hashes = await Promise.all([1n, 2n, 3n].map((value) => walletOf(account).sendTransaction({ to: TO, value })))
          const receipts = await Promise.all(hashes.map((hash) => publicClient.waitForTransactionReceipt({ hash })))
          expect(receipts.map((r) => r.status)).toEqual(['success', 'success', 'success'])
          const nonces = await Promise.all(hashes.map(async (hash) => (await publicClient.getTransaction({ hash })).nonce))
          expect(nonces.sort((a, b) => a - b)).toEqual([start, start + 1, start + 2])
        }
      })
    })
  }

  it('signTypedData: an unknown or missing member is refused by both adapters with the same error (the plaintext accounts sign or throw)', async () => {
    const { plain, keyId, built } = pair[0]!
    const signer = await EnclaveSigner.create(local.custody, keyId)
    const person = typedData.message.from
    const inputs: Record<string, Record<string, unknown>> = {
      'unknown member': { ...typedData.message, memo: 'extra' },
      'unknown nested member': { ...typedData.message, to: [person, { ...person, age: 3 }] },
      'missing member': { from: person, to: [person] },
    }
    const seen = local.receipts.length
    const refusals: Record<string, string> = {}
    for (const [name, message] of Object.entries(inputs)) {
      const errors = await Promise.all([
        built.toEnclaveAccount.signTypedData({ ...typedData, message } as never).catch((e: unknown) => e),
        built.enclaveAccount.signTypedData({ ...typedData, message } as never).catch((e: unknown) => e),
        signer.signTypedData(typedData.domain, { Person: [...typedData.types.Person], Mail: [...typedData.types.Mail] }, message).catch((e: unknown) => e),
      ])
      for (const e of errors) expect(isCustodyError(e, 'INVALID_ARGUMENT')).toBe(true)
      expect(new Set(errors.map((e) => (e as Error).message)).size).toBe(1)
      refusals[name] = (errors[0] as Error).message
    }
    expect(refusals).toEqual({
      'unknown member': '"typedData.message" has unknown field "memo"',
      'unknown nested member': '"typedData.message.to[1]" has unknown field "age"',
      'missing member': '"typedData.message.contents" is required',
    })
    // Nothing was signed for any of them.
    expect(local.receipts.slice(seen).filter((r) => r.op.startsWith('sign.'))).toEqual([])
    // The plaintext viem account signs the extra member's message as if the member were absent (viem hashes
    // the declared members only), and ethers' TypedDataEncoder drops it: what the adapters refuse.
    expect(await plain.signTypedData({ ...typedData, message: inputs['unknown member'] } as never)).toBe(await plain.signTypedData(typedData))
    expect(TypedDataEncoder.hash(typedData.domain, { Person: [...typedData.types.Person], Mail: [...typedData.types.Mail] }, inputs['unknown member']!)).toBe(
      TypedDataEncoder.hash(typedData.domain, { Person: [...typedData.types.Person], Mail: [...typedData.types.Mail] }, typedData.message),
    )
  })

  it('enclaveAccount: an identity that is not the key’s is an IntegrityError on first use, and nothing is signed', async () => {
    const { keyId } = pair[0]!
    const other = privateKeyToAccount(generatePrivateKey())
    const wrong = enclaveAccount(local.custody, { keyId, address: other.address, publicKey: other.publicKey })
    const seen = local.receipts.length
    await expect(wrong.signMessage({ message: 'x' })).rejects.toSatisfy((e: unknown) => isCustodyError(e, 'INTEGRITY_ERROR'))
    const tx = { chainId: local.chain.id, nonce: 0, to: TO, value: 1n, gas: 21_000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n }
    await expect(wrong.signTransaction(tx)).rejects.toThrow(`integrity check failed: the key's address is ${pair[0]!.plain.address}, not ${other.address} as the account was built with`)
    expect(local.receipts.slice(seen).filter((r) => r.op.startsWith('sign.'))).toEqual([])
  })
})

const typedData = MAIL_TO_MANY
