/**
 * The viem adapter end to end: a wallet client with `account: await toEnclaveAccount(…)` → custody client →
 * parent proxy → enclave runtime (the local stack, `startDevStack`) → anvil. viem prepares (nonce, gas,
 * fees from the node), the enclave signs, anvil mines: the node, not this code, judges every transaction.
 */
import { type Anvil, startAnvil } from '@enclave-custody/cli'
import { verifyMessage as ethersVerifyMessage, verifyTypedData as ethersVerifyTypedData } from 'ethers'
import {
  type Chain,
  createPublicClient,
  createWalletClient,
  encodeFunctionData,
  getContractAddress,
  type Hex,
  http,
  type PublicClient,
  parseAbi,
  parseEther,
  verifyMessage,
  verifyTypedData,
} from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { optimism, sepolia } from 'viem/chains'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuditReceipt, CustodyClient } from '../client/createCustodyClient.js'
import { isCustodyError } from '../errors/CustodyError.js'
import { ANVIL_ACCOUNT_0, type LocalStack, startLocalStack } from '../../test/localStack.js'
import { type EnclaveAccount, toEnclaveAccount } from './toEnclaveAccount.js'

/** Hand-assembled storage contract: `set(uint256)` stores slot 0, `get()` returns it (see the ethers suite). */
const RUNTIME_CODE = '0x36602411600e57600435600055005b60005460005260206000f3'
const INIT_CODE: Hex = `0x601a600c600039601a6000f3${RUNTIME_CODE.slice(2)}`
const ABI = parseAbi(['function set(uint256 value)', 'function get() view returns (uint256)'])

/** viem's chain definition pointed at a local node. */
const onNode = (chain: Chain, rpcUrl: string): Chain => ({ ...chain, rpcUrls: { default: { http: [rpcUrl] } } })

describe('toEnclaveAccount on anvil through the local stack', () => {
  let local: LocalStack | undefined
  let custody: CustodyClient
  /** One receipt per answer the client verified (signed by the attested enclave's response key). */
  let receipts: AuditReceipt[]
  let chain: Chain
  let publicClient: PublicClient
  let account: EnclaveAccount

  beforeAll(async () => {
    // One API key for the suite; the client attests the stack's enclave (its PCR0, the software NSM root).
    local = await startLocalStack('custody-viem')
    custody = local.custody
    receipts = local.receipts
    chain = onNode(sepolia, local.rpcUrl)
    publicClient = createPublicClient({ chain, transport: http(), pollingInterval: 50 })
    account = await newAccount(chain)
  })

  afterAll(async () => {
    await local?.close()
  })

  /** A fresh enclave-generated key, funded from anvil account 0 on `on`, as a viem account. */
  async function newAccount(on: Chain): Promise<EnclaveAccount> {
    const key = await custody.importKey({ generate: true })
    const node = createPublicClient({ chain: on, transport: http(), pollingInterval: 50 })
    const hash = await createWalletClient({ chain: on, transport: http(), account: ANVIL_ACCOUNT_0 }).sendTransaction({ to: key.address, value: parseEther('10') })
    expect((await node.waitForTransactionReceipt({ hash })).status).toBe('success')
    return toEnclaveAccount(custody, key.keyId)
  }

  const walletOf = (a: EnclaveAccount, on = chain) => createWalletClient({ account: a, chain: on, transport: http() })

  it('sendTransaction: viem prepares, the enclave signs, anvil mines a transfer', async () => {
    const to = privateKeyToAccount(generatePrivateKey()).address
    const hash = await walletOf(account).sendTransaction({ to, value: parseEther('0.25') })
    const receipt = await publicClient.waitForTransactionReceipt({ hash })
    expect(receipt).toMatchObject({ status: 'success', from: account.address.toLowerCase(), type: 'eip1559' })
    expect(await publicClient.getBalance({ address: to })).toBe(parseEther('0.25'))
  })

  it('sendTransaction: legacy and eip2930 transactions are mined too, with EIP-155 chain ids', async () => {
    for (const type of ['legacy', 'eip2930'] as const) {
      const to = privateKeyToAccount(generatePrivateKey()).address
      const hash = await walletOf(account).sendTransaction({ type, to, value: 777n })
      expect((await publicClient.waitForTransactionReceipt({ hash })).status).toBe('success')
      const mined = await publicClient.getTransaction({ hash })
      expect(mined.type).toBe(type)
      expect(mined.chainId).toBe(sepolia.id)
    }
  })

  it('deployContract deploys the hand-assembled contract, and writeContract changes its state', async () => {
    const wallet = walletOf(account)
    const nonce = await publicClient.getTransactionCount({ address: account.address, blockTag: 'pending' })
    const deploy = await wallet.deployContract({ abi: ABI, bytecode: INIT_CODE })
    const { contractAddress, status } = await publicClient.waitForTransactionReceipt({ hash: deploy })
    expect(status).toBe('success')
    expect(contractAddress).toBe(getContractAddress({ from: account.address, nonce: BigInt(nonce) }).toLowerCase())
    expect(await publicClient.getCode({ address: contractAddress! })).toBe(RUNTIME_CODE)

    const write = await wallet.writeContract({ address: contractAddress!, abi: ABI, functionName: 'set', args: [99n] })
    expect((await publicClient.waitForTransactionReceipt({ hash: write })).status).toBe('success')
    expect(await publicClient.readContract({ address: contractAddress!, abi: ABI, functionName: 'get' })).toBe(99n)
  })

  it('EIP-7702: signAuthorization through the adapter, then a type-4 transaction; the account runs the delegate', async () => {
    const deploy = await walletOf(account).deployContract({ abi: ABI, bytecode: INIT_CODE })
    const delegate = (await publicClient.waitForTransactionReceipt({ hash: deploy })).contractAddress!
    const eoa = await newAccount(chain)
    const wallet = walletOf(eoa)
    // executor 'self': the account sends the transaction, so viem signs for nonce + 1.
    const authorization = await wallet.signAuthorization({ contractAddress: delegate, executor: 'self' })
    expect(authorization).toMatchObject({ chainId: sepolia.id, nonce: 1 })
    const hash = await wallet.sendTransaction({
      authorizationList: [authorization],
      to: eoa.address,
      data: encodeFunctionData({ abi: ABI, functionName: 'set', args: [7n] }),
    })
    const receipt = await publicClient.waitForTransactionReceipt({ hash })
    expect(receipt).toMatchObject({ status: 'success', type: 'eip7702' })
    expect(await publicClient.getCode({ address: eoa.address })).toBe(`0xef0100${delegate.slice(2).toLowerCase()}`)
    expect(await publicClient.readContract({ address: eoa.address, abi: ABI, functionName: 'get' })).toBe(7n)
  })

  it('EIP-7702 sponsored: one enclave key sends the type-4 transaction that carries another key’s authorization', async () => {
    const deploy = await walletOf(account).deployContract({ abi: ABI, bytecode: INIT_CODE })
    const delegate = (await publicClient.waitForTransactionReceipt({ hash: deploy })).contractAddress!
    const eoa = await newAccount(chain)
    const authorization = await walletOf(eoa).signAuthorization({ contractAddress: delegate }) // executor: someone else, nonce as is
    const hash = await walletOf(account).sendTransaction({
      authorizationList: [authorization],
      to: eoa.address,
      data: encodeFunctionData({ abi: ABI, functionName: 'set', args: [8n] }),
    })
    expect((await publicClient.waitForTransactionReceipt({ hash })).status).toBe('success')
    expect(await publicClient.readContract({ address: eoa.address, abi: ABI, functionName: 'get' })).toBe(8n)
    expect(await publicClient.getTransactionCount({ address: eoa.address })).toBe(1) // the authorization spent its nonce
  })

  it("a chain whose serializer keeps the standard payload (OP Stack's, on an anvil with chain id 10) is honoured", async () => {
    let anvil: Anvil | undefined
    try {
      anvil = await startAnvil({ chainId: optimism.id })
      const op = onNode(optimism, anvil.rpcUrl)
      const eoa = await newAccount(op)
      const to = privateKeyToAccount(generatePrivateKey()).address
      const hash = await walletOf(eoa, op).sendTransaction({ to, value: 5n }) // viem passes optimism.serializers.transaction
      const receipt = await createPublicClient({ chain: op, transport: http(), pollingInterval: 50 }).waitForTransactionReceipt({ hash })
      expect(receipt.status).toBe('success')
    } finally {
      await anvil?.stop()
    }
  })

  it('signMessage and signTypedData verify with viem and with ethers', async () => {
    const wallet = walletOf(account)
    const seen = receipts.length
    for (const message of ['hello from the enclave', { raw: '0xdeadbeef' as Hex }]) {
      const signature = await wallet.signMessage({ message })
      expect(await verifyMessage({ address: account.address, message, signature })).toBe(true)
      expect(ethersVerifyMessage(typeof message === 'string' ? message : new Uint8Array([0xde, 0xad, 0xbe, 0xef]), signature)).toBe(account.address)
    }
    const typedData = {
      domain: { name: 'Custody', version: '1', chainId: sepolia.id, verifyingContract: privateKeyToAccount(generatePrivateKey()).address },
      types: { Transfer: [{ name: 'to', type: 'address' }, { name: 'amount', type: 'uint256' }, { name: 'memo', type: 'string' }] },
      primaryType: 'Transfer',
      message: { to: privateKeyToAccount(generatePrivateKey()).address, amount: parseEther('1.5'), memo: 'payroll' },
    } as const
    const signature = await wallet.signTypedData(typedData)
    expect(await verifyTypedData({ ...typedData, address: account.address, signature })).toBe(true)
    expect(ethersVerifyTypedData(typedData.domain, { Transfer: [...typedData.types.Transfer] }, typedData.message, signature)).toBe(account.address)
    // Each signature came in a stamped request and an answer signed by the one attested enclave, in audit order.
    const mine = receipts.slice(seen)
    expect(mine.map((r) => r.op)).toEqual(['sign.message', 'sign.message', 'sign.typedData'])
    expect(new Set(mine.map((r) => r.responseKeyId)).size).toBe(1)
    expect(mine.every((r, i) => i === 0 || r.auditSeq > mine[i - 1]!.auditSeq)).toBe(true)
  })

  it('a mismatched from is refused before anything is signed or sent', async () => {
    const other = privateKeyToAccount(generatePrivateKey()).address
    const request = await walletOf(account).prepareTransactionRequest({ to: other, value: 1n })
    const nonce = await publicClient.getTransactionCount({ address: account.address, blockTag: 'pending' })
    const signing = account.signTransaction({ ...request, from: other } as unknown as Parameters<EnclaveAccount['signTransaction']>[0])
    await expect(signing).rejects.toSatisfy((e: unknown) => isCustodyError(e, 'INVALID_ARGUMENT') && /"tx\.from" must be the account's address/.test((e as Error).message))
    expect(await publicClient.getTransactionCount({ address: account.address, blockTag: 'pending' })).toBe(nonce)
  })
})
