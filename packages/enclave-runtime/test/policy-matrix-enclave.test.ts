/**
 * The signing-policy matrix (every fact × operator × effect, with boundaries) decided by the enclave itself: the
 * real request handler, a key sealed with every flag (so that only the policy decides), each case's policy set as
 * the next version with its owner's approval, then the case's payload (the same real payloads `custody policy test`
 * is run over) signed by the case's requester. The enclave's decision and rule — from its answer and its audit
 * event — must be the matrix's.
 */
import { getRandomValues } from 'node:crypto'
import { apiKeyStamper, approveSigningPolicy, canonicalApiKey, normalizeSigningPolicy, normalizeSigningPolicyDocument, type Stamper } from '@enclave-custody/sdk'
import type { AuditEvent, Hex, ResponseMessage } from '@enclave-custody/sdk/protocol'
import { describe, expect, it } from 'vitest'
import { createRequestHandler } from '../src/handler.js'
import { createMemoryKeyStore } from '../src/keys/fileKeyStore.js'
import { createLocalSealer } from '../src/keys/localSealer.js'
import { createKeyCache } from '../src/unseal/keyCache.js'
import { MATRIX_SAMPLES, type PolicyMatrixCase, policyMatrixCases } from './support/policyMatrix.js'
import { INEXPRESSIBLE, payloadFor } from './support/policyMatrixPayloads.js'
import { testSession } from './support/session.js'
import { stampingHandler } from './support/stamps.js'

/** The stamper of the matrix's deterministic API key `n` (testApiKey(n): 0x42, zeros, n). */
const matrixStamper = (n: number): Stamper => apiKeyStamper({ privateKey: `0x42${'00'.repeat(30)}${n.toString(16).padStart(2, '0')}` })

describe('the enclave over the policy matrix', () => {
  it('decides every case a payload can express as the matrix expects, naming the same rule', { timeout: 120_000 }, async () => {
    const session = await testSession()
    // No gas cap: some fee probes need a gas limit far above a block's (only the policy decides here).
    const raw = createRequestHandler({ keyStore: createMemoryKeyStore(), sealer: createLocalSealer(getRandomValues(new Uint8Array(32))), session, maxGas: (1n << 64n) - 1n, keyCache: createKeyCache({ ttlMs: 600_000, maxEntries: 4 }) })
    const [first, second] = [matrixStamper(1), matrixStamper(2)]
    const aud = session.identity.aud
    const as = (stamper: Stamper) => stampingHandler(raw, { stamper, aud })
    let n = 0
    const send = async (stamper: Stamper, op: string, params: unknown) => {
      const { audit, ...response } = await as(stamper).handle({ v: 1, id: `m${n++}`, op, params })
      return { response: response as ResponseMessage, events: (audit as AuditEvent[] | undefined) ?? [] }
    }
    // Both matrix signers own the key; every sealed flag is set, so only the policy decides.
    const owners = { publicKeys: [first.publicKey, second.publicKey], threshold: 1 }
    const generated = await send(first, 'key.generate', { keyId: 'matrix', owners, policy: { allowRawDigest: true, allowReplayableLegacy: true, allowAnyChainAuthorization: true } })
    expect(generated.response.ok).toBe(true)
    const keyPublicKey = (generated.response as { result: { publicKey: Hex } }).result.publicKey

    let version = 0
    let inForce = ''
    const ran: string[] = []
    const skipped: string[] = []
    for (const c of policyMatrixCases() as PolicyMatrixCase[]) {
      // Every request has a requester: a payload without a signer exists only offline.
      const payload = c.fact === 'signer' && c.probe.value === undefined ? undefined : payloadFor(c.fact, c.probe.value)
      if (!payload) {
        skipped.push(c.name)
        continue
      }
      // The probes of one rule share its policy: set it only when it changes.
      const policy = normalizeSigningPolicy(c.policy)
      if (JSON.stringify(policy) !== inForce) {
        const document = normalizeSigningPolicyDocument({ keyId: 'matrix', keyPublicKey, version: ++version, ...policy })
        const set = await send(first, 'policy.set', { keyId: 'matrix', policy: { document, approvals: [await approveSigningPolicy(first, document)] } })
        expect(set.response.ok, `${c.name}: policy.set`).toBe(true)
        inForce = JSON.stringify(policy)
      }
      const signer = c.fact === 'signer' ? (c.probe.value as string) : (MATRIX_SAMPLES[c.sample].signer as string)
      const requester = canonicalApiKey(signer, 'signer') === canonicalApiKey(second.publicKey, 'second') ? second : first
      const signed = await send(requester, payload.op, { ...payload.params, keyId: 'matrix' })
      const event = signed.events.find((e) => e.op === payload.op)
      const decision = signed.response.ok
        ? { allowed: true, rule: event?.rule }
        : { allowed: false, rule: (signed.response.error.details as { rule?: string } | undefined)?.rule, code: signed.response.error.code }
      expect(decision, c.name).toEqual(c.expected.allowed ? { allowed: true, rule: c.expected.rule } : { allowed: false, rule: c.expected.rule, code: 'POLICY_DENIED' })
      ran.push(c.name)
    }
    expect(skipped).toEqual(policyMatrixCases().filter((c) => INEXPRESSIBLE(c) || (c.fact === 'signer' && c.probe.value === undefined)).map((c) => c.name))
    expect(ran.length).toBeGreaterThan(300)
  })
})
