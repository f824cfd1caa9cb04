/**
 * Test helper for the adapters' *.anvil.test.ts suites (outside src/, so that it never ships in the package):
 * the local stack (`startDevStack`: parent proxy, enclave runtime, local AWS, anvil) and a custody client that
 * attests it.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type DevStack, startDevStack } from '@enclave-custody/cli'
import { type Chain, createPublicClient, createWalletClient, type Hex, http } from 'viem'
import { sepolia } from 'viem/chains'
import { apiKeyStamper } from '../src/auth/apiKeyStamper.js'
import { generateApiKey } from '../src/auth/generateApiKey.js'
import { type AuditReceipt, type CustodyClient, createCustodyClient } from '../src/client/createCustodyClient.js'
import { nitroEnclave } from '../src/transports/nitroEnclave.js'

/** anvil's first default account (unlocked on the node): pays for the keys' funding. */
export const ANVIL_ACCOUNT_0 = '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266'

export type LocalStack = {
  stack: DevStack
  /** anvil's JSON-RPC URL (chain id 11155111, sepolia's). */
  rpcUrl: string
  /** viem's sepolia pointed at anvil. */
  chain: Chain
  /** A client with one API key, attesting the stack's enclave (its PCR0, the software NSM root). */
  custody: CustodyClient
  /** One receipt per answer the client verified (signed by the attested enclave's response key), in order. */
  receipts: AuditReceipt[]
  /** Send `value` wei from anvil account 0 to `address` and wait until it is mined. */
  fund(address: Hex | string, value: bigint): Promise<void>
  close(): Promise<void>
}

/**
 * Start the local stack in a fresh temporary data directory. Call `close()` in `afterAll` (it also runs when
 * the start fails half-way, so a failed `beforeAll` leaves nothing behind).
 *
 * @param name - Prefix of the data directory's name.
 */
export async function startLocalStack(name: string): Promise<LocalStack> {
  const dataDir = await mkdtemp(join(tmpdir(), `${name}-`))
  let stack: DevStack | undefined
  let custody: CustodyClient | undefined
  const close = async () => {
    await custody?.close()
    await stack?.close()
    await rm(dataDir, { recursive: true, force: true })
  }
  try {
    stack = await startDevStack({ dataDir })
    const receipts: AuditReceipt[] = []
    custody = createCustodyClient({
      transport: nitroEnclave({ url: stack.proxyUrl, attestation: stack.attestation }),
      stamper: apiKeyStamper(generateApiKey()),
      importer: stack.importer,
      onReceipt: (r) => receipts.push(r),
    })
    const rpcUrl = stack.anvil!.rpcUrl
    const chain: Chain = { ...sepolia, rpcUrls: { default: { http: [rpcUrl] } } }
    const node = createPublicClient({ chain, transport: http(), pollingInterval: 50 })
    const funder = createWalletClient({ chain, transport: http(), account: ANVIL_ACCOUNT_0 })
    const fund = async (address: Hex | string, value: bigint) => {
      const hash = await funder.sendTransaction({ to: address as Hex, value })
      const receipt = await node.waitForTransactionReceipt({ hash })
      if (receipt.status !== 'success') throw new Error(`funding ${address} failed`)
    }
    return { stack, rpcUrl, chain, custody, receipts, fund, close }
  } catch (e) {
    await close()
    throw e
  }
}
