import { EventEmitter } from 'node:events'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runDevStack } from '../src/commands/dev.js'
import { readDevEnv } from '../src/commands/devEnv.js'
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

  it('writes dev.env (0600, importer credentials only), prints endpoints, and on stop closes and removes it', async () => {
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
      AWS_ACCESS_KEY_ID: 'AKIAIMPORTER',
      AWS_SECRET_ACCESS_KEY: 'importer-secret/+=',
    })
    expect((await stat(join(dataDir, 'dev.env'))).mode & 0o777).toBe(0o600)
    const text = await readFile(join(dataDir, 'dev.env'), 'utf8')
    expect(text).not.toContain('admin-secret')
    expect(text).not.toContain('instance-secret')
    expect(io.out()).toContain('• starting things\n')
    expect(io.out()).toContain('  env file      a/dev.env (e.g. custody generate-key --dev a)\n')
    expect(io.out() + io.err()).not.toContain('secret')

    stop.abort('SIGINT')
    expect(await done).toBe(130)
    expect(fake.closed()).toBe(1)
    await expect(stat(join(dataDir, 'dev.env'))).rejects.toThrow(/ENOENT/)
    expect(io.out()).toMatch(/stopped\n$/)
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
})
