/**
 * End to end on loopback, the production path without AWS: SDK `nitroEnclave({ url, attestation })` → parent proxy
 * (HTTP) → framed TCP socket → enclave runtime, started by `startDevStack` together with a real anvil
 * (chain id 11155111). Transactions are broadcast to anvil and mined: the node, not this code, judges them.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type DevStack, startDevStack } from '@enclave-custody/cli'
import {
  apiKeyStamper,
  createCustodyClient,
  type CustodyClient,
  type Eip1559TransactionRequest,
  generateApiKey,
  type KeyInfo,
  nitroEnclave,
  parseEther,
  type SignedTransaction,
} from '@enclave-custody/sdk'
import { getCreateAddress, type JsonRpcSigner, JsonRpcProvider, Transaction, type TransactionReceipt, Wallet } from 'ethers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const CHAIN_ID = 11155111n
const PRIORITY_FEE = 1_000_000_000n

/**
 * Hand-assembled contract. Runtime (10 bytes): PUSH1 0x2a PUSH1 0 MSTORE PUSH1 0x20 PUSH1 0 RETURN,
 * i.e. every call returns the word 42. Init (12 bytes): CODECOPY the runtime (10 bytes at offset 12)
 * to memory 0 and RETURN it.
 */
const RUNTIME_CODE = '0x602a60005260206000f3'
const INIT_CODE = `0x600a600c600039600a6000f3${RUNTIME_CODE.slice(2)}`

let dataDir: string | undefined
let stack: DevStack | undefined
// cacheTimeout -1: ethers otherwise replays an identical call made in the last 250 ms (stale nonces).
let provider: JsonRpcProvider
let custody: CustodyClient
let funder: JsonRpcSigner

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'custody-e2e-'))
  stack = await startDevStack({ dataDir })
  provider = new JsonRpcProvider(stack.anvil!.rpcUrl, undefined, { staticNetwork: true, pollingInterval: 50, cacheTimeout: -1 })
  // Requests stamped with this test's API key; the enclave attested against the stack's PCR0 and software NSM root.
  const stamper = apiKeyStamper({ privateKey: generateApiKey().privateKey })
  custody = createCustodyClient({ transport: nitroEnclave({ url: stack.proxyUrl, attestation: stack.attestation }), stamper, importer: stack.importer })
  funder = await provider.getSigner(0)
})

afterAll(async () => {
  provider?.destroy()
  await custody?.close()
  await stack?.close()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

async function fund(address: string, value = parseEther('1')): Promise<void> {
  const receipt = await (await funder.sendTransaction({ to: address, value })).wait()
  expect(receipt?.status).toBe(1)
}

async function fees(): Promise<{ maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }> {
  const block = await provider.getBlock('latest')
  return { maxFeePerGas: block!.baseFeePerGas! * 2n + PRIORITY_FEE, maxPriorityFeePerGas: PRIORITY_FEE }
}

type TxFields = Omit<Eip1559TransactionRequest, 'chainId' | 'nonce' | 'maxFeePerGas' | 'maxPriorityFeePerGas'> & { chainId?: bigint; nonce?: bigint }

/** Sign through the whole stack with the key's pending nonce and current fees. */
async function sign(key: KeyInfo, fields: TxFields): Promise<SignedTransaction> {
  const nonce = fields.nonce ?? BigInt(await provider.getTransactionCount(key.address, 'pending'))
  return custody.signEip1559(key.keyId, { chainId: CHAIN_ID, ...(await fees()), ...fields, nonce })
}

async function broadcast(signed: SignedTransaction): Promise<TransactionReceipt> {
  const sent = await provider.broadcastTransaction(signed.rawTransaction)
  expect(sent.hash).toBe(signed.hash)
  const receipt = await sent.wait()
  expect(receipt).not.toBeNull()
  return receipt!
}

/** A transfer to a fresh address, with both balance changes checked to the wei, block by block. */
async function transferAndCheck(key: KeyInfo, value: bigint): Promise<void> {
  const recipient = Wallet.createRandom().address
  const signed = await sign(key, { to: recipient, value, gas: 21_000n })
  expect(signed.from).toBe(key.address)
  const receipt = await broadcast(signed)

  expect(receipt.status).toBe(1)
  expect(receipt.from).toBe(key.address)
  expect(receipt.to).toBe(recipient)
  expect(receipt.hash).toBe(signed.hash)
  expect(receipt.gasUsed).toBe(21_000n)
  const block = await provider.getBlock(receipt.blockNumber)
  // EIP-1559: the effective price is the base fee plus the priority fee (below the cap here).
  expect(receipt.gasPrice).toBe(block!.baseFeePerGas! + PRIORITY_FEE)

  const before = receipt.blockNumber - 1
  const [senderBefore, senderAfter, recipientBefore, recipientAfter] = await Promise.all([
    provider.getBalance(key.address, before),
    provider.getBalance(key.address, receipt.blockNumber),
    provider.getBalance(recipient, before),
    provider.getBalance(recipient, receipt.blockNumber),
  ])
  expect(recipientAfter - recipientBefore).toBe(value)
  expect(senderBefore - senderAfter).toBe(value + receipt.gasUsed * receipt.gasPrice)
}

describe('end to end: SDK → parent proxy → enclave socket → anvil', () => {
  it('runs against anvil with chain id 11155111', async () => {
    expect(stack!.anvil).toBeDefined()
    expect((await provider.getNetwork()).chainId).toBe(CHAIN_ID)
    expect(stack!.proxyUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
  })

  it('GET /healthz answers 200 with an enclave round trip', async () => {
    const res = await fetch(`${stack!.proxyUrl}/healthz`)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ status: 'ok', enclaveRoundTripMs: expect.any(Number) })
  })

  it('a key generated in the enclave sends a transfer that is mined', async () => {
    const key = await custody.importKey({ generate: true })
    expect(await custody.getKey(key.keyId)).toMatchObject({ keyId: key.keyId, address: key.address })
    await fund(key.address)
    await transferAndCheck(key, parseEther('0.0123'))
  })

  it('an imported key sends a transfer that is mined, from the address ethers derives', async () => {
    const wallet = Wallet.createRandom()
    const key = await custody.importKey({ privateKey: wallet.privateKey })
    expect(key.address).toBe(wallet.address)
    await fund(key.address)
    await transferAndCheck(key, 123_456_789n)
  })

  it('sequential nonces are mined in order', async () => {
    const key = await custody.importKey({ generate: true })
    await fund(key.address)
    const recipient = Wallet.createRandom().address
    const start = BigInt(await provider.getTransactionCount(key.address))
    const receipts: TransactionReceipt[] = []
    for (let i = 0n; i < 5n; i++) {
      receipts.push(await broadcast(await sign(key, { nonce: start + i, to: recipient, value: 1000n + i, gas: 21_000n })))
    }
    expect(receipts.map((r) => r.status)).toEqual([1, 1, 1, 1, 1])
    const mined = await Promise.all(receipts.map((r) => provider.getTransaction(r.hash)))
    expect(mined.map((t) => BigInt(t!.nonce))).toEqual([0n, 1n, 2n, 3n, 4n].map((i) => start + i))
    expect(BigInt(await provider.getTransactionCount(key.address))).toBe(start + 5n)
    expect(await provider.getBalance(recipient)).toBe(1000n + 1001n + 1002n + 1003n + 1004n)
  })

  it('deploys a hand-assembled contract (to omitted) whose code anvil then holds', async () => {
    const key = await custody.importKey({ generate: true })
    await fund(key.address)
    const nonce = BigInt(await provider.getTransactionCount(key.address))
    const signed = await sign(key, { nonce, data: INIT_CODE, gas: 100_000n })
    expect(Transaction.from(signed.rawTransaction).to).toBeNull()
    const receipt = await broadcast(signed)

    expect(receipt.status).toBe(1)
    expect(receipt.contractAddress).toBe(getCreateAddress({ from: key.address, nonce }))
    const code = await provider.getCode(receipt.contractAddress!)
    expect(code).not.toBe('0x')
    expect(code).toBe(RUNTIME_CODE)
    expect(BigInt(await provider.call({ to: receipt.contractAddress! }))).toBe(42n)
  })

  it('an access-list transaction is mined and charged for its list', async () => {
    const key = await custody.importKey({ generate: true })
    await fund(key.address)
    const accessList = [
      { address: Wallet.createRandom().address, storageKeys: [`0x${'00'.repeat(31)}01`, `0x${'ab'.repeat(32)}`] },
      { address: Wallet.createRandom().address, storageKeys: [] },
    ]
    const receipt = await broadcast(await sign(key, { to: Wallet.createRandom().address, value: 1n, gas: 40_000n, accessList }))

    expect(receipt.status).toBe(1)
    // EIP-2930 intrinsic gas: 2400 per address and 1900 per storage key on top of 21000 (no code runs).
    expect(receipt.gasUsed).toBe(21_000n + 2n * 2400n + 2n * 1900n)
    const mined = await provider.getTransaction(receipt.hash)
    expect(mined!.type).toBe(2)
    expect(mined!.accessList).toEqual(accessList)
  })

  it('a transaction for another chain is signed, and anvil (not the custody stack) rejects it', async () => {
    const key = await custody.importKey({ generate: true })
    await fund(key.address)
    const nonce = BigInt(await provider.getTransactionCount(key.address))
    const signed = await sign(key, { chainId: 1n, nonce, to: Wallet.createRandom().address, value: 1n, gas: 21_000n })
    expect(Transaction.from(signed.rawTransaction).chainId).toBe(1n)

    await expect(provider.broadcastTransaction(signed.rawTransaction)).rejects.toThrow(/chain id/i)
    expect(BigInt(await provider.getTransactionCount(key.address, 'pending'))).toBe(nonce)
    expect(await provider.getTransaction(signed.hash)).toBeNull()
  })

  it('20 concurrent sign requests through the proxy all succeed with distinct hashes, and all are mined', async () => {
    const key = await custody.importKey({ generate: true })
    await fund(key.address)
    const recipient = Wallet.createRandom().address
    const start = BigInt(await provider.getTransactionCount(key.address))
    const fee = await fees()
    const nonces = Array.from({ length: 20 }, (_, i) => start + BigInt(i))

    const signed = await Promise.all(nonces.map((nonce) => custody.signEip1559(key.keyId, { chainId: CHAIN_ID, nonce, to: recipient, value: nonce + 1n, gas: 21_000n, ...fee })))

    expect(new Set(signed.map((s) => s.hash)).size).toBe(20)
    expect(signed.map((s) => BigInt(Transaction.from(s.rawTransaction).nonce))).toEqual(nonces)
    for (const s of signed) expect((await broadcast(s)).status).toBe(1)
    expect(BigInt(await provider.getTransactionCount(key.address))).toBe(start + 20n)
    expect(await provider.getBalance(recipient)).toBe(nonces.reduce((sum, n) => sum + n + 1n, 0n))
  })

  // Last: it shuts the stack down.
  it('close() stops anvil: its child process has exited and its RPC port no longer answers', async () => {
    const child = stack!.anvil!.process
    const pid = child.pid!
    expect(child.exitCode === null && child.signalCode === null).toBe(true)
    provider.destroy()

    await stack!.close()

    expect(child.exitCode !== null || child.signalCode !== null).toBe(true)
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }))
    const rpc = fetch(stack!.anvil!.rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
    })
    await expect(rpc).rejects.toThrow()
    await expect(fetch(`${stack!.proxyUrl}/healthz`)).rejects.toThrow()
  })
})
