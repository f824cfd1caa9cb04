import { type CustodyClient, sepolia } from '@enclave-custody/sdk'
import { EnclaveSigner } from '@enclave-custody/sdk/ethers'
import type { Provider } from 'ethers'
import { type AppResult, app } from './app.js'

/** The chain this example targets (anvil runs it with this id in the tests). */
export const DEFAULT_CHAIN_ID = sepolia.id

export type RunParameters = {
  /** A custody client (`createCustodyClient`). */
  custody: CustodyClient
  keyId: string
  provider: Provider
  to: string
  /** Amount in wei. */
  value: bigint
  log?: (line: string) => void
}

/** Build the app's signer from the enclave key and run the app. */
export async function run({ custody, keyId, provider, to, value, log }: RunParameters): Promise<AppResult> {
  // Before: const signer = new Wallet(process.env.PRIVATE_KEY!, provider)
  const signer = await EnclaveSigner.create(custody, keyId, provider)
  return app(signer, { to, value, log })
}
