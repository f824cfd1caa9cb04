import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createCustodyClient, nitroEnclave } from '@enclave-custody/sdk'
import { afterAll, describe, expect, it } from 'vitest'

const bin = (name: string) => join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'bin', `${name}.ts`)
const children: ChildProcess[] = []
let dataDir = ''

function run(name: string, args: string[], env: Record<string, string> = {}): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', bin(name), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  let out = ''
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString()
  })
  child.stderr!.on('data', (c: Buffer) => {
    out += c.toString()
  })
  return { child, output: () => out }
}

async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as { port: number }).port
  await new Promise((r) => s.close(r))
  return port
}

async function waitFor(output: () => string, pattern: RegExp, ms = 15_000): Promise<RegExpMatchArray> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    const m = output().match(pattern)
    if (m) return m
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${pattern}; output:\n${output()}`)
}

const exitCode = (child: ChildProcess) => new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

describe('process entry points', () => {
  it('print --help and exit 0', async () => {
    for (const name of ['enclave', 'proxy']) {
      const { child, output } = run(name, ['--help'])
      expect(await exitCode(child)).toBe(0)
      expect(output()).toMatch(/--port\s+.*\(env CUSTODY_/)
    }
  })

  it('refuse invalid configuration naming the flag and the variable', async () => {
    const { child, output } = run('proxy', [], { CUSTODY_PROXY_PORT: 'eighty' })
    expect(await exitCode(child)).toBe(2)
    expect(output()).toContain('invalid --port / CUSTODY_PROXY_PORT')
  })

  it('serve SDK → proxy → enclave over loopback, log JSON, and stop cleanly on SIGTERM', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'custody-bins-'))
    const enclavePort = await freePort()
    const enclave = run('enclave', ['--port', String(enclavePort), '--data-dir', dataDir])
    await waitFor(enclave.output, /enclave server listening/)
    const proxy = run('proxy', ['--port', '0', '--enclave-port', String(enclavePort)])
    const [, url] = await waitFor(proxy.output, /"url":"(http:\/\/127\.0\.0\.1:\d+)"/)

    const custody = createCustodyClient({ transport: nitroEnclave({ url: url! }) })
    const key = await custody.importKey({ generate: true, keyId: 'bin-key' })
    const signed = await custody.signEip1559('bin-key', { chainId: 1, nonce: 0, gas: 21000, maxFeePerGas: 1, maxPriorityFeePerGas: 1, to: key.address })
    expect(signed.from).toBe(key.address)
    const health = await fetch(`${url}/healthz`)
    expect(health.status).toBe(200)

    const logLines = enclave.output().trim().split('\n').map((l) => JSON.parse(l) as { msg: string; op?: string })
    expect(logLines.some((l) => l.msg === 'request served' && l.op === 'sign.eip1559')).toBe(true)

    proxy.child.kill('SIGTERM')
    enclave.child.kill('SIGTERM')
    expect(await exitCode(proxy.child)).toBe(0)
    expect(await exitCode(enclave.child)).toBe(0)
  }, 60_000)
})
