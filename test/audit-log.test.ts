/**
 * The enclave's audit log as a hostile parent stores it: a mixed run (signatures, refusals of every kind,
 * two boots) verifies; a deleted, reordered, edited, re-signed or truncated log is named at its first break.
 */
import { generateKeyPairSync, sign } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  apiKeyStamper,
  type AuditEvent,
  type AuditReceipt,
  auditEventBytes,
  auditEventHash,
  createCustodyClient,
  generateApiKey,
  verifyAuditLog,
  type VerifyAuditLogReturnType,
} from '@enclave-custody/sdk'
import { createLocalRuntime, type LocalRuntime, localEnclave } from '@enclave-custody/enclave-runtime'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const tx = (nonce: bigint) => ({ chainId: 1n, nonce, to: TO, value: 1n, gas: 21_000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n })

let dir: string
let log: AuditEvent[]
let receipts: AuditReceipt[]
let pcr0: string[]
let roots: string[]

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'audit-log-'))
  log = []
  receipts = []
  const owner = apiKeyStamper({ privateKey: generateApiKey().privateKey })
  const stranger = apiKeyStamper({ privateKey: generateApiKey().privateKey })
  // Two boots of the enclave over one data directory: two segments in one log.
  for (let boot = 0; boot < 2; boot++) {
    const transport = localEnclave({ dataDir: dir, auditSink: (events) => log.push(...events) })
    const custody = createCustodyClient({ transport, stamper: owner, onReceipt: (r) => receipts.push(r) })
    const { keyId } = await custody.importKey({ generate: true })
    await custody.signEip1559(keyId, tx(0n))
    await custody.signDigest(keyId, `0x${'11'.repeat(32)}`).catch(() => {}) // POLICY_DENIED
    await createCustodyClient({ transport, stamper: stranger }).signEip1559(keyId, tx(1n)).catch(() => {}) // FORBIDDEN
    // An unstamped request straight to the enclave: UNAUTHENTICATED, audited too.
    await transport.request({ v: 1, id: 'x', op: 'key.list', params: {} } as never)
    await custody.signMessage(keyId, { message: `boot ${boot}` })
  }
  const runtime: LocalRuntime = await createLocalRuntime({ dataDir: dir })
  pcr0 = [...runtime.attestation.pcr0]
  roots = [...runtime.attestation.roots!]
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const verify = (events: unknown[], withReceipts = true): VerifyAuditLogReturnType =>
  verifyAuditLog({ events, pcr0, roots, ...(withReceipts ? { receipts } : {}) })
const copy = (): AuditEvent[] => structuredClone(log)
const breakOf = (r: VerifyAuditLogReturnType) => (r.ok ? 'verified' : `line ${r.error.line}: ${r.error.reason}`)

describe('custody audit log', () => {
  it('a mixed run of two boots verifies, with every receipt found', () => {
    const report = verify(log)
    expect(breakOf(report)).toBe('verified')
    if (!report.ok) return
    expect(report.segments).toHaveLength(2)
    expect(report.receipts).toBe(receipts.length)
    const outcomes = log.map((e) => `${e.op}:${e.outcome}`)
    for (const o of ['boot:ok', 'key.generate:ok', 'sign.eip1559:ok', 'sign.digest:POLICY_DENIED', 'key.get:FORBIDDEN', 'key.list:UNAUTHENTICATED', 'sign.message:ok']) {
      expect(outcomes).toContain(o)
    }
    // No secrets: events name keys by id and callers by public key.
    expect(JSON.stringify(log)).not.toMatch(/privateKey|ciphertext/)
  })

  it('a deleted event is named', () => {
    const events = copy()
    events.splice(3, 1)
    expect(breakOf(verify(events))).toMatch(/^line 4: events 3\.\.3 are missing \(deleted or moved\)/)
  })

  it('an event moved later (a swap, or a batch stored out of order) reads as missing: deleted or moved', () => {
    const events = copy()
    events.splice(5, 0, events.splice(2, 1)[0]!)
    expect(breakOf(verify(events))).toMatch(/^line 3: events 2\.\.2 are missing \(deleted or moved\)/)
  })

  it('attack: a boot segment stored twice (same response key) is refused at the repeat, not counted twice', () => {
    const second = log.findIndex((e, i) => i > 0 && e.op === 'boot')
    const first = log.slice(0, second)
    for (const events of [[...log, ...structuredClone(first)], [...structuredClone(first), ...log]]) {
      const repeat = events.findIndex((e, i) => i > 0 && e.op === 'boot' && e.responseKeyId === events[0]!.responseKeyId)
      const report = verify(events)
      expect(breakOf(report)).toMatch(new RegExp(`^line ${repeat + 1}: a second segment of response key 0x[0-9a-f]{16}… \\(its boot is at line 1; repeated\\)`))
      expect(!report.ok && report.error.seq).toBe(0)
    }
    // A boot event repeated at once, before its segment's events.
    const events = copy()
    events.splice(1, 0, structuredClone(events[0]!))
    expect(breakOf(verify(events))).toMatch(/^line 2: a second segment of response key .*its boot is at line 1/)
  })

  it('a duplicated event is named, in the middle and at the tail', () => {
    const middle = copy()
    middle.splice(4, 0, structuredClone(middle[3]!))
    expect(breakOf(verify(middle))).toBe(`line 5: seq ${middle[3]!.seq} follows ${middle[3]!.seq} (reordered or repeated)`)
    const tail = copy()
    tail.push(structuredClone(tail.at(-1)!))
    expect(breakOf(verify(tail))).toBe(`line ${tail.length}: seq ${tail.at(-1)!.seq} follows ${tail.at(-1)!.seq} (reordered or repeated)`)
  })

  it('reordered events are named', () => {
    const events = copy()
    ;[events[2], events[3]] = [events[3]!, events[2]!]
    expect(breakOf(verify(events))).toMatch(/^line 3: events 2\.\.2 are missing|^line 3: seq/)
  })

  it('an edited event (outcome FORBIDDEN → ok) is named', () => {
    const events = copy()
    const i = events.findIndex((e) => e.outcome === 'FORBIDDEN')
    events[i]!.outcome = 'ok'
    expect(breakOf(verify(events))).toBe(`line ${i + 1}: the signature is not the segment's attested response key's (edited or re-signed)`)
  })

  it('an edit that keeps its own event consistent still breaks the next link', () => {
    const events = copy()
    const i = events.findIndex((e) => e.outcome === 'POLICY_DENIED')
    // The parent re-signs the edited event with a key of its own: the signature check names it first.
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    events[i]!.outcome = 'ok'
    events[i]!.sig = `0x${sign('sha256', auditEventBytes(events[i]!), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('hex')}`
    expect(breakOf(verify(events))).toBe(`line ${i + 1}: the signature is not the segment's attested response key's (edited or re-signed)`)
    expect(auditEventHash(events[i]!)).not.toBe(events[i + 1]!.prev)
  })

  it('a truncated tail passes without receipts and is named with them', () => {
    const events = copy().slice(0, -2)
    expect(breakOf(verify(events, false))).toBe('verified')
    expect(breakOf(verify(events))).toMatch(new RegExp(`^line ${events.length + 1}: receipt \\d+ \\(seq \\d+\\): the event is not in the log \\(truncated after seq \\d+\\)`))
  })

  it('a boot attested by another PCR0, or a log that does not start with a boot, is named', () => {
    expect(breakOf(verifyAuditLog({ events: log, pcr0: ['ab'.repeat(48)], roots }))).toMatch(/^line 1: the boot attestation's PCR0 .* is not allowed/)
    expect(breakOf(verifyAuditLog({ events: log, pcr0 }))).toMatch(/^line 1: the boot attestation does not verify/)
    expect(breakOf(verify(copy().slice(1), false))).toBe('line 1: the log does not start with a boot event')
  })
})
