/**
 * The bounds of docs/threat-model.md's "Not stopped" list, as executable facts: what a hostile parent can still
 * do, and where that stops. Each test asserts the bound itself (a fleet that shared nonce memory, a list that
 * proved completeness, a record whose rollback widened owners… would fail them), not only that the honest path
 * works. The enclave is the real runtime (software NSM, local sealing, records forwarded by the parent as in
 * production); the client is the real SDK client behind a transport that is the parent.
 */
import { type AuditReceipt, apiKeyStamper, createCustodyClient, createKmsImporter, type CustodyClient, generateApiKey, isCustodyError, type SealedKeyRecord, type Stamper, stampRequest, type Transport, verifyAuditLog } from '@enclave-custody/sdk'
import { type AuditEvent, parseTrustConfiguration, type RequestMessage, type ResponseMessage, trustDigest } from '@enclave-custody/sdk/protocol'
import { createForwardedKeyStore, createLocalRuntime, createLocalSealer, createSoftwareNsm, deriveAddress, type LocalRuntime } from '@enclave-custody/enclave-runtime'
import { beforeAll, describe, expect, it } from 'vitest'

const TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const tx = (nonce: bigint, value = 1n) => ({ chainId: 1n, nonce, to: TO, value, gas: 21_000n, maxFeePerGas: 2_000_000_000n, maxPriorityFeePerGas: 1n })
const newStamper = (): Stamper => apiKeyStamper({ privateKey: generateApiKey().privateKey })
/** The fleet's sealing key (the local sealer's; in production the attested KMS key). */
const SEALING_KEY = new Uint8Array(32).fill(13)
const TRUST = { protocolVersion: 1, sealing: 'local', sealingKeyId: `0x${'0d'.repeat(32)}` } as const

type Answer = ResponseMessage & { audit?: AuditEvent[] }

/**
 * A fleet of instances of one image: one sealing key, one trust configuration, one NSM (so one attestation
 * policy), but each instance its own session (response key, nonce memory, idempotency store, audit chain).
 */
async function fleet(size: number): Promise<LocalRuntime[]> {
  const nsm = await createSoftwareNsm()
  const sealing = SEALING_KEY
  const instances: LocalRuntime[] = []
  for (let i = 0; i < size; i++) {
    instances.push(await createLocalRuntime({ keyStore: createForwardedKeyStore(), sealer: createLocalSealer(sealing), trust: TRUST, attestation: nsm, keyCache: false }))
  }
  return instances
}

/**
 * The parent: it keeps the records (Secrets Manager: the first record stored under a keyId wins, as CreateSecret),
 * forwards whichever record it chooses, lists whichever records it chooses, and routes each request to an instance.
 */
function parentOf(instances: LocalRuntime[]) {
  const records = new Map<string, SealedKeyRecord>()
  /** Every record any client handed to the importer, in order (what a parent can keep and forward later). */
  const history: SealedKeyRecord[] = []
  const state = {
    records,
    history,
    target: instances[0]!,
    forward: (keyId: string): SealedKeyRecord | undefined => records.get(keyId),
    list: (): SealedKeyRecord[] => [...records.values()],
    /** Stamped requests as they passed, and the enclave's answers before the parent relayed them. */
    sent: [] as RequestMessage[],
    answers: [] as { message: RequestMessage; answer: Answer; instance: LocalRuntime }[],
  }
  const importer = {
    secretName: (k: string) => k,
    storeRecord: async (r: SealedKeyRecord) => {
      history.push(structuredClone(r))
      if (!records.has(r.keyId)) records.set(r.keyId, r)
    },
    importPrivateKey: async () => Promise.reject(new Error('unused')),
  }
  const transport: Transport = {
    name: 'hostile-parent',
    attestation: instances[0]!.attestation,
    async request(message) {
      state.sent.push(structuredClone(message))
      const answer = await deliver(state.target, message, contextFor(message))
      state.answers.push({ message: structuredClone(message), answer, instance: state.target })
      const { audit: _, ...relayed } = answer
      return relayed as ResponseMessage
    },
  }
  function contextFor(message: RequestMessage) {
    if (message.op === 'key.list') return { records: state.list() }
    const keyId = (message.params as { keyId?: string }).keyId
    const record = keyId === undefined ? undefined : state.forward(keyId)
    return record ? { record } : undefined
  }
  const client = (stamper: Stamper, trustedCreators: string[] = [], onReceipt?: (r: AuditReceipt) => void): CustodyClient =>
    createCustodyClient({ transport, stamper, importer: importer as never, trustedCreators, ...(onReceipt ? { onReceipt } : {}) })
  // `state` is what a test changes (target, forward, list); the rest is read only.
  return { state, records, history, sent: state.sent, answers: state.answers, client }
}

/** Hand a message to an instance exactly as the wire would (JSON both ways). */
async function deliver(instance: LocalRuntime, message: unknown, context?: unknown): Promise<Answer> {
  return JSON.parse(JSON.stringify(await instance.handler.handle(JSON.parse(JSON.stringify(message)), context))) as Answer
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
    return 'resolved'
  } catch (e) {
    if (isCustodyError(e)) return e.code
    throw e
  }
}

const lastOf = (sent: RequestMessage[], op: string): RequestMessage => structuredClone([...sent].reverse().find((m) => m.op === op)!)

/** A request stamped by `stamper` directly, as a parent with an API key of its own makes one. */
async function stamped(instance: LocalRuntime, stamper: Stamper, op: string, params: Record<string, unknown>): Promise<RequestMessage> {
  const attested = (await instance.handler.handle({ v: 1, id: 'a', op: 'system.attestation', params: { nonce: `0x${'11'.repeat(16)}` } })) as { result: { trust: unknown } }
  const aud = trustDigest(parseTrustConfiguration(attested.result.trust))
  return { v: 1, id: `${op}-${Math.random()}`, op, params, auth: await stampRequest({ stamper, v: 1, op, params, aud }) } as RequestMessage
}

describe('replay to another instance of the fleet (not stopped: nonce memory is per process)', () => {
  let a: LocalRuntime
  let b: LocalRuntime
  let c: LocalRuntime
  beforeAll(async () => {
    ;[a, b, c] = (await fleet(3)) as [LocalRuntime, LocalRuntime, LocalRuntime]
  })

  it('a stamped sign request replayed to a second instance is signed again, byte for byte the same transaction; replayed to the first it is refused', async () => {
    const parent = parentOf([a, b, c])
    const caller = newStamper()
    const custody = parent.client(caller)
    const { keyId } = await custody.importKey({ generate: true })
    const signed = await custody.signEip1559(keyId, tx(0n))
    const captured = lastOf(parent.sent, 'sign.eip1559')
    const onA = parent.answers.at(-1)!.answer
    const record = parent.records.get(keyId)!

    const onB = await deliver(b, captured, { record })
    // Served: the second instance never saw this nonce. Its answer is its own (another response key)…
    expect(onB).toMatchObject({ ok: true })
    expect((onB.sig as { keyId: string }).keyId).not.toBe((onA.sig as { keyId: string }).keyId)
    // …over the very same signed transaction (RFC 6979): the duplicate is the same transaction, one nonce.
    expect(onB.ok && onB.result).toEqual(onA.ok && onA.result)
    expect((onB as { result: { rawTransaction: string } }).result.rawTransaction).toBe(signed.rawTransaction)
    // Both instances audited a signature of it, under the same request digest.
    const signs = [onA, onB].flatMap((r) => (r.audit ?? []).filter((e) => e.op === 'sign.eip1559'))
    expect(signs.map((e) => e.outcome)).toEqual(['ok', 'ok'])
    expect(signs[0]!.requestDigest).toBe(signs[1]!.requestDigest)

    // The same instance remembers the nonce: "already answered" (signed, retryable), nothing signed again; the
    // second instance now remembers it too.
    for (const instance of [a, b]) {
      const again = await deliver(instance, { ...captured, id: 'again' }, { record })
      expect(again).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE', retryable: true } })
      expect(again.ok ? '' : again.error.message).toMatch(/already answered/)
      expect((again.audit ?? []).some((e) => e.op === 'sign.eip1559' && e.outcome === 'ok')).toBe(false)
    }
  })

  it('with an idempotencyKey, the second instance answers the same signature: it does not know the key and signs again (idempotency memory is per instance too)', async () => {
    const parent = parentOf([a, b, c])
    const custody = parent.client(newStamper())
    const { keyId } = await custody.importKey({ generate: true })
    const options = { idempotencyKey: 'payout-2026-12-07-0001' }
    const first = await custody.signEip1559(keyId, tx(1n), options)
    const captured = lastOf(parent.sent, 'sign.eip1559')
    const onB = await deliver(b, captured, { record: parent.records.get(keyId)! })
    expect(onB).toMatchObject({ ok: true, result: { rawTransaction: first.rawTransaction } })
    expect((onB.audit ?? []).filter((e) => e.op === 'sign.eip1559').map((e) => e.outcome)).toEqual(['ok'])

    // The caller's own retry (fresh stamp, same idempotencyKey) routed to the second instance: the same bytes.
    parent.state.target = b
    expect((await custody.signEip1559(keyId, tx(1n), options)).rawTransaction).toBe(first.rawTransaction)
    // The bound: reusing the idempotencyKey for another transaction is refused by an instance that served it, but
    // an instance that never saw it (the third) signs that other transaction.
    parent.state.target = a
    expect(await codeOf(custody.signEip1559(keyId, tx(2n), options))).toBe('INVALID_ARGUMENT')
    parent.state.target = c
    const reused = await custody.signEip1559(keyId, tx(2n), options)
    expect(reused.from).toBe(first.from)
    expect(reused.rawTransaction).not.toBe(first.rawTransaction)
  })

  it('a stamped key.generate replayed to a second instance creates a second key under the same keyId: a fresh client takes it, the long-running one refuses its signatures', async () => {
    const parent = parentOf([a, b, c])
    const caller = newStamper()
    const custody = parent.client(caller)
    const real = await custody.importKey({ generate: true, keyId: 'treasury' })
    const captured = lastOf(parent.sent, 'key.generate')
    const second = await deliver(b, captured)
    expect(second).toMatchObject({ ok: true })
    const record = (second as { result: { record: SealedKeyRecord & { creator?: string } } }).result.record
    // Same keyId, creator and owners; another key that nobody but the enclave knows.
    expect(record.keyId).toBe('treasury')
    expect(record.creator).toBe(real.creator)
    expect(record.owners).toEqual(parent.records.get('treasury')!.owners)
    expect(record.address).not.toBe(real.address)
    // The importer kept the first; the parent forwards the second.
    expect(parent.records.get('treasury')!.address).toBe(real.address)
    parent.state.forward = (keyId) => (keyId === 'treasury' ? record : parent.records.get(keyId))
    // Not stopped: a fresh client of the same caller accepts it (its own creator, its own owners).
    const fresh = parent.client(caller)
    expect((await fresh.getKey('treasury')).address).toBe(record.address)
    expect((await fresh.signEip1559('treasury', tx(0n))).from).toBe(record.address)
    // Detected: the long-running client knows the real address; a signature by the second key is refused.
    expect(await codeOf(custody.signEip1559('treasury', tx(0n)))).toBe('INTEGRITY_ERROR')
  })
})

describe('a key.list that omits or adds keys', () => {
  let runtime: LocalRuntime
  beforeAll(async () => {
    ;[runtime] = (await fleet(1)) as [LocalRuntime]
  })

  it('a list of only some records is signed and accepted without error: the omitted key is simply absent', async () => {
    const parent = parentOf([runtime])
    const custody = parent.client(newStamper())
    const keys = [await custody.importKey({ generate: true }), await custody.importKey({ generate: true }), await custody.importKey({ generate: true })]
    const omitted = keys[1]!.keyId
    expect((await custody.listKeys()).map((k) => k.keyId).sort()).toEqual(keys.map((k) => k.keyId).sort())
    parent.state.list = () => [...parent.records.values()].filter((r) => r.keyId !== omitted)
    const listed = await custody.listKeys()
    expect(listed.map((k) => k.keyId).sort()).toEqual([keys[0]!.keyId, keys[2]!.keyId].sort())
    // The answer is the enclave's, signed, and says nothing of a left-out record (no `skipped`, no error).
    const answer = parent.answers.at(-1)!.answer
    expect(answer).toMatchObject({ ok: true })
    expect(answer.ok && answer.result).toEqual({ keys: expect.any(Array) })
    // The key exists and serves: the list proved what the parent forwarded, not that nothing was left out.
    expect((await custody.getKey(omitted)).address).toBe(keys[1]!.address)
  })

  it('a key the parent adds is left out: by the enclave when another API key owns it, by the SDK when another API key created it', async () => {
    const parent = parentOf([runtime])
    const caller = newStamper()
    const custody = parent.client(caller)
    const mine = await custody.importKey({ generate: true })
    // The parent's own key (its API key, its owner), and a key it has the enclave create with the caller as owner.
    const own = newStamper()
    const parents = await parent.client(own).importKey({ generate: true })
    const plantedAnswer = await deliver(runtime, await stamped(runtime, own, 'key.generate', { keyId: 'planted', owners: { publicKeys: [caller.publicKey.toLowerCase()], threshold: 1 } }))
    expect(plantedAnswer).toMatchObject({ ok: true })
    const planted = (plantedAnswer as { result: { record: SealedKeyRecord } }).result.record
    parent.state.list = () => [...parent.records.values(), planted]

    const listed = await custody.listKeys()
    expect(listed.map((k) => k.keyId)).toEqual([mine.keyId])
    // Who left each out: the enclave's signed list has neither the parent's own key (FORBIDDEN to this caller, left
    // out, not counted) nor the planted key (the caller owns it, but the SDK names the creators it trusts and the
    // enclave leaves other creators' keys out); were it listed, the SDK would drop it (untrusted creator).
    const answer = parent.answers.at(-1)!.answer as { ok: true; result: { keys: { keyId: string; creator?: string }[]; skipped?: number } }
    expect(answer.result.keys.map((k) => k.keyId)).toEqual([mine.keyId])
    expect(answer.result.skipped).toBeUndefined()
    const raw = await deliver(runtime, await stamped(runtime, caller, 'key.list', {}), { records: [...parent.records.values(), planted] })
    // Asked without creators (an older client), the enclave lists the planted key, never the parent's own.
    const rawKeys = (raw as { result: { keys: { keyId: string; creator?: string }[] } }).result.keys
    expect(rawKeys.find((k) => k.keyId === 'planted')?.creator).toBe(own.publicKey)
    expect(rawKeys.map((k) => k.keyId)).not.toContain(parents.keyId)
    // Positive control: a client that trusts the parent's API key as a creator takes the planted key.
    expect((await parent.client(caller, [own.publicKey]).listKeys()).map((k) => k.keyId).sort()).toEqual([mine.keyId, 'planted'].sort())
  })

  it('a record that does not unseal is only counted (`skipped` in the signed answer); listKeys returns the rest without error', async () => {
    const parent = parentOf([runtime])
    const custody = parent.client(newStamper())
    const [k1, k2] = [await custody.importKey({ generate: true }), await custody.importKey({ generate: true })]
    const broken = { ...parent.records.get(k2.keyId)!, ciphertext: parent.records.get(k1.keyId)!.ciphertext }
    parent.state.list = () => [parent.records.get(k1.keyId)!, broken]
    expect((await custody.listKeys()).map((k) => k.keyId)).toEqual([k1.keyId])
    expect(parent.answers.at(-1)!.answer).toMatchObject({ ok: true, result: { skipped: 1 } })
  })
})

describe('rollback to an older record of a key', () => {
  let runtime: LocalRuntime
  beforeAll(async () => {
    ;[runtime] = (await fleet(1)) as [LocalRuntime]
  })

  it('the record as first stored, forwarded after a signing policy was set, grants nothing new: the policy is not in the record', async () => {
    const parent = parentOf([runtime])
    const caller = newStamper()
    const custody = parent.client(caller)
    const key = await custody.importKey({ generate: true })
    const first = structuredClone(parent.records.get(key.keyId)!)
    await custody.setSigningPolicy(key.keyId, { rules: [{ id: 'small', effect: 'allow', when: { to: { in: [TO] }, value: { lte: '10' } } }] })
    // Setting a policy stores no new record: the record as first stored is the only one there is.
    expect(parent.history.filter((r) => r.keyId === key.keyId)).toHaveLength(1)
    parent.state.forward = (keyId) => (keyId === key.keyId ? structuredClone(first) : parent.records.get(keyId))
    const fresh = parent.client(caller)
    expect(await fresh.getKey(key.keyId)).toMatchObject({ address: key.address, owners: key.owners, creator: key.creator, signingPolicy: { version: 1 } })
    // The policy set after the record was stored still decides (the enclave reads it itself, not from the record).
    expect(await codeOf(fresh.signEip1559(key.keyId, tx(0n, 11n)))).toBe('POLICY_DENIED')
    expect((await fresh.signEip1559(key.keyId, tx(0n, 10n))).from).toBe(key.address)
    // Another API key is still not an owner.
    expect(await codeOf(parent.client(newStamper(), [caller.publicKey]).signEip1559(key.keyId, tx(0n, 10n)))).toBe('FORBIDDEN')
  })

  it('an older record of the same key (its private key imported again under its keyId, same owners) gives the same address, owners and signatures', async () => {
    const parent = parentOf([runtime])
    const caller = newStamper()
    const custody = parent.client(caller)
    const privateKey = `0x${'5a'.repeat(31)}01`
    const older = await custody.importKey({ privateKey, keyId: 'reimported' })
    // The enclave refuses an import under a keyId whose record the parent forwards (KEY_EXISTS); with the secret
    // replaced (as PutSecretValue would), the same key is sealed again: a second record of it.
    expect(await codeOf(custody.importKey({ privateKey, keyId: 'reimported' }))).toBe('KEY_EXISTS')
    parent.records.delete('reimported')
    const newer = await custody.importKey({ privateKey, keyId: 'reimported' })
    const [r1, r2] = parent.history.filter((r) => r.keyId === 'reimported') as [SealedKeyRecord, SealedKeyRecord]
    expect(r1.ciphertext).not.toBe(r2.ciphertext)
    const withRecord = async (record: SealedKeyRecord) => {
      parent.state.forward = (keyId) => (keyId === 'reimported' ? record : parent.records.get(keyId))
      const c = parent.client(caller)
      return { key: await c.getKey('reimported'), signed: await c.signEip1559('reimported', tx(0n)) }
    }
    const fromOlder = await withRecord(r1)
    const fromNewer = await withRecord(r2)
    expect(older.address).toBe(newer.address)
    expect(fromOlder.key).toMatchObject({ address: newer.address, owners: newer.owners, policy: newer.policy, creator: newer.creator })
    expect(fromOlder.signed.rawTransaction).toBe(fromNewer.signed.rawTransaction)
  })

  it('an older record with other owners still serves them: importing a key again under a new API key does not retire the old record', async () => {
    // The limit of "owners are fixed for a key's life": a key's life is its record's. Moving an imported key off a
    // stolen API key by importing it again leaves the old record valid wherever a copy of it is forwarded.
    const parent = parentOf([runtime])
    const stolen = newStamper()
    const fresh = newStamper()
    const privateKey = `0x${'5a'.repeat(31)}02`
    const before = await parent.client(stolen).importKey({ privateKey, keyId: 'moved' })
    parent.records.delete('moved') // the owner replaces the secret (as PutSecretValue would)
    const after = await parent.client(fresh).importKey({ privateKey, keyId: 'moved' })
    expect(after.address).toBe(before.address)
    const [old, current] = parent.history.filter((r) => r.keyId === 'moved') as [SealedKeyRecord, SealedKeyRecord]
    // Through the current record the stolen key is refused…
    expect(await codeOf(parent.client(stolen).signEip1559('moved', tx(0n)))).toBe('FORBIDDEN')
    expect((await parent.client(fresh).signEip1559('moved', tx(0n))).from).toBe(after.address)
    // …through the old one, which a parent (or anyone holding a copy, with a parent forwarding it) can still send,
    // it signs as the same address; the new owner is refused.
    parent.state.forward = (keyId) => (keyId === 'moved' ? old : parent.records.get(keyId))
    expect((await parent.client(stolen).signEip1559('moved', tx(1n))).from).toBe(after.address)
    expect(await codeOf(parent.client(fresh).signEip1559('moved', tx(1n)))).toBe('FORBIDDEN')
    expect(current.owners).not.toEqual(old.owners)
  })

  it('a record of another key under this keyId is refused by the SDK: a key the parent created fails the creator check, any other address the long-running client\'s address check', async () => {
    const parent = parentOf([runtime])
    const caller = newStamper()
    const custody = parent.client(caller)
    const real = await custody.importKey({ generate: true, keyId: 'victim' })
    // The parent's own key under the victim's keyId, owned by the victim so that the enclave vouches for it.
    const own = newStamper()
    const plantedAnswer = await deliver(runtime, await stamped(runtime, own, 'key.generate', { keyId: 'victim', owners: { publicKeys: [caller.publicKey.toLowerCase()], threshold: 1 } }))
    expect(plantedAnswer).toMatchObject({ ok: true })
    const planted = (plantedAnswer as { result: { record: SealedKeyRecord } }).result.record
    expect(planted.address).not.toBe(real.address)
    parent.state.forward = (keyId) => (keyId === 'victim' ? planted : parent.records.get(keyId))
    // A fresh client: the enclave serves the key (the caller owns it), the SDK refuses its creator.
    const fresh = parent.client(caller)
    expect(await codeOf(fresh.getKey('victim'))).toBe('INTEGRITY_ERROR')
    expect(await codeOf(fresh.signEip1559('victim', tx(0n)))).toBe('INTEGRITY_ERROR')
    // The long-running client knows the address: a signature by another key is refused.
    expect(await codeOf(custody.signEip1559('victim', tx(0n)))).toBe('INTEGRITY_ERROR')
    // The parent's own key, owned by the parent, under the victim's keyId: the enclave refuses the caller (signed).
    const ownedAnswer = await deliver(runtime, await stamped(runtime, own, 'key.generate', { keyId: 'victim', owners: { publicKeys: [own.publicKey.toLowerCase()], threshold: 1 } }))
    parent.state.forward = (keyId) => (keyId === 'victim' ? (ownedAnswer as { result: { record: SealedKeyRecord } }).result.record : parent.records.get(keyId))
    expect(await codeOf(parent.client(caller).getKey('victim'))).toBe('FORBIDDEN')
    // The victim's real record, forwarded again, serves.
    parent.state.forward = (keyId) => parent.records.get(keyId)
    expect((await custody.signEip1559('victim', tx(0n))).from).toBe(real.address)
  })
})

describe('what a parent still sees and drops', () => {
  it('request contents: a sign request\'s transaction travels in the clear (authenticated, not encrypted)', async () => {
    const [runtime] = (await fleet(1)) as [LocalRuntime]
    const parent = parentOf([runtime])
    const custody = parent.client(newStamper())
    const { keyId } = await custody.importKey({ generate: true })
    await custody.signEip1559(keyId, tx(0n, 123_456_789n))
    const seen = JSON.stringify(lastOf(parent.sent, 'sign.eip1559'))
    expect(seen).toContain(TO)
    expect(seen).toContain('123456789')
  })

  it('a whole boot segment of the audit log can vanish: the rest verifies without receipts; a receipt of it names the loss', async () => {
    const instances = (await fleet(2)) as [LocalRuntime, LocalRuntime]
    const parent = parentOf(instances)
    const receipts: AuditReceipt[] = []
    const custody = parent.client(newStamper(), [], (r) => receipts.push(r))
    const { keyId } = await custody.importKey({ generate: true })
    await custody.signEip1559(keyId, tx(0n))
    const firstBoot = receipts.length
    parent.state.target = instances[1] // the first instance is gone (a restart, or another member of the fleet)
    await custody.signEip1559(keyId, tx(1n))
    const segment = (instance: LocalRuntime) => parent.answers.filter((a) => a.instance === instance).flatMap((a) => a.answer.audit ?? [])
    const [first, second] = [segment(instances[0]), segment(instances[1])]
    expect(first[0]).toMatchObject({ op: 'boot' })
    expect(second[0]).toMatchObject({ op: 'boot' })
    const check = (events: AuditEvent[], withReceipts: AuditReceipt[] | undefined) =>
      verifyAuditLog({ events, pcr0: [...instances[0].attestation.pcr0], roots: [...instances[0].attestation.roots!], ...(withReceipts ? { receipts: withReceipts } : {}) })
    expect(check([...first, ...second], receipts)).toMatchObject({ ok: true })
    // The parent drops the first boot's whole segment: what is left verifies, also against the second boot's receipts.
    expect(check(second, undefined)).toMatchObject({ ok: true })
    expect(check(second, receipts.slice(firstBoot))).toMatchObject({ ok: true })
    // Only a receipt of the lost segment shows it.
    expect(firstBoot).toBeGreaterThan(0)
    const lost = check(second, receipts)
    expect(lost.ok ? 'verified' : lost.error.reason).toMatch(/receipt/)
  })
})

describe('the insider with the importer role', () => {
  it('must name the owners of every key it seals: the KMS importer refuses a key without owners before any AWS call', async () => {
    const calls: unknown[] = []
    const aws = { send: async (command: unknown) => void calls.push(command) }
    const importer = createKmsImporter({ kms: aws as never, secretsManager: aws as never, kmsKeyId: 'alias/enclave-custody' })
    const refused = await importer.importPrivateKey({ privateKey: `0x${'5a'.repeat(31)}03`, keyId: 'offline' } as never).catch((e: unknown) => e)
    expect(isCustodyError(refused, 'INVALID_ARGUMENT')).toBe(true)
    expect((refused as { details?: { field?: string } }).details?.field).toBe('owners')
    expect(calls).toEqual([])
  })
})

describe('the insider with the importer role, planting', () => {
  it('a record it seals (v1) names no creator: a fresh client takes a key the insider knows under the victim\'s keyId; the long-running client\'s address check refuses it', async () => {
    const [runtime] = (await fleet(1)) as [LocalRuntime]
    const parent = parentOf([runtime])
    const caller = newStamper()
    const custody = parent.client(caller)
    const real = await custody.importKey({ generate: true, keyId: 'payroll' })
    // The importer role's KMS Encrypt (here the fleet's local sealer): a key the insider knows, owned by the victim.
    const known = new Uint8Array(32).fill(0x4d)
    const owners = { publicKeys: [caller.publicKey.toLowerCase()], threshold: 1 }
    const sealed = await createLocalSealer(SEALING_KEY).seal!('payroll', known, undefined, undefined, owners as never)
    const insiders = { version: 1, keyId: 'payroll', curve: 'secp256k1', address: deriveAddress(known), ...sealed, createdAt: new Date().toISOString(), owners } as SealedKeyRecord
    parent.state.forward = (keyId) => (keyId === 'payroll' ? insiders : parent.records.get(keyId))
    // Not stopped by the creator check (it binds v2 records, made by the enclave): a fresh client of the victim accepts it.
    const fresh = parent.client(caller)
    const got = await fresh.getKey('payroll')
    expect(got.address).toBe(deriveAddress(known))
    expect(got.creator).toBeUndefined()
    // The long-running client knows the real address.
    expect(await codeOf(custody.signEip1559('payroll', tx(0n)))).toBe('INTEGRITY_ERROR')
    expect(real.address).not.toBe(got.address)
  })
})
