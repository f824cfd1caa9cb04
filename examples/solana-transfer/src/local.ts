/**
 * The example against the local custody stack (no AWS, no Solana cluster): local KMS + Secrets Manager, the
 * enclave runtime with software attestation and the parent proxy, an API key made for the run, and litesvm
 * in-process as the chain.
 *
 *   pnpm local
 */
// We support Node 20 (engines); the AWS SDK's notice about its future Node 22 requirement is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startDevStack } from '@enclave-custody/cli'
import { apiKeyStamper, createCustodyClient, generateApiKey, nitroEnclave } from '@enclave-custody/sdk'
import { getAddressDecoder } from '@solana/kit'
import { LiteSVM } from 'litesvm'
import { run } from './run.js'

/** A fresh recipient: the public half of a new ed25519 key (its last 32 bytes of SPKI DER). */
const recipient = getAddressDecoder().decode(generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32))

const dataDir = await mkdtemp(join(tmpdir(), 'custody-example-solana-'))
const stack = await startDevStack({ dataDir, anvil: false })
// A fresh API key for this run; the client requires the local enclave's PCR0 and software NSM root.
const custody = createCustodyClient({
  transport: nitroEnclave({ url: stack.proxyUrl, attestation: stack.attestation }),
  stamper: apiKeyStamper({ privateKey: generateApiKey().privateKey }),
  importer: stack.importer,
})
try {
  await run({ custody, svm: new LiteSVM(), to: recipient })
} catch (e) {
  const err = e as { code?: string; shortMessage?: string; message?: string }
  console.error(`failed: ${err.code ? `${err.code}: ` : ''}${err.shortMessage ?? err.message ?? String(e)}`)
  process.exitCode = 1
} finally {
  await custody.close()
  await stack.close()
  await rm(dataDir, { recursive: true, force: true })
}
