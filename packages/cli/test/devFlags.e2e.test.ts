import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { JsonRpcProvider } from 'ethers'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { readDevEnv } from '../src/commands/devEnv.js'
import { type CustodyProcess, isListening, runCustody, spawnCustody, until } from './helpers.js'

// anvil's well-known dev account #1 (public test key, never used with real funds).
const TEST_KEY = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d'
const TEST_ADDRESS = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'

/** Alive and not a zombie (a container's init may not reap an orphan at once). */
async function alive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
  return stat !== '' && !/^\d+ \(.*\) Z /.test(stat)
}

/** Pids of a process's children whose command name is `name`. */
async function childrenNamed(pid: number, name: string): Promise<number[]> {
  const children = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).trim().split(/\s+/).filter(Boolean).map(Number)
  const named: number[] = []
  for (const child of children) if ((await readFile(`/proc/${child}/comm`, 'utf8').catch(() => '')).trim() === name) named.push(child)
  return named
}

/** A port nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

const running = new Set<CustodyProcess>()
afterEach(async () => {
  for (const p of running) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGKILL')
      await p.exited
    }
  }
  running.clear()
})

describe('custody dev: ports, .gitignore, list, address --json, sign --broadcast, kill -9', () => {
  let root: string
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'custody-dev-flags-'))
  })
  afterAll(() => rm(root, { recursive: true, force: true }))

  it('listens on --proxy-port and --rpc-port, ignores its data directory in git; sign fills from anvil and broadcasts; after kill -9 anvil is gone and commands say "is `custody dev` running?"', { timeout: 120_000 }, async () => {
    const dataDir = join(root, 'stack')
    const [proxyPort, rpcPort] = [await freePort(), await freePort()]
    const dev = spawnCustody(['dev', '--data-dir', dataDir, '--proxy-port', String(proxyPort), '--rpc-port', String(rpcPort)])
    running.add(dev)
    await until(() => dev.stdout().includes('custody dev is running') || dev.child.exitCode !== null, 60_000, 'custody dev start')
    expect(dev.stderr()).toBe('')
    const env = await readDevEnv(dataDir)
    expect(env.CUSTODY_URL).toBe(`http://127.0.0.1:${proxyPort}`)
    expect(env.CUSTODY_RPC_URL).toBe(`http://127.0.0.1:${rpcPort}`)
    expect(dev.stdout()).toMatch(new RegExp(`^ {2}proxy URL +http://127\\.0\\.0\\.1:${proxyPort}$`, 'm'))
    expect(await isListening(proxyPort)).toBe(true)
    expect(await isListening(rpcPort)).toBe(true)
    // The data directory (credentials, the dev API key, sealed records) stays out of git.
    expect((await readFile(join(dataDir, '.gitignore'), 'utf8')).split('\n')).toContain('*')

    // Keys with ids of different lengths: the table's columns line up.
    const keyFile = join(root, 'key.hex')
    await writeFile(keyFile, `${TEST_KEY}\n`, { mode: 0o600 })
    for (const keyId of ['a', 'treasury-hot-wallet-2']) {
      const imported = await runCustody(['import-key', '--dev', dataDir, '--private-key-file', keyFile, '--key-id', keyId])
      expect(imported.stderr).toBe('')
      expect(imported.code).toBe(0)
    }
    const listed = await runCustody(['list', '--dev', dataDir])
    expect(listed.stderr).toBe('')
    expect(listed.code).toBe(0)
    const lines = listed.stdout.trimEnd().split('\n')
    expect(lines).toHaveLength(3)
    expect(lines[0]).toMatch(/^KEY ID {17}ADDRESS {37}CREATED$/)
    expect(lines.slice(1).sort()).toEqual([
      expect.stringMatching(new RegExp(`^a {22}${TEST_ADDRESS}  \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z$`)),
      expect.stringMatching(new RegExp(`^treasury-hot-wallet-2  ${TEST_ADDRESS}  \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z$`)),
    ])
    for (const line of lines) expect([line.indexOf(' 0x') + 1 || line.indexOf('ADDRESS'), line.search(/\d{4}-\d\d-\d\dT|CREATED/)]).toEqual([23, 67])

    // address --json: one object, newline-terminated, as list --json prints the key.
    const address = await runCustody(['address', 'treasury-hot-wallet-2', '--json', '--dev', dataDir])
    expect(address.stderr).toBe('')
    expect(address.code).toBe(0)
    expect(address.stdout.endsWith('}\n')).toBe(true)
    expect(address.stdout.trimEnd().split('\n')).toHaveLength(1)
    const json = JSON.parse(address.stdout) as Record<string, unknown>
    expect(json).toMatchObject({ keyId: 'treasury-hot-wallet-2', address: TEST_ADDRESS, kind: 'secp256k1' })
    const all = JSON.parse((await runCustody(['list', '--json', '--dev', dataDir])).stdout) as Record<string, unknown>[]
    expect(all.find((k) => k.keyId === 'treasury-hot-wallet-2')).toEqual(json)
    expect(await runCustody(['address', 'a', '--dev', dataDir])).toEqual({ code: 0, stdout: `${TEST_ADDRESS}\n`, stderr: '' })

    // sign --rpc-url (here CUSTODY_RPC_URL of dev.env): the node fills nonce, fees and gas; --broadcast sends and waits.
    const recipient = '0x1111111111111111111111111111111111111111'
    const provider = new JsonRpcProvider(env.CUSTODY_RPC_URL, undefined, { staticNetwork: true, pollingInterval: 50 })
    try {
      const sent = await runCustody(['sign', 'a', '--dev', dataDir, '--to', recipient, '--value-ether', '0.5', '--broadcast'])
      expect(sent.code).toBe(0)
      const [, hash] = /^hash +(0x[0-9a-f]{64})$/m.exec(sent.stdout)!
      const receipt = await provider.getTransactionReceipt(hash!)
      expect(receipt?.status).toBe(1)
      const tx = await provider.getTransaction(hash!)
      expect(tx).toMatchObject({ from: TEST_ADDRESS, to: recipient, nonce: 0, gasLimit: 21_000n, chainId: 11155111n, type: 2 })
      expect(sent.stderr.split('\n')).toEqual([
        expect.stringMatching(new RegExp(`^from http://127\\.0\\.0\\.1:${rpcPort}: nonce 0, priority fee [0-9.]+ gwei, max fee [0-9.]+ gwei, gas 21000$`)),
        `sent ${hash}; waiting for the receipt`,
        `mined in block ${receipt!.blockNumber}: success (gas used 21000)`,
        '',
      ])
      expect(sent.stdout).toMatch(new RegExp(`^from +${TEST_ADDRESS}\\nblock +${receipt!.blockNumber}\\nstatus +success\\n$`, 'm'))
      expect(await provider.getBalance(recipient)).toBe(5n * 10n ** 17n)

      // The next nonce comes from the node's pending count; --json carries the receipt.
      const again = await runCustody(['sign', 'a', '--dev', dataDir, '--to', recipient, '--value-ether', '0.25', '--broadcast', '--json'])
      expect(again.code).toBe(0)
      const json = JSON.parse(again.stdout) as { hash: string; rawTransaction: string; receipt: { blockNumber: number; status: string; gasUsed: string } }
      expect(json.receipt).toMatchObject({ status: 'success', gasUsed: '21000' })
      expect((await provider.getTransaction(json.hash))?.nonce).toBe(1)
      expect(await provider.getBalance(recipient)).toBe(75n * 10n ** 16n)

      // Given fields are kept (a reused nonce: the node refuses it, named), a chain id other than the node's is refused.
      const reused = await runCustody(['sign', 'a', '--dev', dataDir, '--to', recipient, '--value-ether', '0.1', '--nonce', '0', '--broadcast'])
      expect(reused.code).toBe(1)
      expect(reused.stderr).toMatch(new RegExp(`^custody sign: the node at http://127\\.0\\.0\\.1:${rpcPort} refused eth_sendRawTransaction: .*nonce`, 'mi'))
      const otherChain = await runCustody(['sign', 'a', '--dev', dataDir, '--to', recipient, '--value-ether', '0.1', '--chain-id', '1', '--broadcast'])
      expect(otherChain).toEqual({ code: 1, stdout: '', stderr: `custody sign: --chain-id 1 is not the chain of the node at http://127.0.0.1:${rpcPort} (chain id 11155111)\n` })
      // Every field given and no --broadcast: signed offline, the node is not asked (nothing on stderr).
      const offline = await runCustody(['sign', 'a', '--dev', dataDir, '--to', recipient, '--value-ether', '0.1', '--nonce', '9', '--gas', '21000', '--max-fee-gwei', '3', '--max-priority-gwei', '1'])
      expect(offline).toMatchObject({ code: 0, stderr: '' })
      expect(await provider.getTransactionCount(TEST_ADDRESS)).toBe(2)

      // A contract whose every call reverts (runtime code PUSH1 0 PUSH1 0 REVERT), deployed by anvil's first account.
      const deployed = await (await (await provider.getSigner(0)).sendTransaction({ data: '0x6005600c60003960056000f360006000fd' })).wait()
      const reverter = deployed!.contractAddress!
      // The node cannot estimate gas for a call that reverts: nothing is signed or sent, the node's refusal is named.
      const unestimable = await runCustody(['sign', 'a', '--dev', dataDir, '--to', reverter, '--value-ether', '0', '--broadcast'])
      expect(unestimable).toMatchObject({ code: 1, stdout: '' })
      expect(unestimable.stderr).toMatch(new RegExp(`^custody sign: the node at http://127\\.0\\.0\\.1:${rpcPort} refused eth_estimateGas: .*revert`, 'mi'))
      // With the gas given, it is signed, sent and mined, and reverts: exit 1, the receipt's status on stdout.
      const reverted = await runCustody(['sign', 'a', '--dev', dataDir, '--to', reverter, '--value-ether', '0', '--gas', '50000', '--broadcast'])
      const [, revertedHash] = /^hash +(0x[0-9a-f]{64})$/m.exec(reverted.stdout)!
      const revertedReceipt = await provider.getTransactionReceipt(revertedHash!)
      expect(revertedReceipt?.status).toBe(0)
      expect(reverted.code).toBe(1)
      expect(reverted.stdout).toMatch(new RegExp(`^block +${revertedReceipt!.blockNumber}\\nstatus +reverted\\n$`, 'm'))
      expect(reverted.stderr.split('\n').slice(-3)).toEqual([
        `mined in block ${revertedReceipt!.blockNumber}: reverted (gas used ${revertedReceipt!.gasUsed})`,
        `custody sign: the transaction reverted in block ${revertedReceipt!.blockNumber} (its hash is on stdout)`,
        '',
      ])
      expect(await provider.getTransactionCount(TEST_ADDRESS)).toBe(3)
    } finally {
      provider.destroy()
    }

    // kill -9 of custody dev: no handler runs, yet anvil (its child) stops within a few seconds.
    const [anvilPid] = await childrenNamed(dev.child.pid!, 'anvil')
    expect(anvilPid).toBeGreaterThan(0)
    dev.child.kill('SIGKILL')
    await dev.exited
    await until(async () => !(await alive(anvilPid!)), 5_000, 'anvil gone after kill -9 of custody dev')
    await until(async () => !(await isListening(rpcPort)), 5_000, 'anvil port closed')

    // dev.env was left behind (nothing ran to remove it): a command that uses it says what is wrong.
    const stale = await runCustody(['list', '--dev', dataDir])
    expect(stale).toEqual({ code: 1, stdout: '', stderr: `custody list: cannot reach the custody proxy at http://127.0.0.1:${proxyPort}: is \`custody dev\` running?\n` })
  })

  it('refuses --rpc-port with --no-anvil', { timeout: 60_000 }, async () => {
    const noAnvil = await runCustody(['dev', '--data-dir', join(root, 'x'), '--no-anvil', '--rpc-port', '8545'])
    expect(noAnvil.code).toBe(2)
    expect(noAnvil.stderr).toBe('custody dev: --rpc-port is the port of anvil: drop --no-anvil or --rpc-port (run `custody dev --help`)\n')
  })
})
