import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { randomUUID } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  KMSClient,
  ListKeysCommand,
} from '@aws-sdk/client-kms'
import { CreateSecretCommand, GetSecretValueCommand, ListSecretsCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager'
import { type LocalAwsLogEntry, startLocalAws } from '@enclave-custody/local-aws'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ACCOUNT, awsError, kmsFor, PRINCIPALS, principalsOption, secretsFor, startTestAws } from './local-aws-fixtures.js'

const REPO = fileURLToPath(new URL('..', import.meta.url))
let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'local-aws-server-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('persistence', () => {
  it('a restarted server with the same dataDir serves the same keys, policies, aliases, rotation and secrets', async () => {
    const dataDir = join(dir, 'data')
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Sid: 'Admin', Effect: 'Allow', Principal: { AWS: PRINCIPALS.admin.arn }, Action: 'kms:*', Resource: '*' }],
    })
    const plaintext = new TextEncoder().encode('survives restarts')

    const first = await startTestAws({ dataDir })
    const kms1 = kmsFor(first)
    const sm1 = secretsFor(first)
    const { KeyMetadata } = await kms1.send(new CreateKeyCommand({ Policy: policy, Description: 'persistent' }))
    await kms1.send(new CreateAliasCommand({ AliasName: 'alias/persistent', TargetKeyId: KeyMetadata!.KeyId }))
    await kms1.send(new EnableKeyRotationCommand({ KeyId: KeyMetadata!.KeyId }))
    const { CiphertextBlob } = await kms1.send(new EncryptCommand({ KeyId: 'alias/persistent', Plaintext: plaintext, EncryptionContext: { a: 'b' } }))
    await sm1.send(new CreateSecretCommand({ Name: 'enclave-custody/keys/p', SecretString: 'v1' }))
    await sm1.send(new PutSecretValueCommand({ SecretId: 'enclave-custody/keys/p', SecretString: 'v2' }))
    kms1.destroy()
    sm1.destroy()
    await first.close()

    expect((await stat(dataDir)).mode & 0o777).toBe(0o700)
    for (const file of ['kms.json', 'secretsmanager.json']) expect((await stat(join(dataDir, file))).mode & 0o777).toBe(0o600)

    const second = await startTestAws({ dataDir })
    const kms2 = kmsFor(second)
    const sm2 = secretsFor(second)
    try {
      expect((await kms2.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: { a: 'b' } }))).Plaintext).toEqual(plaintext)
      expect((await kms2.send(new DescribeKeyCommand({ KeyId: 'alias/persistent' }))).KeyMetadata).toMatchObject({ Arn: KeyMetadata!.Arn, Description: 'persistent' })
      expect((await kms2.send(new GetKeyPolicyCommand({ KeyId: KeyMetadata!.KeyId }))).Policy).toBe(policy)
      expect((await kms2.send(new GetKeyRotationStatusCommand({ KeyId: KeyMetadata!.KeyId }))).KeyRotationEnabled).toBe(true)
      expect((await awsError(kmsFor(second, 'importer').send(new DescribeKeyCommand({ KeyId: KeyMetadata!.KeyId })))).name).toBe('AccessDeniedException')
      expect((await sm2.send(new GetSecretValueCommand({ SecretId: 'enclave-custody/keys/p' }))).SecretString).toBe('v2')
      expect((await sm2.send(new GetSecretValueCommand({ SecretId: 'enclave-custody/keys/p', VersionStage: 'AWSPREVIOUS' }))).SecretString).toBe('v1')
    } finally {
      kms2.destroy()
      sm2.destroy()
      await second.close()
    }
  })

  it('refuses a second server on a data directory that is in use, and accepts it after close', async () => {
    const dataDir = join(dir, 'busy')
    const first = await startTestAws({ dataDir })
    await expect(startTestAws({ dataDir })).rejects.toThrow(/in use by process/)
    await first.close()
    const second = await startTestAws({ dataDir })
    await second.close()
  })

  it('fails fast on a corrupt state file', async () => {
    await writeFile(join(dir, 'kms.json'), '{"version":1,"keys":')
    await expect(startTestAws({ dataDir: dir })).rejects.toThrow(/kms\.json is not valid JSON/)
    // The failed start released the lock.
    await writeFile(join(dir, 'kms.json'), JSON.stringify({ version: 1, keys: {}, aliases: {} }))
    const aws = await startTestAws({ dataDir: dir })
    await aws.close()
  })
})

describe('concurrency', () => {
  it('50 parallel Encrypts all succeed and decrypt to their own plaintexts', async () => {
    const aws = await startTestAws()
    const kms = kmsFor(aws)
    try {
      const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!
      const plaintexts = Array.from({ length: 50 }, (_, i) => new TextEncoder().encode(`secret #${i}`))
      const blobs = await Promise.all(plaintexts.map((Plaintext, i) => kms.send(new EncryptCommand({ KeyId: keyId, Plaintext, EncryptionContext: { i: String(i) } }))))
      const decrypted = await Promise.all(blobs.map((b, i) => kms.send(new DecryptCommand({ CiphertextBlob: b.CiphertextBlob, EncryptionContext: { i: String(i) } }))))
      expect(decrypted.map((d) => new TextDecoder().decode(d.Plaintext))).toEqual(plaintexts.map((p) => new TextDecoder().decode(p)))
    } finally {
      kms.destroy()
      await aws.close()
    }
  })

  it('parallel mutations are serialised: none is lost, and a name is taken exactly once', async () => {
    const dataDir = join(dir, 'parallel')
    const aws = await startTestAws({ dataDir })
    const kms = kmsFor(aws)
    const sm = secretsFor(aws)
    try {
      const keys = await Promise.all(Array.from({ length: 30 }, () => kms.send(new CreateKeyCommand({}))))
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => sm.send(new CreateSecretCommand({ Name: 'race', SecretString: `v${i}` }))))
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
      expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.name)).toEqual(Array(19).fill('ResourceExistsException'))
      expect((await kms.send(new ListKeysCommand({ Limit: 1000 }))).Keys).toHaveLength(30)
      const onDisk = JSON.parse(await readFile(join(dataDir, 'kms.json'), 'utf8')) as { keys: Record<string, unknown> }
      expect(Object.keys(onDisk.keys).sort()).toEqual(keys.map((k) => k.KeyMetadata!.KeyId!).sort())
    } finally {
      kms.destroy()
      sm.destroy()
      await aws.close()
    }
  })
})

describe('latencyMs', () => {
  it('delays every call, successful or not', async () => {
    const aws = await startTestAws({ latencyMs: 150 })
    const kms = kmsFor(aws)
    try {
      let started = performance.now()
      await kms.send(new ListKeysCommand({}))
      expect(performance.now() - started).toBeGreaterThanOrEqual(145)
      started = performance.now()
      await awsError(kms.send(new DescribeKeyCommand({ KeyId: 'alias/none' })))
      expect(performance.now() - started).toBeGreaterThanOrEqual(145)
    } finally {
      kms.destroy()
      await aws.close()
    }
  })

  it('makes a client deadline shorter than the latency expire', async () => {
    const aws = await startTestAws({ latencyMs: 500 })
    const kms = kmsFor(aws)
    try {
      await expect(kms.send(new ListKeysCommand({}), { abortSignal: AbortSignal.timeout(100) })).rejects.toMatchObject({ name: expect.stringMatching(/Abort|Timeout/) })
      expect((await kms.send(new ListKeysCommand({}), { abortSignal: AbortSignal.timeout(2_000) })).Keys).toEqual([])
    } finally {
      kms.destroy()
      await aws.close()
    }
  })
})

describe('HTTP surface', () => {
  it('GET /healthz answers without authentication', async () => {
    const aws = await startLocalAws()
    try {
      const res = await fetch(`${aws.endpoint}/healthz`)
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({ status: 'ok' })
      expect(res.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/)
    } finally {
      await aws.close()
    }
  })

  it('unknown targets and missing signatures get AWS-shaped errors', async () => {
    const aws = await startLocalAws()
    try {
      const post = (headers: Record<string, string>) =>
        fetch(aws.endpoint, { method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.1', ...headers }, body: '{}' })
      const unknown = await post({ 'x-amz-target': 'DynamoDB_20120810.ListTables' })
      expect(unknown.status).toBe(400)
      expect(unknown.headers.get('x-amzn-errortype')).toBe('UnknownOperationException')
      expect(((await unknown.json()) as { __type: string }).__type).toBe('UnknownOperationException')
      const unsigned = await post({ 'x-amz-target': 'TrentService.ListKeys' })
      expect(unsigned.status).toBe(400)
      expect(await unsigned.json()).toEqual({ __type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' })
      expect((await fetch(aws.endpoint)).status).toBe(404)
    } finally {
      await aws.close()
    }
  })

  it('the default principal (test/test, the account root) works out of the box', async () => {
    const aws = await startLocalAws()
    const kms = new KMSClient({ endpoint: aws.endpoint, region: aws.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } })
    try {
      expect((await kms.send(new CreateKeyCommand({}))).KeyMetadata?.AWSAccountId).toBe('000000000000')
    } finally {
      kms.destroy()
      await aws.close()
    }
  })
})

describe('request log', () => {
  it('logs one entry per request without plaintext, data keys or secret values', async () => {
    const entries: LocalAwsLogEntry[] = []
    const aws = await startTestAws({ log: (e) => entries.push(e) })
    const kms = kmsFor(aws)
    const sm = secretsFor(aws)
    try {
      const marker = 'PLAINTEXT-MARKER-4c0883a69102937d'
      const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!
      const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: new TextEncoder().encode(marker) }))
      const { Plaintext } = await kms.send(new DecryptCommand({ CiphertextBlob }))
      await sm.send(new CreateSecretCommand({ Name: 'logged', SecretString: marker }))
      await sm.send(new GetSecretValueCommand({ SecretId: 'logged' }))
      await awsError(sm.send(new CreateSecretCommand({ Name: 'logged', SecretString: marker })))
      await sm.send(new ListSecretsCommand({}))
      expect(entries.map((e) => [e.target, e.status, e.errorCode])).toEqual([
        ['TrentService.CreateKey', 200, undefined],
        ['TrentService.Encrypt', 200, undefined],
        ['TrentService.Decrypt', 200, undefined],
        ['secretsmanager.CreateSecret', 200, undefined],
        ['secretsmanager.GetSecretValue', 200, undefined],
        ['secretsmanager.CreateSecret', 400, 'ResourceExistsException'],
        ['secretsmanager.ListSecrets', 200, undefined],
      ])
      expect(entries.every((e) => e.principal === PRINCIPALS.admin.arn)).toBe(true)
      const text = JSON.stringify(entries)
      expect(text).not.toContain(marker)
      expect(text).not.toContain(Buffer.from(marker).toString('base64'))
      expect(text).not.toContain(Buffer.from(Plaintext!).toString('base64'))
    } finally {
      kms.destroy()
      sm.destroy()
      await aws.close()
    }
  })
})

describe('local-aws CLI', () => {
  const bin = join(REPO, 'packages/local-aws/src/bin.ts')
  const tsx = join(REPO, 'node_modules/.bin/tsx')
  const run = (args: string[]): ChildProcess => spawn(tsx, ['--conditions=@enclave-custody/source', bin, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })

  it('--help prints usage and exits 0', async () => {
    const child = run(['--help'])
    let out = ''
    child.stdout!.on('data', (d) => {
      out += d
    })
    const [code] = await once(child, 'exit')
    expect(code).toBe(0)
    expect(out).toMatch(/^Usage: local-aws \[options\]/)
    expect(out).toContain('--attestation-root <file>')
  })

  it('rejects unknown flags with exit code 2', async () => {
    const child = run(['--bogus'])
    const [code] = await once(child, 'exit')
    expect(code).toBe(2)
  })

  it('serves KMS with the given principals and data dir, prints the endpoint, logs JSON, and stops on SIGTERM', async () => {
    const principalsFile = join(dir, 'principals.json')
    await writeFile(principalsFile, JSON.stringify(principalsOption()))
    const child = run(['--port', '0', '--data-dir', join(dir, 'cli-data'), '--account-id', ACCOUNT, '--region', 'us-west-2', '--principals', principalsFile])
    const logs: string[] = []
    createInterface({ input: child.stderr! }).on('line', (line) => logs.push(line))
    const [endpoint] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string]
    expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const kms = new KMSClient({
      endpoint,
      region: 'us-west-2',
      credentials: { accessKeyId: PRINCIPALS.admin.accessKeyId, secretAccessKey: PRINCIPALS.admin.secretAccessKey },
      maxAttempts: 1,
    })
    try {
      const { KeyMetadata } = await kms.send(new CreateKeyCommand({}))
      expect(KeyMetadata?.Arn).toMatch(new RegExp(`^arn:aws:kms:us-west-2:${ACCOUNT}:key/`))
    } finally {
      kms.destroy()
    }
    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    const [code] = await exited
    expect(code).toBe(0)
    const requests = logs.filter((l) => l.includes('"target"')).map((l) => JSON.parse(l) as { target: string; status: number; level: string })
    expect(requests).toEqual([expect.objectContaining({ level: 'info', target: 'TrentService.CreateKey', status: 200 })])
    expect(JSON.parse(await readFile(join(dir, 'cli-data', 'kms.json'), 'utf8')).keys).toBeTypeOf('object')
  })

  it('after kill -9: the next start takes over the stale lock, removes the leftover temporary files and serves the intact state', async () => {
    const dataDir = join(dir, 'killed')
    const principalsFile = join(dir, 'principals.json')
    await writeFile(principalsFile, JSON.stringify(principalsOption()))
    // node itself (not the tsx wrapper), so that SIGKILL hits the server process.
    const child = spawn(process.execPath, ['--conditions=@enclave-custody/source', '--import', 'tsx', bin, '--port', '0', '--data-dir', dataDir, '--account-id', ACCOUNT, '--principals', principalsFile, '--quiet'], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const [endpoint] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string]
    const kms = new KMSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: PRINCIPALS.admin.accessKeyId, secretAccessKey: PRINCIPALS.admin.secretAccessKey }, maxAttempts: 1 })
    const plaintext = new TextEncoder().encode('survives kill -9')
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}))
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: plaintext }))
    kms.destroy()
    const killed = once(child, 'exit')
    child.kill('SIGKILL')
    await killed
    // What a kill between write and rename leaves: half-written temporary files beside the state files.
    const leftovers = [`.kms.json.${randomUUID()}.tmp`, `.secretsmanager.json.${randomUUID()}.tmp`]
    for (const name of leftovers) await writeFile(join(dataDir, name), '{"version":1,"keys":{"half')
    await writeFile(join(dataDir, 'notes.tmp'), 'not ours')
    expect(await readdir(dataDir)).toEqual(expect.arrayContaining(['local-aws.lock', ...leftovers]))

    const restarted = await startTestAws({ dataDir })
    const kms2 = kmsFor(restarted)
    try {
      const files = await readdir(dataDir)
      for (const name of leftovers) expect(files).not.toContain(name)
      expect(files).toContain('notes.tmp')
      expect((await kms2.send(new DecryptCommand({ CiphertextBlob }))).Plaintext).toEqual(plaintext)
    } finally {
      kms2.destroy()
      await restarted.close()
    }
  })
})
