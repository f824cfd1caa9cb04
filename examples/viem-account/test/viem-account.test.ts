/**
 * The example against the local stack and anvil with the example's chain id (Sepolia, 11155111): the app
 * runs on an enclave account, and, for an imported key, produces exactly what it produced on
 * `privateKeyToAccount`.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type DevStack, startDevStack } from '@enclave-custody/cli'
import { apiKeyStamper, type CustodyClient, createCustodyClient, type GenerateApiKeyReturnType, generateApiKey, nitroEnclave } from '@enclave-custody/sdk'
import { type Address, createPublicClient, createWalletClient, http, parseEther, type PublicClient } from 'viem'
import { generatePrivateKey, privateKeyToAccount, privateKeyToAddress } from 'viem/accounts'
import { sepolia } from 'viem/chains'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { app } from '../src/app.js'
import { DEFAULT_CHAIN_ID, run } from '../src/run.js'

/** anvil's first default account, unlocked on the node. */
const ANVIL_ACCOUNT_0 = '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266'

const exampleDir = join(dirname(fileURLToPath(import.meta.url)), '..')

let dataDir: string | undefined
let stack: DevStack | undefined
let custody: CustodyClient
/** The suite's one API key: the test's client and `pnpm start` act as the same caller. */
let apiKey: GenerateApiKeyReturnType
let rpcUrl: string
let publicClient: PublicClient

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'custody-example-viem-'))
  stack = await startDevStack({ dataDir, chainId: DEFAULT_CHAIN_ID })
  rpcUrl = stack.anvil!.rpcUrl
  apiKey = generateApiKey()
  custody = createCustodyClient({
    transport: nitroEnclave({ url: stack.proxyUrl, attestation: stack.attestation }),
    stamper: apiKeyStamper({ privateKey: apiKey.privateKey }),
    importer: stack.importer,
  })
  publicClient = createPublicClient({ chain: sepolia, transport: http(rpcUrl), pollingInterval: 50 })
})

afterAll(async () => {
  await custody?.close()
  await stack?.close()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

async function fund(address: Address): Promise<void> {
  const hash = await createWalletClient({ account: ANVIL_ACCOUNT_0, chain: sepolia, transport: http(rpcUrl) }).sendTransaction({ to: address, value: parseEther('1') })
  expect((await publicClient.waitForTransactionReceipt({ hash })).status).toBe('success')
}

describe('example: viem-account', () => {
  it('the app pays, signs in and signs an order with an account generated in the enclave (chain 11155111)', async () => {
    expect(DEFAULT_CHAIN_ID).toBe(11155111)
    const key = await custody.importKey({ generate: true })
    await fund(key.address)
    const to = privateKeyToAddress(generatePrivateKey())
    const lines: string[] = []
    const result = await run({ custody, keyId: key.keyId, chain: sepolia, rpcUrl, to, value: parseEther('0.01'), log: (l) => lines.push(l) })
    expect(result).toMatchObject({ address: key.address, chainId: 11155111, status: 'success', verified: true })
    expect(await publicClient.getBalance({ address: to })).toBe(parseEther('0.01'))
    expect((await publicClient.getTransaction({ hash: result.hash })).from).toBe(key.address.toLowerCase())
    expect(lines).toHaveLength(4)
  })

  it('one line changed, same behaviour: for the same key the app signs byte for byte what it signed on privateKeyToAccount', async () => {
    const privateKey = generatePrivateKey()
    const key = await custody.importKey({ privateKey })
    await fund(key.address)
    const to = privateKeyToAddress(generatePrivateKey())
    const quiet = { log: () => {} }

    const localWallet = createWalletClient({ account: privateKeyToAccount(privateKey), chain: sepolia, transport: http(rpcUrl) })
    const before = await app(localWallet, publicClient, { to, value: 1000n, ...quiet }) // the app as it was
    const after = await run({ custody, keyId: key.keyId, chain: sepolia, rpcUrl, to, value: 1000n, ...quiet }) // on the enclave

    expect(after.address).toBe(before.address)
    expect(after.signature).toBe(before.signature) // RFC 6979: the same key signs the same message identically
    expect(after.orderSignature).toBe(before.orderSignature)
    expect([before.status, after.status]).toEqual(['success', 'success'])
    expect(await publicClient.getBalance({ address: to })).toBe(2000n)
  })

  it('`pnpm start` (src/main.ts) runs from the environment of .env.example: the local stack\'s PCR0 and root, the API key', async () => {
    const key = await custody.importKey({ generate: true })
    await fund(key.address)
    const to = privateKeyToAddress(generatePrivateKey())
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('CUSTODY_')))
    const env = {
      ...inherited,
      CUSTODY_URL: stack!.proxyUrl,
      CUSTODY_PCR0: stack!.pcr0,
      CUSTODY_ATTESTATION_ROOT: stack!.attestationRootFile,
      CUSTODY_API_KEY: apiKey.privateKey,
      CUSTODY_KEY_ID: key.keyId,
      CUSTODY_RPC_URL: rpcUrl,
      CHAIN_ID: '11155111',
      TO: to,
      VALUE_WEI: '4321',
    }
    const child = spawn(process.execPath, ['--conditions=@enclave-custody/source', '--import', 'tsx', 'src/main.ts'], { cwd: exampleDir, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (c: Buffer) => (output += c))
    child.stderr.on('data', (c: Buffer) => (output += c))
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    expect(output).toMatch(new RegExp(`^1\\. account ${key.address} on chain 11155111 \\(Sepolia\\)$`, 'm'))
    expect(output).toMatch(/^4\. signed an EIP-712 order: 0x[0-9a-f]{16}…; both signatures verify: true$/m)
    expect(output.toLowerCase()).not.toContain(apiKey.privateKey.slice(2).toLowerCase())
    expect(code).toBe(0)
    expect(await publicClient.getBalance({ address: to })).toBe(4321n)
  })
})
