/**
 * Parity with ethers' `Wallet`, on anvil through the local stack: the same private key is imported into the
 * enclave, and each member of `Wallet` the adapter offers is exercised on the plaintext original and on
 * `EnclaveSigner` (built with `create`, and with the synchronous constructor and a known address) with the same
 * inputs. Equal results, or the refusal documented here:
 *
 * | member               | EnclaveSigner                                                                      |
 * | -------------------- | ---------------------------------------------------------------------------------- |
 * | address              | equal, right after `create` / the constructor with `{ keyId, address }`            |
 * | getAddress()         | equal                                                                              |
 * | provider, connect()  | equal                                                                              |
 * | signMessage          | equal (text, bytes)                                                                |
 * | signTypedData        | equal; an unknown or missing member is refused (INVALID_ARGUMENT), where ethers    |
 * |                      | drops an unknown member silently (the viem adapter refuses it with the same error) |
 * | signTransaction      | equal (types 0, 1, 2), as populated by the node                                    |
 * | sendTransaction      | mined, same transaction hash for the same populated request                       |
 * | authorize (EIP-7702) | equal                                                                              |
 */
import { type Authorization, JsonRpcProvider, keccak256, parseEther, type TransactionRequest, Wallet } from 'ethers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isCustodyError } from '../errors/CustodyError.js'
import { type LocalStack, startLocalStack } from '../../test/localStack.js'
import { EnclaveSigner } from './EnclaveSigner.js'
import { MAIL_TO_MANY } from '../../test/mailToMany.js'

describe('ethers parity: Wallet and EnclaveSigner, on anvil', () => {
  let local: LocalStack
  let provider: JsonRpcProvider
  let wallet: Wallet
  let keyId: string
  const signers: Record<string, EnclaveSigner> = {}
  const TO = Wallet.createRandom().address

  beforeAll(async () => {
    local = await startLocalStack('custody-ethers-parity')
    // cacheTimeout -1: ethers otherwise replays an identical call made in the last 250 ms (stale nonces).
    provider = new JsonRpcProvider(local.rpcUrl, undefined, { staticNetwork: true, pollingInterval: 50, cacheTimeout: -1 })
    wallet = new Wallet(Wallet.createRandom().privateKey, provider)
    const key = await local.custody.importKey({ privateKey: wallet.privateKey })
    keyId = key.keyId
    expect(key.address).toBe(wallet.address)
    await local.fund(wallet.address, parseEther('10'))
    signers.create = await EnclaveSigner.create(local.custody, keyId, provider)
    signers['new EnclaveSigner({ keyId, address })'] = new EnclaveSigner(local.custody, { keyId, address: key.address }, provider)
  })

  afterAll(async () => {
    provider?.destroy()
    await local?.close()
  })

  for (const made of ['create', 'new EnclaveSigner({ keyId, address })']) {
    describe(made, () => {
      it('address, getAddress(), provider and connect(): equal', async () => {
        const signer = signers[made]!
        expect(signer.address).toBe(wallet.address)
        expect(await signer.getAddress()).toBe(await wallet.getAddress())
        expect(signer.provider).toBe(wallet.provider)
        const other = new JsonRpcProvider(local.rpcUrl, undefined, { staticNetwork: true })
        const [a, b] = [signer.connect(other), wallet.connect(other)]
        expect([a.address, a.provider]).toEqual([b.address, b.provider])
        other.destroy()
      })

      it('signMessage: equal for text and bytes', async () => {
        for (const message of ['hello from the enclave', new Uint8Array([0, 1, 2, 255])]) {
          expect(await signers[made]!.signMessage(message)).toBe(await wallet.signMessage(message))
        }
      })

      it('signTypedData: equal', async () => {
        expect(await signers[made]!.signTypedData(domain, types, value)).toBe(await wallet.signTypedData(domain, types, value))
      })

      it('signTypedData: an unknown or a missing member is refused, before any request (Wallet drops an unknown one)', async () => {
        const seen = local.receipts.length
        const extra = { ...value, memo: 'extra' }
        await expect(signers[made]!.signTypedData(domain, types, extra)).rejects.toThrow('"typedData.message" has unknown field "memo"')
        await expect(signers[made]!.signTypedData(domain, types, { from: value.from, to: value.to })).rejects.toThrow('"typedData.message.contents" is required')
        expect(local.receipts.slice(seen).filter((r) => r.op.startsWith('sign.'))).toEqual([])
        expect(await wallet.signTypedData(domain, types, extra)).toBe(await wallet.signTypedData(domain, types, value))
      })

      it('signTransaction: equal for types 0, 1 and 2, as populated by the node; sendTransaction: the same hash, mined', async () => {
        const signer = signers[made]!
        for (const type of [0, 1, 2]) {
          const request: TransactionRequest = { type, to: TO, value: 1000n, data: '0xc0ffee' }
          const populated = await wallet.populateTransaction(request)
          const signed = await signer.signTransaction(populated)
          expect(signed).toBe(await wallet.signTransaction(populated))
          // sendTransaction keeps the populated fields: the transaction mined is the one both signed.
          const sent = await signer.sendTransaction(populated)
          expect(sent.hash).toBe(keccak256(signed))
          expect((await sent.wait())?.status).toBe(1)
        }
      })

      it('authorize (EIP-7702): equal', async () => {
        const request = { address: TO, chainId: 11155111n, nonce: 9n }
        const [a, b]: [Authorization, Authorization] = await Promise.all([signers[made]!.authorize(request), wallet.authorize(request)])
        expect({ ...a, signature: a.signature.serialized }).toEqual({ ...b, signature: b.signature.serialized })
      })
    })
  }

  it('a known address that is not the key’s: IntegrityError on first use, nothing signed', async () => {
    const other = Wallet.createRandom().address
    const signer = new EnclaveSigner(local.custody, { keyId, address: other }, provider)
    expect(signer.address).toBe(other)
    const seen = local.receipts.length
    await expect(signer.signMessage('x')).rejects.toSatisfy((e: unknown) => isCustodyError(e, 'INTEGRITY_ERROR'))
    const tx = { type: 2, chainId: 11155111n, nonce: 0, to: TO, value: 1n, gasLimit: 21_000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n }
    await expect(signer.signTransaction(tx)).rejects.toThrow(`integrity check failed: the key's address is ${wallet.address}, not ${other} as the signer was built with`)
    expect(local.receipts.slice(seen).filter((r) => r.op.startsWith('sign.'))).toEqual([])
  })
})

const { domain, types, message: value } = MAIL_TO_MANY
