/**
 * The app, configured from the environment (see ../.env.example).
 *
 *   cp .env.example .env && $EDITOR .env && pnpm start
 */
import { createCustodyClient, nitroEnclave } from '@enclave-custody/sdk'
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

const token = process.env.CUSTODY_TOKEN
const custody = createCustodyClient({
  transport: nitroEnclave({ url: env('CUSTODY_URL'), headers: token ? { authorization: `Bearer ${token}` } : {} }),
})
const provider = new JsonRpcProvider(env('RPC_URL'))

try {
  await run({ custody, keyId: env('CUSTODY_KEY_ID'), provider, to: env('TO'), value: BigInt(env('VALUE_WEI', '10000000000000')) })
} catch (e) {
  const err = e as { code?: string; message?: string }
  console.error(`failed: ${err.code ? `${err.code}: ` : ''}${err.message ?? String(e)}`)
  process.exitCode = 1
} finally {
  provider.destroy()
  await custody.close()
}
