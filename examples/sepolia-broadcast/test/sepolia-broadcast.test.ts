/**
 * The example against the local stack and anvil with the example's chain id (Sepolia, 11155111), then the
 * same code on other chain ids: a preset (Hoodi), a custom chain without explorer, and the refusals.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Anvil, type DevStack, startAnvil, startDevStack } from '@enclave-custody/cli'
import {
  apiKeyStamper,
  type CustodyClient,
  createCustodyClient,
  defineChain,
  type GenerateApiKeyReturnType,
  generateApiKey,
  type KeyInfo,
  nitroEnclave,
  parseEther,
  readCustodyEnvironment,
} from '@enclave-custody/sdk'
import { JsonRpcProvider, Transaction, Wallet } from 'ethers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_CHAIN_ID, run } from '../src/run.js'

const exampleDir = join(dirname(fileURLToPath(import.meta.url)), '..')

let dataDir: string | undefined
let stack: DevStack | undefined
let custody: CustodyClient
/** The suite's one API key: the test's client and `pnpm start` act as the same caller. */
let apiKey: GenerateApiKeyReturnType
const providers: JsonRpcProvider[] = []

/** A provider for tests: no response cache (stale nonces), fast polling, the chain id pinned. */
function providerFor(rpcUrl: string, chainId: number): JsonRpcProvider {
  const provider = new JsonRpcProvider(rpcUrl, chainId, { staticNetwork: true, pollingInterval: 50, cacheTimeout: -1 })
  providers.push(provider)
  return provider
}

/** A key generated in the enclave, funded with 1 ETH from anvil account 0 on `provider`'s chain. */
async function fundedKey(provider: JsonRpcProvider): Promise<KeyInfo> {
  const key = await custody.importKey({ generate: true })
  const receipt = await (await (await provider.getSigner(0)).sendTransaction({ to: key.address, value: parseEther('1') })).wait()
  expect(receipt?.status).toBe(1)
  return key
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'custody-example-broadcast-'))
  stack = await startDevStack({ dataDir, chainId: DEFAULT_CHAIN_ID })
  apiKey = generateApiKey()
  custody = createCustodyClient({
    transport: nitroEnclave({ url: stack.proxyUrl, attestation: stack.attestation }),
    stamper: apiKeyStamper({ privateKey: apiKey.privateKey }),
    importer: stack.importer,
  })
})

afterAll(async () => {
  for (const p of providers) p.destroy()
  await custody?.close()
  await stack?.close()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

describe('example: sepolia-broadcast', () => {
  it('signs through the custody client, broadcasts, links Etherscan and waits for the receipt (chain 11155111)', async () => {
    expect(DEFAULT_CHAIN_ID).toBe(11155111)
    const provider = providerFor(stack!.anvil!.rpcUrl, DEFAULT_CHAIN_ID)
    const key = await fundedKey(provider)
    const to = Wallet.createRandom().address
    const lines: string[] = []
    const result = await run({ custody, keyId: key.keyId, provider, to, value: parseEther('0.01'), log: (l) => lines.push(l) })

    expect(result).toMatchObject({ from: key.address, to, value: parseEther('0.01'), chainId: 11155111, status: 'success', gasUsed: 21000n })
    expect(result.explorerUrl).toBe(`https://sepolia.etherscan.io/tx/${result.hash}`)
    expect(await provider.getBalance(to)).toBe(parseEther('0.01'))
    const mined = await provider.getTransaction(result.hash)
    expect(mined).toMatchObject({ from: key.address, type: 2, chainId: 11155111n, nonce: 0 })
    expect(lines.map((l) => l.slice(0, 2))).toEqual(['1.', '2.', '3.', '4.', '5.'])
    expect(lines[3]).toBe(`4. broadcast: https://sepolia.etherscan.io/tx/${result.hash}`)
  })

  it('targets another chain id by configuration alone: Hoodi (560048) links hoodi.etherscan.io', async () => {
    let anvil: Anvil | undefined
    try {
      anvil = await startAnvil({ chainId: 560048 })
      const provider = providerFor(anvil.rpcUrl, 560048)
      const key = await fundedKey(provider)
      const result = await run({ custody, keyId: key.keyId, provider, chainId: 560048, to: Wallet.createRandom().address, value: 1n, log: () => {} })
      expect(result.explorerUrl).toBe(`https://hoodi.etherscan.io/tx/${result.hash}`)
      expect(Transaction.from((await provider.getTransaction(result.hash))!).chainId).toBe(560048n)
    } finally {
      await anvil?.stop()
    }
  })

  it('a custom chain id without preset works too, with a defineChain explorer or without one', async () => {
    let anvil: Anvil | undefined
    try {
      anvil = await startAnvil({ chainId: 31337 })
      const provider = providerFor(anvil.rpcUrl, 31337)
      const key = await fundedKey(provider)
      const lines: string[] = []
      const plain = await run({ custody, keyId: key.keyId, provider, chainId: 31337, to: Wallet.createRandom().address, value: 1n, log: (l) => lines.push(l) })
      expect(plain.explorerUrl).toBeUndefined()
      expect(lines[3]).toBe(`4. broadcast: ${plain.hash} (no explorer for chain 31337)`)

      const chain = defineChain({ id: 31337, name: 'Devnet', explorer: { name: 'Devscan', url: 'https://scan.devnet.example/' } })
      const linked = await run({ custody, keyId: key.keyId, provider, chainId: 31337, chain, to: Wallet.createRandom().address, value: 1n, log: () => {} })
      expect(linked.explorerUrl).toBe(`https://scan.devnet.example/tx/${linked.hash}`)
    } finally {
      await anvil?.stop()
    }
  })

  it('refuses, before signing, an RPC on another chain and a retired testnet such as Rinkeby', async () => {
    const provider = providerFor(stack!.anvil!.rpcUrl, DEFAULT_CHAIN_ID)
    const key = await fundedKey(provider)
    const params = { custody, keyId: key.keyId, provider, to: Wallet.createRandom().address, value: 1n, log: () => {} }
    await expect(run({ ...params, chainId: 560048 })).rejects.toThrow('the RPC endpoint is on chain 11155111, not 560048: refusing to sign')
    await expect(run({ ...params, chainId: 4 })).rejects.toThrow('"chainId" 4 is Rinkeby, a retired testnet: use sepolia (11155111) or hoodi (560048)')
    expect(await provider.getTransactionCount(key.address)).toBe(0)
  })

  /** Run `pnpm start` (src/main.ts) with exactly these custody variables (none inherited from the shell). */
  async function start(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('CUSTODY_')))
    const child = spawn(process.execPath, ['--conditions=@enclave-custody/source', '--import', 'tsx', 'src/main.ts'], {
      cwd: exampleDir,
      env: { ...inherited, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (c: Buffer) => (output += c))
    child.stderr.on('data', (c: Buffer) => (output += c))
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    return { code, output }
  }

  /** The deployment's variables for the local stack: its proxy, PCR0 and software NSM root. */
  const deployment = () => ({ CUSTODY_URL: stack!.proxyUrl, CUSTODY_PCR0: stack!.pcr0, CUSTODY_ATTESTATION_ROOT: stack!.attestationRootFile })

  it('`pnpm start` (src/main.ts) runs from the environment of .env.example: API key inline, then from a key file', async () => {
    const provider = providerFor(stack!.anvil!.rpcUrl, DEFAULT_CHAIN_ID)
    const key = await fundedKey(provider)
    const to = Wallet.createRandom().address
    const chain = { CUSTODY_KEY_ID: key.keyId, CUSTODY_RPC_URL: stack!.anvil!.rpcUrl, CHAIN_ID: '11155111', TO: to, VALUE_WEI: '12345' }
    const keyFile = join(dataDir!, 'api-key.json')
    await writeFile(keyFile, JSON.stringify(apiKey), { mode: 0o600 })

    const credentials: Record<string, string>[] = [{ CUSTODY_API_KEY: apiKey.privateKey }, { CUSTODY_API_KEY_FILE: keyFile }]
    for (const credential of credentials) {
      const { code, output } = await start({ ...deployment(), ...credential, ...chain })
      expect(output).toMatch(/^5\. success in block \d+ \(1 confirmation\), gas used 21000$/m)
      expect(output).toMatch(/^https:\/\/sepolia\.etherscan\.io\/tx\/0x[0-9a-f]{64}$/m)
      expect(output.toLowerCase()).not.toContain(apiKey.privateKey.slice(2).toLowerCase())
      expect(code).toBe(0)
    }
    expect(await provider.getBalance(to)).toBe(2n * 12345n)
  })

  it('`pnpm start` without CUSTODY_PCR0 or an API key stops before any request, naming the variable', async () => {
    const base = { ...deployment(), CUSTODY_KEY_ID: 'k', CUSTODY_RPC_URL: stack!.anvil!.rpcUrl, TO: Wallet.createRandom().address }
    const { CUSTODY_PCR0: _, ...noPcr0 } = base
    const missingPcr0 = await start({ ...noPcr0, CUSTODY_API_KEY: apiKey.privateKey })
    expect([missingPcr0.code, missingPcr0.output.trim()]).toEqual([2, expect.stringMatching(/^failed: INVALID_ARGUMENT: "CUSTODY_PCR0" is not set \(/)])
    expect(missingPcr0.output.toLowerCase()).not.toContain(apiKey.privateKey.slice(2).toLowerCase())
    const missingKey = await start(base)
    expect([missingKey.code, missingKey.output.trim()]).toEqual([2, expect.stringMatching(/^failed: INVALID_ARGUMENT: "CUSTODY_API_KEY" is not set \(.*\), nor CUSTODY_API_KEY_FILE/)])
  })

  it('the client built from the environment refuses an enclave outside the PCR0 allowlist or under another root', async () => {
    const stamp = { CUSTODY_API_KEY: apiKey.privateKey }
    const attempt = async (env: Record<string, string>) => {
      const { url, attestation, stamper } = readCustodyEnvironment(env)
      const client = createCustodyClient({ transport: nitroEnclave({ url, attestation }), stamper })
      try {
        return await client.listKeys().then(
          () => 'answered',
          (e: { code?: string; message?: string }) => `${e.code}: ${e.message}`,
        )
      } finally {
        await client.close()
      }
    }
    expect(await attempt({ ...deployment(), ...stamp })).toBe('answered')
    expect(await attempt({ ...deployment(), ...stamp, CUSTODY_PCR0: 'ab'.repeat(48) })).toMatch(/^ATTESTATION_FAILED: .*is not in the allowlist/)
    // Without CUSTODY_ATTESTATION_ROOT the AWS Nitro root is required, which the local software NSM is not.
    const { CUSTODY_ATTESTATION_ROOT: _, ...awsRoot } = deployment()
    expect(await attempt({ ...awsRoot, ...stamp })).toMatch(/^ATTESTATION_FAILED: /)
  })
})
