/**
 * The ethers adapter end to end: EnclaveSigner → custody client → parent proxy → enclave runtime (the local
 * stack, `startDevStack`) → anvil. ethers populates (nonce, gas, fees from the node), the enclave signs,
 * anvil mines: the node, not this code, judges every transaction.
 */
import { Contract, ContractFactory, getCreateAddress, type JsonRpcSigner, JsonRpcProvider, parseEther, verifyMessage, verifyTypedData, Wallet } from 'ethers'
import { verifyMessage as viemVerifyMessage, verifyTypedData as viemVerifyTypedData } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuditReceipt, CustodyClient } from '../client/createCustodyClient.js'
import { isCustodyError } from '../errors/CustodyError.js'
import { type LocalStack, startLocalStack } from '../../test/localStack.js'
import { EnclaveSigner } from './EnclaveSigner.js'

const CHAIN_ID = 11155111n

/**
 * Hand-assembled storage contract. Runtime (26 bytes): with at least 36 bytes of calldata it stores the
 * word at offset 4 in slot 0 (`set(uint256)`), otherwise it returns slot 0 (`get()`); selectors are ignored.
 */
const RUNTIME_CODE = `0x${[
  '36', //         CALLDATASIZE
  '6024', //       PUSH1 36
  '11', //         GT            36 > size?
  '600e', //       PUSH1 0x0e    (read)
  '57', //         JUMPI
  '6004', //       PUSH1 4
  '35', //         CALLDATALOAD  the argument
  '6000', //       PUSH1 0
  '55', //         SSTORE        slot 0 = argument
  '00', //         STOP
  '5b', //   0x0e: JUMPDEST
  '6000', //       PUSH1 0
  '54', //         SLOAD
  '6000', //       PUSH1 0
  '52', //         MSTORE
  '6020', //       PUSH1 32
  '6000', //       PUSH1 0
  'f3', //         RETURN        slot 0
].join('')}`
/** Init (12 bytes): CODECOPY the 26-byte runtime from offset 12 to memory 0 and RETURN it. */
const INIT_CODE = `0x601a600c600039601a6000f3${RUNTIME_CODE.slice(2)}`
const ABI = ['function set(uint256 value)', 'function get() view returns (uint256)']

describe('EnclaveSigner on anvil through the local stack', () => {
  let local: LocalStack | undefined
  // cacheTimeout -1: ethers otherwise replays an identical call made in the last 250 ms (stale nonces).
  let provider: JsonRpcProvider
  let custody: CustodyClient
  /** One receipt per answer the client verified (signed by the attested enclave's response key). */
  let receipts: AuditReceipt[]
  let funder: JsonRpcSigner
  let signer: EnclaveSigner

  beforeAll(async () => {
    // One API key for the suite; the client attests the stack's enclave (its PCR0, the software NSM root).
    local = await startLocalStack('custody-ethers')
    custody = local.custody
    receipts = local.receipts
    provider = new JsonRpcProvider(local.rpcUrl, undefined, { staticNetwork: true, pollingInterval: 50, cacheTimeout: -1 })
    funder = await provider.getSigner(0)
    signer = await newSigner()
  })

  afterAll(async () => {
    provider?.destroy()
    await local?.close()
  })

  /** A fresh enclave-generated key, funded from anvil account 0, as a connected signer. */
  async function newSigner(): Promise<EnclaveSigner> {
    const key = await custody.importKey({ generate: true })
    expect((await (await funder.sendTransaction({ to: key.address, value: parseEther('10') })).wait())?.status).toBe(1)
    return EnclaveSigner.create(custody, key.keyId, provider)
  }

  it('sendTransaction: ethers populates, the enclave signs, anvil mines a transfer', async () => {
    const to = Wallet.createRandom().address
    const response = await signer.sendTransaction({ to, value: parseEther('0.25') })
    const receipt = await response.wait()
    expect(receipt?.status).toBe(1)
    expect(receipt?.from).toBe(signer.address)
    expect(response.type).toBe(2)
    expect(response.chainId).toBe(CHAIN_ID)
    expect(await provider.getBalance(to)).toBe(parseEther('0.25'))
  })

  it('sendTransaction: legacy (type 0) and EIP-2930 (type 1) transactions are mined too', async () => {
    for (const type of [0, 1]) {
      const to = Wallet.createRandom().address
      const response = await signer.sendTransaction({ type, to, value: 1000n + BigInt(type) })
      expect((await response.wait())?.status).toBe(1)
      const mined = await provider.getTransaction(response.hash)
      expect(mined?.type).toBe(type)
      expect(mined?.chainId).toBe(CHAIN_ID) // EIP-155 replay protection on the legacy one too
      expect(await provider.getBalance(to)).toBe(1000n + BigInt(type))
    }
  })

  it('ContractFactory deploys the hand-assembled contract, and a contract call through the signer changes its state', async () => {
    const nonce = await signer.getNonce('pending')
    const contract = await new ContractFactory(ABI, INIT_CODE, signer).deploy()
    await contract.waitForDeployment()
    const address = await contract.getAddress()
    expect(address).toBe(getCreateAddress({ from: signer.address, nonce }))
    expect(await provider.getCode(address)).toBe(RUNTIME_CODE)

    const storage = new Contract(address, ABI, signer)
    const receipt = await (await storage.getFunction('set')(424242n)).wait()
    expect(receipt?.status).toBe(1)
    expect(await storage.getFunction('get')()).toBe(424242n)
  })

  it('EIP-7702: the signer authorizes a delegation and sends the type-4 transaction; the account then runs the code', async () => {
    const target = await (await new ContractFactory(ABI, INIT_CODE, signer).deploy()).waitForDeployment()
    const delegate = await target.getAddress()
    const eoa = await newSigner()
    // The account sends the transaction itself, so its nonce is spent first: the authorization takes nonce + 1.
    const nonce = await eoa.getNonce('pending')
    const auth = await eoa.authorize({ address: delegate, nonce: nonce + 1 })
    expect(auth).toMatchObject({ address: delegate, chainId: CHAIN_ID, nonce: BigInt(nonce + 1) })

    const asContract = new Contract(eoa.address, ABI, eoa)
    const data = asContract.interface.encodeFunctionData('set', [7n])
    const response = await eoa.sendTransaction({ type: 4, to: eoa.address, data, authorizationList: [auth] })
    expect((await response.wait())?.status).toBe(1)
    expect((await provider.getTransaction(response.hash))?.type).toBe(4)
    expect(await provider.getCode(eoa.address)).toBe(`0xef0100${delegate.slice(2).toLowerCase()}`)
    expect(await asContract.getFunction('get')()).toBe(7n)
  })

  it('signMessage and signTypedData verify with ethers and with viem', async () => {
    const seen = receipts.length
    for (const message of ['hello from the enclave', new Uint8Array([0xde, 0xad, 0xbe, 0xef])]) {
      const signature = await signer.signMessage(message)
      expect(verifyMessage(message, signature)).toBe(signer.address)
      const viemMessage = typeof message === 'string' ? message : { raw: message }
      expect(await viemVerifyMessage({ address: signer.address as `0x${string}`, message: viemMessage, signature: signature as `0x${string}` })).toBe(true)
    }
    const domain = { name: 'Custody', version: '1', chainId: CHAIN_ID, verifyingContract: Wallet.createRandom().address }
    const types = { Transfer: [{ name: 'to', type: 'address' }, { name: 'amount', type: 'uint256' }, { name: 'memo', type: 'string' }] }
    const value = { to: Wallet.createRandom().address, amount: parseEther('1.5'), memo: 'payroll' }
    const signature = await signer.signTypedData(domain, types, value)
    expect(verifyTypedData(domain, types, value, signature)).toBe(signer.address)
    const valid = await viemVerifyTypedData({
      address: signer.address as `0x${string}`,
      domain: { ...domain, verifyingContract: domain.verifyingContract as `0x${string}` },
      types,
      primaryType: 'Transfer',
      message: value,
      signature: signature as `0x${string}`,
    })
    expect(valid).toBe(true)
    // Each signature came in a stamped request and an answer signed by the one attested enclave, in audit order.
    const mine = receipts.slice(seen)
    expect(mine.map((r) => r.op)).toEqual(['sign.message', 'sign.message', 'sign.typedData'])
    expect(new Set(mine.map((r) => r.responseKeyId)).size).toBe(1)
    expect(mine.every((r, i) => i === 0 || r.auditSeq > mine[i - 1]!.auditSeq)).toBe(true)
  })

  it('a mismatched tx.from is refused: by the adapter when signing, by ethers when sending; nothing reaches the chain', async () => {
    const other = Wallet.createRandom().address
    const nonce = await signer.getNonce('pending')
    const tx = await signer.populateTransaction({ to: other, value: 1n })
    const signing = signer.signTransaction({ ...tx, from: other })
    await expect(signing).rejects.toSatisfy((e: unknown) => isCustodyError(e, 'INVALID_ARGUMENT') && /"tx\.from" must be the signer's address/.test((e as Error).message))
    await expect(signer.sendTransaction({ from: other, to: other, value: 1n })).rejects.toThrow(/from mismatch/)
    expect(await signer.getNonce('pending')).toBe(nonce)
  })
})
