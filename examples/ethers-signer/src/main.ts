/**
 * The app, configured from the environment (see ../.env.example).
 *
 *   cp .env.example .env && $EDITOR .env && pnpm start
 */
import { type CustodyClient, createCustodyClient, nitroEnclave, readCustodyEnvironment } from '@enclave-custody/sdk'
import { JsonRpcProvider } from 'ethers'
import { run } from './run.js'

try {
  process.loadEnvFile('.env')
} catch (e) {
  if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
}

function env(name: string, fallback?: string): string {
  const value = process.env[name] || fallback
  if (value === undefined) {
    console.error(`${name} is not set: copy .env.example to .env and fill it in`)
    process.exit(2)
  }
  return value
}

const provider = new JsonRpcProvider(env('CUSTODY_RPC_URL'))

let custody: CustodyClient | undefined
try {
  // The CUSTODY_* settings (see .env.example). The client attests the enclave (PCR0 allowlist, root) before its
  // first request, stamps every request with the API key and accepts only answers the attested enclave signed.
  const { url, attestation, headers, stamper } = readCustodyEnvironment()
  custody = createCustodyClient({ transport: nitroEnclave({ url, attestation, headers }), stamper })
  await run({ custody, keyId: env('CUSTODY_KEY_ID'), provider, to: env('TO'), value: BigInt(env('VALUE_WEI', '10000000000000')) })
} catch (e) {
  const err = e as { code?: string; message?: string }
  console.error(`failed: ${err.code ? `${err.code}: ` : ''}${err.message ?? String(e)}`)
  // Before the client exists, the failure is in the settings: exit code 2, as for the other variables.
  process.exitCode = custody ? 1 : 2
} finally {
  provider.destroy()
  await custody?.close()
}
