import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createCustodyClient, nitroEnclave } from '@enclave-custody/sdk'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort, killStarted, runTs, waitForOutput } from '../../../test/support/processes.js'
import { computeRuntimeMeasurement } from '../src/attestation/computeRuntimeMeasurement.js'
import { SOFTWARE_NSM_ROOT_CERT_FILE } from '../src/attestation/createSoftwareNsmCa.js'
import { newStamper } from './support/stamps.js'

// custody-proxy lives in the parent-proxy package (outside the enclave image); its bin is exercised here with the enclave's.
const bin = (name: string) => join(dirname(fileURLToPath(import.meta.url)), '..', '..', name === 'proxy' ? 'parent-proxy' : 'enclave-runtime', 'src', 'bin', `${name}.ts`)
let dataDir = ''

const run = (name: string, args: string[], env: Record<string, string> = {}) => runTs(bin(name), args, env)

afterAll(async () => {
  killStarted()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

describe('process entry points', () => {
  it('print --help and exit 0', async () => {
    for (const name of ['enclave', 'proxy']) {
      const { exited, output } = run(name, ['--help'])
      expect(await exited).toBe(0)
      expect(output()).toMatch(/--port\s+.*\(env CUSTODY_/)
    }
  })

  it('refuses to run production sealing without an NSM (no silent software attestation)', async () => {
    const { exited, output } = run('enclave', ['--port', '0', '--region', 'us-east-1'], {
      CUSTODY_LOG_LEVEL: 'error',
      CUSTODY_KMS_KEY_ID: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    })
    expect(await exited).not.toBe(0)
    expect(output()).toMatch(/software|nsm/i)
  })

  it('refuses dev sealing in production mode', async () => {
    const { exited, output } = run('enclave', ['--sealing', 'dev', '--data-dir', '/tmp/x'])
    expect(await exited).toBe(2)
    expect(output()).toContain('--sealing dev is for --mode development only')
  })

  it('refuse invalid configuration naming the flag and the variable', async () => {
    const { exited, output } = run('proxy', [], { CUSTODY_PROXY_PORT: 'eighty' })
    expect(await exited).toBe(2)
    expect(output()).toContain('invalid --port / CUSTODY_PROXY_PORT')
  })

  it('serve SDK → proxy → enclave over loopback, log JSON, and stop cleanly on SIGTERM', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'custody-bins-'))
    const enclavePort = await freePort()
    const enclave = run('enclave', ['--port', String(enclavePort), '--sealing', 'dev', '--mode', 'development', '--data-dir', dataDir])
    await waitForOutput(enclave.output, /enclave server listening/)
    const proxy = run('proxy', ['--port', '0', '--enclave-port', String(enclavePort)])
    const [, url] = await waitForOutput(proxy.output, /"url":"(http:\/\/127\.0\.0\.1:\d+)"/)

    // What the client must require of this enclave, known without asking it: the software NSM's root (under
    // the data directory) and PCR0, the measurement of the runtime's code.
    const attestation = { pcr0: [(await computeRuntimeMeasurement()).hex], roots: [await readFile(join(dataDir, 'nsm', SOFTWARE_NSM_ROOT_CERT_FILE), 'utf8')] }
    const custody = createCustodyClient({ transport: nitroEnclave({ url: url!, attestation }), stamper: newStamper() })
    const key = await custody.importKey({ generate: true, keyId: 'bin-key' })
    const signed = await custody.signEip1559('bin-key', { chainId: 1, nonce: 0, gas: 21000, maxFeePerGas: 1, maxPriorityFeePerGas: 1, to: key.address })
    expect(signed.from).toBe(key.address)
    const health = await fetch(`${url}/healthz`)
    expect(health.status).toBe(200)

    const logLines = enclave.output().trim().split('\n').map((l) => JSON.parse(l) as { msg: string; op?: string })
    expect(logLines.some((l) => l.msg === 'request served' && l.op === 'sign.eip1559')).toBe(true)

    proxy.child.kill('SIGTERM')
    enclave.child.kill('SIGTERM')
    expect(await proxy.exited).toBe(0)
    expect(await enclave.exited).toBe(0)
  }, 60_000)
})
