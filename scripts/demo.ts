/**
 * The main job, locally and without AWS: anvil (chain id 11155111) + enclave runtime + parent proxy;
 * a key generated inside the enclave (or imported from CUSTODY_DEMO_PRIVATE_KEY), funded from an anvil
 * account, an EIP-1559 transfer of 0.01 ETH signed through the SDK, broadcast with ethers, mined.
 *
 * Usage: pnpm demo [--keep-data] [--help]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { type DevStack, startDevStack } from '@enclave-custody/cli'
import { createCustodyClient, formatEther, nitroEnclave, parseEther } from '@enclave-custody/sdk'
import { JsonRpcProvider } from 'ethers'

const { values } = parseArgs({ options: { help: { type: 'boolean', short: 'h' }, 'keep-data': { type: 'boolean' } } })
if (values.help) {
  console.log(`pnpm demo — sign and broadcast an EIP-1559 transfer through the local custody stack

  --keep-data   keep the temporary data directory (sealed keys) after the run
  -h, --help    this help

Env: CUSTODY_DEMO_PRIVATE_KEY=0x… imports that key instead of generating one in the enclave.`)
  process.exit(0)
}

const step = (line: string) => console.log(`• ${line}`)
const dataDir = await mkdtemp(join(tmpdir(), 'custody-demo-'))
let stack: DevStack | undefined
let exiting: Promise<never> | undefined

/** Stop everything once; the first caller's exit code wins (Ctrl-C stays 130 even if the flow then fails). */
function cleanup(code: number): Promise<never> {
  exiting ??= (async () => {
    await stack?.close()
    if (!values['keep-data']) await rm(dataDir, { recursive: true, force: true })
    process.exit(code)
  })()
  return exiting
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    if (!exiting) console.error(`\n${signal}: stopping`)
    void cleanup(130)
  })
}

try {
  stack = await startDevStack({ dataDir, onProgress: step })
  const provider = new JsonRpcProvider(stack.anvil!.rpcUrl, undefined, { staticNetwork: true, pollingInterval: 100 })
  const custody = createCustodyClient({ transport: nitroEnclave({ url: stack.proxyUrl }) })

  const imported = process.env.CUSTODY_DEMO_PRIVATE_KEY
  const key = imported ? await custody.importKey({ privateKey: imported }) : await custody.importKey({ generate: true })
  step(`${imported ? 'imported' : 'generated in the enclave'}: key ${key.keyId} → ${key.address}`)

  const funder = await provider.getSigner(0)
  const fund = await funder.sendTransaction({ to: key.address, value: parseEther('1') })
  await fund.wait()
  step(`funded with 1 ETH from anvil account ${await funder.getAddress()}`)

  const recipient = await (await provider.getSigner(1)).getAddress()
  const [nonce, block, network] = await Promise.all([provider.getTransactionCount(key.address, 'pending'), provider.getBlock('latest'), provider.getNetwork()])
  const maxPriorityFeePerGas = 1_000_000_000n
  const maxFeePerGas = (block!.baseFeePerGas ?? 0n) * 2n + maxPriorityFeePerGas
  const signed = await custody.signEip1559(key.keyId, {
    chainId: network.chainId,
    nonce,
    to: recipient,
    value: parseEther('0.01'),
    gas: 21_000n,
    maxFeePerGas,
    maxPriorityFeePerGas,
  })
  step('signed an EIP-1559 transfer of 0.01 ETH in the enclave')

  const sent = await provider.broadcastTransaction(signed.rawTransaction)
  const receipt = await sent.wait()
  const balance = await provider.getBalance(key.address)
  console.log(`
key address   ${key.address}
tx hash       ${signed.hash}
status        ${receipt?.status === 1 ? '1 (success)' : String(receipt?.status)}
gas used      ${receipt?.gasUsed}
block         ${receipt?.blockNumber}
balance now   ${formatEther(balance)} ETH`)
  await cleanup(receipt?.status === 1 ? 0 : 1)
} catch (e) {
  if (!exiting) {
    const err = e as { code?: string; message?: string }
    console.error(`demo failed: ${err.code ? `${err.code}: ` : ''}${err.message ?? String(e)}`)
  }
  await cleanup(1)
}
