import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { JsonRpcProvider, Transaction } from 'ethers'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { readDevEnv } from '../src/commands/devEnv.js'
import { type CustodyProcess, isListening, runCustody, spawnCustody, until } from './helpers.js'

// anvil's well-known dev account #1 (public test key, never used with real funds).
const TEST_KEY = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d'
const TEST_ADDRESS = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'

const portOf = (url: string) => Number(new URL(url).port)
const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Pids of a process's children running `name` (tsx also has an esbuild child). */
async function childrenNamed(pid: number, name: string): Promise<number[]> {
  const children = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).trim().split(/\s+/).filter(Boolean).map(Number)
  const named: number[] = []
  for (const child of children) if ((await readFile(`/proc/${child}/comm`, 'utf8').catch(() => '')).trim() === name) named.push(child)
  return named
}

/** Start `custody dev`, wait until it has written dev.env and printed its endpoints. */
async function startDev(args: string[]): Promise<{ dev: CustodyProcess; env: Record<string, string> }> {
  const dataDir = args[args.indexOf('--data-dir') + 1]!
  const dev = spawnCustody(['dev', ...args])
  running.add(dev)
  await until(() => dev.stdout().includes('custody dev is running') || dev.child.exitCode !== null, 45_000, 'custody dev start')
  if (dev.child.exitCode !== null) throw new Error(`custody dev exited ${dev.child.exitCode}: ${dev.stderr()}`)
  return { dev, env: await readDevEnv(dataDir) }
}

const running = new Set<CustodyProcess>()
afterEach(async () => {
  // Never leave a stack behind when an assertion failed halfway.
  for (const p of running) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGTERM')
      await p.exited
    }
  }
  running.clear()
})

describe('custody dev + key commands, as real processes', () => {
  let root: string
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'custody-dev-e2e-'))
  })
  afterAll(() => rm(root, { recursive: true, force: true }))

  it('dev with anvil: generate-key, sign and broadcast, list; Ctrl-C stops everything (exit 130, no listening ports)', { timeout: 120_000 }, async () => {
    const dataDir = join(root, 'with-anvil')
    const { dev, env } = await startDev(['--data-dir', dataDir])
    const out = dev.stdout()
    expect(out).toMatch(/^• starting anvil \(chain id 11155111\)$/m)
    for (const [label, value] of [
      ['proxy URL', env.CUSTODY_URL],
      ['AWS endpoint', env.CUSTODY_AWS_ENDPOINT],
      ['KMS key ARN', env.CUSTODY_KMS_KEY_ID],
      ['anvil RPC', env.CUSTODY_RPC_URL],
    ] as const) {
      expect(out).toMatch(new RegExp(`^  ${label} +${value}`, 'm'))
    }
    expect(out).toMatch(new RegExp(`^ {2}PCR0 +${env.CUSTODY_PCR0}$`, 'm'))
    expect(env.CUSTODY_PCR0).toMatch(/^[0-9a-f]{96}$/)
    expect(Object.keys(env).sort()).toEqual(
      [
        'AWS_ACCESS_KEY_ID',
        'AWS_SECRET_ACCESS_KEY',
        'CUSTODY_API_KEY_FILE',
        'CUSTODY_ATTESTATION_ROOT',
        'CUSTODY_AUDIT_LOG',
        'CUSTODY_AWS_ENDPOINT',
        'CUSTODY_CHAIN_ID',
        'CUSTODY_KMS_KEY_ID',
        'CUSTODY_PCR0',
        'CUSTODY_RECEIPTS_FILE',
        'CUSTODY_REGION',
        'CUSTODY_RPC_URL',
        'CUSTODY_URL',
      ].sort(),
    )
    expect((await stat(join(dataDir, 'dev.env'))).mode & 0o777).toBe(0o600)
    expect(out).not.toContain(env.AWS_SECRET_ACCESS_KEY)
    // The dev API key (0600) and the software NSM's root, named by dev.env.
    expect(env.CUSTODY_API_KEY_FILE).toBe(join(dataDir, 'api-key.json'))
    expect((await stat(env.CUSTODY_API_KEY_FILE!)).mode & 0o777).toBe(0o600)
    const apiKey = JSON.parse(await readFile(env.CUSTODY_API_KEY_FILE!, 'utf8')) as { publicKey: string; privateKey: string }
    expect(out).toContain(`(public key ${apiKey.publicKey})`)
    expect(out).not.toContain(apiKey.privateKey.slice(2))
    expect(await readFile(env.CUSTODY_ATTESTATION_ROOT!, 'utf8')).toContain('-----BEGIN CERTIFICATE-----')
    const ports = [env.CUSTODY_URL, env.CUSTODY_AWS_ENDPOINT, env.CUSTODY_RPC_URL].map((u) => portOf(u!))
    for (const port of ports) expect(await isListening(port)).toBe(true)

    // A key born in the enclave (GenerateDataKey with attestation), stored by the importer of dev.env.
    const generated = await runCustody(['generate-key', '--dev', dataDir, '--key-id', 'alice', '--json'])
    expect(generated.stderr).toBe('')
    expect(generated.code).toBe(0)
    const alice = JSON.parse(generated.stdout) as { keyId: string; address: string }
    expect(alice).toMatchObject({ keyId: 'alice', address: expect.stringMatching(/^0x[0-9a-fA-F]{40}$/) })

    const provider = new JsonRpcProvider(env.CUSTODY_RPC_URL, undefined, { staticNetwork: true, pollingInterval: 50 })
    try {
      await (await (await provider.getSigner(0)).sendTransaction({ to: alice.address, value: 10n ** 18n })).wait()
      const block = await provider.getBlock('latest')
      const maxFeeGwei = String(Number(((block!.baseFeePerGas ?? 0n) * 2n) / 10n ** 9n) + 2)
      const signed = await runCustody([
        'sign',
        'alice',
        '--dev',
        dataDir,
        '--to',
        TEST_ADDRESS,
        '--value-ether',
        '0.01',
        '--nonce',
        '0',
        '--gas',
        '21000',
        '--max-fee-gwei',
        maxFeeGwei,
        '--max-priority-gwei',
        '1',
      ])
      expect(signed.stderr).toBe('')
      expect(signed.code).toBe(0)
      const [, raw] = /^rawTransaction +(0x02[0-9a-f]+)$/m.exec(signed.stdout)!
      const [, hash] = /^hash +(0x[0-9a-f]{64})$/m.exec(signed.stdout)!
      expect(signed.stdout).toMatch(new RegExp(`^from +${alice.address}$`, 'm'))
      const receipt = await (await provider.broadcastTransaction(raw!)).wait()
      expect(receipt?.hash).toBe(hash)
      expect(receipt?.status).toBe(1)
      expect(await provider.getBalance(TEST_ADDRESS)).toBeGreaterThan(0n)
    } finally {
      provider.destroy()
    }

    const listed = await runCustody(['list', '--dev', dataDir])
    expect(listed.stderr).toBe('')
    expect(listed.code).toBe(0)
    expect(listed.stdout).toMatch(new RegExp(`^alice +${alice.address} +\\d{4}-\\d\\d-\\d\\dT`, 'm'))

    // The proxy's audit log holds every answer the commands above got, each matched by its receipt.
    const audited = await runCustody(['audit', 'verify', '--dev', dataDir])
    expect(audited.stderr).toBe('')
    expect(audited.code).toBe(0)
    const [, events, receipts] = /^verified (\d+) events, (\d+) receipts$/m.exec(audited.stdout) ?? []
    expect(Number(receipts)).toBeGreaterThanOrEqual(4) // generate, key lookup, sign, list
    expect(Number(events)).toBe(Number(receipts) + 1) // and the boot

    const anvilPids = await childrenNamed(dev.child.pid!, 'anvil')
    expect(anvilPids).toHaveLength(1)
    dev.child.kill('SIGINT')
    expect(await dev.exited).toBe(130)
    expect(dev.stderr()).toContain('SIGINT: stopping')
    expect(dev.stdout()).toMatch(/stopped\n$/)
    for (const port of ports) expect(await isListening(port)).toBe(false)
    expect(alive(anvilPids[0]!)).toBe(false) // stopped before custody dev exited
    await expect(stat(join(dataDir, 'dev.env'))).rejects.toThrow(/ENOENT/)
    // Without a running stack, --dev says what to do.
    const after = await runCustody(['list', '--dev', dataDir])
    expect(after.code).toBe(2)
    expect(after.stderr).toContain('dev.env not found; start `custody dev --data-dir')
  })

  it('Ctrl-C while the stack is starting stops what was started (exit 130, anvil gone)', { timeout: 60_000 }, async () => {
    // Slow local AWS keeps the start in progress when the signal arrives.
    const dev = spawnCustody(['dev', '--data-dir', join(root, 'interrupted'), '--aws-latency-ms', '300'])
    running.add(dev)
    await until(() => dev.stdout().includes('starting software NSM'), 45_000, 'anvil started')
    const anvilPids = await childrenNamed(dev.child.pid!, 'anvil')
    expect(anvilPids).toHaveLength(1)
    dev.child.kill('SIGINT')
    expect(await dev.exited).toBe(130)
    expect(dev.stdout()).toMatch(/stopped\n$/)
    expect(dev.stdout()).not.toContain('custody dev is running')
    expect(alive(anvilPids[0]!)).toBe(false)
    await expect(stat(join(root, 'interrupted', 'dev.env'))).rejects.toThrow(/ENOENT/)
  })

  it('dev --no-anvil: import-key from a file and stdin, address, list --json, sign offline; SIGTERM stops it; keys survive a restart', { timeout: 120_000 }, async () => {
    const dataDir = join(root, 'no-anvil')
    const { dev, env } = await startDev(['--data-dir', dataDir, '--no-anvil', '--chain-id', '1'])
    expect(dev.stdout()).not.toContain('starting anvil')
    expect(dev.stdout()).toMatch(/^ {2}anvil RPC +not started \(--no-anvil\)$/m)
    expect(env.CUSTODY_RPC_URL).toBeUndefined()
    expect(env.CUSTODY_CHAIN_ID).toBe('1')

    const keyFile = join(root, 'key.hex')
    await writeFile(keyFile, `${TEST_KEY}\n`, { mode: 0o600 })
    const imported = await runCustody(['import-key', '--dev', dataDir, '--private-key-file', keyFile, '--key-id', 'bob'])
    expect(imported.stderr).toBe('')
    expect(imported.code).toBe(0)
    expect(imported.stdout).toBe(`keyId    bob\naddress  ${TEST_ADDRESS}\n`)

    const fromStdin = await runCustody(['import-key', '--dev', dataDir, '--key-id', 'carol'], { input: `${TEST_KEY.slice(2)}\n` })
    expect(fromStdin.code).toBe(0)
    const again = await runCustody(['import-key', '--dev', dataDir, '--key-id', 'bob'], { input: TEST_KEY })
    expect(again.code).toBe(1)
    expect(again.stderr).toBe('custody import-key: key "bob" already exists (KEY_EXISTS)\n')

    const address = await runCustody(['address', 'bob', '--dev', dataDir])
    expect(address).toEqual({ code: 0, stdout: `${TEST_ADDRESS}\n`, stderr: '' })

    const list = await runCustody(['list', '--json', '--dev', dataDir])
    expect(list.code).toBe(0)
    expect((JSON.parse(list.stdout) as { keyId: string; address: string }[]).map((k) => [k.keyId, k.address]).sort()).toEqual([
      ['bob', TEST_ADDRESS],
      ['carol', TEST_ADDRESS],
    ])

    // Chain id from dev.env (CUSTODY_CHAIN_ID=1); the raw transaction is what ethers parses back.
    const signed = await runCustody(['sign', 'bob', '--dev', dataDir, '--to', TEST_ADDRESS, '--value-ether', '1.5', '--nonce', '7', '--gas', '50000', '--max-fee-gwei', '30.5', '--max-priority-gwei', '1.25', '--data', '0xdeadbeef', '--json'])
    expect(signed.stderr).toBe('')
    expect(signed.code).toBe(0)
    const json = JSON.parse(signed.stdout) as { rawTransaction: string; hash: string; from: string }
    const tx = Transaction.from(json.rawTransaction)
    expect({ from: tx.from, chainId: tx.chainId, nonce: tx.nonce, value: tx.value, gas: tx.gasLimit, maxFee: tx.maxFeePerGas, tip: tx.maxPriorityFeePerGas, data: tx.data, hash: tx.hash }).toEqual({
      from: TEST_ADDRESS,
      chainId: 1n,
      nonce: 7,
      value: 1_500_000_000_000_000_000n,
      gas: 50_000n,
      maxFee: 30_500_000_000n,
      tip: 1_250_000_000n,
      data: '0xdeadbeef',
      hash: json.hash,
    })

    // Nothing any process printed holds the key, nor the API key's private key.
    const apiPrivate = (JSON.parse(await readFile(env.CUSTODY_API_KEY_FILE!, 'utf8')) as { privateKey: string }).privateKey.slice(2)
    for (const text of [dev.stdout(), dev.stderr(), imported.stdout, fromStdin.stdout, fromStdin.stderr, again.stderr, signed.stdout, list.stdout, address.stdout]) {
      expect(text).not.toContain(TEST_KEY.slice(2))
      expect(text).not.toContain(apiPrivate)
    }
    const apiKeyBefore = await readFile(env.CUSTODY_API_KEY_FILE!, 'utf8')

    const ports = [env.CUSTODY_URL, env.CUSTODY_AWS_ENDPOINT].map((u) => portOf(u!))
    dev.child.kill('SIGTERM')
    expect(await dev.exited).toBe(143)
    for (const port of ports) expect(await isListening(port)).toBe(false)

    // Restart on the same data directory: same KMS key, the keys are still there and still sign.
    const restarted = await startDev(['--data-dir', dataDir, '--no-anvil'])
    expect(restarted.env.CUSTODY_KMS_KEY_ID).toBe(env.CUSTODY_KMS_KEY_ID)
    // …and the same API key (kept across restarts).
    expect(restarted.env.CUSTODY_API_KEY_FILE).toBe(env.CUSTODY_API_KEY_FILE)
    expect(await readFile(env.CUSTODY_API_KEY_FILE!, 'utf8')).toBe(apiKeyBefore)
    const relisted = await runCustody(['list', '--dev', dataDir])
    expect(relisted.stdout).toMatch(/^bob /m)
    expect(relisted.stdout).toMatch(/^carol /m)
    const resigned = await runCustody(['sign', 'carol', '--dev', dataDir, '--to', TEST_ADDRESS, '--value-ether', '0', '--nonce', '0', '--gas', '21000', '--max-fee-gwei', '1', '--max-priority-gwei', '1', '--chain-id', '560048'])
    expect(resigned.code).toBe(0)
    expect(Transaction.from(/^rawTransaction +(\S+)$/m.exec(resigned.stdout)![1]!).chainId).toBe(560048n)
    // The audit log kept both boots (one segment each, its own response key) and every receipt matches.
    const audited = await runCustody(['audit', 'verify', '--dev', dataDir])
    expect(audited.code).toBe(0)
    const boots = [...audited.stdout.matchAll(/^boot (\d) \(line \d+\) {2}response key (0x[0-9a-f]{16})…/gm)]
    expect(boots.map((m) => m[1])).toEqual(['1', '2'])
    expect(boots[0]![2]).not.toBe(boots[1]![2])
    restarted.dev.child.kill('SIGINT')
    expect(await restarted.dev.exited).toBe(130)
  })
})
