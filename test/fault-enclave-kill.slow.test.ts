/**
 * kill -9 of the enclave runtime process mid-load (the proxy and the enclave each their own process, dev sealing:
 * records under the enclave's data directory). Three attested clients sign without pause — every other request
 * with an idempotency key — while a fourth lane creates keys. The enclave is killed and started again over the same
 * data directory.
 *
 * - Every request that fails, fails with a retryable error (UNAVAILABLE / TIMEOUT, `retryable: true`); no wrong
 *   result is ever accepted: every signature returned is checked with ethers (sender, recipient, value, nonce).
 * - The SDK retries signs that carry an idempotency key (each try stamped anew, seen at the transport), and never
 *   a sign without one (exactly one try each).
 * - Service resumes after the restart; no key is lost or duplicated (listKeys before and after, the data directory
 *   holds only whole records); a key creation cut off by the kill is either stored whole or absent, and its retry
 *   succeeds (or finds it stored).
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { apiKeyStamper, type CustodyClient, generateApiKey, isCustodyError } from '@enclave-custody/sdk'
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
/**
 * Retries long enough to outlast a restart of the enclave process (a fresh Node process under tsx: 2-4 s on this
 * machine): full-jitter waits capped at 1 s, 10 tries — some 4-5 s of waiting on average.
 */
const RETRY = { attempts: 10, baseDelayMs: 50, maxDelayMs: 1000 }

type Outcome = { client: number; nonce: number; idempotent: boolean; ok: boolean; code?: string; retryable?: boolean; wrong?: string; at: number }

describe('kill -9 of the enclave runtime mid-load', () => {
  it('in-flight requests fail retryably, idempotent signs are retried, nothing wrong is accepted; service resumes with every key, none twice', async () => {
    dir = await mkdtemp(join(tmpdir(), 'fault-enclave-kill-'))
    stack = await startProcessStack({ dir, sealing: 'dev' })
    const s = stack
    const tries = new Map<string, number>()
    let t0 = performance.now()
    /** The last error answer any signer got (what the proxy or the enclave said), for the failure messages. */
    let lastErrorAnswer = 'none'
    const onRequest = (m: { op: string; params: unknown }) => {
      const p = m.params as { keyId?: string; tx?: { nonce?: string } }
      if (m.op === 'sign.eip1559') tries.set(`${p.keyId}:${p.tx?.nonce}`, (tries.get(`${p.keyId}:${p.tx?.nonce}`) ?? 0) + 1)
    }
    const signers = await Promise.all(
      [0, 1, 2].map(async (c) => {
        const client = s.client(apiKeyStamper({ privateKey: generateApiKey().privateKey }), {
          retry: RETRY,
          onRequest,
          onResponse: (m, r) => {
            if ((r as { ok?: boolean }).ok !== false) return
            lastErrorAnswer = `${((performance.now() - t0) / 1000).toFixed(2)} s ${m.op} ${JSON.stringify((r as { error?: unknown }).error)}`
            if (process.env.DEBUG_FAULT) process.stderr.write(`  ${lastErrorAnswer}\n`)
          },
        })
        const wallet = Wallet.createRandom()
        const info = await client.importKey({ privateKey: wallet.privateKey as `0x${string}`, keyId: `signer-${c}` })
        expect(info.address).toBe(wallet.address)
        return { client, wallet, keyId: `signer-${c}` }
      }),
    )
    const creator = s.client(apiKeyStamper({ privateKey: generateApiKey().privateKey }), { retry: RETRY })
    const listAll = async (clients: CustodyClient[]) => (await Promise.all(clients.map((c) => c.listKeys()))).flat().map((k) => k.keyId).sort()
    const before = await listAll([...signers.map((x) => x.client), creator])
    expect(before).toEqual(['signer-0', 'signer-1', 'signer-2'])

    const outcomes: Outcome[] = []
    const created: { keyId: string; ok: boolean; code?: string; retryable?: boolean; retried?: 'created' | 'KEY_EXISTS' }[] = []
    let stop = false
    t0 = performance.now()
    const load = Promise.all([
      ...signers.map(async ({ client, wallet, keyId }, c) => {
        for (let nonce = 0; !stop; nonce++) {
          const idempotent = nonce % 2 === 0
          const value = BigInt(1000 + nonce)
          const at = performance.now() - t0
          try {
            const signed = await client.signEip1559(keyId, { chainId: 1n, nonce: BigInt(nonce), to: TO, value, gas: 21_000n, maxFeePerGas: 2_000_000_000n, maxPriorityFeePerGas: 1n }, idempotent ? { idempotencyKey: `k${c}-n${nonce}` } : undefined)
            const parsed = Transaction.from(signed.rawTransaction)
            const wrong = parsed.from !== wallet.address ? `sender ${parsed.from}` : parsed.to !== TO || parsed.value !== value || parsed.nonce !== nonce ? 'not the transaction asked for' : undefined
            outcomes.push({ client: c, nonce, idempotent, ok: wrong === undefined, ...(wrong ? { wrong } : {}), at })
          } catch (e) {
            outcomes.push({ client: c, nonce, idempotent, ok: false, code: isCustodyError(e) ? e.code : String(e), retryable: isCustodyError(e) && e.retryable, at })
            // A caller backs off a little after a failure it may retry.
            await new Promise((r) => setTimeout(r, 50))
          }
        }
      }),
      (async () => {
        // One creation every 150 ms at most, 50 keys in all (key.list shows the first MAX_LISTED_RECORDS, 100,
        // records). A creation that failed is tried again, same keyId, until it succeeds or finds the key stored.
        for (let i = 0; !stop && i < 50; i++) {
          const keyId = `gen-${i}`
          for (let tried = false; !stop; tried = true) {
            const pace = new Promise((r) => setTimeout(r, 150))
            try {
              await creator.importKey({ generate: true, keyId })
              created.push({ keyId, ok: true, ...(tried ? { retried: 'created' } : {}) })
              await pace
              break
            } catch (e) {
              if (tried && isCustodyError(e, 'KEY_EXISTS')) {
                // Created before the kill, its answer lost: stored whole (checked below).
                created.push({ keyId, ok: true, retried: 'KEY_EXISTS' })
                break
              }
              created.push({ keyId, ok: false, code: isCustodyError(e) ? e.code : String(e), retryable: isCustodyError(e) && e.retryable })
            }
            await pace
          }
        }
      })(),
    ])
    await new Promise((r) => setTimeout(r, 1500))
    const killedAt = performance.now() - t0
    await s.enclave.kill9()
    await s.enclave.start()
    const restartedAt = performance.now() - t0
    // Load goes on past the restart, until every lane has succeeded again (or 20 s).
    const resumed = () =>
      [0, 1, 2].every((c) => outcomes.some((o) => o.client === c && o.ok && o.at > restartedAt)) && created.some((x) => x.retried !== undefined)
    const deadline = performance.now() + 20_000
    while (!resumed() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    await new Promise((r) => setTimeout(r, 500))
    stop = true
    await load

    const failures = outcomes.filter((o) => !o.ok)
    const summary = {
      killedAtMs: Math.round(killedAt),
      restartMs: Math.round(restartedAt - killedAt),
      signs: outcomes.length,
      failed: failures.length,
      failedCodes: [...new Set(failures.map((f) => `${f.code}${f.retryable ? ' (retryable)' : ''}`))],
      idempotentRetried: outcomes.filter((o) => o.idempotent && (tries.get(`signer-${o.client}:${o.nonce}`) ?? 0) > 1).length,
      idempotentRetriedAndSigned: outcomes.filter((o) => o.idempotent && o.ok && (tries.get(`signer-${o.client}:${o.nonce}`) ?? 0) > 1).length,
      // Failures of signs sent after the first signature of the restarted enclave: the proxy's reconnect back-off.
      failuresAfterResume: (() => {
        const first = Math.min(...outcomes.filter((o) => o.ok && o.at > restartedAt).map((o) => o.at))
        return failures.filter((f) => f.at > first).length
      })(),
      creations: created.length,
      creationsFailed: created.filter((x) => !x.ok).length,
      creationsRetried: created.filter((x) => x.retried !== undefined).map((x) => `${x.keyId}: ${x.retried}`),
    }
    process.stderr.write(`  ${JSON.stringify(summary)}\n`)

    // Nothing wrong accepted: every answer that came back was the signature asked for, by the right key.
    expect(outcomes.filter((o) => o.wrong !== undefined)).toEqual([])
    // The kill hit requests in flight, and each of them failed with an error the caller may retry.
    expect(failures.length + summary.idempotentRetried).toBeGreaterThan(0)
    for (const f of failures) expect([f.code, f.retryable]).toEqual([expect.stringMatching(/^(UNAVAILABLE|TIMEOUT)$/), true])
    for (const x of created.filter((y) => !y.ok)) expect([x.code, x.retryable]).toEqual([expect.stringMatching(/^(UNAVAILABLE|TIMEOUT)$/), true])
    // The SDK never repeats a sign without an idempotency key; it does repeat those with one.
    for (const o of outcomes.filter((x) => !x.idempotent)) expect([o.client, o.nonce, tries.get(`signer-${o.client}:${o.nonce}`)]).toEqual([o.client, o.nonce, 1])
    expect(summary.idempotentRetried).toBeGreaterThan(0)
    // Service resumed for every lane.
    expect(resumed()).toBe(true)

    // No key lost or duplicated: what was there is there; each creation is stored whole or absent; a retry succeeds.
    const storedFiles = (await readdir(join(dir, 'keys'))).sort()
    expect(storedFiles.filter((f) => f.endsWith('.tmp'))).toEqual([])
    for (const f of storedFiles) expect(JSON.parse(await readFile(join(dir, 'keys', f), 'utf8')).keyId).toBe(f.replace(/\.json$/, ''))
    const createdIds = [...new Set(created.map((x) => x.keyId))]
    // Every creation ended in a stored key (a last one cut off by the end of the run is tried once more here).
    for (const keyId of createdIds.filter((k) => !created.some((x) => x.keyId === k && x.ok))) {
      await creator.importKey({ generate: true, keyId }).catch((e) => expect([keyId, isCustodyError(e) ? e.code : String(e)]).toEqual([keyId, 'KEY_EXISTS']))
    }
    const after = await listAll([...signers.map((x) => x.client), creator])
    expect(after).toEqual([...new Set(after)])
    expect(after).toEqual([...before, ...createdIds].sort())
    expect(after).toEqual(storedFiles.filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, '')).sort())
    // Every key still signs after the restart (ethers checks the sender).
    for (const { client, wallet, keyId } of signers) {
      // With an idempotency key, as a careful caller would. (Once one proxy connection is back, the pool ends the
      // others' reconnect back-off and sends nothing to a connection still waiting: enclaveConnection.test.ts; any
      // failure after the service resumed is counted as failuresAfterResume above.)
      const signed = await client.signEip1559(keyId, { chainId: 1n, nonce: 999_999n, to: TO, value: 1n, gas: 21_000n, maxFeePerGas: 2_000_000_000n, maxPriorityFeePerGas: 1n }, { idempotencyKey: `final-${keyId}` }).catch((e: unknown) => {
        throw new Error(`${keyId}: a sign after the service resumed failed: ${String(e)}; last error answer: ${lastErrorAnswer}`)
      })
      expect(Transaction.from(signed.rawTransaction).from).toBe(wallet.address)
    }
    for (const c of [...signers.map((x) => x.client), creator]) await c.close()
  }, 120_000)
})
