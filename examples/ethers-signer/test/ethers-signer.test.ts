/**
 * The example against the local stack and anvil with the example's chain id (Sepolia, 11155111): the app
 * runs on an enclave key, and, for an imported key, produces exactly what it produced on a `Wallet`.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type DevStack, startDevStack } from '@enclave-custody/cli'
import { apiKeyStamper, type CustodyClient, createCustodyClient, type GenerateApiKeyReturnType, generateApiKey, nitroEnclave, parseEther } from '@enclave-custody/sdk'
import { JsonRpcProvider, Wallet } from 'ethers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { app } from '../src/app.js'
import { DEFAULT_CHAIN_ID, run } from '../src/run.js'

const exampleDir = join(dirname(fileURLToPath(import.meta.url)), '..')

let dataDir: string | undefined
let stack: DevStack | undefined
let custody: CustodyClient
/** The suite's one API key: the test's client and `pnpm start` act as the same caller. */
let apiKey: GenerateApiKeyReturnType
let provider: JsonRpcProvider

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'custody-example-ethers-'))
  stack = await startDevStack({ dataDir, chainId: DEFAULT_CHAIN_ID })
  // cacheTimeout -1: ethers otherwise replays an identical call made in the last 250 ms (stale nonces).
  provider = new JsonRpcProvider(stack.anvil!.rpcUrl, DEFAULT_CHAIN_ID, { staticNetwork: true, pollingInterval: 50, cacheTimeout: -1 })
  apiKey = generateApiKey()
  custody = createCustodyClient({
    transport: nitroEnclave({ url: stack.proxyUrl, attestation: stack.attestation }),
    stamper: apiKeyStamper({ privateKey: apiKey.privateKey }),
    importer: stack.importer,
  })
})

afterAll(async () => {
  provider?.destroy()
  await custody?.close()
  await stack?.close()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

async function fund(address: string): Promise<void> {
  const receipt = await (await (await provider.getSigner(0)).sendTransaction({ to: address, value: parseEther('1') })).wait()
  expect(receipt?.status).toBe(1)
}

describe('example: ethers-signer', () => {
  it('the app pays, signs in and signs an order with a key generated in the enclave (chain 11155111)', async () => {
    expect(DEFAULT_CHAIN_ID).toBe(11155111)
    const key = await custody.importKey({ generate: true })
    await fund(key.address)
    const to = Wallet.createRandom().address
    const lines: string[] = []
    const result = await run({ custody, keyId: key.keyId, provider, to, value: parseEther('0.01'), log: (l) => lines.push(l) })
    expect(result).toMatchObject({ address: key.address, chainId: 11155111n, status: 1, verified: true })
    expect(await provider.getBalance(to)).toBe(parseEther('0.01'))
    expect((await provider.getTransaction(result.hash))?.from).toBe(key.address)
    expect(lines).toHaveLength(4)
  })

  it('one line changed, same behaviour: for the same key the app signs byte for byte what it signed on a Wallet', async () => {
    const wallet = Wallet.createRandom()
    const key = await custody.importKey({ privateKey: wallet.privateKey })
    await fund(key.address)
    const to = Wallet.createRandom().address
    const quiet = { log: () => {} }

    const before = await app(new Wallet(wallet.privateKey, provider), { to, value: 1000n, ...quiet }) // the app as it was
    const after = await run({ custody, keyId: key.keyId, provider, to, value: 1000n, ...quiet }) // the app on the enclave

    expect(after.address).toBe(before.address)
    expect(after.signature).toBe(before.signature) // RFC 6979: the same key signs the same message identically
    expect(after.orderSignature).toBe(before.orderSignature)
    expect([before.status, after.status]).toEqual([1, 1])
    expect(await provider.getBalance(to)).toBe(2000n)
    expect(await provider.getTransactionCount(key.address)).toBe(2)
  })

  it('`pnpm start` (src/main.ts) runs from the environment of .env.example: the local stack\'s PCR0 and root, the API key', async () => {
    const key = await custody.importKey({ generate: true })
    await fund(key.address)
    const to = Wallet.createRandom().address
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('CUSTODY_')))
    const env = {
      ...inherited,
      CUSTODY_URL: stack!.proxyUrl,
      CUSTODY_PCR0: stack!.pcr0,
      CUSTODY_ATTESTATION_ROOT: stack!.attestationRootFile,
      CUSTODY_API_KEY: apiKey.privateKey,
      CUSTODY_KEY_ID: key.keyId,
      CUSTODY_RPC_URL: stack!.anvil!.rpcUrl,
      TO: to,
      VALUE_WEI: '4321',
    }
    const child = spawn(process.execPath, ['--conditions=@enclave-custody/source', '--import', 'tsx', 'src/main.ts'], { cwd: exampleDir, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (c: Buffer) => (output += c))
    child.stderr.on('data', (c: Buffer) => (output += c))
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    expect(output).toMatch(new RegExp(`^1\\. signer ${key.address} on chain 11155111$`, 'm'))
    expect(output).toMatch(/^4\. signed an EIP-712 order: 0x[0-9a-f]{16}…; both signatures recover to the signer: true$/m)
    expect(output.toLowerCase()).not.toContain(apiKey.privateKey.slice(2).toLowerCase())
    expect(code).toBe(0)
    expect(await provider.getBalance(to)).toBe(4321n)
  })
})
