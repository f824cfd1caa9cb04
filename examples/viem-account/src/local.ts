/**
 * The app against the local custody stack and anvil (chain id 11155111), no Sepolia needed: an API key
 * is made for the run, the local enclave attested, a key generated in the enclave and funded from anvil's
 * first account.
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
import { createPublicClient, createWalletClient, http } from 'viem'
import { generatePrivateKey, privateKeyToAddress } from 'viem/accounts'
import { sepolia } from 'viem/chains'
import { DEFAULT_CHAIN_ID, run } from './run.js'

/** anvil's first default account, unlocked on the node. */
const ANVIL_ACCOUNT_0 = '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266'

const dataDir = await mkdtemp(join(tmpdir(), 'custody-example-'))
const stack = await startDevStack({ dataDir, chainId: DEFAULT_CHAIN_ID })
// A fresh API key for this run; the client requires the local enclave's PCR0 and software NSM root (as
// CUSTODY_PCR0 / CUSTODY_ATTESTATION_ROOT do for `pnpm start`).
const custody = createCustodyClient({
  transport: nitroEnclave({ url: stack.proxyUrl, attestation: stack.attestation }),
  stamper: apiKeyStamper({ privateKey: generateApiKey().privateKey }),
  importer: stack.importer,
})
try {
  const rpcUrl = stack.anvil!.rpcUrl
  const { keyId, address } = await custody.importKey({ generate: true })
  const funding = await createWalletClient({ account: ANVIL_ACCOUNT_0, chain: sepolia, transport: http(rpcUrl) }).sendTransaction({ to: address, value: parseEther('1') })
  await createPublicClient({ chain: sepolia, transport: http(rpcUrl) }).waitForTransactionReceipt({ hash: funding })
  await run({ custody, keyId, chain: sepolia, rpcUrl, to: privateKeyToAddress(generatePrivateKey()), value: parseEther('0.01') })
} finally {
  await custody.close()
  await stack.close()
  await rm(dataDir, { recursive: true, force: true })
}
