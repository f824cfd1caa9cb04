/**
 * The same example without Sepolia: starts the local custody stack (local KMS + Secrets Manager, the
 * enclave runtime with software attestation, the parent proxy) and anvil with chain id 11155111, makes an
 * API key for this run, creates a key in the enclave, funds it from anvil's first account, then runs the
 * example against it.
 *
 *   pnpm local
 */
// We support Node 20 (engines); the AWS SDK's notice about its future Node 22 requirement is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startDevStack } from '@enclave-custody/cli'
import { apiKeyStamper, createCustodyClient, generateApiKey, nitroEnclave, parseEther } from '@enclave-custody/sdk'
import { JsonRpcProvider, Wallet } from 'ethers'
import { DEFAULT_CHAIN_ID, run } from './run.js'

const dataDir = await mkdtemp(join(tmpdir(), 'custody-example-'))
const stack = await startDevStack({ dataDir, chainId: DEFAULT_CHAIN_ID })
const provider = new JsonRpcProvider(stack.anvil!.rpcUrl, DEFAULT_CHAIN_ID, { staticNetwork: true, pollingInterval: 100 })
// A fresh API key for this run; the client requires the local enclave's PCR0 and software NSM root (as
// CUSTODY_PCR0 / CUSTODY_ATTESTATION_ROOT do for `pnpm start`).
const custody = createCustodyClient({
  transport: nitroEnclave({ url: stack.proxyUrl, attestation: stack.attestation }),
  stamper: apiKeyStamper({ privateKey: generateApiKey().privateKey }),
  importer: stack.importer,
})
try {
  const { keyId, address } = await custody.importKey({ generate: true })
  await (await (await provider.getSigner(0)).sendTransaction({ to: address, value: parseEther('1') })).wait()
  const result = await run({ custody, keyId, provider, to: Wallet.createRandom().address, value: parseEther('0.01') })
  console.log(`\n${result.explorerUrl}  (the local anvil is not on Etherscan: the link shows the format)`)
} finally {
  provider.destroy()
  await custody.close()
  await stack.close()
  await rm(dataDir, { recursive: true, force: true })
}
