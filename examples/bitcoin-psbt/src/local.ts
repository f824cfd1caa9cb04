/**
 * The example against the local custody stack (no AWS, no bitcoind): local KMS + Secrets Manager, the enclave
 * runtime with software attestation and the parent proxy, an API key made for the run.
 *
 *   pnpm local
 */
// We support Node 20 (engines); the AWS SDK's notice about its future Node 22 requirement is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startDevStack } from '@enclave-custody/cli'
import { apiKeyStamper, createCustodyClient, generateApiKey, nitroEnclave } from '@enclave-custody/sdk'
import { run } from './run.js'

/** Two regtest P2WPKH addresses: the payee (BIP-173's example program) and one the policy does not list. */
const PAYEE = 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080'
const OTHER = 'bcrt1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qzf4jry'

const dataDir = await mkdtemp(join(tmpdir(), 'custody-example-bitcoin-'))
const stack = await startDevStack({ dataDir, anvil: false })
// A fresh API key for this run; the client requires the local enclave's PCR0 and software NSM root.
const custody = createCustodyClient({
  transport: nitroEnclave({ url: stack.proxyUrl, attestation: stack.attestation }),
  stamper: apiKeyStamper({ privateKey: generateApiKey().privateKey }),
  importer: stack.importer,
})
try {
  await run({ custody, to: PAYEE, other: OTHER })
} catch (e) {
  const err = e as { code?: string; shortMessage?: string; message?: string }
  console.error(`failed: ${err.code ? `${err.code}: ` : ''}${err.shortMessage ?? err.message ?? String(e)}`)
  process.exitCode = 1
} finally {
  await custody.close()
  await stack.close()
  await rm(dataDir, { recursive: true, force: true })
}
