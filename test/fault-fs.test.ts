/**
 * A full (ENOSPC) or read-only (EROFS) data directory, injected through the file-system seam of the atomic writes
 * (everything here runs as root: permissions cannot simulate either). At each step of a write — mkdir, open of the
 * temp file, write (half the bytes land, as on a disk that fills up), fsync, rename / link — the caller gets a
 * clear typed error naming the cause (UNAVAILABLE from the enclave, ServiceUnavailableException from local AWS; both
 * write through the one atomic write of `@enclave-custody/sdk/server`), no stack and no key material; the old file
 * stays intact and readable, no temp file remains, and the next write after the fault clears succeeds.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CreateSecretCommand, GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms'
import { createFileKeyStore, localEnclave } from '@enclave-custody/enclave-runtime'
import { startLocalAws } from '@enclave-custody/local-aws'
import { apiKeyStamper, createCustodyClient, generateApiKey, isCustodyError } from '@enclave-custody/sdk'
import { Transaction, Wallet } from 'ethers'
import { afterAll, describe, expect, it } from 'vitest'
import { createFilePolicyStore } from '../packages/enclave-runtime/src/policy/store/filePolicyStore.js'
import { createFaultyFs, type FaultCode, type FaultStep, tempFiles } from './support/faultyFs.js'

const CODES: FaultCode[] = ['ENOSPC', 'EROFS']
const CAUSE: Record<FaultCode, string> = { ENOSPC: 'no space left on device (ENOSPC)', EROFS: 'read-only file system (EROFS)' }
const TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const tx = (nonce: number) => ({ chainId: 1n, nonce: BigInt(nonce), to: TO, value: 1n, gas: 21_000n, maxFeePerGas: 2_000_000_000n, maxPriorityFeePerGas: 1n })

const dirs: string[] = []
const closers: (() => Promise<unknown>)[] = []
afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => {})
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})
async function tempDir(prefix: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix))
  dirs.push(d)
  return d
}

/** The error `p` rejects with (fails when it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error & { code?: unknown; retryable?: unknown; stack?: string }> {
  try {
    await p
  } catch (e) {
    return e as Error
  }
  throw new Error('resolved where a failure was expected')
}

/** A client of an in-process runtime whose key and policy stores write through `fs` (every message as JSON, as on the wire). */
async function runtimeWith(dataDir: string, fs: ReturnType<typeof createFaultyFs>['fs']) {
  const keyStore = await createFileKeyStore(join(dataDir, 'keys'), { fs })
  const policyStore = createFilePolicyStore({ dir: join(dataDir, 'policies'), steps: { fs } })
  const stamper = apiKeyStamper({ privateKey: generateApiKey().privateKey })
  return createCustodyClient({ transport: localEnclave({ dataDir, keyStore, policyStore }), stamper })
}

describe('enclave runtime (dev sealing): a full or read-only data directory', () => {
  const steps: FaultStep[] = ['mkdir', 'open', 'write', 'fsync', 'link']
  for (const code of CODES) {
    it(`key import: ${code} at ${steps.join(', ')} is UNAVAILABLE naming the cause; no record, no temp file; the retry succeeds`, async () => {
      const dataDir = await tempDir('fault-fs-keys-')
      const faulty = createFaultyFs()
      const custody = await runtimeWith(dataDir, faulty.fs)
      const kept = Wallet.createRandom()
      const before = await custody.importKey({ privateKey: kept.privateKey as `0x${string}`, keyId: 'kept' })
      const keptRecord = await readFile(join(dataDir, 'keys', 'kept.json'), 'utf8')
      const stored = ['kept']
      for (const step of steps) {
        const fresh = Wallet.createRandom()
        faulty.arm(step, code)
        const e = await rejection(custody.importKey({ privateKey: fresh.privateKey as `0x${string}`, keyId: `new-${step}` }))
        expect(faulty.fired).toBeGreaterThan(0)
        expect([step, isCustodyError(e, 'UNAVAILABLE'), e.retryable, e.message]).toEqual([step, true, true, `unavailable: cannot store the key record: ${CAUSE[code]}`])
        // The wire carries code, message and retryable only: no stack, no path, no key material.
        expect(JSON.stringify(e)).not.toContain(fresh.privateKey.slice(2))
        expect(JSON.stringify(e)).not.toContain(dataDir)
        expect(await tempFiles(join(dataDir, 'keys'))).toEqual([])
        expect((await custody.listKeys()).map((k) => k.keyId)).toEqual(stored)
        // The fault has cleared: the same import succeeds.
        const retried = await custody.importKey({ privateKey: fresh.privateKey as `0x${string}`, keyId: `new-${step}` })
        expect(retried.address).toBe(fresh.address)
        stored.push(`new-${step}`)
        stored.sort()
      }
      // The key that was there all along is untouched and still signs (checked by ethers, not by the SDK).
      expect(await readFile(join(dataDir, 'keys', 'kept.json'), 'utf8')).toBe(keptRecord)
      const signed = await custody.signEip1559('kept', tx(0))
      expect(Transaction.from(signed.rawTransaction).from).toBe(before.address)
      expect((await custody.listKeys()).map((k) => k.keyId).sort()).toEqual(['kept', ...steps.map((s) => `new-${s}`)].sort())
      await custody.close()
    })

    it(`signing policy: ${code} at mkdir, open, write, fsync, rename is UNAVAILABLE; the previous policy stays in force; the next write succeeds`, async () => {
      const dataDir = await tempDir('fault-fs-policy-')
      const faulty = createFaultyFs()
      const custody = await runtimeWith(dataDir, faulty.fs)
      const { keyId } = await custody.importKey({ generate: true, keyId: 'treasury' })
      const v1 = await custody.setSigningPolicy(keyId, { rules: [{ id: 'to-listed', effect: 'allow', when: { to: { in: [TO] } } }] })
      const file = join(dataDir, 'policies', 'treasury.json')
      let version = 1
      for (const step of ['mkdir', 'open', 'write', 'fsync', 'rename'] as const) {
        const beforeFile = await readFile(file, 'utf8')
        faulty.arm(step, code)
        const e = await rejection(custody.setSigningPolicy(keyId, { rules: [{ id: 'any', effect: 'allow' }] }))
        expect([step, isCustodyError(e, 'UNAVAILABLE'), e.message]).toEqual([step, true, `unavailable: cannot store the signing policy of "treasury": ${CAUSE[code]}`])
        expect(await tempFiles(join(dataDir, 'policies'))).toEqual([])
        // The old document is intact, still the one in force: a transfer elsewhere is refused.
        expect(await readFile(file, 'utf8')).toBe(beforeFile)
        expect((await custody.getSigningPolicy(keyId))?.document.version).toBe(version)
        expect(isCustodyError(await rejection(custody.signEip1559(keyId, { ...tx(0), to: '0x000000000000000000000000000000000000dEaD' })), 'POLICY_DENIED')).toBe(true)
        // Cleared: the next write succeeds (same rules as v1, a new version).
        const next = await custody.setSigningPolicy(keyId, { rules: v1.document.rules as never })
        version = next.document.version
        expect(version).toBeGreaterThan(1)
        expect(JSON.parse(await readFile(file, 'utf8')).document.version).toBe(version)
      }
      await custody.close()
    })
  }
})

describe('local AWS: a full or read-only data directory', () => {
  for (const code of CODES) {
    it(`Secrets Manager and KMS writes: ${code} at mkdir, open, write, fsync, rename is a 503 ServiceUnavailableException naming the cause; state unchanged; the retry succeeds and survives a restart`, async () => {
      const dataDir = await tempDir('fault-fs-aws-')
      const faulty = createFaultyFs()
      const start = () => startLocalAws({ dataDir, stateFileSystem: faulty.fs })
      let aws = await start()
      closers.push(() => aws.close())
      const clients = (endpoint: string) => {
        const c = { region: 'us-east-1', endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 }
        return { sm: new SecretsManagerClient(c), kms: new KMSClient(c) }
      }
      let { sm, kms } = clients(aws.endpoint)
      await sm.send(new CreateSecretCommand({ Name: 'kept', SecretString: 'v1' }))
      const file = join(dataDir, 'secretsmanager.json')
      for (const step of ['mkdir', 'open', 'write', 'fsync', 'rename'] as const) {
        const before = await readFile(file, 'utf8')
        faulty.arm(step, code)
        const e = await rejection(sm.send(new PutSecretValueCommand({ SecretId: 'kept', SecretString: `v-${step}` })))
        expect([step, e.name, (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode]).toEqual([step, 'ServiceUnavailableException', 503])
        expect(e.message).toBe(`local-aws cannot write its state (secretsmanager.json): ${CAUSE[code]}; nothing was changed`)
        expect(await readFile(file, 'utf8')).toBe(before)
        expect(await tempFiles(dataDir)).toEqual([])
        expect((await sm.send(new GetSecretValueCommand({ SecretId: 'kept' }))).SecretString).not.toBe(`v-${step}`)
        await sm.send(new PutSecretValueCommand({ SecretId: 'kept', SecretString: `v-${step}` }))
        expect((await sm.send(new GetSecretValueCommand({ SecretId: 'kept' }))).SecretString).toBe(`v-${step}`)
      }
      // KMS state goes through the same writer.
      faulty.arm('rename', code)
      const e = await rejection(kms.send(new CreateKeyCommand({})))
      expect([e.name, e.message]).toEqual(['ServiceUnavailableException', `local-aws cannot write its state (kms.json): ${CAUSE[code]}; nothing was changed`])
      const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!
      // A restart reads exactly what was acknowledged.
      sm.destroy()
      kms.destroy()
      await aws.close()
      aws = await start()
      ;({ sm, kms } = clients(aws.endpoint))
      expect((await sm.send(new GetSecretValueCommand({ SecretId: 'kept' }))).SecretString).toBe('v-rename')
      expect(JSON.parse(await readFile(join(dataDir, 'kms.json'), 'utf8'))).toBeTruthy()
      expect(JSON.stringify(JSON.parse(await readFile(join(dataDir, 'kms.json'), 'utf8')))).toContain(key)
      sm.destroy()
      kms.destroy()
    })
  }
})
