/**
 * kill -9 of local AWS (its own process, packages/local-aws bin) during a stream of imports — enclave-sealed imports
 * (the enclave seals with KMS GenerateDataKey, the client stores the record with CreateSecret) alternating with
 * offline imports (createKmsImporter: KMS Encrypt + CreateSecret). The imports in flight fail with a retryable
 * error; after a restart of local AWS on the same port and data directory there is no half record: its state files
 * parse, and every stored key record parses, names its key and unseals (the key signs, checked by ethers), or is
 * absent. A retry of each failed import succeeds — or, when the record had landed before the kill and only the
 * answer was lost, reports KEY_EXISTS for a stored key that is the same key.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { apiKeyStamper, type CustodyError, generateApiKey, isCustodyError } from '@enclave-custody/sdk'
import { Transaction, Wallet } from 'ethers'
import { afterAll, describe, expect, it } from 'vitest'
import { type ProcessStack, startProcessStack } from './support/processStack.js'

let stack: ProcessStack | undefined
let dir: string | undefined
afterAll(async () => {
  await stack?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
})

const TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const tx = { chainId: 1n, nonce: 0n, to: TO, value: 1n, gas: 21_000n, maxFeePerGas: 2_000_000_000n, maxPriorityFeePerGas: 1n }
const RECORD_PREFIX = 'enclave-custody/keys/'

describe('kill -9 of local AWS during imports', () => {
  it('in-flight imports fail retryably; after a restart no half record, every record unseals; the retries succeed', async () => {
    dir = await mkdtemp(join(tmpdir(), 'fault-aws-kill-'))
    stack = await startProcessStack({ dir, sealing: 'kms' })
    const aws = stack.aws!
    const custody = stack.client(apiKeyStamper({ privateKey: generateApiKey().privateKey }))
    const wallets = new Map<string, { address: string; privateKey: string }>()
    const failed = new Map<string, CustodyError | unknown>()
    const imported: string[] = []
    let stop = false
    const importOne = (keyId: string) => custody.importKey({ privateKey: wallets.get(keyId)!.privateKey as `0x${string}`, keyId, ...(Number(keyId.split('-')[1]) % 2 === 1 ? { offline: true as const } : {}) })
    // Two importers in parallel, so that the kill finds imports at different steps.
    // Lane 0: sealed imports, lane 1: offline imports; each goes on until two of its imports failed.
    const landed = [0, 0]
    const stream = Promise.all(
      [0, 1].map(async (lane) => {
        let failures = 0
        for (let i = lane; !stop && failures < 2; i += 2) {
          const keyId = `imp-${i}`
          wallets.set(keyId, Wallet.createRandom())
          try {
            const info = await importOne(keyId)
            expect(info.address).toBe(wallets.get(keyId)!.address)
            imported.push(keyId)
            landed[lane]!++
          } catch (e) {
            failed.set(keyId, e)
            failures++
          }
        }
      }),
    )
    // Let a few of each kind land, then kill local AWS wherever the imports are.
    while (landed[0]! < 3 || landed[1]! < 3) {
      if (failed.size > 0) throw new Error(`an import failed before the kill: ${String([...failed.values()][0])}`)
      await new Promise((r) => setTimeout(r, 10))
    }
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 25)))
    await aws.kill9()
    const killedAfter = imported.length
    await stream
    stop = true

    // Every failure is one the caller may retry: the service was unavailable, nothing wrong was accepted.
    for (const [keyId, e] of failed) {
      expect([keyId, isCustodyError(e) ? e.code : String(e), isCustodyError(e) && e.retryable]).toEqual([keyId, expect.stringMatching(/^(UNAVAILABLE|TIMEOUT)$/), true])
    }
    expect(failed.size).toBeGreaterThanOrEqual(4)
    const errors = [...new Set([...failed.values()].map((e) => (isCustodyError(e) ? `${e.code}: ${e.message}` : String(e))))]

    await aws.start()
    // The state files parse (atomic writes: the old or the new document, never a mix).
    const secrets = JSON.parse(await readFile(join(dir, 'aws', 'secretsmanager.json'), 'utf8')) as {
      secrets: Record<string, { name: string; versions: Record<string, { secretString?: string; stages: string[] }> }>
    }
    JSON.parse(await readFile(join(dir, 'aws', 'kms.json'), 'utf8'))
    const stored = Object.values(secrets.secrets)
      .filter((s) => s.name.startsWith(RECORD_PREFIX))
      .map((s) => {
        const current = Object.values(s.versions).find((v) => v.stages.includes('AWSCURRENT'))!
        // Each stored record is a whole record of its key.
        const record = JSON.parse(current.secretString!) as { keyId: string; address: string }
        expect(record.keyId).toBe(s.name.slice(RECORD_PREFIX.length))
        return record
      })
    const storedIds = stored.map((r) => r.keyId).sort()
    // Every import that succeeded is stored; nothing is stored twice; nothing is stored that was never attempted.
    for (const keyId of imported) expect(storedIds).toContain(keyId)
    expect(new Set(storedIds).size).toBe(storedIds.length)
    for (const keyId of storedIds) expect(wallets.has(keyId)).toBe(true)
    // Every stored record unseals through KMS: the key signs, and ethers recovers the address of the key imported.
    for (const record of stored) {
      expect(record.address).toBe(wallets.get(record.keyId)!.address)
      const signed = await custody.signEip1559(record.keyId, tx)
      expect(Transaction.from(signed.rawTransaction).from).toBe(wallets.get(record.keyId)!.address)
    }

    // A retry of each failed import succeeds (or finds the record that landed before the answer was lost).
    const outcomes: Record<string, string> = {}
    for (const keyId of failed.keys()) {
      try {
        expect((await importOne(keyId)).address).toBe(wallets.get(keyId)!.address)
        outcomes[keyId] = storedIds.includes(keyId) ? 'imported, but it was already stored' : 'imported'
      } catch (e) {
        expect([keyId, isCustodyError(e) ? e.code : String(e)]).toEqual([keyId, 'KEY_EXISTS'])
        expect(storedIds).toContain(keyId)
        outcomes[keyId] = 'KEY_EXISTS: stored before the kill'
      }
      expect((await custody.getKey(keyId)).address).toBe(wallets.get(keyId)!.address)
      const signed = await custody.signEip1559(keyId, tx)
      expect(Transaction.from(signed.rawTransaction).from).toBe(wallets.get(keyId)!.address)
    }
    const listed = (await custody.listKeys()).map((k) => k.keyId).sort()
    expect(listed).toEqual([...new Set([...imported, ...failed.keys()])].sort())
    process.stderr.write(`  local-aws killed after ${killedAfter} imports; ${failed.size} failed: ${JSON.stringify(errors)}; retries: ${JSON.stringify(outcomes)}\n`)
    await custody.close()
  }, 120_000)
})
