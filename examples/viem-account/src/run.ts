import type { CustodyClient } from '@enclave-custody/sdk'
import { toEnclaveAccount } from '@enclave-custody/sdk/viem'
import { type Address, type Chain, createPublicClient, createWalletClient, http } from 'viem'
import { sepolia } from 'viem/chains'
import { type AppResult, app } from './app.js'

/** The chain this example targets (anvil runs it with this id in the tests). */
export const DEFAULT_CHAIN_ID = sepolia.id

export type RunParameters = {
  /** A custody client (`createCustodyClient`). */
  custody: CustodyClient
  keyId: string
  /** viem's definition of the chain (`viem/chains`), and the node to talk to. */
  chain: Chain
  rpcUrl: string
  to: Address
  /** Amount in wei. */
  value: bigint
  log?: (line: string) => void
}

/** Build the app's wallet client around the enclave key and run the app. */
export async function run({ custody, keyId, chain, rpcUrl, to, value, log }: RunParameters): Promise<AppResult> {
  const wallet = createWalletClient({
    // Before: account: privateKeyToAccount(process.env.PRIVATE_KEY as Hex),
    account: await toEnclaveAccount(custody, keyId),
    chain,
    transport: http(rpcUrl),
  })
  const publicClient = createPublicClient({ chain, transport: http(rpcUrl), pollingInterval: 250 })
  return app(wallet, publicClient, { to, value, log })
}
