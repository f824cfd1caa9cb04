import { EventEmitter } from 'node:events'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runDevStack } from '../src/commands/dev.js'
import { readApiKeyFile } from '../src/commands/apiKeyFile.js'
import { type DevEnv, readDevEnv, writeDevEnv } from '../src/commands/devEnv.js'
import type { DevStack, DevStackOptions } from '../src/devStack.js'
import { captureIo, until } from './helpers.js'

/** A stand-in for startDevStack: in-process checks of what runDevStack does around it. */
function fakeStack(dataDir: string, withAnvil: boolean) {
  const anvilProcess = new EventEmitter()
  let closed = 0
  const stack = {
    proxyUrl: 'http://127.0.0.1:18443',
    enclavePort: 15000,
    awsEndpoint: 'http://127.0.0.1:14566',
    region: 'us-east-1',
    kmsKeyId: '11111111-2222-3333-4444-555555555555',
    kmsKeyArn: 'arn:aws:kms:us-east-1:000000000000:key/11111111-2222-3333-4444-555555555555',
    pcr0: 'ab'.repeat(48),
    attestationRootFile: join(dataDir, 'nsm', 'software-nsm-root.pem'),
    auditLogFile: join(dataDir, 'audit.jsonl'),
    config: {
      version: 1,
      accountId: '000000000000',
      region: 'us-east-1',
      principals: {
        admin: { accessKeyId: 'AKIAADMIN', secretAccessKey: 'admin-secret/+=', arn: 'arn:aws:iam::000000000000:role/custody-admin' },
        importer: { accessKeyId: 'AKIAIMPORTER', secretAccessKey: 'importer-secret/+=', arn: 'arn:aws:iam::000000000000:role/custody-importer' },
        instance: { accessKeyId: 'AKIAINSTANCE', secretAccessKey: 'instance-secret/+=', arn: 'arn:aws:iam::000000000000:role/custody-instance' },
      },
    },
    ...(withAnvil ? { anvil: { rpcUrl: 'http://127.0.0.1:18545', chainId: 31337, process: anvilProcess, stop: async () => {} } } : {}),
    close: async () => {
      closed++
    },
  } as unknown as DevStack
  let options: DevStackOptions | undefined
  return {
    start: async (o: DevStackOptions) => {
      options = o
      o.onProgress?.('starting things')
      return stack
    },
    anvilProcess,
    closed: () => closed,
    options: () => options,
    dataDir,
  }
}

describe('runDevStack', () => {
  let root: string
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'custody-dev-unit-'))
  })
  afterAll(() => rm(root, { recursive: true, force: true }))

  it('writes dev.env (0600, importer credentials only, attestation policy, API key file), prints endpoints, and on stop closes and removes it', async () => {
    const dataDir = join(root, 'a')
    const fake = fakeStack(dataDir, true)
    const io = captureIo({ cwd: root })
    const stop = new AbortController()
    const done = runDevStack({ dataDir, anvil: true, chainId: 31337, awsLatencyMs: 0 }, { io, stop: stop.signal, start: fake.start })
    await until(() => io.out().includes('custody dev is running'), 5_000)
    expect(fake.options()).toMatchObject({ dataDir, anvil: true, chainId: 31337, awsLatencyMs: 0 })
    expect(await readDevEnv(dataDir)).toEqual({
      CUSTODY_URL: 'http://127.0.0.1:18443',
      CUSTODY_AWS_ENDPOINT: 'http://127.0.0.1:14566',
      CUSTODY_REGION: 'us-east-1',
      CUSTODY_KMS_KEY_ID: 'arn:aws:kms:us-east-1:000000000000:key/11111111-2222-3333-4444-555555555555',
      CUSTODY_CHAIN_ID: '31337',
      CUSTODY_RPC_URL: 'http://127.0.0.1:18545',
      CUSTODY_PCR0: 'ab'.repeat(48),
      CUSTODY_ATTESTATION_ROOT: join(dataDir, 'nsm', 'software-nsm-root.pem'),
      CUSTODY_API_KEY_FILE: join(dataDir, 'api-key.json'),
      CUSTODY_AUDIT_LOG: join(dataDir, 'audit.jsonl'),
      CUSTODY_RECEIPTS_FILE: join(dataDir, 'receipts.jsonl'),
      AWS_ACCESS_KEY_ID: 'AKIAIMPORTER',
      AWS_SECRET_ACCESS_KEY: 'importer-secret/+=',
    })
    expect((await stat(join(dataDir, 'dev.env'))).mode & 0o777).toBe(0o600)
    const text = await readFile(join(dataDir, 'dev.env'), 'utf8')
    expect(text).not.toContain('admin-secret')
    expect(text).not.toContain('instance-secret')
    // The dev API key: its own file (0600), named by dev.env, never printed.
    const apiKey = JSON.parse(await readFile(join(dataDir, 'api-key.json'), 'utf8')) as { publicKey: string; privateKey: string }
    expect((await stat(join(dataDir, 'api-key.json'))).mode & 0o777).toBe(0o600)
    expect((await readApiKeyFile(join(dataDir, 'api-key.json'), captureIo())).publicKey).toBe(apiKey.publicKey)
    expect(text).not.toContain(apiKey.privateKey.slice(2))
    expect(io.out() + io.err()).not.toContain(apiKey.privateKey.slice(2))
    expect(io.out()).toContain(`  API key       a/api-key.json (public key ${apiKey.publicKey})\n`)
    expect(fake.options()?.legacyOwners).toEqual([apiKey.publicKey])
    expect(io.out()).toContain('• starting things\n')
    expect(io.out()).toContain('  env file      a/dev.env (e.g. custody generate-key --dev a)\n')
    expect(io.out()).toContain('  audit log     a/audit.jsonl (custody audit verify --dev a)\n')
    expect(io.out() + io.err()).not.toContain('secret')

    stop.abort('SIGINT')
    expect(await done).toBe(130)
    expect(fake.closed()).toBe(1)
    await expect(stat(join(dataDir, 'dev.env'))).rejects.toThrow(/ENOENT/)
    expect(io.out()).toMatch(/stopped\n$/)

    // The API key outlives the stack: a restart keeps it.
    expect(await readFile(join(dataDir, 'api-key.json'), 'utf8')).toContain(apiKey.privateKey)
    const again = captureIo({ cwd: root })
    const stopAgain = new AbortController()
    const restarted = runDevStack({ dataDir, anvil: false, chainId: 1, awsLatencyMs: 0 }, { io: again, stop: stopAgain.signal, start: fakeStack(dataDir, false).start })
    await until(() => again.out().includes('custody dev is running'), 5_000)
    expect((await readDevEnv(dataDir)).CUSTODY_API_KEY_FILE).toBe(join(dataDir, 'api-key.json'))
    expect(JSON.parse(await readFile(join(dataDir, 'api-key.json'), 'utf8'))).toEqual(apiKey)
    stopAgain.abort('SIGTERM')
    expect(await restarted).toBe(143)
  })

  it('refuses to start over an api-key.json that is not an API key (never replaced, never quoted)', async () => {
    const dataDir = join(root, 'broken-key')
    await mkdir(dataDir)
    const content = `{"privateKey":"0x${'cd'.repeat(32)}"`
    await writeFile(join(dataDir, 'api-key.json'), content, { mode: 0o600 })
    const fake = fakeStack(dataDir, false)
    const io = captureIo({ cwd: root })
    const error = await runDevStack({ dataDir, anvil: false, chainId: 1, awsLatencyMs: 0 }, { io, stop: new AbortController().signal, start: fake.start }).catch((e: Error) => e)
    expect((error as Error).message).toBe(`the dev API key: ${join(dataDir, 'api-key.json')} is not an API key file (JSON { "publicKey": "0x…", "privateKey": "0x…" } from \`custody api-key create\`)`)
    expect(fake.options()).toBeUndefined() // nothing started
    expect(await readFile(join(dataDir, 'api-key.json'), 'utf8')).toBe(content)
  })

  it('stops with exit 1 when anvil dies on its own', async () => {
    const dataDir = join(root, 'b')
    const fake = fakeStack(dataDir, true)
    const io = captureIo({ cwd: root })
    const done = runDevStack({ dataDir, anvil: true, chainId: 1, awsLatencyMs: 0 }, { io, stop: new AbortController().signal, start: fake.start })
    await until(() => io.out().includes('custody dev is running'), 5_000)
    fake.anvilProcess.emit('exit', 1, null)
    expect(await done).toBe(1)
    expect(io.err()).toBe('custody dev: anvil exited unexpectedly; stopping\n')
    expect(fake.closed()).toBe(1)
  })

  it('passes start failures on (the stack cleaned up after itself)', async () => {
    const io = captureIo({ cwd: root })
    const start = async () => {
      throw new Error('local-aws: data directory is in use')
    }
    await expect(runDevStack({ dataDir: join(root, 'c'), anvil: false, chainId: 1, awsLatencyMs: 0 }, { io, stop: new AbortController().signal, start })).rejects.toThrow('in use')
  })

  it('dev.env quotes a path a shell would split (the data directory may hold spaces), and refuses what cannot be quoted', async () => {
    const dataDir = join(root, 'with space')
    const env: DevEnv = {
      CUSTODY_URL: 'http://127.0.0.1:1',
      CUSTODY_AWS_ENDPOINT: 'http://127.0.0.1:2',
      CUSTODY_REGION: 'us-east-1',
      CUSTODY_KMS_KEY_ID: 'k',
      CUSTODY_CHAIN_ID: '1',
      CUSTODY_PCR0: 'ab'.repeat(48),
      CUSTODY_ATTESTATION_ROOT: join(dataDir, 'nsm', 'root.pem'),
      CUSTODY_API_KEY_FILE: join(dataDir, 'api-key.json'),
      CUSTODY_AUDIT_LOG: join(dataDir, 'audit.jsonl'),
      CUSTODY_RECEIPTS_FILE: join(dataDir, 'receipts.jsonl'),
      AWS_ACCESS_KEY_ID: 'A',
      AWS_SECRET_ACCESS_KEY: 'B',
    }
    await writeDevEnv(dataDir, env)
    expect(await readFile(join(dataDir, 'dev.env'), 'utf8')).toContain(`\nCUSTODY_API_KEY_FILE='${join(dataDir, 'api-key.json')}'\n`)
    expect(await readDevEnv(dataDir)).toEqual(env)
    for (const bad of ["it's", 'two\nlines']) await expect(writeDevEnv(dataDir, { ...env, CUSTODY_API_KEY_FILE: bad })).rejects.toThrow('CUSTODY_API_KEY_FILE has characters that cannot be quoted')
  })
})
