/**
 * Signing policies end to end: the real SDK client (stamps, attested and signed answers) against the real
 * request handler, in-process. Policy documents, quorum approvals, delegated signers, the sealed flags as a
 * ceiling, rolling limits under concurrency and across a restart, and the audit events of each decision.
 */
import { getRandomValues } from 'node:crypto'
import {
  apiKeyStamper,
  approveRequest,
  approveSigningPolicy,
  createCustodyClient,
  type CustodyClient,
  generateApiKey,
  isCustodyError,
  type SignedSigningPolicy,
  type Stamper,
  type Transport,
  verifyAuditLog,
} from '@enclave-custody/sdk'
import type { AuditEvent, ResponseMessage } from '@enclave-custody/sdk/protocol'
import type { RollingLimit } from '@enclave-custody/sdk'
import { p256 } from '@noble/curves/nist.js'
import { describe, expect, it } from 'vitest'
import { createRequestHandler, type RequestHandler } from '../src/handler.js'
import { createMemoryKeyStore } from '../src/keys/fileKeyStore.js'
import { createLocalSealer } from '../src/keys/localSealer.js'
import type { KeyStore, Sealer } from '../src/keys/types.js'
import type { LimitReservation, RollingLimits } from '../src/policy/rollingLimits.js'
import { createMemoryPolicyStore } from '../src/policy/signingPolicies.js'
import type { PolicyStore } from '../src/policy/types.js'
import { attestationPolicyOf, sharedSoftwareNsm, testSession } from './support/session.js'

const TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const OTHER = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC'
const ETH = 10n ** 18n
const tx = (value: bigint, to = TO, nonce = 0n) => ({ chainId: 1n, nonce, to, value, gas: 21_000n, maxFeePerGas: 2_000_000_000n, maxPriorityFeePerGas: 1n })
const newStamper = (): Stamper => apiKeyStamper({ privateKey: generateApiKey().privateKey })

type Enclave = { handler: RequestHandler; events: AuditEvent[]; transport: Transport; creators: string[]; client(stamper: Stamper): CustodyClient }

/** The real handler behind an in-process transport that keeps the audit events it hands out. */
async function enclave(
  options: { keyStore?: KeyStore; sealer?: Sealer; policyStore?: PolicyStore; now?: () => Date; limits?: RollingLimits } = {},
): Promise<Enclave> {
  const session = await testSession()
  const handler = createRequestHandler({
    keyStore: options.keyStore ?? createMemoryKeyStore(),
    sealer: options.sealer ?? createLocalSealer(getRandomValues(new Uint8Array(32))),
    session,
    ...(options.policyStore ? { policyStore: options.policyStore } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
  })
  const events: AuditEvent[] = []
  // Every key of a test is created by one of its stampers: each client trusts them all as creators.
  const creators: string[] = []
  const policy = attestationPolicyOf(await sharedSoftwareNsm())
  const transport: Transport = {
    name: 'in-process',
    attestation: policy,
    async request(message) {
      const { audit, ...response } = await handler.handle(JSON.parse(JSON.stringify(message)))
      events.push(...((audit as AuditEvent[] | undefined) ?? []))
      return JSON.parse(JSON.stringify(response)) as ResponseMessage
    },
  }
  return { handler, events, transport, creators, client: (stamper) => createCustodyClient({ transport, stamper, trustedCreators: creators }) }
}

async function refusal(promise: Promise<unknown>): Promise<{ code: string; rule?: unknown; message: string }> {
  try {
    await promise
  } catch (e) {
    if (isCustodyError(e)) return { code: e.code, rule: e.details?.rule, message: e.message }
    throw e
  }
  return { code: 'resolved', message: '' }
}

/** A key owned by `owners` (threshold `threshold`), generated through `creator`'s client. */
async function keyOf(e: Enclave, creator: Stamper, owners: Stamper[] = [creator], threshold = 1) {
  e.creators.push(creator.publicKey)
  return e.client(creator).importKey({ generate: true, owners: { publicKeys: owners.map((s) => s.publicKey), threshold } })
}

describe('a signing policy set by the owner', () => {
  it('allows what its rules allow (value exactly at the cap), denies the rest naming the rule, and is reported in getKey', async () => {
    const e = await enclave()
    const owner = newStamper()
    const custody = e.client(owner)
    const { keyId } = await keyOf(e, owner)
    const state = await custody.setSigningPolicy(keyId, {
      rules: [
        { id: 'demo-recipient', effect: 'allow', when: { to: { in: [TO] }, value: { lte: (ETH / 10n).toString() } } },
        { id: 'never-other', effect: 'deny', when: { to: { in: [OTHER] } } },
      ],
    })
    expect(state.version).toBe(1)
    expect((await custody.getKey(keyId)).signingPolicy).toEqual({ version: 1, digest: state.digest })
    await expect(custody.signEip1559(keyId, tx(ETH / 10n))).resolves.toMatchObject({ from: expect.any(String) })
    // One wei above the cap: the allow rule does not match, and nothing else allows.
    expect(await refusal(custody.signEip1559(keyId, tx(ETH / 10n + 1n)))).toMatchObject({ code: 'POLICY_DENIED', rule: undefined, message: expect.stringContaining('no rule allows') })
    expect(await refusal(custody.signEip1559(keyId, tx(1n, OTHER)))).toMatchObject({ code: 'POLICY_DENIED', rule: 'never-other' })
    expect(await refusal(custody.signMessage(keyId, { message: 'hello' }))).toMatchObject({ code: 'POLICY_DENIED' })
    // Each decision is an audit event naming the rule and the policy; the chain verifies.
    const signs = e.events.filter((ev) => ev.op === 'sign.eip1559')
    expect(signs.map((ev) => [ev.outcome, ev.rule, ev.policyVersion])).toEqual([
      ['ok', 'demo-recipient', 1],
      ['POLICY_DENIED', undefined, 1],
      ['POLICY_DENIED', 'never-other', 1],
    ])
    const set = e.events.find((ev) => ev.op === 'policy.set')!
    expect(set).toMatchObject({ outcome: 'ok', policyVersion: 1, policyDigest: state.digest })
    expect(verifyAuditLog({ events: e.events, pcr0: [(await sharedSoftwareNsm()).pcrs[0]!], roots: [(await sharedSoftwareNsm()).rootCertificatePem] }).ok).toBe(true)
  })

  it('never widens the sealed flags: an allow-everything policy does not let a key without allowRawDigest sign a digest', async () => {
    const e = await enclave()
    const owner = newStamper()
    const custody = e.client(owner)
    const { keyId } = await keyOf(e, owner)
    await custody.setSigningPolicy(keyId, { rules: [{ id: 'all', effect: 'allow' }] })
    expect(await refusal(custody.signDigest(keyId, `0x${'11'.repeat(32)}`))).toMatchObject({ code: 'POLICY_DENIED', message: expect.stringContaining('allowRawDigest') })
  })

  it('refuses a payload whose facts cannot be extracted (a transfer selector with malformed arguments), policy or not', async () => {
    const e = await enclave()
    const owner = newStamper()
    const { keyId } = await keyOf(e, owner)
    const bad = { ...tx(0n), data: `0xa9059cbb${'00'.repeat(31)}` as const }
    expect(await refusal(e.client(owner).signEip1559(keyId, bad))).toMatchObject({ code: 'INVALID_ARGUMENT' })
  })
})

describe('policy documents: what does not take effect', () => {
  async function setup() {
    const e = await enclave()
    const [a, b, c] = [newStamper(), newStamper(), newStamper()]
    const { keyId } = await keyOf(e, a, [a, b, c], 2)
    const custody = e.client(a)
    const v1 = await custody.setSigningPolicy(keyId, { rules: [{ id: 'v1', effect: 'allow', when: { value: { lte: '100' } } }] }, { approvers: [b] })
    return { e, a, b, c, keyId, custody, v1 }
  }
  const rules = [{ id: 'lax', effect: 'allow' as const }]

  it('unapproved, under-approved, approved by a non-owner, edited after approval: refused, and v1 stays in force', async () => {
    const { e, a, b, keyId, custody, v1 } = await setup()
    const document = await custody.signingPolicyDocument(keyId, { rules })
    const byA = await approveSigningPolicy(a, document)
    const byB = await approveSigningPolicy(b, document)
    const stranger = await approveSigningPolicy(newStamper(), document)
    const attempts: SignedSigningPolicy[] = [
      { document, approvals: [] },
      { document, approvals: [byA] },
      { document, approvals: [byA, stranger] },
      { document, approvals: [byA, byA] },
      { document: { ...document, rules: [{ id: 'lax', effect: 'allow', when: {} }], version: document.version }, approvals: [byA, { ...byB, signature: byA.signature }] },
      { document: { ...document, signers: [newStamper().publicKey as `0x${string}`].map((k) => `0x${Buffer.from(p256.Point.fromHex(k.slice(2)).toBytes(true)).toString('hex')}` as `0x${string}`) }, approvals: [byA, byB] },
    ]
    for (const attempt of attempts) {
      const r = await refusal(custody.setSigningPolicy(keyId, attempt))
      expect(['FORBIDDEN', 'INVALID_ARGUMENT']).toContain(r.code)
    }
    expect((await custody.getSigningPolicy(keyId))?.digest).toBe(v1.digest)
    expect(await refusal(custody.signEip1559(keyId, tx(101n), { approvers: [b] }))).toMatchObject({ code: 'POLICY_DENIED', message: expect.stringContaining('no rule allows') })
    expect(e.events.filter((ev) => ev.op === 'policy.set' && ev.outcome === 'ok')).toHaveLength(1)
  })

  it('a lower or replayed old version is refused, also after an enclave restart (the store is read again)', async () => {
    const policyStore = createMemoryPolicyStore()
    const keyStore = createMemoryKeyStore()
    const sealer = createLocalSealer(getRandomValues(new Uint8Array(32)))
    const e = await enclave({ policyStore, keyStore, sealer })
    const [a, b] = [newStamper(), newStamper()]
    const { keyId } = await keyOf(e, a, [a, b], 2)
    const custody = e.client(a)
    const v1 = await custody.setSigningPolicy(keyId, { rules }, { approvers: [b] })
    const v2 = await custody.setSigningPolicy(keyId, { rules: [{ id: 'strict', effect: 'allow', when: { value: { lte: '1' } } }] }, { approvers: [b] })
    expect(v2.version).toBe(2)
    const old: SignedSigningPolicy = { document: v1.document, approvals: v1.approvals }
    expect(await refusal(custody.setSigningPolicy(keyId, old))).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('versions only increase') })
    // A new boot of the enclave over the same stores: memory is gone, the store says v2.
    const restarted = await enclave({ policyStore, keyStore, sealer })
    const again = restarted.client(a)
    expect(await refusal(again.setSigningPolicy(keyId, old))).toMatchObject({ code: 'INVALID_ARGUMENT' })
    expect((await again.getSigningPolicy(keyId))?.digest).toBe(v2.digest)
    expect(await refusal(again.signEip1559(keyId, tx(2n), { approvers: [b] }))).toMatchObject({ code: 'POLICY_DENIED', message: expect.stringContaining('no rule allows') })
  })

  it('a store that rolls back within a boot is outvoted by what the enclave has seen', async () => {
    const inner = createMemoryPolicyStore()
    let rollback: unknown
    const policyStore: PolicyStore = { kind: 'memory', read: async (k, c) => rollback ?? inner.read(k, c), write: (k, s) => inner.write!(k, s) }
    const e = await enclave({ policyStore })
    const a = newStamper()
    const { keyId } = await keyOf(e, a)
    const custody = e.client(a)
    const v1 = await custody.setSigningPolicy(keyId, { rules })
    const v2 = await custody.setSigningPolicy(keyId, { rules: [{ id: 'strict', effect: 'allow', when: { value: { lte: '1' } } }] })
    rollback = { document: v1.document, approvals: v1.approvals }
    expect((await custody.getSigningPolicy(keyId))?.digest).toBe(v2.digest)
    expect(await refusal(custody.signEip1559(keyId, tx(2n)))).toMatchObject({ code: 'POLICY_DENIED', message: expect.stringContaining('no rule allows') })
  })

  it('a stored document that does not verify fails closed (never reads as "no policy")', async () => {
    const inner = createMemoryPolicyStore()
    let corrupt = false
    const policyStore: PolicyStore = {
      kind: 'memory',
      read: async (k, c) => {
        const s = (await inner.read(k, c)) as SignedSigningPolicy | undefined
        return corrupt && s ? { ...s, document: { ...s.document, rules: [] } } : s
      },
      write: (k, s) => inner.write!(k, s),
    }
    const e = await enclave({ policyStore })
    const a = newStamper()
    const { keyId } = await keyOf(e, a)
    await e.client(a).setSigningPolicy(keyId, { rules: [{ id: 'strict', effect: 'allow', when: { value: { lte: '1' } } }] })
    corrupt = true
    // A fresh client (and a fresh read: policy.get always reads the store).
    expect(await refusal(e.client(a).getSigningPolicy(keyId))).toMatchObject({ code: 'INTEGRITY_ERROR' })
  })
})

describe('quorum approvals', () => {
  async function setup() {
    const e = await enclave()
    const [owner, alice, bob] = [newStamper(), newStamper(), newStamper()]
    const { keyId } = await keyOf(e, owner)
    await e.client(owner).setSigningPolicy(keyId, {
      rules: [
        { id: 'small', effect: 'allow', when: { value: { lte: '1000' } } },
        { id: 'large', effect: 'allow', when: { value: { gt: '1000' } }, approvals: { from: [alice.publicKey, bob.publicKey], threshold: 2 } },
      ],
      signers: [alice.publicKey],
    })
    return { e, owner, alice, bob, keyId }
  }

  it('1-of-2 is refused naming the rule; 2 distinct keys sign', async () => {
    const { e, alice, bob, keyId } = await setup()
    const custody = e.client(alice)
    expect(await refusal(custody.signEip1559(keyId, tx(5000n)))).toMatchObject({ code: 'POLICY_DENIED', rule: 'large', message: expect.stringContaining('approv') })
    await expect(custody.signEip1559(keyId, tx(5000n), { approvers: [bob] })).resolves.toMatchObject({ hash: expect.any(String) })
    const ok = e.events.filter((ev) => ev.op === 'sign.eip1559' && ev.outcome === 'ok').at(-1)!
    expect(ok.rule).toBe('large')
    expect(ok.approvers).toEqual([`0x${Buffer.from(p256.Point.fromHex(bob.publicKey.slice(2)).toBytes(true)).toString('hex')}`])
  })

  it('two stamps of one key (different nonces; once compressed, once uncompressed) count once', async () => {
    const { e, alice, keyId } = await setup()
    const secret = generateApiKey().privateKey
    const same = apiKeyStamper({ privateKey: secret })
    const uncompressedAlice: Stamper = { publicKey: `0x${Buffer.from(p256.Point.fromHex(alice.publicKey.slice(2)).toBytes(false)).toString('hex')}`, scheme: alice.scheme, stamp: (b) => alice.stamp(b) }
    expect(await refusal(e.client(alice).signEip1559(keyId, tx(5000n), { approvers: [alice] }))).toMatchObject({ code: 'POLICY_DENIED', rule: 'large' })
    expect(await refusal(e.client(alice).signEip1559(keyId, tx(5000n), { approvers: [uncompressedAlice] }))).toMatchObject({ code: 'POLICY_DENIED', rule: 'large' })
    expect(same.publicKey).not.toBe(alice.publicKey)
  })

  it('an approval collected on another machine (approvalRequest → approveRequest) counts once, and never for another request', async () => {
    const { e, alice, bob, keyId } = await setup()
    const custody = e.client(alice)
    const request = await custody.approvalRequest.signEip1559(keyId, tx(7000n), { idempotencyKey: 'payroll-7' })
    const approval = await approveRequest(bob, JSON.parse(JSON.stringify(request)))
    // Bob's stamp is over this request: another amount does not verify (UNAUTHENTICATED, signed, so it reaches the caller).
    expect(await refusal(custody.signEip1559(keyId, tx(7001n), { idempotencyKey: 'payroll-7', approvals: [approval] }))).toMatchObject({ code: 'UNAUTHENTICATED' })
    await expect(custody.signEip1559(keyId, tx(7000n), { idempotencyKey: 'payroll-7', approvals: [approval] })).resolves.toMatchObject({ hash: expect.any(String) })
    // The same approval again (a new request id, a fresh own stamp) is a replay.
    expect(await refusal(custody.signEip1559(keyId, tx(7000n), { idempotencyKey: 'payroll-8', approvals: [approval] }))).toMatchObject({ code: 'UNAUTHENTICATED' })
  })

  it('an owners threshold of 2 is met by two owners\' stamps on the request (one alone is FORBIDDEN)', async () => {
    const e = await enclave()
    const [a, b] = [newStamper(), newStamper()]
    const { keyId } = await keyOf(e, a, [a, b], 2)
    expect(await refusal(e.client(a).signEip1559(keyId, tx(1n)))).toMatchObject({ code: 'FORBIDDEN' })
    await expect(e.client(a).signEip1559(keyId, tx(1n), { approvers: [b] })).resolves.toMatchObject({ hash: expect.any(String) })
  })
})

describe('delegation', () => {
  it('a policy\'s signer signs under its rules, cannot set the policy; an unlisted key is FORBIDDEN', async () => {
    const e = await enclave()
    const [owner, backend, stranger] = [newStamper(), newStamper(), newStamper()]
    const { keyId } = await keyOf(e, owner)
    await e.client(owner).setSigningPolicy(keyId, { rules: [{ id: 'to-treasury', effect: 'allow', when: { to: { in: [TO] } } }], signers: [backend.publicKey] })
    const service = createCustodyClient({ transport: e.transport, stamper: backend, trustedCreators: [owner.publicKey] })
    await expect(service.signEip1559(keyId, tx(5n))).resolves.toMatchObject({ hash: expect.any(String) })
    expect(await refusal(service.signEip1559(keyId, tx(5n, OTHER)))).toMatchObject({ code: 'POLICY_DENIED' })
    expect(await refusal(service.setSigningPolicy(keyId, { rules: [] }))).toMatchObject({ code: 'FORBIDDEN' })
    expect(await refusal(e.client(stranger).signEip1559(keyId, tx(5n)))).toMatchObject({ code: 'FORBIDDEN' })
  })
})

describe('rolling limits over the real handler', () => {
  const limit = (max: bigint, extra: Partial<RollingLimit> = {}) => ({ sum: 'value' as const, max: max.toString(), window: '1m', afterRestart: 'reset' as const, ...extra })
  /** A sealer whose unsealing takes 15 ms: the latency between a limit's check and its commit. */
  const slow = (sealer: Sealer): Sealer => ({
    kind: sealer.kind,
    ...(sealer.seal ? { seal: sealer.seal.bind(sealer) } : {}),
    unseal: async (record, context) => {
      await new Promise((r) => setTimeout(r, 15))
      return sealer.unseal(record, context)
    },
  })

  async function concurrentTotal(limits?: RollingLimits): Promise<{ signed: bigint; max: bigint }> {
    const e = await enclave({ sealer: slow(createLocalSealer(getRandomValues(new Uint8Array(32)))), ...(limits ? { limits } : {}) })
    const owner = newStamper()
    const custody = e.client(owner)
    const { keyId } = await keyOf(e, owner)
    const max = 1000n
    await custody.setSigningPolicy(keyId, { rules: [{ id: 'daily', effect: 'allow', limit: limit(max) }] })
    await custody.getKey(keyId)
    // 64 requests of 100 each: together 6,400 against a limit of 1,000.
    const results = await Promise.allSettled(Array.from({ length: 64 }, (_, i) => custody.signEip1559(keyId, tx(100n, TO, BigInt(i)))))
    const signed = results.filter((r) => r.status === 'fulfilled').length
    return { signed: BigInt(signed) * 100n, max }
  }

  it('64 concurrent requests with 15 ms between check and commit never sign more than the limit', async () => {
    const { signed, max } = await concurrentTotal()
    expect(signed).toBe(max)
  })

  it('a naive check-then-increment limiter whose increment lands later overshoots (the test above can fail)', async () => {
    const committed = new Map<string, bigint>()
    // What a limiter that counts only once a write completes (e.g. a remote counter) does.
    const naive: RollingLimits = {
      reserve(bucket, l, amount): LimitReservation | { refused: string } {
        if ((committed.get(bucket) ?? 0n) + amount > BigInt(l.max)) return { refused: 'over the limit' }
        return { commit: () => void setTimeout(() => committed.set(bucket, (committed.get(bucket) ?? 0n) + amount), 15), release: () => {} }
      },
    }
    const { signed, max } = await concurrentTotal(naive)
    expect(signed).toBeGreaterThan(max)
  })

  it('after the window signing resumes; after a restart the default refuses until a whole window has passed', async () => {
    let offset = 0
    const now = () => new Date(Date.now() + offset)
    const keyStore = createMemoryKeyStore()
    const policyStore = createMemoryPolicyStore()
    const sealer = createLocalSealer(getRandomValues(new Uint8Array(32)))
    const e = await enclave({ keyStore, policyStore, sealer, now })
    const owner = newStamper()
    const custody = e.client(owner)
    const { keyId } = await keyOf(e, owner)
    // Set 61 s after boot, so that the default (deny until a window after boot) does not refuse yet.
    offset = 61_000
    await custody.setSigningPolicy(keyId, { rules: [{ id: 'per-minute', effect: 'allow', limit: limit(100n, { afterRestart: 'deny-until-window-end' }) }] })
    await custody.signEip1559(keyId, tx(100n))
    expect(await refusal(custody.signEip1559(keyId, tx(1n, TO, 1n)))).toMatchObject({ code: 'POLICY_DENIED', rule: 'per-minute' })
    offset += 62_000
    await expect(custody.signEip1559(keyId, tx(100n, TO, 1n))).resolves.toMatchObject({ hash: expect.any(String) })
    // A restart: the new boot knows nothing of what was signed, so it refuses until a window after its boot.
    offset = 0
    const restarted = await enclave({ keyStore, policyStore, sealer, now })
    const after = restarted.client(owner)
    const denied = await refusal(after.signEip1559(keyId, tx(1n, TO, 2n)))
    expect(denied).toMatchObject({ code: 'POLICY_DENIED', rule: 'per-minute', message: expect.stringContaining('restart') })
    offset = 61_000
    await expect(after.signEip1559(keyId, tx(1n, TO, 2n))).resolves.toMatchObject({ hash: expect.any(String) })
  })
})

describe('attacks found by the red team, refused', () => {
  it('a store read held back across a policy.set does not bring the older policy back', async () => {
    const inner = createMemoryPolicyStore()
    let hold: Promise<void> | undefined
    const policyStore: PolicyStore = {
      kind: 'memory',
      read: async (k, c) => {
        const answer = await inner.read(k, c)
        if (hold) await hold
        return answer
      },
      write: (k, s) => inner.write!(k, s),
    }
    // Every request reads the store (no freshness window), as after the refresh period in production.
    const session = await testSession()
    const handler = createRequestHandler({ keyStore: createMemoryKeyStore(), sealer: createLocalSealer(getRandomValues(new Uint8Array(32))), session, policyStore, policyRefreshMs: 0 })
    const transport: Transport = {
      name: 'in-process',
      attestation: attestationPolicyOf(await sharedSoftwareNsm()),
      request: async (m) => JSON.parse(JSON.stringify(await handler.handle(JSON.parse(JSON.stringify(m))))) as ResponseMessage,
    }
    const owner = newStamper()
    const custody = createCustodyClient({ transport, stamper: owner })
    const { keyId } = await custody.importKey({ generate: true })
    await custody.setSigningPolicy(keyId, { rules: [{ id: 'lax', effect: 'allow' }] })
    // A sign request whose store read (answering v1) the parent holds back…
    let release!: () => void
    hold = new Promise<void>((r) => {
      release = r
    })
    const held = refusal(custody.signEip1559(keyId, tx(5n)))
    await new Promise((r) => setTimeout(r, 50))
    hold = undefined
    // …while the owners tighten the policy to v2.
    await custody.setSigningPolicy(keyId, { rules: [{ id: 'strict', effect: 'allow', when: { value: { lte: '1' } } }] })
    release()
    expect(await held).toMatchObject({ code: 'POLICY_DENIED' })
    expect(await refusal(custody.signEip1559(keyId, tx(5n, TO, 1n)))).toMatchObject({ code: 'POLICY_DENIED' })
    expect((await custody.getKey(keyId)).signingPolicy?.version).toBe(2)
  })

  it('an approval cannot stand in for the request stamp (swapped auth and approval), nor serve another requester', async () => {
    const e = await enclave()
    const [owner, a, b] = [newStamper(), newStamper(), newStamper()]
    const { keyId } = await keyOf(e, owner)
    await e.client(owner).setSigningPolicy(keyId, {
      rules: [{ id: 'pair', effect: 'allow', approvals: { from: [a.publicKey, b.publicKey], threshold: 2 }, limit: { sum: 'value', max: '10', window: '1m', per: 'signer', afterRestart: 'reset' } }],
      signers: [a.publicKey, b.publicKey],
    })
    const swap: Transport = {
      ...e.transport,
      request: (m) => {
        const { auth, approvals } = m as { auth?: unknown; approvals?: unknown[] }
        if (!approvals) return e.transport.request(m)
        return e.transport.request({ ...m, auth: approvals[0], approvals: [auth] } as never)
      },
    }
    const swapped = createCustodyClient({ transport: swap, stamper: a, trustedCreators: [owner.publicKey] })
    // The parent swaps them: the answer is signed over the request it got, so the caller sees UNAVAILABLE; the
    // enclave's audit shows the refusal.
    const before = e.events.length
    expect(await refusal(swapped.signEip1559(keyId, tx(5n), { approvers: [b] }))).toMatchObject({ code: 'UNAVAILABLE' })
    expect(e.events.slice(before).filter((ev) => ev.op === 'sign.eip1559').map((ev) => ev.outcome)).toEqual(['UNAUTHENTICATED'])
    // B's approval of A's request does not count in C's request of the same transaction.
    const request = await e.client(a).approvalRequest.signEip1559(keyId, tx(5n))
    const approval = await approveRequest(b, request)
    const c = newStamper()
    expect(await refusal(e.client(c).signEip1559(keyId, tx(5n), { approvals: [approval] }))).toMatchObject({ code: 'FORBIDDEN' })
    await expect(e.client(a).signEip1559(keyId, tx(5n), { approvals: [approval] })).resolves.toMatchObject({ hash: expect.any(String) })
  })

  it('a document over 32 KiB is refused before any work on its values', async () => {
    const e = await enclave()
    const owner = newStamper()
    const { keyId } = await keyOf(e, owner)
    const many = Array.from({ length: 256 }, (_, i) => `0x${(i + 1).toString(16).padStart(40, '0')}`)
    const rules = Array.from({ length: 8 }, (_, i) => ({ id: `r${i}`, effect: 'deny' as const, when: { to: { in: many } } }))
    expect(await refusal(e.client(owner).setSigningPolicy(keyId, { rules }))).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('32 KiB') })
  })

  it('junk approvals cost nothing when no decision needs them, and are refused when one does', async () => {
    const e = await enclave()
    const [owner, other] = [newStamper(), newStamper()]
    const { keyId } = await keyOf(e, owner)
    const junk = { publicKey: other.publicKey, scheme: 'p256-ecdsa-sha256' as const, timestamp: Date.now(), nonce: `0x${'00'.repeat(16)}`, signature: `0x${'11'.repeat(64)}` }
    await expect(e.client(owner).signEip1559(keyId, tx(1n), { approvals: [junk] })).resolves.toMatchObject({ hash: expect.any(String) })
    await e.client(owner).setSigningPolicy(keyId, { rules: [{ id: 'q', effect: 'allow', approvals: { from: [owner.publicKey, other.publicKey], threshold: 2 } }] })
    expect(await refusal(e.client(owner).signEip1559(keyId, tx(1n, TO, 1n), { approvals: [junk] }))).toMatchObject({ code: 'UNAUTHENTICATED', message: expect.stringContaining('approvals[0]') })
  })
})
